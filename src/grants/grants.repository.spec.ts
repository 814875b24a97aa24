import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db, Queryable } from '../store/db.port.js';
import { grantState } from './grant.types.js';
import { GrantsRepository } from './grants.repository.js';

/**
 * Test helper, an in-memory fake of a shared (PostgreSQL) store: no grants, no casbin lines, and a
 * grants_version whose reads take a few milliseconds and return the version at the moment they were issued.
 */
class FakeSharedStore implements Db {
  readonly kind = 'postgres' as const;
  storeVersion = 1;
  versionReads = 0;
  query<T>(sql: string): Promise<T[]> {
    if (!sql.includes('grants_version')) return Promise.resolve([]);
    this.versionReads += 1;
    const seen = this.storeVersion;
    return new Promise((res) => setTimeout(() => res([{ version: seen } as T]), 5));
  }
  exec(): Promise<void> {
    return Promise.resolve();
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return fn(this);
  }
  listen(): Promise<() => Promise<void>> {
    return Promise.resolve(() => Promise.resolve());
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('GrantsRepository.sync on a shared store', () => {
  it('a caller never settles for a version read that began before it arrived', async () => {
    const store = new FakeSharedStore();
    const repo = new GrantsRepository(store);
    await repo.load();
    const loaded = repo.version;
    const first = repo.sync(); // reads version 1
    store.storeVersion = 2; // another instance commits a change meanwhile
    const second = repo.sync(); // arrived after the change: must see version 2
    const third = repo.sync(); // may share the second's read
    await first;
    assert.equal(repo.version, loaded, 'version 1 is what was loaded: no reload');
    await Promise.all([second, third]);
    assert.equal(repo.version, loaded + 1, 'the change was loaded before the later callers decided');
    assert.equal(repo.versionChecks, 2, 'three callers, two reads');
  });

  it('does nothing on a single-process store', async () => {
    const store = new FakeSharedStore();
    Object.defineProperty(store, 'kind', { value: 'pglite' });
    const repo = new GrantsRepository(store);
    await repo.load();
    const reads = store.versionReads;
    store.storeVersion = 9;
    await repo.sync();
    assert.equal(store.versionReads, reads);
  });

  it('tells listeners of every reload (the access service drops its memo)', async () => {
    const repo = new GrantsRepository(new FakeSharedStore());
    let calls = 0;
    repo.onChange(() => (calls += 1));
    await Promise.all([repo.load(), repo.load()]);
    assert.equal(calls, 2);
  });
});

describe('grantState', () => {
  const from = new Date('2026-01-01T00:00:00Z');
  const to = new Date('2026-02-01T00:00:00Z');
  it('is derived from the dates and revocation', () => {
    assert.equal(
      grantState({ validFrom: from, validTo: to, revokedAt: null }, new Date('2025-12-31T23:59:59Z')),
      'scheduled',
    );
    assert.equal(grantState({ validFrom: from, validTo: to, revokedAt: null }, from), 'active');
    assert.equal(grantState({ validFrom: from, validTo: to, revokedAt: null }, to), 'expired', 'the end is exclusive');
    assert.equal(grantState({ validFrom: from, validTo: to, revokedAt: from }, from), 'revoked');
  });
});
