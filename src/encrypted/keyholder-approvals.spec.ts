/**
 * The key holder takes the owner's approval from the log, never from the gateway's word: attacks by a gateway
 * (or an insider with a log write) that points it at approvals which are not the owner's, not this
 * computation's, or rules that do not cover the computation.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sampleRecord } from '../../test/support/provenance-fixtures.js';
import type {
  AccessRecord,
  EncryptedApprovalRule,
  EncryptedDecisionRecord,
  EncryptedRuleRecord,
  ProvenanceRecord,
} from '../ledger/provenance-record.js';
import { canonicalJson } from '../ledger/provenance-record.js';
import { FileLogStorage } from '../ledger/storage/file-log-storage.adapter.js';
import { VerifiableLog } from '../ledger/verifiable-log.js';
import { logApprovals, memoryCheckpoint, type GatewayGraphql } from './keyholder.server.js';

const OWNER = 'housing-construction';
const HASH = 'ab'.repeat(32);
const dirs: string[] = [];
const logs: VerifiableLog[] = [];
after(async () => {
  for (const l of logs) await l.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const owner = { sub: 'owner@housing', org: OWNER, roles: ['owner' as const], via: 'jwt' };

function computation(id: string, approval: NonNullable<AccessRecord['encrypted']>['approval']): AccessRecord {
  const base = sampleRecord(1, id);
  return {
    ...base,
    id,
    dataset: 'building-energy',
    mode: 'encrypted',
    requester: { sub: 'analyst@planning', org: 'planning-bureau', roles: ['analyst'], via: 'jwt' },
    purpose: 'urban-planning',
    decision: { ...base.decision, allow: true },
    outcome: { ...base.outcome, released: true },
    encrypted: {
      computationId: id,
      column: 'electricity_kwh',
      kind: 'sum',
      scheme: 'bfv',
      keyId: 'key-1',
      approved: approval?.status === 'approved',
      approval,
      cells: [{ group: null, records: 40, unitsCovered: 30, resultHash: HASH }],
    },
  };
}

function decision(
  kind: 'he-approved' | 'he-refused',
  c: { id: string; index: number; leafHash: string },
  by = owner,
): EncryptedDecisionRecord {
  return {
    v: 1,
    kind,
    id: `d-${c.id}-${c.index}`,
    at: new Date().toISOString(),
    requester: by,
    dataset: 'building-energy',
    ownerOrg: OWNER,
    computation: { ...c, column: 'electricity_kwh', keyId: 'key-1' },
    reason: null,
  };
}

function rule(id: string, r: Partial<EncryptedApprovalRule> = {}, by = owner): EncryptedRuleRecord {
  return {
    v: 1,
    kind: 'he-rule-set',
    id: `r-${id}`,
    at: new Date().toISOString(),
    requester: by,
    dataset: 'building-energy',
    ownerOrg: OWNER,
    rule: {
      id,
      column: 'electricity_kwh',
      orgs: ['planning-bureau'],
      purposes: null,
      kinds: ['sum'],
      minUnits: 10,
      ...r,
    },
    reason: null,
  };
}

describe('key holder: the owner’s approval, from the log only', () => {
  it('honours the owner’s decision and a covering rule; refuses every substitute', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-kh-appr-'));
    dirs.push(dir);
    const log = await VerifiableLog.open({ storage: await FileLogStorage.open(path.join(dir, 'log')), dataDir: dir });
    logs.push(log);
    const append = async (r: ProvenanceRecord) => (await log.append(r)).index;
    const leaf = async (i: number) => (await log.get(i))!.leafHash;

    // Rules first (a rule must precede what it approves).
    const rGood = await append(rule('good'));
    const rByAnalyst = await append(
      rule('by-analyst', {}, { sub: 'a', org: OWNER, roles: ['analyst' as never], via: 'jwt' }),
    );
    const rOtherOrg = await append(rule('other-org', {}, { ...owner, org: 'civil-affairs' }));
    const rTooStrict = await append(rule('too-strict', { minUnits: 31 }));
    const rOtherKind = await append(rule('other-kind', { kinds: ['mean'] }));

    const pending = await append(computation('pending', { status: 'pending' }));
    const approvedC = await append(computation('approved', { status: 'pending' }));
    const refusedC = await append(computation('refused', { status: 'pending' }));
    const ruled = (name: string, ruleId: string, ruleIndex: number) =>
      append(computation(name, { status: 'approved', ruleId, ruleIndex }));
    const byRule = await ruled('by-rule', 'good', rGood);
    const byAnalystRule = await ruled('by-analyst-rule', 'by-analyst', rByAnalyst);
    const byOtherOrgRule = await ruled('by-other-org-rule', 'other-org', rOtherOrg);
    const byStrictRule = await ruled('by-strict-rule', 'too-strict', rTooStrict);
    const byKindRule = await ruled('by-kind-rule', 'other-kind', rOtherKind);
    const wrongRuleId = await ruled('wrong-rule-id', 'not-good', rGood);
    const legacy = await append(computation('legacy', undefined));

    const dApproved = await append(
      decision('he-approved', { id: 'approved', index: approvedC, leafHash: await leaf(approvedC) }),
    );
    const dRefused = await append(
      decision('he-refused', { id: 'refused', index: refusedC, leafHash: await leaf(refusedC) }),
    );
    // Substitutes a gateway might point to for the pending computation:
    const dByAnalyst = await append(
      decision(
        'he-approved',
        { id: 'pending', index: pending, leafHash: await leaf(pending) },
        { sub: 'a', org: OWNER, roles: ['analyst' as never], via: 'jwt' },
      ),
    );
    const dOtherOrg = await append(
      decision('he-approved', { id: 'pending', index: pending, leafHash: await leaf(pending) }, { ...owner, org: 'x' }),
    );
    const dWrongLeaf = await append(decision('he-approved', { id: 'pending', index: pending, leafHash: HASH }));
    // A computation naming a rule that was only logged after it.
    const byLateRule = await ruled('by-late-rule', 'late', (await log.size()) + 1);
    assert.equal(await append(rule('late')), byLateRule + 1);

    // The gateway under test says where each decision is; `pointTo` lets it lie.
    const pointTo = new Map<string, number | null>([
      ['pending', null],
      ['approved', dApproved],
      ['refused', dRefused],
    ]);
    const gql: GatewayGraphql = async (query, variables) => {
      if (query.includes('encryptedComputation')) {
        const id = String(variables.id);
        return { encryptedComputation: { status: 'pending', decisionIndex: pointTo.get(id) ?? null } };
      }
      if (query.includes('receiptBundle')) {
        const index = Number(variables.i);
        const entry = await log.get(index);
        if (!entry) throw new Error('No such log entry.');
        const treeHead = await log.treeHead();
        const proof = await log.inclusionProof(index, treeHead.treeSize);
        return {
          receiptBundle: canonicalJson({
            record: entry.record,
            receipt: { index, leafHash: entry.leafHash },
            proof,
            treeHead,
          }),
        };
      }
      return { consistencyProof: await log.consistencyProof(Number(variables.a), Number(variables.b)) };
    };
    const approvals = logApprovals(gql, log.publicKey().pem, 'key-1', {
      checkpoint: memoryCheckpoint(),
      ownerOrg: OWNER,
    });
    const status = async (id: string, index: number) => {
      const a = await approvals.lookup(id, index, 0);
      return a === null ? 'none' : `${a.status}/${a.approved}`;
    };

    assert.equal(await status('approved', approvedC), 'approved/true');
    assert.equal(await status('refused', refusedC), 'refused/false');
    assert.equal(await status('pending', pending), 'pending/false');
    assert.equal(await status('by-rule', byRule), 'approved/true');
    // Rules not set by an owner of the dataset's organisation, or not covering the computation: no approval.
    for (const [id, index] of [
      ['by-analyst-rule', byAnalystRule],
      ['by-other-org-rule', byOtherOrgRule],
      ['by-strict-rule', byStrictRule],
      ['by-kind-rule', byKindRule],
      ['wrong-rule-id', wrongRuleId],
      ['by-late-rule', byLateRule],
      ['legacy', legacy],
    ] as const) {
      assert.equal(await status(id, index), 'none', id);
    }
    // The gateway points the pending computation at decisions that are not the owner's approval of it.
    for (const fake of [dByAnalyst, dOtherOrg, dWrongLeaf, dApproved, rGood, pending]) {
      pointTo.set('pending', fake);
      assert.equal(await status('pending', pending), 'none', `decision at ${fake}`);
    }
  });
});
