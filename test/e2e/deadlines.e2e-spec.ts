/**
 * No request freezes the gateway, and what the log records matches what the caller got (issue 12, Deliver 3):
 * a request stuck past its deadline (on a slow store, a slow log append, or a hook before any resolver) is
 * answered DEADLINE_EXCEEDED over real HTTP well before the socket's idle timeout, and the request log has its
 * line; the provenance log then holds no release for it, or the release followed by `release.undelivered`; a
 * download whose caller hangs up mid-stream is followed by `release.undelivered` too.
 *
 * The slowness is the test's own: it holds the store's, the log's or the identity service's calls at a gate
 * (methods of this gateway's instances, replaced in this file only), as a loaded database or a slow JWKS would.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ProvenanceRecord } from '../../src/ledger/provenance-record.js';
import type { RequestLogLine } from '../../src/ops/request-log.js';
import { SOCKET_MARGIN_MS } from '../../src/ops/request-deadline.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const DEADLINE_MS = 1_000;
const RECORDS = `{ records(dataset: "business-licences", fields: ["business_name", "licence_no"], first: 5) {
  items { id } receiptIndex } }`;

/** A gate the test opens: calls that meet it while it is shut wait. */
class Gate {
  private waiters: (() => void)[] = [];
  shut = false;
  held = 0;
  async pass(): Promise<void> {
    if (!this.shut) return;
    this.held += 1;
    await new Promise<void>((r) => this.waiters.push(r));
  }
  open(): void {
    this.shut = false;
    for (const w of this.waiters.splice(0)) w();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deadlines end in DEADLINE_EXCEEDED, and the log says what the caller got', () => {
  let tg: TestGateway;
  let url: string;
  const lines: RequestLogLine[] = [];
  const storeGate = new Gate();
  const logGate = new Gate();
  const identityGate = new Gate();

  before(async () => {
    tg = await startTestGateway({
      env: { CITYGATE_REQUEST_TIMEOUT_MS: String(DEADLINE_MS) },
      app: { requestLog: (l) => lines.push(l) },
    });
    await tg.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    const db = tg.gw.db;
    const query = db.query.bind(db);
    // Record selects (records pages and download batches) of business-licences wait at the store gate.
    db.query = async (sql: string, params?: readonly unknown[]) => {
      if (/select r\.id, r\.grain_id/.test(sql) && sql.includes('ds_business_licences')) await storeGate.pass();
      return query(sql, params);
    };
    const log = tg.gw.log;
    const append = log.append.bind(log);
    // Releases wait at the log gate (refusals and undelivered notes do not).
    log.append = async (record: ProvenanceRecord) => {
      if (record.kind === 'access' && record.outcome.released) await logGate.pass();
      return append(record);
    };
    const identity = tg.gw.identity;
    const authenticate = identity.authenticate.bind(identity);
    identity.authenticate = async (...args: Parameters<typeof authenticate>) => {
      await identityGate.pass();
      return authenticate(...args);
    };
  });

  after(async () => {
    storeGate.open();
    logGate.open();
    identityGate.open();
    await tg?.close();
  });

  /** POST /graphql over a real socket: the HTTP answer, or the error of a socket closed without one. */
  const post = async (query: string) => {
    const t0 = performance.now();
    try {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
        // Far beyond the socket's idle timeout: a closed socket shows as an error, not as this timeout.
        signal: AbortSignal.timeout(DEADLINE_MS + SOCKET_MARGIN_MS + 10_000),
      });
      const body = (await res.json()) as {
        data?: unknown;
        errors?: { extensions?: { code?: string } }[];
      };
      return { status: res.status, body, ms: performance.now() - t0 };
    } catch (err) {
      const closed = { error: String((err as Error).cause ?? err) } as { errors?: undefined; error: string };
      return { status: 0, body: closed, ms: performance.now() - t0 };
    }
  };

  const since = async (size: number) => {
    const out: { index: number; record: ProvenanceRecord }[] = [];
    const end = await tg.gw.log.size();
    for (let i = size; i < end; i++) out.push({ index: i, record: (await tg.gw.log.get(i))!.record });
    return out;
  };

  /** Every release among `entries` is followed by a `release.undelivered` naming it; returns those notes. */
  const undeliveredFor = (entries: { index: number; record: ProvenanceRecord }[]) => {
    const releases = entries.filter((e) => e.record.kind === 'access' && e.record.outcome.released);
    const notes = entries.filter((e) => e.record.kind === 'release.undelivered');
    for (const r of releases) {
      const note = notes.find((n) => n.record.kind === 'release.undelivered' && n.record.release.index === r.index);
      assert.ok(note, `release #${r.index} was logged as released but never marked undelivered`);
      assert.ok(note.index > r.index);
    }
    return { releases, notes };
  };

  const waitFor = async <T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  it('a records query stuck on a slow store: DEADLINE_EXCEEDED over HTTP, a request-log line, and no release', async () => {
    const size = await tg.gw.log.size();
    const data = tg.gw.data;
    const records = data.records.bind(data);
    const stuck: Promise<unknown>[] = [];
    data.records = (...args: Parameters<typeof records>) => {
      const p = records(...args);
      stuck.push(p.catch(() => undefined));
      return p;
    };
    storeGate.shut = true;
    let r;
    try {
      r = await post(RECORDS);
    } finally {
      storeGate.open();
      data.records = records;
    }
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'DEADLINE_EXCEEDED', JSON.stringify(r.body));
    assert.ok(storeGate.held >= 1, 'the query did reach the store');
    assert.ok(r.ms < DEADLINE_MS + SOCKET_MARGIN_MS, `answered after ${r.ms.toFixed(0)} ms`);
    const line = lines.find((l) => l.operation === 'query records' && l.outcome === 'DEADLINE_EXCEEDED');
    assert.ok(line, `a request-log line for the deadline: ${JSON.stringify(lines)}`);
    assert.equal(line.status, 200);
    // The stuck query then finishes (the gate is open): it releases nothing past its deadline.
    assert.equal(stuck.length, 1);
    await Promise.all(stuck);
    await tg.gw.deliveries.flushed();
    const { releases } = undeliveredFor(await since(size));
    assert.equal(releases.length, 0, 'nothing released past the deadline');
  });

  it('a release whose log append outlives the deadline: DEADLINE_EXCEEDED, then `release.undelivered` (deadline)', async () => {
    const size = await tg.gw.log.size();
    logGate.shut = true;
    const answered = post(RECORDS);
    // The old behaviour: nothing answers until the socket's idle timeout closes it. Open the gate after that.
    const r = await Promise.race([answered, sleep(DEADLINE_MS + SOCKET_MARGIN_MS + 2_000).then(() => null)]);
    logGate.open();
    assert.ok(r, 'no answer before the socket idle timeout');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'DEADLINE_EXCEEDED', JSON.stringify(r.body));
    assert.ok(logGate.held >= 1, 'the release did wait at the log');
    // The held append now completes: the release is in the log, and so is the note that it never arrived.
    const note = await waitFor('the undelivered note', async () => {
      const e = await since(size);
      return e.some((x) => x.record.kind === 'release.undelivered') ? e : undefined;
    });
    const { releases, notes } = undeliveredFor(note);
    assert.equal(releases.length, 1);
    const n = notes[0]!.record;
    assert.ok(n.kind === 'release.undelivered');
    assert.equal(n.reason, 'deadline');
    assert.equal(n.dataset, 'business-licences');
    assert.equal(n.release.leafHash, (await tg.gw.log.get(releases[0]!.index))!.leafHash);
    // Auditors find it in their trail.
    const auditor = await tg.token('data-bureau', ['auditor']);
    const trail = await tg.gql(
      `{ auditTrail(filter: { kind: "release.undelivered", dataset: "business-licences" }, first: 5) { index kind released reason } }`,
      {},
      { token: auditor },
    );
    assert.deepEqual(trail.body.data?.auditTrail, [
      {
        index: notes[0]!.index,
        kind: 'release.undelivered',
        released: false,
        reason: `deadline: release #${releases[0]!.index}`,
      },
    ]);
  });

  it('a hook stuck before any resolver (authentication): the backstop answers DEADLINE_EXCEEDED, not the socket', async () => {
    identityGate.shut = true;
    const answered = post(RECORDS);
    const r = await Promise.race([answered, sleep(DEADLINE_MS + SOCKET_MARGIN_MS + 2_000).then(() => null)]);
    identityGate.open();
    assert.ok(r, 'no answer before the socket idle timeout');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'DEADLINE_EXCEEDED', JSON.stringify(r.body));
    assert.ok(r.ms < DEADLINE_MS + SOCKET_MARGIN_MS, `answered after ${r.ms.toFixed(0)} ms`);
    assert.ok(identityGate.held >= 1);
    await waitFor('the request-log line', async () =>
      lines.some((l) => l.kind === 'graphql' && l.operation === null && l.outcome === 'DEADLINE_EXCEEDED')
        ? true
        : undefined,
    );
    // The late resolution finds its reply sent and goes nowhere; the gateway still answers.
    await sleep(200);
    const next = await post(RECORDS);
    assert.equal(next.body.errors, undefined, JSON.stringify(next.body));
  });

  it('a delivered release has no undelivered note (over a socket and injected)', async () => {
    const size = await tg.gw.log.size();
    const r = await post(RECORDS);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    const injected = await tg.gql(RECORDS);
    assert.equal(injected.body.errors, undefined, JSON.stringify(injected.body));
    await sleep(100);
    await tg.gw.deliveries.flushed();
    const entries = await since(size);
    assert.equal(entries.filter((e) => e.record.kind === 'access' && e.record.outcome.released).length, 2);
    assert.equal(entries.filter((e) => e.record.kind === 'release.undelivered').length, 0);
  });

  it('a download whose caller hangs up mid-stream: `release.undelivered` (connection-closed) and a request-log line', async () => {
    const size = await tg.gw.log.size();
    storeGate.shut = true; // the first batch of records waits: the header line has gone out
    const got = await new Promise<{ status: number; first: string }>((resolve, reject) => {
      const req = http.get(`${url}/download/business-licences.csv`, (res) => {
        res.once('data', (chunk: Buffer) => {
          resolve({ status: res.statusCode ?? 0, first: chunk.toString() });
          req.destroy(); // the caller goes away mid-response
        });
      });
      req.on('error', (err) => {
        if (!req.destroyed) reject(err);
      });
    });
    assert.equal(got.status, 200);
    assert.match(got.first, /^id,/);
    const entries = await waitFor('the undelivered note', async () => {
      const e = await since(size);
      return e.some((x) => x.record.kind === 'release.undelivered') ? e : undefined;
    });
    storeGate.open();
    const { releases, notes } = undeliveredFor(entries);
    assert.equal(releases.length, 1);
    const n = notes[0]!.record;
    assert.ok(n.kind === 'release.undelivered');
    assert.equal(n.reason, 'connection-closed');
    await waitFor('the request-log line', async () =>
      lines.some((l) => l.kind === 'download' && l.outcome === 'CONNECTION_CLOSED') ? true : undefined,
    );
  });
});
