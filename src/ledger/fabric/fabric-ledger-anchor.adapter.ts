/**
 * LedgerAnchor on Hyperledger Fabric: the `provenance` chaincode (chaincode/) through the Fabric Gateway
 * (@hyperledger/fabric-gateway over gRPC with TLS). Every call has a deadline, every submit checks its commit
 * status, failures are classified once (fabric-errors.ts) and retried only when that can help, and writes to one
 * ledger key go one at a time (concurrent writes to a key would fail with MVCC_READ_CONFLICT).
 * Not wired into the gateway yet.
 */
import { createPrivateKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { connect, hash, signers, type Contract, type Gateway } from '@hyperledger/fabric-gateway';
import type { VerifiableProvenanceLog } from '../provenance-log.port.js';
import { classify, CommitFailure } from './fabric-errors.js';
import {
  AnchorError,
  type AnchoredHead,
  type GrantStepInput,
  type LedgerAnchor,
  type ReleaseInput,
} from './ledger-anchor.port.js';

export interface FabricAnchorConfig {
  /** host:port of the gateway peer (the authority's own peer). */
  peerEndpoint: string;
  /** A DNS name in the peer's TLS certificate (grpc-js refuses an IP address as TLS server name). */
  peerHostAlias: string;
  /** PEM of the CA that issued the peer's TLS certificate. */
  tlsRootCertPem: string | Buffer;
  /** The gateway's Fabric identity: MSP id, X.509 certificate and private key (PEM). Secret: the key. */
  mspId: string;
  certificatePem: string | Buffer;
  privateKeyPem: string | Buffer;
  channel: string;
  /** Chaincode name (default `provenance`). */
  chaincode?: string;
  /** Deadlines per call, ms (defaults: evaluate 5 s, endorse 15 s, submit 5 s, commit status 60 s). */
  deadlines?: Partial<Record<'evaluate' | 'endorse' | 'submit' | 'commitStatus', number>>;
  /** Attempts per operation for conflicts and outages (default 5), backoff from `retryBaseMs` (default 200) doubling up to 5 s. */
  attempts?: number;
  retryBaseMs?: number;
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

export class FabricLedgerAnchor implements LedgerAnchor {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly attempts: number;
  private readonly retryBaseMs: number;
  private closed = false;

  private constructor(
    private readonly client: grpc.Client,
    private readonly gateway: Gateway,
    private readonly contract: Contract,
    cfg: FabricAnchorConfig,
  ) {
    this.attempts = cfg.attempts ?? 5;
    this.retryBaseMs = cfg.retryBaseMs ?? 200;
    if (!Number.isInteger(this.attempts) || this.attempts < 1)
      throw new RangeError('attempts must be a whole number ≥ 1');
  }

  static connect(cfg: FabricAnchorConfig): FabricLedgerAnchor {
    const d = { evaluate: 5_000, endorse: 15_000, submit: 5_000, commitStatus: 60_000, ...cfg.deadlines };
    const client = new grpc.Client(cfg.peerEndpoint, grpc.credentials.createSsl(Buffer.from(cfg.tlsRootCertPem)), {
      'grpc.ssl_target_name_override': cfg.peerHostAlias,
    });
    const gateway = connect({
      client,
      identity: { mspId: cfg.mspId, credentials: Buffer.from(cfg.certificatePem) },
      signer: signers.newPrivateKeySigner(createPrivateKey(cfg.privateKeyPem)),
      hash: hash.sha256,
      evaluateOptions: () => ({ deadline: Date.now() + d.evaluate }),
      endorseOptions: () => ({ deadline: Date.now() + d.endorse }),
      submitOptions: () => ({ deadline: Date.now() + d.submit }),
      commitStatusOptions: () => ({ deadline: Date.now() + d.commitStatus }),
    });
    const contract = gateway.getNetwork(cfg.channel).getContract(cfg.chaincode ?? 'provenance');
    return new FabricLedgerAnchor(client, gateway, contract, cfg);
  }

  async latestAnchor(): Promise<AnchoredHead | null> {
    return this.retrying('reading the latest anchor', () => this.latestAnchorOnce());
  }

  anchor(log: VerifiableProvenanceLog): Promise<AnchoredHead> {
    return this.serial('treehead', () =>
      this.retrying('anchoring the tree head', async () => {
        // Read the ledger afresh on every attempt: a conflict means another anchor moved it.
        const latest = await this.latestAnchorOnce();
        const head = await log.treeHead();
        if (latest && latest.treeSize === head.treeSize && latest.rootHash === head.rootHash) return latest;
        // A head smaller than the ledger's, or another root at its size, goes in without a proof: the chaincode
        // refuses it (rollback / fork), which is the record an operator needs.
        const proof =
          latest && latest.treeSize > 0 && latest.treeSize < head.treeSize
            ? (await log.consistencyProof(latest.treeSize, head.treeSize)).hashes
            : [];
        return JSON.parse(
          text(await this.submit('AnchorTreeHead', [JSON.stringify(head), JSON.stringify(proof)])),
        ) as AnchoredHead;
      }),
    );
  }

  recordGrantStep(step: GrantStepInput): Promise<void> {
    return this.serial(`grant/${step.grantId}`, () =>
      this.retrying(`recording step ${step.state} of grant ${step.grantId}`, async () => {
        try {
          await this.submit('RecordGrantStep', [JSON.stringify(step)]);
        } catch (err) {
          const e = classify(err, 'grant step');
          // Already there (a retry after a commit whose status was lost, or a replay): fine if it is this step.
          if (e.kind === 'rejected' && (e.code === 'GRANT_TRANSITION' || e.code === 'BAD_INPUT')) {
            const history = JSON.parse(
              text(await this.contract.evaluateTransaction('GrantHistory', step.grantId)),
            ) as GrantStepInput[];
            if (
              history.some(
                (s) => s.state === step.state && s.recordHash === step.recordHash && s.logIndex === step.logIndex,
              )
            )
              return;
          }
          throw e;
        }
      }),
    );
  }

  recordRelease(release: ReleaseInput): Promise<void> {
    return this.serial(`release/${release.hash}`, () =>
      this.retrying(`recording release ${release.hash}`, async () => {
        try {
          await this.submit('RecordRelease', [JSON.stringify(release)]);
        } catch (err) {
          const e = classify(err, 'release');
          if (e.kind === 'rejected' && e.code === 'ALREADY_RECORDED') {
            const onLedger = JSON.parse(
              text(await this.contract.evaluateTransaction('Release', release.hash)),
            ) as ReleaseInput;
            if (
              onLedger.kind === release.kind &&
              onLedger.recordHash === release.recordHash &&
              onLedger.logIndex === release.logIndex
            )
              return;
          }
          throw e;
        }
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.queues.values()]);
    this.gateway.close();
    this.client.close();
  }

  private async latestAnchorOnce(): Promise<AnchoredHead | null> {
    const out = text(await this.contract.evaluateTransaction('LatestTreeHead'));
    return out === '' ? null : (JSON.parse(out) as AnchoredHead);
  }

  /** Endorse, submit, and wait for the commit status; an invalid commit throws CommitFailure. */
  private async submit(name: string, args: string[]): Promise<Uint8Array> {
    if (this.closed) throw new AnchorError('unavailable', 'CLOSED', 'the ledger anchor is closed');
    const transaction = await this.contract.newProposal(name, { arguments: args }).endorse();
    const submitted = await transaction.submit();
    const status = await submitted.getStatus();
    if (!status.successful) throw new CommitFailure(status.code, status.transactionId);
    return submitted.getResult();
  }

  private async retrying<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        const e = classify(err, what);
        if (e.kind === 'rejected' || attempt >= this.attempts || this.closed) throw e;
        await sleep(Math.min(5_000, this.retryBaseMs * 2 ** (attempt - 1)));
      }
    }
  }

  /** Runs `op` after every earlier operation on `key` has settled. */
  private serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(op, op);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return run;
  }
}
