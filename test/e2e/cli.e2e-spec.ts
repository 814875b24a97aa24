import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../src/config/config.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');

function citygate(dataDir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', CITYGATE_DATA_DIR: dataDir, CITYGATE_DEMO: 'false' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe('citygate verify and citygate audit verify (offline, with only the public key)', () => {
  let t: TestGateway | null;
  let dataDir: string;
  let work: string;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-cli-'));
    t = await startTestGateway({ rooms: 300, dataDir });
    work = fs.mkdtempSync(path.join(dataDir, 'work-'));
  });
  const gateway = (): TestGateway => {
    if (!t) throw new Error('the gateway is closed');
    return t;
  };
  after(async () => {
    await t?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies a receipt bundle and a checkpoint, and rejects tampered ones', async () => {
    const t = gateway();
    const owner = await t.token('public-security', ['owner']);
    const r = await t.gql(
      '{ records(dataset: "residents-per-room", fields: ["tenure"], first: 2) { items { grainId } } }',
      {},
      { token: owner },
    );
    const index = r.body.extensions!.receipts![0]!.index;
    const saved = (await t.gql('{ logTreeHead { logId treeSize rootHash timestamp signature } }')).body.data!
      .logTreeHead as { treeSize: number };
    const bundle = (await t.gql(`{ receiptBundle(index: ${index}) }`, {}, { token: owner })).body.data!
      .receiptBundle as string;
    for (let i = 0; i < 3; i++)
      await t.gql('{ records(dataset: "public-facilities", fields: ["name"], first: 1) { items { id } } }');
    const newer = (await t.gql('{ logTreeHead { logId treeSize rootHash timestamp signature } }')).body.data!
      .logTreeHead as { treeSize: number };
    const proof = (
      await t.gql(
        `{ consistencyProof(fromSize: ${saved.treeSize}, toSize: ${newer.treeSize}) { fromSize toSize hashes } }`,
      )
    ).body.data!.consistencyProof;
    const file = (name: string, v: unknown) => {
      const p = path.join(work, name);
      fs.writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
      return p;
    };
    const pub = citygate(dataDir, 'log', 'public-key');
    assert.equal(pub.status, 0, pub.err);
    assert.match(pub.out, /BEGIN PUBLIC KEY/);
    const key = file('log.pub.pem', pub.out);

    const ok = citygate(dataDir, 'verify', '--public-key', key, '--bundle', file('bundle.json', bundle));
    assert.equal(ok.status, 0, ok.err);
    assert.match(ok.out, /^OK/);

    const tampered = JSON.parse(bundle) as { record: { requester: { sub: string } } };
    tampered.record.requester.sub = 'someone-else';
    const bad = citygate(dataDir, 'verify', '--public-key', key, '--bundle', file('tampered.json', tampered));
    assert.equal(bad.status, 1);
    assert.match(bad.err, /^FAILED/);

    const cp = citygate(
      dataDir,
      'verify',
      '--public-key',
      key,
      '--checkpoint',
      file('saved.json', saved),
      '--tree-head',
      file('newer.json', newer),
      '--proof',
      file('proof.json', proof),
    );
    assert.equal(cp.status, 0, cp.err);
    // A "newer" head that is smaller than the saved checkpoint is a rolled-back log.
    const rolled = citygate(
      dataDir,
      'verify',
      '--public-key',
      key,
      '--checkpoint',
      file('newer2.json', newer),
      '--tree-head',
      file('saved2.json', saved),
    );
    assert.equal(rolled.status, 1);
    assert.match(rolled.err, /rolled back/);
  });

  it('audit verify passes on the intact log and locates a changed byte', async () => {
    await gateway().gw.log.treeHead();
    await gateway().close(); // the file log admits one process at a time
    t = null;
    const clean = citygate(dataDir, 'audit', 'verify');
    assert.equal(clean.status, 0, clean.out + clean.err);
    assert.match(clean.out, /^OK: \d+ of \d+ leaves/m);

    const leaves = path.join(dataDir, 'log', 'leaves.log');
    const bytes = fs.readFileSync(leaves);
    const at = bytes.indexOf(Buffer.from('"residents-per-room"'));
    assert.ok(at > 0);
    bytes[at + 2] = 'X'.charCodeAt(0); // residents → rXsidents
    fs.writeFileSync(leaves, bytes);
    const caught = citygate(dataDir, 'audit', 'verify');
    assert.equal(caught.status, 1, caught.out + caught.err);
    assert.match(caught.out, /TAMPERED/);
    assert.match(caught.out, /at leaf \d+/);

    // Deleting the signed heads used to pass: the acknowledgement mark and the second copy remember them.
    bytes[at + 2] = 'e'.charCodeAt(0);
    fs.writeFileSync(leaves, bytes);
    assert.equal(citygate(dataDir, 'audit', 'verify').status, 0);
    fs.rmSync(path.join(dataDir, 'log', 'tree-heads.jsonl'));
    const deleted = citygate(dataDir, 'audit', 'verify');
    assert.equal(deleted.status, 1, deleted.out + deleted.err);
    assert.match(deleted.out, /integrity: tree-heads\.jsonl holds 0 signed tree heads .*heads were deleted/);
    assert.match(deleted.out, /TAMPERED/);
  });
});
