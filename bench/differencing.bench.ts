/**
 * Differencing audit benchmark (issue #13, point 2): the cost of one check against an organisation's history of
 * `--releases` earlier releases (3 cells of 30 record ids each, drawn from 200,000 records), on in-memory PGlite.
 * - indexed: the auditor's check (the earlier cells sharing a unit, read from disclosure_units, then compared);
 * - whole history: the same comparison over every earlier release read back (how each job was checked before);
 * - bare read: `select cells from job_release_history` for the scope alone (the baseline of the whole-history way).
 * CPU time per check from process.cpuUsage() (PGlite runs in the process) beside wall clock.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/differencing.bench.js [--releases 10000] [--checks 20]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { DifferencingAuditor, findDifferencing } from '../src/jobs/disclosure/differencing-auditor.js';
import { PgReleaseHistory } from '../src/jobs/disclosure/pg-release-history.adapter.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.adapter.js';
import { fmt } from './support/stats.js';

const { values: args } = parseArgs({
  options: { releases: { type: 'string', default: '10000' }, checks: { type: 'string', default: '20' } },
});
const RELEASES = Number(args.releases);
const CHECKS = Number(args.checks);

let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const cell = (label: string) => ({
  cell: label,
  units: Array.from({ length: 30 }, () => `rec-${Math.floor(rand() * 200_000)}`),
});

async function measure(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < CHECKS; i++) await fn();
  const c = process.cpuUsage(cpu);
  return { wall: (performance.now() - t) / CHECKS, cpu: (c.user + c.system) / 1000 / CHECKS };
}

async function main() {
  const db = await PgliteDb.open(null);
  await migrate(db);
  const history = new PgReleaseHistory(db);
  const scope = { org: 'planning-bureau', population: 'elderly-living-alone' };
  const started = performance.now();
  for (let i = 0; i < RELEASES; i++) {
    await history.append(scope, { releaseId: `r${i}`, cells: [cell('a'), cell('b'), cell('c')] });
  }
  console.log(
    `differencing bench: ${RELEASES.toLocaleString('en')} earlier releases (appended in ${fmt((performance.now() - started) / 1000)} s), ` +
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${os.cpus().length} CPUs\n`,
  );
  const auditor = new DifferencingAuditor(history);
  const candidate = () => [cell('x'), cell('y'), cell('z')];
  const indexed = await measure(() => auditor.check(scope, candidate()));
  const whole = await measure(async () => findDifferencing(candidate(), await history.list(scope)));
  const bare = await measure(() =>
    db.query(`select cells from job_release_history where org = $1 and population = $2 order by seq`, [
      scope.org,
      scope.population,
    ]),
  );
  const row = (name: string, m: { wall: number; cpu: number }) =>
    console.log(
      `${name.padEnd(44)} wall ${fmt(m.wall, 2).padStart(9)} ms  cpu ${fmt(m.cpu, 2).padStart(9)} ms per check`,
    );
  row('indexed check (the auditor)', indexed);
  row('whole history read and compared (before)', whole);
  row('bare read of the whole history (SQL only)', bare);
  console.log(
    `\nindexed / whole history: ${fmt(indexed.cpu / whole.cpu, 3)}x cpu; / bare read: ${fmt(indexed.cpu / bare.cpu, 3)}x`,
  );
  await db.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
