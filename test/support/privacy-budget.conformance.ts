/**
 * The privacy budget's contract, run against every store adapter: PGlite in the unit spec
 * (src/jobs/dp/privacy-budget.repository.spec.ts), PostgreSQL 15 with a connection pool in the integration spec
 * (test/integration/dp-budget.int-spec.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Db } from '../../src/store/db.port.js';
import { PrivacyBudgetRepository, type DpOutcome } from '../../src/jobs/dp/privacy-budget.repository.js';
import { EPS, freshScope, request, TOTAL } from './dp-fixtures.js';

const count = (outs: DpOutcome[], status: DpOutcome['status']) => outs.filter((o) => o.status === status).length;

export async function assertBudgetBalanced(
  repo: PrivacyBudgetRepository,
  scope: { org: string; datasetId: string },
): Promise<{ spent: number; total: number; answers: number }> {
  const b = await repo.budget(scope.org, scope.datasetId);
  const charges = await repo.charges(scope.org, scope.datasetId);
  const sum = charges.reduce((a, c) => a + c.epsilonMicro, 0);
  assert.ok(b, 'the budget row exists');
  assert.equal(b.spentMicro, sum, 'spent equals the sum of the stored answers’ charges');
  assert.ok(b.spentMicro <= b.totalMicro, 'never overspent');
  return { spent: b.spentMicro, total: b.totalMicro, answers: charges.length };
}

export function privacyBudgetConformance(getDb: () => Db): void {
  const repo = () => new PrivacyBudgetRepository(getDb());

  it('100 concurrent queries with distinct keys against a budget for 10 give exactly 10 answers', async () => {
    const r = repo();
    const scope = freshScope('hundred');
    const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => r.answer(request(scope, `q${i}`))));
    assert.equal(count(outs, 'answered'), 10);
    assert.equal(count(outs, 'exhausted'), 90);
    for (const o of outs)
      if (o.status === 'exhausted') assert.ok(!('answer' in o), 'an exhausted call carries no values');
    const bal = await assertBudgetBalanced(r, scope);
    assert.deepEqual(bal, { spent: TOTAL, total: TOTAL, answers: 10 });
  });

  it('a repeated query is answered from the store, unchanged and uncharged, also when the budget is spent', async () => {
    const r = repo();
    const scope = freshScope('repeat');
    const first = await r.answer(request(scope, 'same'));
    assert.equal(first.status, 'answered');
    for (let i = 0; i < 9; i++) assert.equal((await r.answer(request(scope, `other${i}`))).status, 'answered');
    const again = await r.answer(request(scope, 'same'));
    assert.equal(again.status, 'cached');
    assert.equal(again.chargedMicro, 0);
    assert.deepEqual(again.status === 'cached' && again.answer, first.status === 'answered' && first.answer);
    assert.equal((await r.answer(request(scope, 'new'))).status, 'exhausted');
    assert.deepEqual(await assertBudgetBalanced(r, scope), { spent: TOTAL, total: TOTAL, answers: 10 });
  });

  it('20 concurrent copies of one query are charged once and all get the same noisy answer', async () => {
    const r = repo();
    const scope = freshScope('copies');
    let computed = 0;
    const outs = await Promise.all(
      Array.from({ length: 20 }, () =>
        r.answer(
          request(scope, 'dup', {
            compute: async (tx) => {
              computed++;
              await tx.query('select pg_sleep(0.002)');
              return { sensitivity: 1, cells: [{ key: 'total', label: null, value: 1000 }] };
            },
          }),
        ),
      ),
    );
    assert.equal(count(outs, 'answered'), 1);
    assert.equal(count(outs, 'cached'), 19);
    assert.equal(computed, 1, 'computed (and noised) once');
    const values = new Set(outs.map((o) => (o.status === 'exhausted' ? null : o.answer.cells[0]!.value)));
    assert.equal(values.size, 1);
    assert.deepEqual(await assertBudgetBalanced(r, scope), { spent: EPS, total: TOTAL, answers: 1 });
  });

  it('answers are noised: many cells at ε = 0.1 do not all come back as their true values', async () => {
    const r = repo();
    const scope = freshScope('noise');
    const out = await r.answer(
      request(scope, 'cells', {
        compute: async () => ({
          sensitivity: 1,
          cells: Array.from({ length: 50 }, (_, i) => ({ key: `c${i}`, label: null, value: 500 })),
        }),
      }),
    );
    assert.equal(out.status, 'answered');
    const exact = out.status === 'answered' ? out.answer.cells.filter((c) => c.value === 500).length : 50;
    // P(noise = 0) at scale 10 is tanh(1/20) ≈ 0.05: fifty exact cells would mean no noise at all.
    assert.ok(exact < 15, `${exact} of 50 cells unnoised`);
  });

  it('a failing computation charges nothing and stores nothing', async () => {
    const r = repo();
    const scope = freshScope('fail');
    await assert.rejects(
      r.answer(
        request(scope, 'boom', {
          compute: async () => {
            throw new Error('engine failed');
          },
        }),
      ),
      /engine failed/,
    );
    const b = await r.budget(scope.org, scope.datasetId);
    assert.equal(b?.spentMicro ?? 0, 0);
    assert.deepEqual(await r.charges(scope.org, scope.datasetId), []);
    assert.equal((await r.answer(request(scope, 'boom'))).status, 'answered');
  });

  it('an exhausted budget computes nothing', async () => {
    const r = repo();
    const scope = freshScope('exhausted');
    await r.answer(request(scope, 'big', { epsilonMicro: TOTAL }));
    let computed = false;
    const out = await r.answer(
      request(scope, 'after', {
        compute: async () => {
          computed = true;
          return { sensitivity: 1, cells: [] };
        },
      }),
    );
    assert.equal(out.status, 'exhausted');
    assert.equal(computed, false);
  });

  it('stored answers cannot be changed or deleted, and the store refuses overspending on its own', async () => {
    const r = repo();
    const db = getDb();
    const scope = freshScope('guard');
    await r.answer(request(scope, 'x'));
    await assert.rejects(db.query(`update dp_answers set answer = '{}' where org_id = $1`, [scope.org]), /append-only/);
    await assert.rejects(db.query(`delete from dp_answers where org_id = $1`, [scope.org]), /append-only/);
    await assert.rejects(
      db.query(`update dp_budgets set spent_micro = total_micro + 1 where org_id = $1`, [scope.org]),
      /check constraint/,
    );
    await assert.rejects(r.setTotal(scope.org, scope.datasetId, EPS - 1), /below what is already spent/);
    assert.deepEqual(await r.setTotal(scope.org, scope.datasetId, 2 * TOTAL), {
      totalMicro: 2 * TOTAL,
      spentMicro: EPS,
    });
  });
}
