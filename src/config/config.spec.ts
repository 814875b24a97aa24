import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, RATE_LIMIT_DEFAULTS } from './config.js';

describe('configuration', () => {
  it('embedded defaults need nothing set', () => {
    const c = loadConfig({});
    assert.equal(c.databaseUrl, null);
    assert.equal(c.jwksUrl, null);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 4000);
    assert.equal(c.demo.rooms, 100_000);
    assert.match(c.policyWasmPath, /policies\/build\/policy\.wasm$/);
  });
  it('sandbox job settings: defaults, concurrency follows the workers, bad values refused', () => {
    const d = loadConfig({}).jobs;
    assert.deepEqual(
      [d.workers, d.concurrency, d.cpuMs, d.wallMs, d.memoryMb, d.leaseMs],
      [2, 2, 5000, 10000, 128, 30000],
    );
    assert.equal(loadConfig({ CITYGATE_SANDBOX_WORKERS: '4' }).jobs.concurrency, 4);
    assert.equal(loadConfig({ CITYGATE_SANDBOX_WORKERS: '4', CITYGATE_JOB_CONCURRENCY: '1' }).jobs.concurrency, 1);
    assert.throws(() => loadConfig({ CITYGATE_SANDBOX_WORKERS: '0' }), /CITYGATE_SANDBOX_WORKERS/);
    assert.throws(() => loadConfig({ CITYGATE_JOB_CPU_MS: 'lots' }), /CITYGATE_JOB_CPU_MS: must be a whole number/);
    assert.throws(() => loadConfig({ CITYGATE_JOB_LEASE_MS: '10' }), /CITYGATE_JOB_LEASE_MS/);
  });
  it('production settings come from the environment', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
      JWKS_URL: 'https://id.example/jwks',
      CITYGATE_DEMO: 'false',
    });
    assert.equal(c.databaseUrl, 'postgres://u@127.0.0.1:5432/db');
    assert.equal(c.jwksUrl, 'https://id.example/jwks');
    assert.equal(c.demo.enabled, false);
  });
  it('unknown or invalid settings stop the boot with a readable message, never echoing secrets', () => {
    assert.throws(
      () => loadConfig({ CITYGATE_PROT: '4000' }),
      (e: unknown) => e instanceof ConfigError && /CITYGATE_PROT: unknown setting/.test(e.message),
    );
    assert.throws(() => loadConfig({ CITYGATE_PORT: 'eighty' }), /CITYGATE_PORT: must be a whole number/);
    assert.throws(() => loadConfig({ CITYGATE_PORT: '70000' }), /CITYGATE_PORT/);
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' }),
      (e: unknown) => e instanceof ConfigError && /DATABASE_URL/.test(e.message) && !e.message.includes('hunter2'),
    );
    assert.throws(() => loadConfig({ LEDGER: 'fabric' }), /LEDGER/);
  });
  it('rate limits per tier: defaults, JSON merged over them, and refusals of bad JSON or unknown tiers', () => {
    assert.deepEqual(loadConfig({}).rateLimits.tiers, RATE_LIMIT_DEFAULTS);
    const c = loadConfig({ CITYGATE_RATE_LIMITS: '{"open":{"records":5}}', CITYGATE_RATE_WINDOW_SECONDS: '10' });
    assert.deepEqual(c.rateLimits.tiers.open, { operations: RATE_LIMIT_DEFAULTS.open.operations, records: 5 });
    assert.deepEqual(c.rateLimits.tiers.partner, RATE_LIMIT_DEFAULTS.partner);
    assert.equal(c.rateLimits.windowSeconds, 10);
    assert.throws(() => loadConfig({ CITYGATE_RATE_LIMITS: '{open' }), /CITYGATE_RATE_LIMITS: must be JSON/);
    assert.throws(() => loadConfig({ CITYGATE_RATE_LIMITS: '{"gold":{"records":5}}' }), /CITYGATE_RATE_LIMITS/);
    assert.throws(
      () => loadConfig({ CITYGATE_RATE_LIMITS: '{"open":{"records":0}}' }),
      /CITYGATE_RATE_LIMITS\.open\.records/,
    );
    assert.throws(() => loadConfig({ CITYGATE_RATE_LIMITS: '{"open":{"request":5}}' }), /CITYGATE_RATE_LIMITS/);
  });
});
