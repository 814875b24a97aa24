import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../store/migrate.js';
import { PgliteDb } from '../store/pglite.adapter.js';
import { JobsRepository } from './jobs.repository.js';

describe('JobsRepository (the durable queue)', () => {
  let db: PgliteDb;
  let repo: JobsRepository;
  const submit = () =>
    repo.insert({
      id: randomUUID(),
      submitter: { sub: 'a@x', org: 'x', roles: ['analyst'], via: 'jwt' },
      datasetId: 'ds',
      ownerOrg: 'o',
      fields: ['f'],
      purpose: null,
      language: 'js',
      runOn: 'dummy',
      code: 'export function run() {}',
      codeHash: 'h',
      declared: [],
    });

  before(async () => {
    db = await PgliteDb.open(null);
    await migrate(db);
    await db.query(`insert into orgs (id, name, name_zh, kind) values ('o', 'O', 'O', 'department')`);
    await db.query(
      `insert into catalogue_datasets (id, title, title_zh, description, owner_org, grain_kind, table_name, grade, personal, open_class)
       values ('ds', 't', 't', 'd', 'o', 'room', 'ds_t', 'general', 'none', 'unconditional')`,
    );
    repo = new JobsRepository(db);
  });
  after(async () => {
    await db.close();
  });

  it('claims the oldest queued job once, whoever asks', async () => {
    const a = await submit();
    const b = await submit();
    const [x, y, z] = await Promise.all([repo.claim('g1', 1000), repo.claim('g2', 1000), repo.claim('g3', 1000)]);
    assert.deepEqual([x?.id, y?.id, z], [a.id, b.id, null]);
    assert.equal(x?.status, 'running');
    assert.equal(x?.attempts, 1);
    assert.equal(await repo.renew(a.id, 'g1', 1000), true);
    assert.equal(await repo.renew(a.id, 'g2', 1000), false, 'only the lease holder renews');
  });

  it('a transition happens only from the expected state', async () => {
    const j = await submit();
    assert.equal((await repo.transition(j.id, ['queued'], 'cancelled', {}, ['cancelled']))?.status, 'cancelled');
    assert.equal(await repo.transition(j.id, ['running'], 'succeeded', { outputs: [] }, []), null);
    assert.equal((await repo.get(j.id))?.outputs, null);
  });

  it('an expired lease is retried once, then the job fails with the reason', async () => {
    await db.query(`update jobs set status = 'cancelled' where status <> 'cancelled'`);
    const j = await submit();
    await repo.claim('g1', 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await repo.recoverExpired(2), { requeued: [j.id], failed: [] });
    assert.equal((await repo.claim('g2', 1))?.attempts, 2);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await repo.recoverExpired(2), { requeued: [], failed: [j.id] });
    const failed = await repo.get(j.id);
    assert.equal(failed?.status, 'failed');
    assert.match(failed?.error ?? '', /stopped 2 times/);
    assert.ok(failed?.log.some((l) => l.message.includes('queued again')));
  });
});
