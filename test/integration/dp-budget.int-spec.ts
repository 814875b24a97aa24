/**
 * The DP privacy budget on PostgreSQL 15 (run through deploy/postgres/with-postgres.sh, which sets
 * DATABASE_URL): the conformance suite over a pool of 20 connections, so that concurrent answers really run
 * in parallel transactions; then the crash test: a child process fires 100 concurrent answers at a budget for
 * 10 and is killed with SIGKILL part-way, at several kill points. After each kill: spent equals the sum of the
 * stored answers' charges and never exceeds the total; every answer the child saw is stored unchanged; a rerun
 * of the same 100 keys returns the stored answers uncharged and tops up to exactly 10 answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { PrivacyBudgetRepository } from '../../src/jobs/dp/privacy-budget.repository.js';
import { migrate } from '../../src/store/migrate.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { EPS, freshScope, keyOf, request, TOTAL } from '../support/dp-fixtures.js';
import { assertBudgetBalanced, privacyBudgetConformance } from '../support/privacy-budget.conformance.js';

const url = process.env.DATABASE_URL;
const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, '../support/dp-crash-child.js');
// dist/test/integration → the repository root's Node 26.
const NODE = path.join(here, '../../../node_modules/.bin/node');

interface ChildRun {
  seen: Map<number, { status: 'answered' | 'cached'; cells: unknown }>;
  exhausted: number;
  done: boolean;
  signal: NodeJS.Signals | null;
}

/** Runs the child; kills it `delayMs` after it has printed `killAfter` answers (0: after `ready`). */
function runChild(org: string, killAfter: number, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CHILD, url!, org, '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const arm = () => {
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (armed) return;
      const answered = out.split('\n').filter((l) => l.startsWith('answered ')).length;
      if (out.includes('ready\n') && answered >= killAfter) arm();
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === null && code !== 0) return reject(new Error(`child exited with ${code}: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // a line cut by the kill is no acknowledgement
      const seen: ChildRun['seen'] = new Map();
      let exhausted = 0;
      for (const line of lines) {
        const [word, i, ...rest] = line.split(' ');
        if (word === 'answered' || word === 'cached')
          seen.set(Number(i), { status: word, cells: JSON.parse(rest.join(' ')) });
        if (word === 'exhausted') exhausted++;
      }
      resolve({ seen, exhausted, done: lines.includes('done'), signal });
    });
  });
}

describe(
  'privacy budget on PostgreSQL 15',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let db: PostgresDb;
    before(async () => {
      db = await PostgresDb.open(url!, 20);
      await migrate(db);
    });
    after(() => db?.close());

    describe('conformance, 20 connections', () => privacyBudgetConformance(() => db));

    it('survives SIGKILL of the answering process at several kill points', { timeout: 300_000 }, async () => {
      // [answers seen before arming the kill, then a delay in ms]; the last runs to completion.
      const killPoints: [number, number][] = [
        [0, 0],
        [0, 15],
        [1, 0],
        [3, 0],
        [5, 2],
        [8, 0],
        [0, 40],
        [0, 80],
        [10, 0],
        [100, 0], // never armed: runs to completion
      ];
      const repo = new PrivacyBudgetRepository(db);
      let midway = 0;
      for (const [killAfter, delay] of killPoints) {
        const scope = freshScope(`crash${killAfter}-${delay}`);
        const run = await runChild(scope.org, killAfter, delay);
        const label = killAfter === 100 ? 'no kill' : `kill after ${killAfter} answers + ${delay} ms`;

        // Balanced at the moment of the kill (and again once stray transactions of the dead client end).
        const before =
          (await repo.budget(scope.org, scope.datasetId)) === null ? null : await assertBudgetBalanced(repo, scope);
        const stored = before?.answers ?? 0;
        if (stored > 0 && stored < 10) midway++;

        // Everything the child saw is stored, with the same noisy cells; nothing beyond the total was answered.
        assert.ok(run.seen.size <= 10, `${label}: at most 10 answers seen`);
        const rerun = await Promise.all(Array.from({ length: 100 }, (_, i) => repo.answer(request(scope, `q${i}`))));
        for (const [i, s] of run.seen) {
          const again = rerun[i]!;
          assert.equal(again.status, 'cached', `${label}: q${i} answered before the kill is cached`);
          assert.deepEqual(again.status === 'cached' && again.answer.cells, s.cells, `${label}: q${i} unchanged`);
        }
        const cached = rerun.filter((o) => o.status === 'cached').length;
        const answered = rerun.filter((o) => o.status === 'answered').length;
        const after = await assertBudgetBalanced(repo, scope);
        assert.deepEqual(after, { spent: TOTAL, total: TOTAL, answers: 10 }, `${label}: exactly 10 answers in all`);
        assert.equal(cached + answered, 10, `${label}: 10 answers in the rerun`);
        assert.ok(cached >= stored, `${label}: every answer stored at the kill is cached in the rerun`);
        assert.equal(after.spent, (cached + answered) * EPS, `${label}: the rerun charged only new answers`);
        const charges = await repo.charges(scope.org, scope.datasetId);
        for (const [i] of run.seen) assert.ok(charges.some((c) => c.queryKey === keyOf(`q${i}`)));
        if (killAfter === 100) assert.ok(run.done, 'the last run completes');
        else assert.equal(run.signal, 'SIGKILL', `${label}: killed`);
        console.log(
          `${label}: child saw ${run.seen.size} answers, ${stored} stored at the kill, ${cached} cached + ${answered} new in the rerun`,
        );
      }
      assert.ok(midway >= 2, `at least two kills landed part-way (got ${midway})`);
    });
  },
);
