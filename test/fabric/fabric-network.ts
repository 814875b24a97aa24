/**
 * Test helper: the native Fabric network that deploy/fabric/up.sh started, read from its network.json, and
 * clients for it (@hyperledger/fabric-gateway over gRPC with TLS, and Fabric's own peer CLI).
 */
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { connect, hash, signers, type Gateway } from '@hyperledger/fabric-gateway';

export const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RUN_DIR = process.env.CITYGATE_FABRIC_RUN ?? path.join(REPO_DIR, '.fabric/run');

export type Org = 'authority' | 'housing';
export type Who = 'admin' | 'user';

export type NetworkEnv = Record<string, string>;

export function readNetwork(): NetworkEnv {
  const file = path.join(RUN_DIR, 'network.json');
  if (!fs.existsSync(file)) throw new Error(`no running Fabric network (${file} is missing): run npm run fabric:up`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as NetworkEnv;
}

function orgVar(net: NetworkEnv, org: Org, name: string): string {
  const v = net[`FABRIC_${org.toUpperCase()}_${name}`];
  if (!v) throw new Error(`network.json has no FABRIC_${org.toUpperCase()}_${name}`);
  return v;
}

function onlyFile(dir: string): string {
  const files = fs.readdirSync(dir);
  if (files.length !== 1) throw new Error(`expected one file in ${dir}, found ${files.length}`);
  return path.join(dir, files[0]!);
}

export interface OrgClient {
  gateway: Gateway;
  client: grpc.Client;
  close(): void;
}

/** A Fabric Gateway connection to `org`'s peer as its admin or its user, with deadlines on every call. */
export function connectAs(net: NetworkEnv, org: Org, who: Who): OrgClient {
  const msp = orgVar(net, org, who === 'admin' ? 'ADMIN_MSP' : 'USER_MSP');
  const tlsRoot = fs.readFileSync(orgVar(net, org, 'PEER_TLS_CA'));
  // grpc-js refuses an IP address as the TLS server name: dial 127.0.0.1, check the certificate's DNS name.
  const client = new grpc.Client(orgVar(net, org, 'PEER'), grpc.credentials.createSsl(tlsRoot), {
    'grpc.ssl_target_name_override': orgVar(net, org, 'PEER_HOST'),
  });
  const gateway = connect({
    client,
    identity: { mspId: orgVar(net, org, 'MSPID'), credentials: fs.readFileSync(onlyFile(path.join(msp, 'signcerts'))) },
    signer: signers.newPrivateKeySigner(createPrivateKey(fs.readFileSync(onlyFile(path.join(msp, 'keystore'))))),
    hash: hash.sha256,
    evaluateOptions: () => ({ deadline: Date.now() + 10_000 }),
    endorseOptions: () => ({ deadline: Date.now() + 20_000 }),
    submitOptions: () => ({ deadline: Date.now() + 10_000 }),
    commitStatusOptions: () => ({ deadline: Date.now() + 60_000 }),
  });
  return {
    gateway,
    client,
    close: () => {
      gateway.close();
      client.close();
    },
  };
}

const run = promisify(execFile);

/** Fabric's own peer CLI as `org`'s admin (deploy/fabric/peer.sh); returns stdout. */
export async function peerCli(org: Org, args: string[]): Promise<string> {
  const { stdout } = await run('bash', [path.join(REPO_DIR, 'deploy/fabric/peer.sh'), org, ...args], {
    env: { ...process.env, CITYGATE_FABRIC_RUN: RUN_DIR },
    timeout: 60_000,
  });
  return stdout;
}

/** Everything an endorsement or submit error says, peers' details included (Fabric nests the chaincode's message). */
export function errorText(err: unknown): string {
  const e = err as { message?: string; details?: unknown; cause?: unknown };
  const details = Array.isArray(e.details) ? (e.details as { message?: string }[]) : [];
  const parts = [e.message ?? String(err), ...details.map((d) => d.message ?? '')];
  if (e.cause && e.cause !== err) parts.push(errorText(e.cause));
  return parts.join(' | ');
}
