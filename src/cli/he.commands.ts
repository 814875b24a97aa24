/**
 * Owner and key-holder commands for encrypted columns (DESIGN.md §8, docs/encrypted-columns.md):
 *   citygate he keygen      generate a key pair; the secret key stays in a local file (mode 0600), the public
 *                           bundle is written beside it and, with --gateway, uploaded for a column;
 *   citygate he encrypt     encrypt a numeric column (CSV `record_id,value`) and upload it chunk by chunk with a
 *                           progress bar; a re-run resumes an interrupted upload (only missing chunks are sent);
 *   citygate he approve / refuse / pending / rules / rule-set / rule-revoke
 *                           the owner's approval of computations (he-approvals.commands.ts);
 *   citygate keyholder      run the owner's key holder (keyholder.server.ts) with the secret key.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { checkColumn, encryptColumn, type ColumnLayout } from '../encrypted/column-codec.js';
import { bundleToJson, parseBundle } from '../encrypted/key-bundle-json.js';
import { BFV_PARAMS, CKKS_PARAMS, createHeContext, type HeContext, type HeScheme } from '../encrypted/he-params.js';
import { generateOwnerKeys, type SecretKeyBytes } from '../encrypted/keys.js';
import { KeyHolder } from '../encrypted/keyholder.js';
import type { UploadProgress } from '../encrypted/encrypted-columns.service.js';
import {
  CIPHERTEXT_PART_BYTES,
  KEY_BUNDLE_PART_BYTES,
  ROW_IDS_PER_PART,
} from '../encrypted/encrypted-uploads.service.js';
import type { Compression } from '../encrypted/seal-format.js';
import {
  fileCheckpoint,
  fileOpenedCells,
  httpGraphql,
  logApprovals,
  startKeyHolderServer,
  type GatewayGraphql,
} from '../encrypted/keyholder.server.js';
import { loadSeal } from '../encrypted/seal-runtime.js';
import { progressBar } from '../spatial/progress.js';
import { registerHeApprovalCommands } from './he-approvals.commands.js';

async function heContext(scheme: string): Promise<HeContext> {
  if (scheme !== 'bfv' && scheme !== 'ckks') throw new Error(`unknown scheme ${scheme} (bfv or ckks)`);
  return createHeContext(await loadSeal(), scheme === 'bfv' ? BFV_PARAMS : CKKS_PARAMS);
}

function token(opts: { token?: string }): string {
  const t = opts.token ?? process.env.CITYGATE_TOKEN;
  if (!t) throw new Error('give --token or set CITYGATE_TOKEN');
  return t;
}

export function readSecretKey(file: string): SecretKeyBytes {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  return {
    scheme: j.scheme as HeScheme,
    paramsId: String(j.paramsId),
    keyId: String(j.keyId),
    secretKey: new Uint8Array(Buffer.from(String(j.secretKey), 'base64')),
  };
}

interface BundleProgress {
  received: number;
  missing: number[];
  status: 'receiving' | 'checking' | 'stored' | 'rejected';
  keyId: string | null;
  message: string | null;
}

/**
 * Uploads a key bundle's JSON in parts small enough for the gateway's request body limit, with a progress
 * bar. The gateway keeps the parts it has, so a re-run after an interruption sends only the missing ones.
 * Each part is acknowledged at once; the whole bundle is then checked in the background, and this polls its
 * status (`heKeyBundleUpload`) until it is stored or rejected.
 */
export async function uploadKeyBundle(
  gql: GatewayGraphql,
  dataset: string,
  column: string,
  bundleJson: string,
  opts: { pollMs?: number; timeoutMs?: number; quiet?: boolean } = {},
): Promise<string> {
  const bytes = Buffer.from(bundleJson, 'utf8');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const count = Math.ceil(bytes.length / KEY_BUNDLE_PART_BYTES);
  const report = progressBar(`${dataset}.${column} public keys`);
  const send = async (i: number) => {
    const part = bytes.subarray(i * KEY_BUNDLE_PART_BYTES, (i + 1) * KEY_BUNDLE_PART_BYTES).toString('base64');
    const data = await gql(
      `mutation($d: String!, $c: String!, $s: String!, $i: Int!, $n: Int!, $p: String!) {
        uploadHeKeyBundlePart(dataset: $d, column: $c, sha256: $s, index: $i, count: $n, part: $p) {
          received missing status keyId message
        }
      }`,
      { d: dataset, c: column, s: sha256, i, n: count, p: part },
    );
    return data.uploadHeKeyBundlePart as BundleProgress;
  };
  // Part 0 first: its answer lists the parts the gateway still lacks, so a re-run sends only those.
  let progress = await send(0);
  report({ phase: 'upload', done: progress.received, total: count });
  for (const i of progress.missing) {
    progress = await send(i);
    report({ phase: 'upload', done: progress.received, total: count });
  }
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  while (progress.status === 'checking') {
    if (Date.now() - started > timeoutMs) throw new Error('the gateway did not finish checking the key bundle');
    if (!opts.quiet)
      console.error(
        `${dataset}.${column} public keys: the gateway is checking them (${Math.round((Date.now() - started) / 1000)} s)`,
      );
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    const data = await gql(
      `query($d: String!, $c: String!, $s: String!) {
        heKeyBundleUpload(dataset: $d, column: $c, sha256: $s) { received missing status keyId message }
      }`,
      { d: dataset, c: column, s: sha256 },
    );
    progress = data.heKeyBundleUpload as BundleProgress;
  }
  if (progress.status === 'rejected') throw new Error(`gateway: ${progress.message ?? 'the key bundle was rejected'}`);
  if (!progress.keyId) throw new Error('the gateway did not store the key bundle');
  return progress.keyId;
}

/**
 * Uploads a column's record ids in parts of ROW_IDS_PER_PART (row r is ids[r]), with a progress bar; part 0
 * first, whose answer lists the parts still missing (or, for a list the gateway already holds, none). Returns
 * the column's ciphertext progress.
 */
/**
 * Sends ciphertext `index` in parts of at most CIPHERTEXT_PART_BYTES (a ciphertext at a larger ring degree, or
 * under a smaller body limit, does not fit one request). Parts are idempotent; the last one stores it.
 */
export async function uploadCiphertext(
  gql: GatewayGraphql,
  dataset: string,
  column: string,
  index: number,
  bytes: Uint8Array,
): Promise<void> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const parts = Math.max(1, Math.ceil(bytes.length / CIPHERTEXT_PART_BYTES));
  for (let p = 0; p < parts; p++) {
    const slice = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).subarray(
      p * CIPHERTEXT_PART_BYTES,
      (p + 1) * CIPHERTEXT_PART_BYTES,
    );
    await gql(
      `mutation($d: String!, $c: String!, $i: Int!, $s: String!, $p: Int!, $n: Int!, $b: String!) {
        uploadCiphertextPart(dataset: $d, column: $c, index: $i, sha256: $s, part: $p, parts: $n, bytes: $b) { received }
      }`,
      { d: dataset, c: column, i: index, s: sha256, p, n: parts, b: slice.toString('base64') },
    );
  }
}

export async function uploadColumnRows(
  gql: GatewayGraphql,
  dataset: string,
  column: string,
  layout: ColumnLayout,
  ids: readonly string[],
): Promise<UploadProgress> {
  const sha256 = createHash('sha256').update(ids.join('\n'), 'utf8').digest('hex');
  const count = Math.max(1, Math.ceil(ids.length / ROW_IDS_PER_PART));
  const report = progressBar(`${dataset}.${column} record ids`);
  const send = async (i: number) => {
    const data = await gql(
      `mutation($d: String!, $c: String!, $l: String!, $s: String!, $i: Int!, $n: Int!, $ids: [String!]!) {
        uploadEncryptedColumnRows(dataset: $d, column: $c, layout: $l, sha256: $s, index: $i, count: $n, recordIds: $ids) {
          received missing ciphertexts { received total missing }
        }
      }`,
      {
        d: dataset,
        c: column,
        l: JSON.stringify(layout),
        s: sha256,
        i,
        n: count,
        ids: ids.slice(i * ROW_IDS_PER_PART, (i + 1) * ROW_IDS_PER_PART),
      },
    );
    return data.uploadEncryptedColumnRows as {
      received: number;
      missing: number[];
      ciphertexts: UploadProgress | null;
    };
  };
  let progress = await send(0);
  if (progress.ciphertexts) console.log(`${dataset}.${column}: the gateway holds this record-id list already`);
  else if (progress.received > 1) {
    console.log(`${dataset}.${column}: ${progress.received} of ${count} record-id parts on the gateway; resuming`);
  }
  report({ phase: 'upload', done: progress.received, total: count });
  for (const i of progress.missing) {
    progress = await send(i);
    report({ phase: 'upload', done: progress.received, total: count });
  }
  if (!progress.ciphertexts) throw new Error('the gateway did not begin the column upload');
  return progress.ciphertexts;
}

/**
 * Pages through the owner's own records (the governed `records` query: each page is decided and logged like
 * any other read) and writes `record_id,value` lines. Returns the number of rows written.
 */
export async function exportColumn(
  gql: GatewayGraphql,
  dataset: string,
  column: string,
  file: string,
  pageSize = 1000,
): Promise<number> {
  const out = fs.openSync(file, 'w', 0o600);
  const report = progressBar(`${dataset}.${column} export`);
  let rows = 0;
  try {
    fs.writeSync(out, 'record_id,value\n');
    let after: string | null = null;
    do {
      const data = await gql(
        `query($d: ID!, $f: [String!]!, $n: Int!, $a: String) {
          records(dataset: $d, fields: $f, first: $n, after: $a) { items { id values { field value masked } } nextCursor }
        }`,
        { d: dataset, f: [column], n: pageSize, a: after },
      );
      const page = data.records as {
        items: { id: string; values: { field: string; value: unknown; masked: string | null }[] }[];
        nextCursor: string | null;
      };
      const lines = page.items.map((item) => {
        const v = item.values.find((x) => x.field === column);
        if (!v || v.masked !== null || typeof v.value !== 'number') {
          throw new Error(
            `record ${item.id}: ${column} is not readable as a number for this token (an owner's token?)`,
          );
        }
        return `${item.id},${v.value}\n`;
      });
      fs.writeSync(out, lines.join(''));
      rows += lines.length;
      report({ phase: 'download', done: rows, total: rows + (page.nextCursor ? pageSize : 0) });
      after = page.nextCursor;
    } while (after);
  } finally {
    fs.closeSync(out);
  }
  return rows;
}

function compression(value: string): Compression {
  if (value !== 'none' && value !== 'zstd') throw new Error(`--compression is none or zstd, not ${value}`);
  return value;
}

/** Reads `record_id,value` lines (a header line is skipped). */
export function readColumnCsv(file: string): { ids: string[]; values: number[] } {
  const ids: string[] = [];
  const values: number[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const comma = line.lastIndexOf(',');
    const id = line.slice(0, comma).trim();
    const v = Number(line.slice(comma + 1));
    if (comma < 0 || !Number.isFinite(v)) {
      if (ids.length === 0) continue; // header
      throw new Error(`not a record_id,value line: ${line.slice(0, 80)}`);
    }
    ids.push(id);
    values.push(v);
  }
  return { ids, values };
}

export function registerHeCommands(program: Command): void {
  const he = program.command('he').description('owner tools for encrypted columns');
  registerHeApprovalCommands(he);
  he.command('keygen')
    .description('generate a key pair: the secret key stays here; the public bundle can be uploaded')
    .option('--scheme <scheme>', 'bfv (exact integers) or ckks (reals)', 'bfv')
    .option('--compression <mode>', 'none (what seal-python reads) or zstd (smaller)', 'zstd')
    .requiredOption('--out-dir <dir>', 'where to write secret-key.json (0600) and public-keys.json')
    .option('--gateway <url>', 'upload the public bundle to this gateway')
    .option('--token <jwt>', 'an owner token of the owning department (or CITYGATE_TOKEN)')
    .option('--dataset <id>')
    .option('--column <name>')
    .action(
      async (opts: {
        scheme: string;
        compression: string;
        outDir: string;
        gateway?: string;
        token?: string;
        dataset?: string;
        column?: string;
      }) => {
        const ctx = await heContext(opts.scheme);
        try {
          const keys = generateOwnerKeys(ctx, { compression: compression(opts.compression) });
          fs.mkdirSync(opts.outDir, { recursive: true });
          const secret = path.join(opts.outDir, 'secret-key.json');
          const s = keys.secret;
          const secretJson = { ...s, secretKey: Buffer.from(s.secretKey).toString('base64') };
          fs.writeFileSync(secret, JSON.stringify(secretJson), { mode: 0o600 });
          fs.writeFileSync(path.join(opts.outDir, 'public-keys.json'), bundleToJson(keys.public));
          console.log(`key ${keys.public.keyId} (${opts.scheme}): secret key in ${secret}; keep it on this machine`);
          if (opts.gateway) {
            if (!opts.dataset || !opts.column) throw new Error('--gateway needs --dataset and --column');
            const gql = httpGraphql(opts.gateway, token(opts));
            await uploadKeyBundle(gql, opts.dataset, opts.column, bundleToJson(keys.public));
            console.log(`public keys uploaded for ${opts.dataset}.${opts.column}`);
          }
        } finally {
          ctx.delete();
        }
      },
    );

  he.command('export-column')
    .description(
      "write an owned dataset's record ids and one numeric column as the record_id,value CSV `he encrypt` reads",
    )
    .requiredOption('--gateway <url>')
    .option('--token <jwt>', 'an owner token of the owning department (or CITYGATE_TOKEN)')
    .requiredOption('--dataset <id>')
    .requiredOption('--column <name>')
    .requiredOption('--out <csv>', 'where to write record_id,value lines')
    .option('--page-size <n>', 'records per request (the gateway caps it)', Number, 1000)
    .action(
      async (opts: {
        gateway: string;
        token?: string;
        dataset: string;
        column: string;
        out: string;
        pageSize: number;
      }) => {
        const gql = httpGraphql(opts.gateway, token(opts));
        const n = await exportColumn(gql, opts.dataset, opts.column, opts.out, opts.pageSize);
        console.log(`wrote ${n} rows of ${opts.dataset}.${opts.column} to ${opts.out}`);
      },
    );

  he.command('encrypt')
    .description('encrypt a numeric column (CSV record_id,value) and upload it; a re-run resumes')
    .requiredOption('--gateway <url>')
    .option('--token <jwt>', 'an owner token of the owning department (or CITYGATE_TOKEN)')
    .requiredOption('--dataset <id>')
    .requiredOption('--column <name>')
    .requiredOption('--input <csv>', 'record_id,value lines')
    .requiredOption('--public-keys <file>', 'public-keys.json from `he keygen`')
    .requiredOption('--max-abs <n>', 'bound on every |value| (bfv: whole)', Number)
    .option('--compression <mode>', 'none (what seal-python reads) or zstd (smaller)', 'zstd')
    .action(
      async (opts: {
        gateway: string;
        token?: string;
        dataset: string;
        column: string;
        input: string;
        publicKeys: string;
        maxAbs: number;
        compression: string;
      }) => {
        const mode = compression(opts.compression);
        const bundle = parseBundle(fs.readFileSync(opts.publicKeys, 'utf8'));
        const { ids, values } = readColumnCsv(opts.input);
        const ctx = await heContext(bundle.scheme);
        try {
          const gql = httpGraphql(opts.gateway, token(opts));
          // The layout is known before encrypting: rows, slot count and key id.
          // Every value is checked before anything goes up: a bad row stops the upload with its row number.
          checkColumn(ctx, values, opts.maxAbs);
          const layout: ColumnLayout = {
            version: 1,
            scheme: ctx.spec.scheme,
            paramsId: ctx.paramsId,
            keyId: bundle.keyId,
            slotCount: ctx.slotCount,
            rows: values.length,
            ciphertexts: Math.ceil(values.length / ctx.slotCount),
            maxAbs: opts.maxAbs,
          };
          // The record ids go up in parts (a re-run skips the parts, or the whole list, the gateway has).
          const begun = await uploadColumnRows(gql, opts.dataset, opts.column, layout, ids);
          const missing = new Set(begun.missing);
          if (missing.size === 0) {
            console.log('already uploaded: nothing to send');
            return;
          }
          console.log(
            `${layout.ciphertexts - missing.size} of ${layout.ciphertexts} ciphertexts already uploaded; resuming`,
          );
          const bar = progressBar(`${opts.dataset}.${opts.column}`);
          let sent = layout.ciphertexts - missing.size;
          bar({ phase: 'upload', done: sent, total: layout.ciphertexts });
          await encryptColumn(ctx, bundle, values, {
            maxAbs: opts.maxAbs,
            compression: mode,
            onCiphertext: async (index, bytes) => {
              if (!missing.has(index)) return;
              await uploadCiphertext(gql, opts.dataset, opts.column, index, bytes);
              bar({ phase: 'upload', done: ++sent, total: layout.ciphertexts });
            },
          });
          console.log(`uploaded ${opts.dataset}.${opts.column}: ${values.length} rows`);
        } finally {
          ctx.delete();
        }
      },
    );

  program
    .command('keyholder')
    .description("run the owner's key holder: decrypts only results the gateway's verified log approves")
    .requiredOption('--secret-key <file>', 'secret-key.json from `he keygen`')
    .requiredOption('--gateway <url>')
    .option('--token <jwt>', 'an owner token of the owning department, to read receipt bundles (or CITYGATE_TOKEN)')
    .requiredOption('--log-public-key <file>', "the gateway log's public key (PEM, from `citygate log public-key`)")
    .option('--k <n>', 'minimum units and records in a released result', Number, 10)
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', Number, 0)
    .option(
      '--data-dir <dir>',
      "the key holder's own files: opened cells (each answered once), checkpoint, decryption log",
      'keyholder-data',
    )
    .option('--owner-org <org>', "accept approvals only from owners of this organisation (the token's)")
    .option('--decryption-log <file>', 'JSONL file of decryptions and refusals (default: in --data-dir)')
    .option(
      '--checkpoint <file>',
      'the largest log tree head verified so far; a log rolled back or forked since is refused (default: in --data-dir)',
    )
    .action(
      async (opts: {
        secretKey: string;
        gateway: string;
        token?: string;
        logPublicKey: string;
        k: number;
        port: number;
        dataDir: string;
        ownerOrg?: string;
        decryptionLog?: string;
        checkpoint?: string;
      }) => {
        const secret = readSecretKey(opts.secretKey);
        fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
        // Read before serving: a damaged record of opened cells stops the key holder here.
        const opened = fileOpenedCells(path.join(opts.dataDir, 'opened-cells.jsonl'));
        const ctx = await heContext(secret.scheme);
        const keyHolder = new KeyHolder(ctx, secret, { k: opts.k, approvals: () => Promise.resolve(null) });
        const approvals = logApprovals(
          httpGraphql(opts.gateway, token(opts)),
          fs.readFileSync(opts.logPublicKey, 'utf8'),
          secret.keyId,
          {
            checkpoint: fileCheckpoint(opts.checkpoint ?? path.join(opts.dataDir, 'checkpoint.json')),
            ...(opts.ownerOrg ? { ownerOrg: opts.ownerOrg } : {}),
          },
        );
        const server = await startKeyHolderServer({
          keyHolder,
          approvals,
          opened,
          port: opts.port,
          decryptionLog: opts.decryptionLog ?? path.join(opts.dataDir, 'decryptions.jsonl'),
        });
        console.log(`key holder for key ${secret.keyId} listening on ${server.url}`);
        const stop = () => {
          void server.close().finally(() => {
            keyHolder.delete();
            ctx.delete();
            process.exit(0);
          });
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
}
