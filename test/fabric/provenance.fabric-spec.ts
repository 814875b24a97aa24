/**
 * The provenance chaincode on a real native Fabric network (npm run test:fabric starts it): the gateway's own
 * verifiable log produces the tree heads and consistency proofs, the peers of the authority and of the housing
 * commission check them, and Fabric's peer CLI reads the result back.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Contract } from '@hyperledger/fabric-gateway';
import { FileLogStorage } from '../../src/ledger/storage/file-log-storage.adapter.js';
import { VerifiableLog } from '../../src/ledger/verifiable-log.js';
import { treeHeadMessage, type SignedTreeHead } from '../../src/ledger/signed-tree-head.js';
import { sampleRecord } from '../support/provenance-fixtures.js';
import { connectAs, errorText, peerCli, readNetwork, type NetworkEnv, type OrgClient } from './fabric-network.js';
import { FabricLedgerAnchor } from '../../src/ledger/fabric/fabric-ledger-anchor.adapter.js';
import { AnchorError } from '../../src/ledger/fabric/ledger-anchor.port.js';

const CHAINCODE = 'provenance';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-fabric-spec-'));

async function openLog(name: string, keyFrom?: string): Promise<VerifiableLog> {
  const dataDir = path.join(tmp, name);
  if (keyFrom) {
    // A second log with the same signing key: what an operator with disk access could build.
    fs.mkdirSync(path.join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    fs.copyFileSync(path.join(tmp, keyFrom, 'keys/log.key'), path.join(dataDir, 'keys/log.key'));
    fs.chmodSync(path.join(dataDir, 'keys/log.key'), 0o600);
  }
  const storage = await FileLogStorage.open(path.join(dataDir, 'log'));
  return VerifiableLog.open({ storage, dataDir, treeHeadEvery: 0 });
}

async function appendRecords(log: VerifiableLog, from: number, to: number, tag: string): Promise<void> {
  for (let i = from; i < to; i++) await log.append(sampleRecord(i, tag));
}

async function headAndProof(log: VerifiableLog, fromSize: number): Promise<[string, string]> {
  const sth = await log.treeHead();
  const proof = fromSize === 0 ? [] : (await log.consistencyProof(fromSize, sth.treeSize)).hashes;
  return [JSON.stringify(sth), JSON.stringify(proof)];
}

async function submitJson<T>(contract: Contract, name: string, ...args: string[]): Promise<T> {
  const bytes = await contract.submitTransaction(name, ...args);
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
}

async function evaluateJson<T>(contract: Contract, name: string, ...args: string[]): Promise<T> {
  const bytes = await contract.evaluateTransaction(name, ...args);
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
}

async function rejects(promise: Promise<unknown>, code: string): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const text = errorText(err);
    assert.match(text, new RegExp(`${code}:`), `expected ${code}, got: ${text}`);
    return text;
  }
  assert.fail(`expected a rejection with ${code}`);
}

describe('provenance chaincode on a native Fabric network', () => {
  let net: NetworkEnv;
  let authorityAdmin: OrgClient;
  let authorityUser: OrgClient;
  let housingUser: OrgClient;
  let asAdmin: Contract;
  let asGateway: Contract;
  let asHousing: Contract;
  let log: VerifiableLog;
  const sizes = { first: 5, second: 12 };

  before(async () => {
    net = readNetwork();
    authorityAdmin = connectAs(net, 'authority', 'admin');
    authorityUser = connectAs(net, 'authority', 'user');
    housingUser = connectAs(net, 'housing', 'user');
    const channel = net.FABRIC_CHANNEL!;
    asAdmin = authorityAdmin.gateway.getNetwork(channel).getContract(CHAINCODE);
    asGateway = authorityUser.gateway.getNetwork(channel).getContract(CHAINCODE);
    asHousing = housingUser.gateway.getNetwork(channel).getContract(CHAINCODE);
    log = await openLog('log');
  });

  after(async () => {
    await log?.close();
    for (const c of [authorityAdmin, authorityUser, housingUser]) c?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('registers the log key once, and only an authority administrator may', async () => {
    const pem = log.publicKey().pem;
    await rejects(asGateway.submitTransaction('RegisterLogKey', pem), 'FORBIDDEN');
    await rejects(asHousing.submitTransaction('RegisterLogKey', pem), 'FORBIDDEN');
    const registered = await submitJson<{ logId: string }>(asAdmin, 'RegisterLogKey', pem);
    assert.equal(registered.logId, log.publicKey().logId);
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await rejects(asAdmin.submitTransaction('RegisterLogKey', other), 'LOG_KEY_ALREADY_REGISTERED');
    const onLedger = await evaluateJson<{ logId: string }>(asHousing, 'LogKey');
    assert.equal(onLedger.logId, log.publicKey().logId);
  });

  it('anchors a first head, then an extension proven by a consistency proof', async () => {
    await appendRecords(log, 0, sizes.first, 'main');
    const [first, empty] = await headAndProof(log, 0);
    const a1 = await submitJson<SignedTreeHead>(asGateway, 'AnchorTreeHead', first, empty);
    assert.equal(a1.treeSize, sizes.first);

    await appendRecords(log, sizes.first, sizes.second, 'main');
    const [second, proof] = await headAndProof(log, sizes.first);
    assert.ok((JSON.parse(proof) as string[]).length > 0);
    const a2 = await submitJson<SignedTreeHead>(asGateway, 'AnchorTreeHead', second, proof);
    assert.equal(a2.treeSize, sizes.second);

    // Every peer answers with the same latest head, and both heads can be read by range.
    const latest = await evaluateJson<SignedTreeHead>(asHousing, 'LatestTreeHead');
    assert.deepEqual(
      { treeSize: latest.treeSize, rootHash: latest.rootHash },
      { treeSize: sizes.second, rootHash: (JSON.parse(second) as SignedTreeHead).rootHash },
    );
    const range = await evaluateJson<SignedTreeHead[]>(asHousing, 'TreeHeads', '0', '100');
    assert.deepEqual(
      range.map((h) => h.treeSize),
      [sizes.first, sizes.second],
    );
  });

  it('rejects a head signed by another key', async () => {
    const stranger = await openLog('stranger');
    try {
      await appendRecords(stranger, 0, 20, 'stranger');
      const [head] = await headAndProof(stranger, 0);
      await rejects(asGateway.submitTransaction('AnchorTreeHead', head, '[]'), 'TREE_HEAD_SIGNATURE');
    } finally {
      await stranger.close();
    }
    // The registered log id with a signature by another key.
    const real = await log.treeHead();
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = { ...real, treeSize: 40, rootHash: createHash('sha256').update('forged').digest('hex') };
    forged.signature = sign(null, treeHeadMessage(forged), privateKey).toString('base64');
    await rejects(asGateway.submitTransaction('AnchorTreeHead', JSON.stringify(forged), '[]'), 'TREE_HEAD_SIGNATURE');
  });

  it('rejects a rolled-back or forked log signed with the real key', async () => {
    // Rollback: the log truncated to its first head and re-signed.
    const truncated = await openLog('truncated', 'log');
    try {
      await appendRecords(truncated, 0, sizes.first, 'main');
      const [small] = await headAndProof(truncated, 0);
      await rejects(asGateway.submitTransaction('AnchorTreeHead', small, '[]'), 'TREE_HEAD_ROLLBACK');

      // Fork at the anchored size: same size, another root.
      await appendRecords(truncated, sizes.first, sizes.second, 'rewritten');
      const [sameSize] = await headAndProof(truncated, 0);
      await rejects(asGateway.submitTransaction('AnchorTreeHead', sameSize, '[]'), 'TREE_HEAD_FORK');

      // Fork that grows past the anchored head: its own proof cannot link it to the anchored root.
      await appendRecords(truncated, sizes.second, 20, 'rewritten');
      const [bigger, proof] = await headAndProof(truncated, sizes.second);
      await rejects(asGateway.submitTransaction('AnchorTreeHead', bigger, proof), 'TREE_HEAD_INCONSISTENT');
    } finally {
      await truncated.close();
    }
    // A genuine extension with a doctored proof is refused too.
    await appendRecords(log, sizes.second, 16, 'main');
    const [next, proof] = await headAndProof(log, sizes.second);
    const doctored = (JSON.parse(proof) as string[]).map((h, i) =>
      i === 0 ? h.replace(/^./, (c) => (c === '0' ? '1' : '0')) : h,
    );
    await rejects(
      asGateway.submitTransaction('AnchorTreeHead', next, JSON.stringify(doctored)),
      'TREE_HEAD_INCONSISTENT',
    );
    const latest = await evaluateJson<SignedTreeHead>(asGateway, 'LatestTreeHead');
    assert.equal(latest.treeSize, sizes.second);
  });

  it('does not commit a write endorsed by the authority alone', async () => {
    const step = JSON.stringify({
      grantId: 'grant-solo',
      state: 'applied',
      ownerMsp: 'HousingMSP',
      recordHash: createHash('sha256').update('solo').digest('hex'),
      logIndex: 3,
    });
    const proposal = asGateway.newProposal('RecordGrantStep', {
      arguments: [step],
      endorsingOrganizations: ['AuthorityMSP'],
    });
    const transaction = await proposal.endorse();
    const submitted = await transaction.submit();
    const status = await submitted.getStatus();
    assert.equal(status.successful, false);
    assert.equal(status.code, 10, `expected ENDORSEMENT_POLICY_FAILURE (10), got ${status.code}`);
    await rejects(asHousing.evaluateTransaction('Grant', 'grant-solo'), 'NOT_FOUND');
  });

  it('records grant steps and releases once, endorsed by both organisations, readable by key, range and history', async () => {
    const h = (s: string) => createHash('sha256').update(s).digest('hex');
    for (const [state, logIndex] of [
      ['applied', 20],
      ['approved', 21],
    ] as const) {
      await submitJson(
        asGateway,
        'RecordGrantStep',
        JSON.stringify({ grantId: 'grant-1', state, ownerMsp: 'HousingMSP', recordHash: h(state), logIndex }),
      );
    }
    await rejects(
      asGateway.submitTransaction(
        'RecordGrantStep',
        JSON.stringify({
          grantId: 'grant-1',
          state: 'applied',
          ownerMsp: 'HousingMSP',
          recordHash: h('x'),
          logIndex: 22,
        }),
      ),
      'GRANT_TRANSITION',
    );
    await rejects(
      asHousing.submitTransaction(
        'RecordGrantStep',
        JSON.stringify({
          grantId: 'grant-2',
          state: 'applied',
          ownerMsp: 'HousingMSP',
          recordHash: h('y'),
          logIndex: 1,
        }),
      ),
      'FORBIDDEN',
    );
    const history = await evaluateJson<{ state: string; logIndex: number }[]>(asHousing, 'GrantHistory', 'grant-1');
    assert.deepEqual(
      history.map((s) => [s.state, s.logIndex]),
      [
        ['applied', 20],
        ['approved', 21],
      ],
    );
    const grants = await evaluateJson<{ grantId: string }[]>(asHousing, 'Grants', '', '');
    assert.deepEqual(
      grants.map((g) => g.grantId),
      ['grant-1'],
    );

    const release = { hash: h('output'), kind: 'sandbox', recordHash: h('release-record'), logIndex: 23 };
    await submitJson(asGateway, 'RecordRelease', JSON.stringify(release));
    await rejects(asGateway.submitTransaction('RecordRelease', JSON.stringify(release)), 'ALREADY_RECORDED');
    const read = await evaluateJson<{ kind: string; logIndex: number }>(asHousing, 'Release', release.hash);
    assert.deepEqual([read.kind, read.logIndex], ['sandbox', 23]);
  });

  it("reads the anchor back with Fabric's own peer CLI on the housing commission's peer", async () => {
    const out = await peerCli('housing', [
      'chaincode',
      'query',
      '-C',
      net.FABRIC_CHANNEL!,
      '-n',
      CHAINCODE,
      '-c',
      JSON.stringify({ Args: ['LatestTreeHead'] }),
    ]);
    const head = JSON.parse(out) as SignedTreeHead;
    const ours = await log.treeHead();
    assert.equal(head.treeSize, sizes.second);
    assert.equal(head.logId, ours.logId);
    const grant = JSON.parse(
      await peerCli('authority', [
        'chaincode',
        'query',
        '-C',
        net.FABRIC_CHANNEL!,
        '-n',
        CHAINCODE,
        '-c',
        JSON.stringify({ Args: ['Grant', 'grant-1'] }),
      ]),
    ) as { state: string };
    assert.equal(grant.state, 'approved');
  });

  it('FabricLedgerAnchor (unwired adapter): anchors the backlog in order, serialises concurrent anchors, is idempotent', async () => {
    const msp = net.FABRIC_AUTHORITY_USER_MSP!;
    const one = (dir: string) => fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!));
    const anchor = FabricLedgerAnchor.connect({
      peerEndpoint: net.FABRIC_AUTHORITY_PEER!,
      peerHostAlias: net.FABRIC_AUTHORITY_PEER_HOST!,
      tlsRootCertPem: fs.readFileSync(net.FABRIC_AUTHORITY_PEER_TLS_CA!),
      mspId: net.FABRIC_AUTHORITY_MSPID!,
      certificatePem: one(path.join(msp, 'signcerts')),
      privateKeyPem: one(path.join(msp, 'keystore')),
      channel: net.FABRIC_CHANNEL!,
      retryBaseMs: 50,
    });
    try {
      // The log is at 16 records, the ledger at 12: one anchor covers the backlog.
      const a = await anchor.anchor(log);
      assert.equal(a.treeSize, await log.size());
      assert.equal((await anchor.anchor(log)).txId, a.txId, 'the same head again is no new transaction');
      await appendRecords(log, 16, 21, 'main');
      const heads = await Promise.all([anchor.anchor(log), anchor.anchor(log), anchor.anchor(log)]);
      assert.deepEqual(
        heads.map((h) => h.treeSize),
        [21, 21, 21],
      );

      const truncated = await openLog('truncated-2', 'log');
      try {
        await appendRecords(truncated, 0, 8, 'main');
        await assert.rejects(
          anchor.anchor(truncated),
          (e: unknown) => e instanceof AnchorError && e.kind === 'rejected' && e.code === 'TREE_HEAD_ROLLBACK',
        );
      } finally {
        await truncated.close();
      }

      const h = (x: string) => createHash('sha256').update(x).digest('hex');
      const step = {
        grantId: 'grant-3',
        state: 'applied' as const,
        ownerMsp: 'HousingMSP',
        recordHash: h('g3'),
        logIndex: 30,
      };
      await anchor.recordGrantStep(step);
      await anchor.recordGrantStep(step); // a replay of the same step resolves
      await assert.rejects(
        anchor.recordGrantStep({ ...step, recordHash: h('other') }),
        (e: unknown) => e instanceof AnchorError && e.kind === 'rejected' && e.code === 'GRANT_TRANSITION',
      );
      const release = { hash: h('out-3'), kind: 'encrypted' as const, recordHash: h('rec-3'), logIndex: 31 };
      await anchor.recordRelease(release);
      await anchor.recordRelease(release);
      await assert.rejects(
        anchor.recordRelease({ ...release, logIndex: 32 }),
        (e: unknown) => e instanceof AnchorError && e.code === 'ALREADY_RECORDED',
      );
      assert.equal((await anchor.latestAnchor())?.treeSize, 21);
    } finally {
      await anchor.close();
    }
  });
});
