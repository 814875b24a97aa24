/**
 * Receipt tokens: a capability for one's own receipt bundle. A JWT caller proves a record is its own by its
 * `sub`; an anonymous caller has no identity to prove, and an API-key consumer's key may be rotated. So every
 * receipt handed out in `extensions.receipts` carries `token`, an HMAC-SHA256 (the gateway's receipt secret)
 * over the log index and leaf hash; `receiptBundle(index, token)` answers whoever presents it. The token opens
 * that one record only, and cannot be made without the secret (a leaf hash is not secret: inclusion proofs
 * carry neighbours' leaf hashes).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const LABEL = 'citygate-receipt-token/1';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export class ReceiptTokens {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 32) throw new Error('the receipt secret has at least 32 bytes');
  }

  issue(index: number, leafHash: string): string {
    return this.mac(index, leafHash).toString('base64url');
  }

  /** Constant-time check of a presented token (any string the caller chose). */
  valid(index: number, leafHash: string, token: string): boolean {
    if (!TOKEN.test(token)) return false;
    const given = Buffer.from(token, 'base64url');
    const want = this.mac(index, leafHash);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private mac(index: number, leafHash: string): Buffer {
    return createHmac('sha256', this.secret).update(`${LABEL}\n${index}\n${leafHash}`, 'utf8').digest();
  }
}
