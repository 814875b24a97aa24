import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { LedgerError, type LedgerErrorCode } from '../src/errors';
import { ProvenanceLedger } from '../src/provenance-ledger';
import { treeHeadMessage } from '../src/tree-head';
import type { Caller } from '../src/world-state.port';
import { AUTHORITY_ADMIN, AUTHORITY_GATEWAY, HOUSING_ADMIN, MemoryLedger } from './memory-state';
import { consistencyProof, leaves, newLogKey, signedHead, type TestLogKey } from './reference-tree';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

async function refused(p: Promise<unknown>, code: LedgerErrorCode): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LedgerError, String(err));
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.startsWith(`${code}: `));
    return err.message;
  }
  assert.fail(`expected ${code}`);
}

describe('provenance ledger rules', () => {
  let chain: MemoryLedger;
  let key: TestLogKey;

  /** Runs one transaction as `caller` and commits it when it succeeds. */
  async function tx<T>(caller: Caller, f: (l: ProvenanceLedger) => Promise<T>): Promise<T> {
    const t = chain.begin(caller);
    const out = await f(new ProvenanceLedger(t, 'AuthorityMSP'));
    t.commit();
    return out;
  }
  const anchor = (head: object, proof: Buffer[] = []) =>
    tx(AUTHORITY_GATEWAY, (l) =>
      l.anchorTreeHead(JSON.stringify(head), JSON.stringify(proof.map((p) => p.toString('hex')))),
    );

  beforeEach(() => {
    chain = new MemoryLedger();
    key = newLogKey();
  });

  describe('the log key', () => {
    it('is registered once, by an authority administrator only', async () => {
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.registerLogKey(key.pem)),
        'FORBIDDEN',
      );
      await refused(
        tx(HOUSING_ADMIN, (l) => l.registerLogKey(key.pem)),
        'FORBIDDEN',
      );
      const rec = await tx(AUTHORITY_ADMIN, (l) => l.registerLogKey(key.pem));
      assert.equal(rec.logId, key.logId);
      assert.equal(rec.registeredBy.mspId, 'AuthorityMSP');
      await refused(
        tx(AUTHORITY_ADMIN, (l) => l.registerLogKey(newLogKey().pem)),
        'LOG_KEY_ALREADY_REGISTERED',
      );
      assert.equal(chain.events.at(-1)?.name, 'LogKeyRegistered');
    });

    it('must be an Ed25519 SPKI public key', async () => {
      await refused(
        tx(AUTHORITY_ADMIN, (l) => l.registerLogKey('not a key')),
        'BAD_INPUT',
      );
      const { generateKeyPairSync } = await import('node:crypto');
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
      await refused(
        tx(AUTHORITY_ADMIN, (l) => l.registerLogKey(ec)),
        'BAD_INPUT',
      );
    });
  });

  describe('tree heads', () => {
    const d = leaves(30);
    beforeEach(async () => {
      await tx(AUTHORITY_ADMIN, (l) => l.registerLogKey(key.pem));
    });

    it('needs a registered key first', async () => {
      const fresh = new MemoryLedger();
      const t = fresh.begin(AUTHORITY_GATEWAY);
      const head = signedHead(key, d.slice(0, 3));
      await refused(
        new ProvenanceLedger(t, 'AuthorityMSP').anchorTreeHead(JSON.stringify(head), '[]'),
        'LOG_KEY_NOT_REGISTERED',
      );
    });

    it('anchors a first head and its proven extensions, and emits an event for each', async () => {
      const first = await anchor(signedHead(key, d.slice(0, 4)));
      assert.equal(first.treeSize, 4);
      await anchor(signedHead(key, d.slice(0, 11)), consistencyProof(4, d.slice(0, 11)));
      await anchor(signedHead(key, d.slice(0, 30)), consistencyProof(11, d.slice(0, 30)));
      const latest = await tx(AUTHORITY_GATEWAY, (l) => l.latestTreeHead());
      assert.equal(latest?.treeSize, 30);
      const all = await tx(HOUSING_ADMIN, (l) => l.treeHeads('0', '100'));
      assert.deepEqual(
        all.map((h) => h.treeSize),
        [4, 11, 30],
      );
      assert.deepEqual(
        (await tx(HOUSING_ADMIN, (l) => l.treeHeads('5', '11'))).map((h) => h.treeSize),
        [11],
      );
      assert.equal((await tx(HOUSING_ADMIN, (l) => l.treeHead('11'))).treeSize, 11);
      await refused(
        tx(HOUSING_ADMIN, (l) => l.treeHead('12')),
        'NOT_FOUND',
      );
      assert.deepEqual(
        chain.events.map((e) => e.name),
        ['LogKeyRegistered', 'TreeHeadAnchored', 'TreeHeadAnchored', 'TreeHeadAnchored'],
      );
    });

    it('refuses a head signed by another key, or with the right log id and a wrong signature', async () => {
      await refused(anchor(signedHead(newLogKey(), d.slice(0, 4))), 'TREE_HEAD_SIGNATURE');
      const other = newLogKey();
      const head = { logId: key.logId, treeSize: 4, rootHash: hex('x'), timestamp: 1 };
      const forged = { ...head, signature: sign(null, treeHeadMessage(head), other.privateKey).toString('base64') };
      await refused(anchor(forged), 'TREE_HEAD_SIGNATURE');
      // A signed head whose size was edited afterwards.
      const real = signedHead(key, d.slice(0, 4));
      await refused(anchor({ ...real, treeSize: 5 }), 'TREE_HEAD_SIGNATURE');
      assert.equal(await tx(AUTHORITY_GATEWAY, (l) => l.latestTreeHead()), null);
    });

    it('refuses a smaller tree, a fork at the same size, and a fork that grew', async () => {
      await anchor(signedHead(key, d.slice(0, 10)));
      await refused(anchor(signedHead(key, d.slice(0, 9))), 'TREE_HEAD_ROLLBACK');
      const forked = [...d.slice(0, 3), Buffer.from('rewritten'), ...d.slice(4)];
      await refused(anchor(signedHead(key, forked.slice(0, 10))), 'TREE_HEAD_FORK');
      const msg = await refused(
        anchor(signedHead(key, forked.slice(0, 20)), consistencyProof(10, forked.slice(0, 20))),
        'TREE_HEAD_INCONSISTENT',
      );
      assert.match(msg, /size 20 extends the anchored tree of size 10/);
      await refused(anchor(signedHead(key, d.slice(0, 20))), 'TREE_HEAD_INCONSISTENT');
      assert.equal((await tx(AUTHORITY_GATEWAY, (l) => l.latestTreeHead()))?.treeSize, 10);
    });

    it('treats the same tree again as no change, and refuses a timestamp that goes back', async () => {
      const h = signedHead(key, d.slice(0, 6), 5000);
      const a = await anchor(h);
      const again = await anchor(signedHead(key, d.slice(0, 6), 6000));
      assert.equal(again.txId, a.txId);
      await refused(anchor(signedHead(key, d.slice(0, 8), 4000), consistencyProof(6, d.slice(0, 8))), 'BAD_INPUT');
    });

    it('refuses malformed heads and proofs with BAD_INPUT', async () => {
      const good = signedHead(key, d.slice(0, 4));
      for (const bad of [
        { ...good, treeSize: -1 },
        { ...good, treeSize: 2 ** 53 },
        { ...good, rootHash: 'ABC' },
        { ...good, signature: 'x' },
        { ...good, extra: 1 },
        [good],
      ]) {
        await refused(anchor(bad), 'BAD_INPUT');
      }
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.anchorTreeHead('{', '[]')),
        'BAD_INPUT',
      );
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.anchorTreeHead(JSON.stringify(good), '["zz"]')),
        'BAD_INPUT',
      );
      await refused(anchor(good, [Buffer.alloc(32)]), 'BAD_INPUT');
    });

    it('writes the same bytes on every endorser', async () => {
      // Two endorsers with the same state simulate the same proposal (same transaction id and time).
      const head = JSON.stringify(signedHead(key, d.slice(0, 4)));
      const runs: string[] = [];
      for (let i = 0; i < 2; i++) {
        const endorser = new MemoryLedger();
        const setup = endorser.begin(AUTHORITY_ADMIN);
        await new ProvenanceLedger(setup, 'AuthorityMSP').registerLogKey(key.pem);
        setup.commit();
        const t = endorser.begin(AUTHORITY_GATEWAY, '2026-12-04T11:00:00.000Z');
        Object.assign(t, { txId: 'same-proposal' });
        await new ProvenanceLedger(t, 'AuthorityMSP').anchorTreeHead(head, '[]');
        const { writes, event } = t.commit();
        runs.push(JSON.stringify([[...writes], event]));
      }
      assert.equal(runs[0], runs[1]);
    });
  });

  describe('grants', () => {
    const step = (grantId: string, state: string, logIndex: number, ownerMsp = 'HousingMSP') =>
      JSON.stringify({ grantId, state, ownerMsp, recordHash: hex(`${grantId}-${state}`), logIndex });

    it('follows applied → approved → revoked, keeps each step in the key history, and refuses other moves', async () => {
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'approved', 1))),
        'GRANT_TRANSITION',
      );
      await tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'applied', 1)));
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'applied', 2))),
        'GRANT_TRANSITION',
      );
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'revoked', 2))),
        'GRANT_TRANSITION',
      );
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'approved', 1))),
        'BAD_INPUT',
      );
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'approved', 2, 'WaterMSP'))),
        'BAD_INPUT',
      );
      await tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'approved', 2)));
      await tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'revoked', 9)));
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g1', 'expired', 10))),
        'GRANT_TRANSITION',
      );
      const history = await tx(HOUSING_ADMIN, (l) => l.grantHistory('g1'));
      assert.deepEqual(
        history.map((s) => [s.state, s.logIndex]),
        [
          ['applied', 1],
          ['approved', 2],
          ['revoked', 9],
        ],
      );
      assert.equal((await tx(HOUSING_ADMIN, (l) => l.grant('g1'))).state, 'revoked');
    });

    it('are recorded by the authority only, and read by range in id order', async () => {
      await refused(
        tx(HOUSING_ADMIN, (l) => l.recordGrantStep(step('g1', 'applied', 1))),
        'FORBIDDEN',
      );
      for (const id of ['g-c', 'g-a', 'g-b'])
        await tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step(id, 'applied', 1)));
      await tx(AUTHORITY_GATEWAY, (l) => l.recordGrantStep(step('g-a', 'rejected', 2)));
      const all = await tx(HOUSING_ADMIN, (l) => l.grants('', ''));
      assert.deepEqual(
        all.map((g) => [g.grantId, g.state]),
        [
          ['g-a', 'rejected'],
          ['g-b', 'applied'],
          ['g-c', 'applied'],
        ],
      );
      assert.deepEqual(
        (await tx(HOUSING_ADMIN, (l) => l.grants('g-b', 'g-c'))).map((g) => g.grantId),
        ['g-b'],
      );
      await refused(
        tx(HOUSING_ADMIN, (l) => l.grant('g/../x')),
        'BAD_INPUT',
      );
      await refused(
        tx(HOUSING_ADMIN, (l) => l.grant('nope')),
        'NOT_FOUND',
      );
    });
  });

  describe('releases', () => {
    it('are recorded once by hash and read by key and range', async () => {
      const r = (s: string, kind = 'sandbox') =>
        JSON.stringify({ hash: hex(s), kind, recordHash: hex(`rec-${s}`), logIndex: 7 });
      await tx(AUTHORITY_GATEWAY, (l) => l.recordRelease(r('a')));
      await tx(AUTHORITY_GATEWAY, (l) => l.recordRelease(r('b', 'encrypted')));
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordRelease(r('a', 'encrypted'))),
        'ALREADY_RECORDED',
      );
      await refused(
        tx(AUTHORITY_GATEWAY, (l) => l.recordRelease(r('c', 'raw'))),
        'BAD_INPUT',
      );
      await refused(
        tx(HOUSING_ADMIN, (l) => l.recordRelease(r('d'))),
        'FORBIDDEN',
      );
      assert.equal((await tx(HOUSING_ADMIN, (l) => l.release(hex('b')))).kind, 'encrypted');
      const all = await tx(HOUSING_ADMIN, (l) => l.releases('', ''));
      assert.deepEqual(
        all.map((x) => x.hash),
        [hex('a'), hex('b')].sort(),
      );
      await refused(
        tx(HOUSING_ADMIN, (l) => l.release(hex('zzz'))),
        'NOT_FOUND',
      );
    });
  });
});
