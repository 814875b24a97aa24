import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ReceiptTokens } from './receipt-tokens.js';

describe('receipt tokens', () => {
  const tokens = new ReceiptTokens(randomBytes(32));
  const leaf = 'ab'.repeat(32);

  it('opens the one record it was issued for', () => {
    const t = tokens.issue(7, leaf);
    assert.equal(tokens.valid(7, leaf, t), true);
    assert.equal(tokens.valid(8, leaf, t), false, 'another index');
    assert.equal(tokens.valid(7, 'cd'.repeat(32), t), false, 'another leaf');
  });

  it('cannot be made without the secret, and refuses any string a caller makes up', () => {
    const t = tokens.issue(7, leaf);
    assert.equal(new ReceiptTokens(randomBytes(32)).valid(7, leaf, t), false, 'another gateway secret');
    const flipped = (t[0] === 'A' ? 'B' : 'A') + t.slice(1);
    for (const bad of [flipped, '', t.slice(1), `${t}=`, `${t}A`, leaf, ' '.repeat(43), t.replace(/./g, '+')]) {
      assert.equal(tokens.valid(7, leaf, bad), false, JSON.stringify(bad));
    }
  });

  it('refuses a short secret', () => {
    assert.throws(() => new ReceiptTokens(randomBytes(16)), /32 bytes/);
  });
});
