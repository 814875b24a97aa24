/**
 * The key holder's record of opened cells: durable across restarts, a torn last line dropped (it was never
 * answered), damage anywhere else refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileOpenedCells } from './keyholder.server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-opened-'));
  dirs.push(dir);
  return path.join(dir, 'opened-cells.jsonl');
}

describe('opened cells', () => {
  it('remembers every opened cell across a restart, and keeps its file private', () => {
    const file = tmpFile();
    const first = fileOpenedCells(file);
    assert.equal(first.has('c1', 0), false);
    first.add('c1', 0);
    first.add('c1', 2);
    first.add('c2', 0);
    const restarted = fileOpenedCells(file);
    assert.equal(restarted.has('c1', 0), true);
    assert.equal(restarted.has('c1', 2), true);
    assert.equal(restarted.has('c2', 0), true);
    assert.equal(restarted.has('c1', 1), false);
    assert.equal(fs.statSync(file).mode & 0o077, 0);
  });

  it('drops a torn last line and appends after it; refuses to start on damage before it', () => {
    const file = tmpFile();
    fileOpenedCells(file).add('c1', 0);
    fs.appendFileSync(file, '{"computationId":"c9","ce');
    const reopened = fileOpenedCells(file);
    assert.equal(reopened.has('c1', 0), true);
    assert.equal(reopened.has('c9', 0), false);
    reopened.add('c3', 1);
    assert.equal(fileOpenedCells(file).has('c3', 1), true, 'the next entry starts on a line of its own');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[0] = 'garbage';
    fs.writeFileSync(file, lines.join('\n'));
    assert.throws(() => fileOpenedCells(file), /damaged/);
  });
});
