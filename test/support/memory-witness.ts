/**
 * TEST HELPER ONLY: an in-memory LogWitness, standing in for the store's table (StoreLogWitness) in unit tests
 * that open many logs. The gateway always uses StoreLogWitness; the e2e tests exercise that one.
 */
import type { LogWitness, VerifiedPoint } from '../../src/ledger/integrity.js';
import type { SignedTreeHead } from '../../src/ledger/signed-tree-head.js';

export class MemoryWitness implements LogWitness {
  readonly name = 'the test witness';
  head: SignedTreeHead | null = null;
  verified: VerifiedPoint | null = null;

  constructor(from?: { head: SignedTreeHead | null; verified: VerifiedPoint | null }) {
    if (from) {
      this.head = from.head;
      this.verified = from.verified;
    }
  }

  async load(): Promise<{ head: SignedTreeHead | null; verified: VerifiedPoint | null }> {
    return { head: this.head, verified: this.verified };
  }

  async saveHead(_logId: string, sth: SignedTreeHead): Promise<void> {
    if (!this.head || this.head.treeSize <= sth.treeSize) this.head = sth;
  }

  async saveVerified(_logId: string, point: VerifiedPoint): Promise<void> {
    if (!this.verified || this.verified.size <= point.size) this.verified = point;
  }
}
