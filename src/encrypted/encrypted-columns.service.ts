/**
 * The gateway's side of encrypted columns (DESIGN.md §8): stores an owner's public key bundle, a column's
 * layout, its row → grain mapping and its ciphertexts (uploaded chunk by chunk, idempotently, so that an
 * interrupted upload resumes), and computes aggregates on the ciphertexts.
 *
 * An aggregate follows the one path of DESIGN.md §3: AccessService decides (mode `encrypted`), the
 * EncryptedAggregator computes, the provenance record (with each result cell's ciphertext SHA-256, records
 * and units covered: what the owner's key holder checks) is durable before anything is returned. It is logged
 * `pending` owner approval unless a standing rule of the owner covers it (EncryptedApprovalsService).
 * Cells with fewer records than the decision's minCell are suppressed: no ciphertext is computed for them.
 */
import { createHash } from 'node:crypto';
import type { AccessOutcome, AccessService } from '../access/access.service.js';
import type { AccessRequest, HierarchyLevel } from '../access/access-request.js';
import type { CatalogueService, Dataset } from '../catalogue/catalogue.service.js';
import { badInput, DomainError, forbidden, limitExceeded, notFound } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import { fastCanonicalJson } from '../ledger/canonical-json.js';
import type { Receipt } from '../ledger/provenance-log.port.js';
import { sha256Hex as sha256OfString, type AccessRecord } from '../ledger/provenance-record.js';
import type { Db } from '../store/db.port.js';
import { ident } from '../store/db.port.js';
import { estimateOperations, type AggregateKind, type AggregateRequest, type GroupIndex } from './aggregator.js';
import { checkLayout, type ColumnLayout } from './column-codec.js';
import { HeError } from './encrypted.errors.js';
import type { HeScheme } from './he-params.js';
import type { PublicKeyBundle } from './keys.js';
import { readSealHeader, sha256Hex } from './seal-format.js';
import type { SealWorkerPool } from './seal-worker-pool.js';
import type { HeContextInfo } from './seal-worker.protocol.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import type { EncryptedApprovalsService } from './encrypted-approvals.service.js';

const UNIT_COLUMN: Record<string, string> = {
  district: 'district_id',
  subdistrict: 'subdistrict_id',
  community: 'community_id',
  building: 'building_id',
};
const NUMERIC = new Set(['int', 'float']);

export interface UploadProgress {
  received: number;
  total: number;
  /** Chunk indices still missing, ascending. */
  missing: number[];
}

export interface EncryptedAggregateQuery {
  datasetId: string;
  column: string;
  kind: AggregateKind;
  /** weightedSum: a plaintext numeric field of the dataset holding each record's weight. */
  weightField: string | null;
  groupBy: HierarchyLevel | null;
  within: string | null;
  purpose: AccessRequest['purpose'];
  /** Epoch ms: past it the SEAL work is stopped and the request answers DEADLINE_EXCEEDED. */
  deadline: number;
}

export interface EncryptedColumnsOptions {
  /** Runs every SEAL call off the event loop. */
  pool: SealWorkerPool;
  /** Bound on estimateOperations of one aggregate; above it LIMIT_EXCEEDED, before any SEAL work. */
  maxOperations: number;
  /** Deadline of SEAL work that no request waits for (key bundle checks), in ms. Default 300000. */
  backgroundDeadlineMs?: number;
}

export interface EncryptedCellResult {
  group: string | null;
  records: number;
  unitsCovered: number;
  suppressed: boolean;
  ciphertext: Uint8Array | null;
  sha256: string | null;
}

export interface EncryptedAggregateResult {
  computationId: string;
  /** `pending` until the owner decides; `approved` when a standing rule covered it. */
  approval: 'pending' | 'approved';
  kind: AggregateKind;
  scheme: HeScheme;
  keyId: string;
  cells: EncryptedCellResult[];
  receipt: Receipt;
}

export class EncryptedColumnsService {
  private readonly contexts = new Map<HeScheme, Promise<HeContextInfo>>();
  /** The SEAL threads (tests read their counters). */
  readonly pool: SealWorkerPool;

  constructor(
    private readonly db: Db,
    private readonly catalogue: CatalogueService,
    private readonly access: AccessService,
    private readonly recorder: ProvenanceRecorder,
    private readonly approvals: EncryptedApprovalsService,
    private readonly opts: EncryptedColumnsOptions,
  ) {
    this.pool = opts.pool;
  }

  /** Stores (or replaces) the owner's public key bundle for a column. A new key drops the column's ciphertexts. */
  async uploadKeyBundle(requester: Requester, datasetId: string, column: string, b: PublicKeyBundle): Promise<string> {
    const ds = this.ownedColumn(requester, datasetId, column);
    const ctx = await this.context(b.scheme);
    if (b.paramsId !== ctx.paramsId) throw badInput('The key bundle is for other encryption parameters.');
    for (const bytes of [b.publicKey, b.relinKeys, b.galoisKeys]) {
      if (!readSealHeader(bytes)) throw badInput('A key of the bundle is not a SEAL object.');
    }
    try {
      // Loads the Galois keys (in a worker): refuses a bundle that lacks a step.
      await this.pool.run({ type: 'checkBundle', bundle: b }, Date.now() + this.backgroundDeadlineMs());
    } catch (err) {
      throw ownerHeError(err);
    }
    await this.db.transaction(async (tx) => {
      await tx.query(`delete from he_columns where dataset_id = $1 and column_name = $2 and key_id <> $3`, [
        datasetId,
        column,
        b.keyId,
      ]);
      await tx.query(
        `insert into he_key_bundles (owner_org, dataset_id, column_name, key_id, scheme, params_id, params, public_key,
           relin_keys, galois_keys, galois_steps, uploaded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
         on conflict (owner_org, dataset_id, column_name) do update set key_id = excluded.key_id,
           scheme = excluded.scheme, params_id = excluded.params_id, params = excluded.params,
           public_key = excluded.public_key, relin_keys = excluded.relin_keys, galois_keys = excluded.galois_keys,
           galois_steps = excluded.galois_steps, uploaded_by = excluded.uploaded_by, uploaded_at = now()`,
        [
          ds.ownerOrg,
          datasetId,
          column,
          b.keyId,
          b.scheme,
          b.paramsId,
          b.params,
          b.publicKey,
          b.relinKeys,
          b.galoisKeys,
          JSON.stringify(b.galoisSteps),
          requester.sub,
        ],
      );
    });
    return b.keyId;
  }

  /**
   * Starts a column upload, or resumes one with the same layout and rows: row r is record `recordIds[r]`
   * (the order the owner encrypted in). Returns what is still missing.
   */
  async beginColumn(
    requester: Requester,
    datasetId: string,
    column: string,
    layout: ColumnLayout,
    recordIds: string[],
    /** The hex SHA-256 of the ids joined by newlines, if the caller computed it already. */
    rowsSha256?: string,
  ): Promise<UploadProgress> {
    const ds = this.ownedColumn(requester, datasetId, column);
    const bundle = await this.bundle(ds, column);
    const ctx = await this.context(bundle.scheme);
    try {
      checkLayout(ctx, layout);
    } catch (err) {
      throw ownerHeError(err);
    }
    const idsSha256 = rowsSha256 ?? sha256Hex(Buffer.from(recordIds.join('\n'), 'utf8'));
    if (layout.keyId !== bundle.keyId)
      throw badInput('The column is encrypted under another key than the uploaded bundle.');
    if (recordIds.length !== layout.rows) throw badInput(`${recordIds.length} record ids for ${layout.rows} rows.`);
    const seen = new Set<string>();
    for (const [r, id] of recordIds.entries()) {
      if (seen.has(id)) throw badInput(`row ${r}: record id ${JSON.stringify(id)} appears twice.`);
      seen.add(id);
    }
    const existing = await this.db.query<{ layout: ColumnLayout; rows_hash: string }>(
      `select layout, (select md5(string_agg(record_id, ',' order by row_idx)) from he_column_rows r
         where r.dataset_id = c.dataset_id and r.column_name = c.column_name) as rows_hash
       from he_columns c where dataset_id = $1 and column_name = $2`,
      [datasetId, column],
    );
    const prev = existing[0];
    const sameRows = prev !== undefined && prev.rows_hash === md5Of(recordIds.join(','));
    if (!prev || !sameRows || fastCanonicalJson(prev.layout) !== fastCanonicalJson(layout)) {
      const grains = await this.db.query<{ id: string; grain_id: string }>(
        `select id, grain_id from ${ident(ds.tableName)} where id = any($1::text[])`,
        [recordIds],
      );
      const grainOf = new Map(grains.map((g) => [g.id, g.grain_id]));
      if (grains.length !== recordIds.length) {
        // The owner's own list: name the first row that does not fit.
        const r = recordIds.findIndex((id) => !grainOf.has(id));
        throw badInput(`row ${r}: ${JSON.stringify(recordIds[r])} is not a record of ${datasetId}.`);
      }
      await this.db.transaction(async (tx) => {
        await tx.query(`delete from he_columns where dataset_id = $1 and column_name = $2`, [datasetId, column]);
        await tx.query(
          `insert into he_columns (dataset_id, column_name, owner_org, key_id, scheme, params_id, layout, rows, ciphertexts,
             record_ids_sha256)
           values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)`,
          [
            datasetId,
            column,
            ds.ownerOrg,
            layout.keyId,
            layout.scheme,
            layout.paramsId,
            JSON.stringify(layout),
            layout.rows,
            layout.ciphertexts,
            idsSha256,
          ],
        );
        await tx.query(
          `insert into he_column_rows (dataset_id, column_name, row_idx, record_id, grain_id)
           select $1, $2, t.ord - 1, t.rid, t.gid from unnest($3::text[], $4::text[]) with ordinality as t(rid, gid, ord)`,
          [datasetId, column, recordIds, recordIds.map((id) => grainOf.get(id) as string)],
        );
      });
    }
    return this.progress(datasetId, column);
  }

  /** Stores ciphertext `index`; re-sending the same bytes is a no-op (an upload resumes by re-sending). */
  async putChunk(
    requester: Requester,
    datasetId: string,
    column: string,
    index: number,
    bytes: Uint8Array,
  ): Promise<UploadProgress> {
    this.ownedColumn(requester, datasetId, column);
    const col = (
      await this.db.query<{ ciphertexts: number }>(
        `select ciphertexts from he_columns where dataset_id = $1 and column_name = $2`,
        [datasetId, column],
      )
    )[0];
    if (!col) throw notFound('Begin the column upload first.');
    if (!Number.isSafeInteger(index) || index < 0 || index >= col.ciphertexts)
      throw badInput('No such ciphertext index.');
    if (!readSealHeader(bytes)) throw badInput('Not a SEAL ciphertext.');
    const hash = sha256Hex(bytes);
    const rows = await this.db.query<{ sha256: string }>(
      `insert into he_ciphertexts (dataset_id, column_name, chunk_idx, sha256, bytes) values ($1, $2, $3, $4, $5)
       on conflict (dataset_id, column_name, chunk_idx) do update set chunk_idx = he_ciphertexts.chunk_idx
       returning sha256`,
      [datasetId, column, index, hash, bytes],
    );
    if (rows[0]?.sha256 !== hash) throw badInput('A different ciphertext is already stored at this index.');
    return this.progress(datasetId, column);
  }

  async progress(datasetId: string, column: string): Promise<UploadProgress> {
    const col = (
      await this.db.query<{ ciphertexts: number }>(
        `select ciphertexts from he_columns where dataset_id = $1 and column_name = $2`,
        [datasetId, column],
      )
    )[0];
    if (!col) return { received: 0, total: 0, missing: [] };
    const have = await this.db.query<{ chunk_idx: number }>(
      `select chunk_idx from he_ciphertexts where dataset_id = $1 and column_name = $2`,
      [datasetId, column],
    );
    const got = new Set(have.map((h) => Number(h.chunk_idx)));
    const missing = [...Array(col.ciphertexts).keys()].filter((i) => !got.has(i));
    return { received: got.size, total: col.ciphertexts, missing };
  }

  /** decide → compute on ciphertexts → log (durable) → return result ciphertexts. */
  async aggregate(requester: Requester, q: EncryptedAggregateQuery): Promise<EncryptedAggregateResult> {
    const request: AccessRequest = {
      datasetId: q.datasetId,
      mode: 'encrypted',
      purpose: q.purpose,
      fields: [],
      filters: [],
      sort: [],
      groupBy: q.groupBy ? { kind: 'level', level: q.groupBy } : null,
      measures: [
        { fn: q.kind === 'count' ? 'count' : q.kind === 'mean' ? 'mean' : 'sum', field: q.column },
        ...(q.weightField ? [{ fn: 'sum' as const, field: q.weightField }] : []),
      ],
      within: q.within,
      bbox: null,
      first: 0,
      offset: 0,
    };
    if (q.within !== null && !UNIT_COLUMN[q.within.split(':')[0] ?? '']) {
      throw badInput('within must be a district, subdistrict, community or building id.');
    }
    if ((q.kind === 'weightedSum') !== (q.weightField !== null))
      throw badInput('weightField goes with weightedSum only.');
    const outcome = await this.access.decide(requester, request);
    if (!outcome.allowed) {
      const receipt = await this.recorder.append(this.recorder.record(requester, request, outcome, refusedOutcome()));
      throw forbidden(
        outcome.message,
        { reasons: outcome.summary.reasons },
        { receipt, reasons: outcome.summary.reasons },
      );
    }
    try {
      return await this.compute(requester, request, outcome, q);
    } catch (err) {
      // Decided but not computed (no upload, an incomplete one, inputs that do not fit): logged, nothing released.
      if (err instanceof DomainError && err.code === 'UNAVAILABLE') throw err;
      const code = err instanceof DomainError ? err.code : 'INTERNAL';
      const receipt = await this.recorder.append(
        this.recorder.record(requester, request, outcome, { ...refusedOutcome(), refusal: code }),
      );
      if (err instanceof DomainError) Object.assign(err.extensions, { receipt });
      throw err;
    }
  }

  private async compute(
    requester: Requester,
    request: AccessRequest,
    outcome: Extract<AccessOutcome, { allowed: true }>,
    q: EncryptedAggregateQuery,
  ): Promise<EncryptedAggregateResult> {
    const plan = outcome.plan;
    const ds = plan.dataset;
    const col = (
      await this.db.query<{ layout: ColumnLayout; owner_org: string }>(
        `select layout, owner_org from he_columns where dataset_id = $1 and column_name = $2`,
        [q.datasetId, q.column],
      )
    )[0];
    if (!col) throw notFound('This column has no encrypted upload.');
    const progress = await this.progress(q.datasetId, q.column);
    if (progress.missing.length > 0) throw badInput('The encrypted column upload is incomplete.');
    const bundle = await this.bundle(ds, q.column);
    const ctx = await this.context(col.layout.scheme);

    // Plaintext per row: its grain's units (scope, extent, group) and the weight.
    const levelCol = q.groupBy ? (UNIT_COLUMN[q.groupBy] ?? null) : null;
    const withinCol = q.within ? (UNIT_COLUMN[q.within.split(':')[0] ?? ''] ?? null) : null;
    const rows = await this.db.query<Record<string, unknown>>(
      `select r.row_idx, r.grain_id, g.district_id, g.subdistrict_id, g.community_id, g.building_id
         ${q.weightField ? `, d.${ident(q.weightField)} as w` : ''}
       from he_column_rows r join grains g on g.id = r.grain_id
         ${q.weightField ? `join ${ident(ds.tableName)} d on d.id = r.record_id` : ''}
       where r.dataset_id = $1 and r.column_name = $2 order by r.row_idx`,
      [q.datasetId, q.column],
    );
    const extent = plan.decision.extent;
    const inScope = (row: Record<string, unknown>): boolean =>
      (withinCol === null || row[withinCol] === q.within) &&
      (extent === null || Object.values(UNIT_COLUMN).some((c) => extent.includes(String(row[c]))));
    const keyOf = (row: Record<string, unknown>): string => (levelCol ? String(row[levelCol]) : '*');
    const counts = new Map<string, { records: number; grains: Set<string> }>();
    for (const row of rows) {
      if (!inScope(row)) continue;
      const c = counts.get(keyOf(row)) ?? { records: 0, grains: new Set<string>() };
      c.records++;
      c.grains.add(String(row.grain_id));
      counts.set(keyOf(row), c);
    }
    const minCell = Math.max(1, plan.decision.minCell);
    const all = [...counts.keys()].sort();
    const released = all.filter((k) => (counts.get(k)?.records ?? 0) >= minCell);
    const labelIndex = new Map(released.map((k, i) => [k, i]));
    const groups: GroupIndex = {
      labels: released,
      groupOf: Int32Array.from(rows, (row) => (inScope(row) ? (labelIndex.get(keyOf(row)) ?? -1) : -1)),
    };
    const weights = q.weightField ? rows.map((row) => Number(row.w ?? 0)) : undefined;

    const aggRequest: AggregateRequest = { kind: q.kind, groups, ...(weights ? { weights } : {}) };
    let estimate: { operations: number; cells: number };
    try {
      estimate = estimateOperations(ctx, col.layout, aggRequest);
    } catch (err) {
      throw heToDomain(err);
    }
    // Refused before any SEAL work and before anything is released: the cost is known from plaintext alone.
    if (estimate.operations > this.opts.maxOperations) {
      throw limitExceeded(
        `This aggregate needs about ${estimate.operations} ciphertext operations (${estimate.cells} cells over ` +
          `${col.layout.ciphertexts} ciphertexts); the gateway allows ${this.opts.maxOperations}. ` +
          `Group by a coarser level or narrow it with within.`,
      );
    }
    const chunks = await this.db.query<{ bytes: Uint8Array }>(
      `select bytes from he_ciphertexts where dataset_id = $1 and column_name = $2 order by chunk_idx`,
      [q.datasetId, q.column],
    );
    let cellsOut: EncryptedCellResult[];
    try {
      const done = await this.pool.run(
        { type: 'aggregate', bundle, layout: col.layout, ciphertexts: chunks.map((c) => c.bytes), request: aggRequest },
        q.deadline,
      );
      if (done.type !== 'aggregate') throw new Error(`SEAL worker answered ${done.type}`);
      const byLabel = new Map(done.result.cells.map((c) => [c.group ?? '', c]));
      cellsOut = all.map((k) => {
        const c = byLabel.get(k);
        const n = counts.get(k) as { records: number; grains: Set<string> };
        return {
          group: levelCol ? k : null,
          records: n.records,
          unitsCovered: n.grains.size,
          suppressed: c === undefined,
          ciphertext: c?.sum?.ciphertext ?? null,
          sha256: c?.sum?.hash ?? null,
        };
      });
    } catch (err) {
      throw heToDomain(err);
    }
    const cells = cellsOut
      .filter((c) => !c.suppressed)
      .map((c) => ({ group: c.group, records: c.records, unitsCovered: c.unitsCovered, resultHash: c.sha256 }));
    const approval = await this.approvals.standingApproval({
      datasetId: q.datasetId,
      column: q.column,
      requesterOrg: requester.org,
      purpose: q.purpose,
      kind: q.kind,
      unitsCovered: cells.map((c) => c.unitsCovered),
    });
    const encrypted: NonNullable<AccessRecord['encrypted']> = {
      computationId: plan.id,
      column: q.column,
      kind: q.kind,
      scheme: col.layout.scheme,
      keyId: bundle.keyId,
      approved: approval.status === 'approved',
      approval,
      cells,
    };
    const record = this.recorder.record(requester, request, outcome, {
      released: true,
      rows: encrypted.cells.length,
      resultHash: sha256OfString(fastCanonicalJson(encrypted.cells)),
      refusal: null,
      grains: encrypted.cells.map((c) => c.group ?? '*'),
    });
    record.id = plan.id;
    record.encrypted = encrypted;
    const receipt = await this.recorder.append(record);
    await this.approvals.track(record, receipt);
    return {
      computationId: plan.id,
      approval: approval.status,
      kind: q.kind,
      scheme: col.layout.scheme,
      keyId: bundle.keyId,
      cells: cellsOut,
      receipt,
    };
  }

  /** The dataset, if the requester is an owner of its owning department and `column` a numeric field of it. */
  ownedColumn(requester: Requester, datasetId: string, column: string): Dataset {
    const ds = this.catalogue.get(datasetId);
    const owner = requester.via === 'jwt' && requester.roles.includes('owner') && ds?.ownerOrg === requester.org;
    if (!ds || !owner) throw forbidden('Only an owner of the owning department uploads encrypted columns.');
    const field = ds.fields.find((f) => f.name === column);
    if (!field || !NUMERIC.has(field.type)) throw badInput('Encrypted columns are numeric fields of the dataset.');
    return ds;
  }

  private async bundle(ds: Dataset, column: string): Promise<PublicKeyBundle> {
    const row = (
      await this.db.query<Record<string, unknown>>(
        `select * from he_key_bundles where owner_org = $1 and dataset_id = $2 and column_name = $3`,
        [ds.ownerOrg, ds.id, column],
      )
    )[0];
    if (!row) throw notFound('No key bundle uploaded for this column.');
    const bytes = (v: unknown) => new Uint8Array(v as Uint8Array);
    return {
      scheme: row.scheme as HeScheme,
      paramsId: String(row.params_id),
      keyId: String(row.key_id),
      params: bytes(row.params),
      publicKey: bytes(row.public_key),
      relinKeys: bytes(row.relin_keys),
      galoisKeys: bytes(row.galois_keys),
      galoisSteps: row.galois_steps as number[],
    };
  }

  /** The parameter set's identity and limits, as a SEAL worker reports them (loaded once per scheme). */
  private context(scheme: HeScheme): Promise<HeContextInfo> {
    if (scheme !== 'bfv' && scheme !== 'ckks') throw badInput('Unknown scheme.');
    let ctx = this.contexts.get(scheme);
    if (!ctx) {
      ctx = this.pool.run({ type: 'info', scheme }, Date.now() + this.backgroundDeadlineMs()).then((r) => {
        if (r.type !== 'info') throw new Error(`SEAL worker answered ${r.type}`);
        return r.info;
      });
      void ctx.catch(() => this.contexts.delete(scheme));
      this.contexts.set(scheme, ctx);
    }
    return ctx;
  }

  private backgroundDeadlineMs(): number {
    return this.opts.backgroundDeadlineMs ?? 300_000;
  }

  /** Stops the SEAL workers (a running aggregate answers UNAVAILABLE). */
  async close(): Promise<void> {
    await this.pool.close();
    this.contexts.clear();
  }
}

function refusedOutcome(): AccessRecord['outcome'] {
  return { released: false, rows: 0, resultHash: null, refusal: 'FORBIDDEN', grains: [] };
}

/** On the owner's own uploads the precise cause (e.g. which row) is the owner's data: it goes in the message. */
function ownerHeError(err: unknown): unknown {
  if (err instanceof HeError) return badInput(`${err.message}: ${err.detail}`, err.detail);
  return err;
}

function heToDomain(err: unknown): unknown {
  if (err instanceof HeError) return badInput(err.message, err.detail);
  return err;
}

function md5Of(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}
