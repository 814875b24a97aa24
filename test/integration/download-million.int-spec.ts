/**
 * A download of a dataset with 1,000,000 records streams in constant memory: the heap in use (after a full
 * GC) at 10% of the stream and at its end differ by far less than the data would take, and every record
 * arrives once, after the header (line 1; the citation is in the Link header). Runs on PostgreSQL 15 in a database of its own.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { dropDatabase, freshDatabase } from '../support/fresh-database.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import type { AccessRecord } from '../../src/ledger/provenance-record.js';

const url = process.env.DATABASE_URL;
const RECORDS = 1_000_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe(
  'downloading 1,000,000 records',
  { skip: url ? false : 'DATABASE_URL is not set (run through with-postgres.sh)' },
  () => {
    let tg: TestGateway;
    let base: string;
    let own: string | undefined;
    before(async () => {
      own = await freshDatabase(url!, 'citygate_download');
      tg = await startTestGateway({
        rooms: 300,
        postgresUrl: own,
        env: { CITYGATE_RATE_LIMITS: JSON.stringify({ anonymous: { records: 2_000_000_000 } }) },
      });
      // Fill road-condition up to 1,000,000 records on the city's segments (set-based, in the server).
      await tg.gw.db.query('delete from ds_road_condition');
      await tg.gw.db.query(
        `insert into ds_road_condition (id, grain_id, surface, pci, lanes, last_inspected)
         select 'seg-' || lpad(i::text, 7, '0'), s.id, (array['asphalt','concrete','cobble'])[1 + i % 3],
                i % 101, 1 + i % 6, date '2024-01-01' + (i % 600)
         from generate_series(0, $1::int - 1) as i
         join (select id, row_number() over (order by id) - 1 as rn, count(*) over () as n
               from grains where kind = 'segment') s on s.rn = i % s.n`,
        [RECORDS],
      );
      await tg.gw.db.query('analyze ds_road_condition');
      await tg.app.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(tg.app.getHttpServer().address() as AddressInfo).port}`;
    });
    after(async () => {
      await tg?.close();
      if (own) await dropDatabase(url!, own);
    });

    it('streams every record once, after the header, with the heap bounded', async () => {
      const heaps: { at: number; used: number }[] = [];
      let lines = 0;
      let link = '';
      let header = '';
      let tail = '';
      let bytes = 0;
      let nextSample = Math.floor(RECORDS / 10);
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(`${base}/download/road-condition.csv`, (res) => {
            link = String(res.headers.link ?? '');
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              bytes += chunk.length;
              const text = tail + chunk;
              const parts = text.split('\r\n');
              tail = parts.pop() ?? '';
              for (const p of parts) {
                if (lines === 0) header = p;
                lines += 1;
              }
              if (lines - 1 >= nextSample) {
                // Hold the stream while measuring, so the server side is mid-stream too.
                res.pause();
                heaps.push({ at: lines - 1, used: heapAfterGc() });
                nextSample = Number.POSITIVE_INFINITY;
                res.resume();
              }
            });
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      heaps.push({ at: lines - 1, used: heapAfterGc() });
      assert.equal(status, 200);
      assert.equal(tail, '');
      assert.equal(lines - 1, RECORDS, 'every record once');
      const cited = decodeURIComponent(/title\*=UTF-8''(.+)$/.exec(link)?.[1] ?? '');
      assert.match(cited, /Transport Commission/);
      assert.ok(cited.includes(`downloaded ${new Date().toISOString().slice(0, 10)}`));
      assert.equal(header, 'id,h3_cell,surface,pci,lanes,last_inspected');
      const [tenth, end] = heaps;
      assert.ok(tenth && end && tenth.at >= RECORDS / 10 && tenth.at < RECORDS / 2);
      const growth = end.used - tenth.used;
      // The CSV is ~80 MB; holding even 10% of it would grow the heap by far more than this bound.
      console.log(
        `download: ${(bytes / 1e6).toFixed(0)} MB; heap after GC at ${tenth.at}: ${(tenth.used / 1e6).toFixed(1)} MB, at ${end.at}: ${(end.used / 1e6).toFixed(1)} MB`,
      );
      assert.ok(growth < 16 * 1024 * 1024, `heap grew by ${(growth / 1e6).toFixed(1)} MB`);
      const rec = (await tg.gw.log.get((await tg.gw.log.size()) - 1))!.record as AccessRecord;
      assert.equal(rec.outcome.rows, RECORDS);
      assert.equal(rec.dataset, 'road-condition');
    });
  },
);
