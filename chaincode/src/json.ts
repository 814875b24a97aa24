/**
 * Deterministic JSON for everything written to the ledger or returned: object keys sorted (UTF-16 order, as
 * RFC 8785), so that every endorser produces the same bytes for the same state.
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sortKeys(o[k]);
    return out;
  }
  return value;
}

/** Parses a JSON argument, or throws `onError()`. */
export function parseJson(text: string, onError: () => Error): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw onError();
  }
}
