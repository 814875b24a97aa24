/** The parts of a provenance record (src/ledger/provenance-record.ts) the console shows: metadata, no values. */
export interface ProvenanceRecordView {
  id: string;
  at: string;
  requester: { sub: string; org: string | null; roles: string[]; via: string };
  purpose: string | null;
  dataset: string;
  mode: string;
  fields: string[];
  decision: { tier: string; grantId: string | null; reasons: string[]; effects: Record<string, string> };
  outcome: { released: boolean; rows: number; refusal: string | null };
}

export interface ReceiptBundleView {
  record: ProvenanceRecordView;
  receipt: { index: number; leafHash: string };
}
