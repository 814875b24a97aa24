/**
 * The owner's uploads that do not fit one request (issue 12): a public key bundle (several MB of Galois keys)
 * and a column's record-id list (100,000 ids exceed the 1 MiB body limit), each cut into bounded parts.
 *
 * - Parts are idempotent: re-sending a stored part is a no-op, a different part at a stored index is refused,
 *   and each answer lists the parts still missing, so an interrupted upload resumes with only those.
 * - A key bundle whose parts are all in is acknowledged at once and checked in the background (loading its
 *   Galois keys takes a SEAL worker seconds, minutes under load): `keyBundleStatus` reports `checking`, then
 *   `stored` with the key id or `rejected` with why. A check cut by a restart is started again when polled.
 * - A ciphertext may go up in parts as well (one at N = 8192 fits a request, a larger ring degree's or a smaller
 *   body limit's does not): when every part is in, the joined bytes must hash to the announced SHA-256 and are
 *   stored like a whole ciphertext (EncryptedColumnsService.putChunk), the parts dropped.
 * - A record-id list whose parts are all in must hash to the announced SHA-256; then the column upload begins
 *   (EncryptedColumnsService.beginColumn) and the answer carries the ciphertext progress. Announcing a list that
 *   is already stored resumes with the ciphertexts at once.
 */
import { DomainError, badInput, notFound } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import { fastCanonicalJson } from '../ledger/canonical-json.js';
import type { Db } from '../store/db.port.js';
import type { ColumnLayout } from './column-codec.js';
import { HeError } from './encrypted.errors.js';
import type { EncryptedColumnsService, UploadProgress } from './encrypted-columns.service.js';
import { parseBundle } from './key-bundle-json.js';
import { sha256Hex } from './seal-format.js';

/** Largest part of a key bundle upload, in bytes (base64 in a request stays well under the 1 MiB body limit). */
export const KEY_BUNDLE_PART_BYTES = 512 * 1024;
/** Most parts of one key bundle (256 × 512 KiB = 128 MiB, far above any bundle at N = 8192). */
export const KEY_BUNDLE_MAX_PARTS = 256;
/** Record ids per part of a column's row list (10,000 ids of up to 64 characters: under 700 KiB of JSON). */
export const ROW_IDS_PER_PART = 10_000;
/** Longest record id accepted in a row list. */
export const MAX_RECORD_ID_LENGTH = 64;
/** Most parts of one row list (2,000 × 10,000 = 20 million rows, the demo city's upper bound). */
export const ROW_MAX_PARTS = 2_000;
/** Largest part of one ciphertext, in bytes (about 342 KiB as base64: a third of the default body limit). */
export const CIPHERTEXT_PART_BYTES = 256 * 1024;
/** Most parts of one ciphertext (64 × 256 KiB = 16 MiB, above a fresh ciphertext at N = 32768). */
export const CIPHERTEXT_MAX_PARTS = 64;

export type KeyBundleStatus = 'receiving' | 'checking' | 'stored' | 'rejected';

export interface KeyBundleProgress extends UploadProgress {
  status: KeyBundleStatus;
  /** Set once the bundle was checked and stored. */
  keyId: string | null;
  /** Why the bundle was rejected. */
  message: string | null;
}

/** Parts of one ciphertext received and missing; once all are in, the column's ciphertext progress. */
export interface CiphertextPartsProgress extends UploadProgress {
  ciphertexts: UploadProgress | null;
}

export interface ColumnRowsProgress extends UploadProgress {
  /** Once every part of the row list is in: the column's ciphertext upload progress. */
  ciphertexts: UploadProgress | null;
}

const SHA256 = /^[0-9a-f]{64}$/;

export class EncryptedUploadsService {
  private readonly checks = new Map<string, Promise<void>>();
  private closing = false;

  constructor(
    private readonly db: Db,
    private readonly columns: EncryptedColumnsService,
  ) {}

  /** Stores one part of a key bundle's JSON; when all are in, starts the background check (see the header). */
  async putKeyBundlePart(
    requester: Requester,
    datasetId: string,
    column: string,
    part: { bundleSha256: string; index: number; count: number; bytes: Uint8Array },
  ): Promise<KeyBundleProgress> {
    const ds = this.columns.ownedColumn(requester, datasetId, column);
    const { bundleSha256, index, count, bytes } = part;
    if (!SHA256.test(bundleSha256)) throw badInput('sha256 is the lowercase hex SHA-256 of the bundle.');
    if (!Number.isSafeInteger(count) || count < 1 || count > KEY_BUNDLE_MAX_PARTS) {
      throw badInput(`A key bundle has 1 to ${KEY_BUNDLE_MAX_PARTS} parts.`);
    }
    if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw badInput('No such part index.');
    if (bytes.length === 0 || bytes.length > KEY_BUNDLE_PART_BYTES) {
      throw badInput(`A part holds 1 to ${KEY_BUNDLE_PART_BYTES} bytes.`);
    }
    const key = [ds.ownerOrg, datasetId, column] as const;
    let check = await this.checkRow(key, bundleSha256);
    if (check?.status === 'stored') {
      const current = await this.db.query<{ key_id: string }>(`select key_id from he_key_bundles where ${KEY_WHERE}`, [
        ...key,
      ]);
      if (current[0]?.key_id !== check.key_id) check = { ...check, status: 'rejected' }; // replaced since: upload again
    }
    // Already checked and stored (a re-run after the upload finished), or being checked: nothing to send.
    if (check && check.status !== 'rejected') return this.checkProgress(requester, key, bundleSha256, count, check);
    const partHash = sha256Hex(bytes);
    const have = await this.db.transaction(async (tx) => {
      if (check)
        await tx.query(`delete from he_key_bundle_checks where ${KEY_WHERE} and bundle_sha256 = $4`, [
          ...key,
          bundleSha256,
        ]);
      await tx.query(`delete from he_key_bundle_parts where ${KEY_WHERE} and bundle_sha256 <> $4`, [
        ...key,
        bundleSha256,
      ]);
      const stored = await tx.query<{ part_sha256: string; part_count: number }>(
        `insert into he_key_bundle_parts (owner_org, dataset_id, column_name, bundle_sha256, part_idx, part_count,
           part_sha256, bytes) values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (owner_org, dataset_id, column_name, bundle_sha256, part_idx)
           do update set part_idx = he_key_bundle_parts.part_idx
         returning part_sha256, part_count`,
        [...key, bundleSha256, index, count, partHash, bytes],
      );
      if (stored[0]?.part_sha256 !== partHash || Number(stored[0]?.part_count) !== count) {
        throw badInput(`Part ${index}: a different part is already stored at this index.`);
      }
      const parts = await tx.query<{ part_idx: number }>(
        `select part_idx from he_key_bundle_parts where ${KEY_WHERE} and bundle_sha256 = $4`,
        [...key, bundleSha256],
      );
      const missing = missingOf(parts, count);
      if (missing.length === 0) {
        await tx.query(
          `insert into he_key_bundle_checks (owner_org, dataset_id, column_name, bundle_sha256, status)
           values ($1, $2, $3, $4, 'checking') on conflict do nothing`,
          [...key, bundleSha256],
        );
      }
      return missing;
    });
    if (have.length > 0) {
      return {
        received: count - have.length,
        total: count,
        missing: have,
        status: 'receiving',
        keyId: null,
        message: null,
      };
    }
    this.startCheck(requester, key, bundleSha256);
    return { received: count, total: count, missing: [], status: 'checking', keyId: null, message: null };
  }

  /** Where a key bundle upload stands: the parts still missing, then `checking`, `stored` or `rejected`. */
  async keyBundleStatus(
    requester: Requester,
    datasetId: string,
    column: string,
    bundleSha256: string,
  ): Promise<KeyBundleProgress> {
    const ds = this.columns.ownedColumn(requester, datasetId, column);
    if (!SHA256.test(bundleSha256)) throw badInput('sha256 is the lowercase hex SHA-256 of the bundle.');
    const key = [ds.ownerOrg, datasetId, column] as const;
    const check = await this.checkRow(key, bundleSha256);
    const parts = await this.db.query<{ part_idx: number; part_count: number }>(
      `select part_idx, part_count from he_key_bundle_parts where ${KEY_WHERE} and bundle_sha256 = $4`,
      [...key, bundleSha256],
    );
    const count = parts[0] ? Number(parts[0].part_count) : 0;
    if (check) return this.checkProgress(requester, key, bundleSha256, count, check);
    const missing = missingOf(parts, count);
    return { received: count - missing.length, total: count, missing, status: 'receiving', keyId: null, message: null };
  }

  /**
   * Stores one part of a column's record-id list (row r is record `recordIds[r]` of the whole list, in the
   * order the owner encrypted). `rowsSha256` is the hex SHA-256 of the ids joined by newlines.
   */
  async putColumnRowsPart(
    requester: Requester,
    datasetId: string,
    column: string,
    part: { layout: ColumnLayout; rowsSha256: string; index: number; count: number; recordIds: string[] },
  ): Promise<ColumnRowsProgress> {
    this.columns.ownedColumn(requester, datasetId, column);
    const { layout, rowsSha256, index, count, recordIds } = part;
    if (!SHA256.test(rowsSha256)) throw badInput('sha256 is the lowercase hex SHA-256 of the record ids, one a line.');
    if (!Number.isSafeInteger(count) || count < 1 || count > ROW_MAX_PARTS) {
      throw badInput(`A record-id list has 1 to ${ROW_MAX_PARTS} parts.`);
    }
    if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw badInput('No such part index.');
    if (recordIds.length === 0 || recordIds.length > ROW_IDS_PER_PART) {
      throw badInput(`A part holds 1 to ${ROW_IDS_PER_PART} record ids.`);
    }
    const long = recordIds.findIndex((id) => id.length === 0 || id.length > MAX_RECORD_ID_LENGTH);
    if (long >= 0)
      throw badInput(`Part ${index}, id ${long}: a record id has 1 to ${MAX_RECORD_ID_LENGTH} characters.`);
    const col = [datasetId, column] as const;
    const stored = await this.db.query<{ layout: ColumnLayout; record_ids_sha256: string | null }>(
      `select layout, record_ids_sha256 from he_columns where dataset_id = $1 and column_name = $2`,
      [...col],
    );
    const prev = stored[0];
    if (prev?.record_ids_sha256 === rowsSha256 && fastCanonicalJson(prev.layout) === fastCanonicalJson(layout)) {
      // This list is stored already (a re-run): continue with the ciphertexts.
      return {
        received: count,
        total: count,
        missing: [],
        ciphertexts: await this.columns.progress(datasetId, column),
      };
    }
    const partHash = sha256Hex(Buffer.from(recordIds.join('\n'), 'utf8'));
    const missing = await this.db.transaction(async (tx) => {
      await tx.query(
        `delete from he_column_row_parts where dataset_id = $1 and column_name = $2 and rows_sha256 <> $3`,
        [...col, rowsSha256],
      );
      const put = await tx.query<{ part_sha256: string; part_count: number }>(
        `insert into he_column_row_parts (dataset_id, column_name, rows_sha256, part_idx, part_count, part_sha256,
           record_ids) values ($1, $2, $3, $4, $5, $6, $7::jsonb)
         on conflict (dataset_id, column_name, rows_sha256, part_idx) do update set part_idx = he_column_row_parts.part_idx
         returning part_sha256, part_count`,
        [...col, rowsSha256, index, count, partHash, JSON.stringify(recordIds)],
      );
      if (put[0]?.part_sha256 !== partHash || Number(put[0]?.part_count) !== count) {
        throw badInput(`Part ${index}: different record ids are already stored at this index.`);
      }
      const parts = await tx.query<{ part_idx: number }>(
        `select part_idx from he_column_row_parts where dataset_id = $1 and column_name = $2 and rows_sha256 = $3`,
        [...col, rowsSha256],
      );
      return missingOf(parts, count);
    });
    if (missing.length > 0) return { received: count - missing.length, total: count, missing, ciphertexts: null };

    const parts = await this.db.query<{ record_ids: string[] }>(
      `select record_ids from he_column_row_parts where dataset_id = $1 and column_name = $2 and rows_sha256 = $3
       order by part_idx`,
      [...col, rowsSha256],
    );
    const ids = parts.flatMap((p) => p.record_ids);
    const drop = () =>
      this.db.query(`delete from he_column_row_parts where dataset_id = $1 and column_name = $2 and rows_sha256 = $3`, [
        ...col,
        rowsSha256,
      ]);
    if (sha256Hex(Buffer.from(ids.join('\n'), 'utf8')) !== rowsSha256) {
      await drop();
      throw badInput('The parts do not add up to the announced record-id list: upload it again.');
    }
    const ciphertexts = await this.columns.beginColumn(requester, datasetId, column, layout, ids, rowsSha256);
    await drop();
    return { received: count, total: count, missing: [], ciphertexts };
  }

  /**
   * Stores part `index` of `count` of ciphertext `chunk` of a column (`ciphertextSha256`: the hex SHA-256 of
   * the whole ciphertext). A ciphertext already stored with that hash answers at once; another one is refused.
   */
  async putCiphertextPart(
    requester: Requester,
    datasetId: string,
    column: string,
    part: { chunk: number; ciphertextSha256: string; index: number; count: number; bytes: Uint8Array },
  ): Promise<CiphertextPartsProgress> {
    this.columns.ownedColumn(requester, datasetId, column);
    const { chunk, ciphertextSha256, index, count, bytes } = part;
    if (!SHA256.test(ciphertextSha256)) throw badInput('sha256 is the lowercase hex SHA-256 of the ciphertext.');
    if (!Number.isSafeInteger(count) || count < 1 || count > CIPHERTEXT_MAX_PARTS) {
      throw badInput(`A ciphertext has 1 to ${CIPHERTEXT_MAX_PARTS} parts.`);
    }
    if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw badInput('No such part index.');
    if (bytes.length === 0 || bytes.length > CIPHERTEXT_PART_BYTES) {
      throw badInput(`A part holds 1 to ${CIPHERTEXT_PART_BYTES} bytes.`);
    }
    const col = [datasetId, column] as const;
    const meta = await this.db.query<{ ciphertexts: number }>(
      `select ciphertexts from he_columns where dataset_id = $1 and column_name = $2`,
      [...col],
    );
    if (!meta[0]) throw notFound('Begin the column upload first.');
    if (!Number.isSafeInteger(chunk) || chunk < 0 || chunk >= Number(meta[0].ciphertexts)) {
      throw badInput('No such ciphertext index.');
    }
    const done = await this.db.query<{ sha256: string }>(
      `select sha256 from he_ciphertexts where dataset_id = $1 and column_name = $2 and chunk_idx = $3`,
      [...col, chunk],
    );
    if (done[0]) {
      if (done[0].sha256 !== ciphertextSha256)
        throw badInput('A different ciphertext is already stored at this index.');
      return { received: count, total: count, missing: [], ciphertexts: await this.columns.progress(...col) };
    }
    const partHash = sha256Hex(bytes);
    const where = 'dataset_id = $1 and column_name = $2 and chunk_idx = $3';
    const missing = await this.db.transaction(async (tx) => {
      // Parts of another announced ciphertext at this index (an upload started over) are dropped.
      await tx.query(`delete from he_ciphertext_parts where ${where} and ciphertext_sha256 <> $4`, [
        ...col,
        chunk,
        ciphertextSha256,
      ]);
      const put = await tx.query<{ part_sha256: string; part_count: number }>(
        `insert into he_ciphertext_parts (dataset_id, column_name, chunk_idx, ciphertext_sha256, part_idx, part_count,
           part_sha256, bytes) values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (dataset_id, column_name, chunk_idx, ciphertext_sha256, part_idx)
           do update set part_idx = he_ciphertext_parts.part_idx
         returning part_sha256, part_count`,
        [...col, chunk, ciphertextSha256, index, count, partHash, bytes],
      );
      if (put[0]?.part_sha256 !== partHash || Number(put[0]?.part_count) !== count) {
        throw badInput(`Part ${index}: a different part is already stored at this index.`);
      }
      const parts = await tx.query<{ part_idx: number }>(
        `select part_idx from he_ciphertext_parts where ${where} and ciphertext_sha256 = $4`,
        [...col, chunk, ciphertextSha256],
      );
      return missingOf(parts, count);
    });
    if (missing.length > 0) return { received: count - missing.length, total: count, missing, ciphertexts: null };

    const parts = await this.db.query<{ bytes: Uint8Array }>(
      `select bytes from he_ciphertext_parts where ${where} and ciphertext_sha256 = $4 order by part_idx`,
      [...col, chunk, ciphertextSha256],
    );
    const whole = Buffer.concat(parts.map((p) => Buffer.from(p.bytes)));
    const drop = () =>
      this.db.query(`delete from he_ciphertext_parts where ${where} and ciphertext_sha256 = $4`, [
        ...col,
        chunk,
        ciphertextSha256,
      ]);
    if (sha256Hex(whole) !== ciphertextSha256) {
      await drop();
      throw badInput(`Ciphertext ${chunk}: the parts do not add up to the announced ciphertext; upload it again.`);
    }
    // The same checks and storage as a ciphertext sent whole.
    let ciphertexts: UploadProgress;
    try {
      ciphertexts = await this.columns.putChunk(requester, datasetId, column, chunk, whole);
    } finally {
      await drop();
    }
    return { received: count, total: count, missing: [], ciphertexts };
  }

  /** Waits for background checks to end (call after the SEAL pool closed: they then end at once). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.checks.values()]);
  }

  private async checkRow(
    key: readonly [string, string, string],
    bundleSha256: string,
  ): Promise<
    { status: 'checking' | 'stored' | 'rejected'; message: string | null; key_id: string | null } | undefined
  > {
    return (
      await this.db.query<{
        status: 'checking' | 'stored' | 'rejected';
        message: string | null;
        key_id: string | null;
      }>(`select status, message, key_id from he_key_bundle_checks where ${KEY_WHERE} and bundle_sha256 = $4`, [
        ...key,
        bundleSha256,
      ])
    )[0];
  }

  private checkProgress(
    requester: Requester,
    key: readonly [string, string, string],
    bundleSha256: string,
    count: number,
    check: { status: 'checking' | 'stored' | 'rejected'; message: string | null; key_id: string | null },
  ): KeyBundleProgress {
    // A check that no process runs (the gateway restarted during it) starts again.
    if (check.status === 'checking') this.startCheck(requester, key, bundleSha256);
    return {
      received: count,
      total: count,
      missing: [],
      status: check.status,
      keyId: check.key_id,
      message: check.message,
    };
  }

  private startCheck(requester: Requester, key: readonly [string, string, string], bundleSha256: string): void {
    const id = [...key, bundleSha256].join('\u0000');
    if (this.closing || this.checks.has(id)) return;
    const run = this.check(requester, key, bundleSha256).finally(() => this.checks.delete(id));
    this.checks.set(id, run);
  }

  /** Joins the parts, checks the bundle (in a SEAL worker) and stores it; records the outcome. Never throws. */
  private async check(
    requester: Requester,
    key: readonly [string, string, string],
    bundleSha256: string,
  ): Promise<void> {
    const [, datasetId, column] = key;
    const finish = (status: 'stored' | 'rejected', keyId: string | null, message: string | null) =>
      this.db.transaction(async (tx) => {
        await tx.query(
          `update he_key_bundle_checks set status = $5, key_id = $6, message = $7, updated_at = now()
           where ${KEY_WHERE} and bundle_sha256 = $4`,
          [...key, bundleSha256, status, keyId, message],
        );
        await tx.query(`delete from he_key_bundle_parts where ${KEY_WHERE} and bundle_sha256 = $4`, [
          ...key,
          bundleSha256,
        ]);
      });
    try {
      const parts = await this.db.query<{ bytes: Uint8Array }>(
        `select bytes from he_key_bundle_parts where ${KEY_WHERE} and bundle_sha256 = $4 order by part_idx`,
        [...key, bundleSha256],
      );
      const joined = Buffer.concat(parts.map((p) => Buffer.from(p.bytes)));
      if (sha256Hex(joined) !== bundleSha256) {
        await finish('rejected', null, 'The parts do not add up to the announced bundle: upload it again.');
        return;
      }
      const keyId = await this.columns.uploadKeyBundle(
        requester,
        datasetId,
        column,
        parseBundle(joined.toString('utf8')),
      );
      await finish('stored', keyId, null);
    } catch (err) {
      // Shutting down (the SEAL pool answers UNAVAILABLE): left `checking`, to be started again when polled.
      if (this.closing || (err instanceof DomainError && err.code === 'UNAVAILABLE')) return;
      const message =
        err instanceof DomainError
          ? err.message
          : err instanceof HeError
            ? `${err.message}: ${err.detail}`
            : 'The bundle could not be checked.';
      await finish('rejected', null, message).catch(() => undefined);
    }
  }
}

const KEY_WHERE = 'owner_org = $1 and dataset_id = $2 and column_name = $3';

function missingOf(parts: readonly { part_idx: number }[], count: number): number[] {
  const got = new Set(parts.map((p) => Number(p.part_idx)));
  return [...Array(count).keys()].filter((i) => !got.has(i));
}
