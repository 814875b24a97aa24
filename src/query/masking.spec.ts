import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Masker } from './masking.js';

describe('masks', () => {
  const m = new Masker(Buffer.alloc(32, 7));
  it('redact withholds the value', () => {
    assert.equal(m.apply('redact', 'string', 'd', '张三'), null);
    assert.equal(m.apply('redact', 'int', 'd', 4), null);
  });
  it('hash is a stable keyed pseudonym per dataset, not comparable across datasets or keys', () => {
    const a = m.apply('hash', 'string', 'd1', '张三');
    assert.equal(a, m.apply('hash', 'string', 'd1', '张三'));
    assert.notEqual(a, m.apply('hash', 'string', 'd2', '张三'));
    assert.notEqual(a, new Masker(Buffer.alloc(32, 8)).apply('hash', 'string', 'd1', '张三'));
    assert.match(String(a), /^h:[0-9a-f]{20}$/);
    assert.ok(!String(a).includes('张'));
  });
  it('truncate keeps a prefix, the month or the tens', () => {
    assert.equal(m.apply('truncate', 'string', 'd', '13812345678'), '138***');
    assert.equal(m.apply('truncate', 'string', 'd', 'ab'), '***');
    assert.equal(m.apply('truncate', 'date', 'd', '2024-05-17'), '2024-05');
    assert.equal(m.apply('truncate', 'int', 'd', 47), 40);
    assert.equal(m.apply('truncate', 'float', 'd', 9.5), 0);
  });
  it('null stays null', () => {
    assert.equal(m.apply('hash', 'string', 'd', null), null);
  });
});
