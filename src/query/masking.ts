import { createHmac } from 'node:crypto';
import type { FieldType, MaskKind } from '../catalogue/classification.js';

export type Scalar = string | number | boolean | null;

/**
 * Applies a mask obligation to one value.
 * - redact: the value is withheld (null);
 * - hash: a keyed pseudonym (HMAC-SHA256 under a per-dataset key), stable within a dataset so records can
 *   be linked without revealing the value, and not comparable across datasets;
 * - truncate: strings keep their first 3 characters, dates their month, numbers their tens.
 */
export class Masker {
  constructor(private readonly secret: Buffer) {}

  datasetKey(datasetId: string): Buffer {
    return createHmac('sha256', this.secret).update(`dataset:${datasetId}`).digest();
  }

  pseudonym(datasetId: string, value: string): string {
    return 'h:' + createHmac('sha256', this.datasetKey(datasetId)).update(value).digest('hex').slice(0, 20);
  }

  apply(kind: MaskKind, type: FieldType, datasetId: string, value: Scalar): Scalar {
    if (value === null) return null;
    switch (kind) {
      case 'redact':
        return null;
      case 'hash':
        return this.pseudonym(datasetId, String(value));
      case 'truncate':
        return truncate(type, value);
    }
  }
}

function truncate(type: FieldType, value: Exclude<Scalar, null>): Scalar {
  switch (type) {
    case 'int':
    case 'float':
      return typeof value === 'number' ? Math.floor(value / 10) * 10 : null;
    case 'date':
      return String(value).slice(0, 7);
    case 'string': {
      const s = String(value);
      return s.length <= 3 ? '***' : `${s.slice(0, 3)}***`;
    }
    case 'bool':
      return null;
  }
}
