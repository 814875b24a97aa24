/**
 * Test-only fixtures for the encrypted-column specs: a context, keys, an aggregator and an "exact" key
 * holder (k = 1, no rounding, zeros allowed) per parameter set, and approval helpers.
 */
import { EncryptedAggregator, type AggregateCell } from './aggregator.js';
import { encryptColumn, loadEncryptedColumn, type EncryptedColumn } from './column-codec.js';
import { createHeContext, type HeContext, type HeParamSpec } from './he-params.js';
import { generateOwnerKeys, type OwnerKeys } from './keys.js';
import { KeyHolder, type ApprovalRecord, type ReleaseKind } from './keyholder.js';
import type { SealRuntime } from './seal-runtime.js';

export interface SchemeFixture {
  readonly ctx: HeContext;
  readonly keys: OwnerKeys;
  readonly aggregator: EncryptedAggregator;
  /** Decrypts any approved result without rounding: for comparing with plaintext results. */
  readonly exact: KeyHolder;
  delete(): void;
}

export function schemeFixture(runtime: SealRuntime, spec: HeParamSpec): SchemeFixture {
  const ctx = createHeContext(runtime, spec);
  const keys = generateOwnerKeys(ctx);
  const aggregator = new EncryptedAggregator(ctx, keys.public);
  const exact = new KeyHolder(ctx, keys.secret, {
    k: 1,
    approvals: () => Promise.resolve(null),
    integerRounding: { rule: 'base', base: 1 },
    realRounding: { rule: 'significant', digits: 15 },
    zerosDisclosive: false,
  });
  return {
    ctx,
    keys,
    aggregator,
    exact,
    delete() {
      exact.delete();
      aggregator.delete();
      ctx.delete();
    },
  };
}

/** Encrypts `values` and loads them as the gateway would. */
export async function encryptedColumn(
  fx: SchemeFixture,
  values: ArrayLike<number>,
  maxAbs: number,
): Promise<EncryptedColumn> {
  const upload = await encryptColumn(fx.ctx, fx.keys.public, values, { maxAbs });
  return loadEncryptedColumn(fx.ctx, upload.layout, upload.ciphertexts);
}

/** The approval the gateway's log would hold for `cell`. */
export function approvalFor(computationId: string, cell: AggregateCell, unitsCovered: number): ApprovalRecord {
  if (!cell.sum) throw new Error('cell without a ciphertext');
  return { computationId, resultHash: cell.sum.hash, unitsCovered, approved: true };
}

/** The cell's value decrypted without rounding (its approval made on the spot). */
export function reveal(fx: SchemeFixture, cell: AggregateCell, kind: ReleaseKind = 'sum'): number {
  if (!cell.sum) throw new Error('cell without a ciphertext');
  const request = { computationId: 'exact', kind, ciphertext: cell.sum.ciphertext, records: cell.records };
  return fx.exact.decryptApproved(request, approvalFor('exact', cell, 1)).value;
}
