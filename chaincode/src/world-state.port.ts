/**
 * What the provenance ledger needs from Fabric, and nothing more: the world state of this chaincode, the
 * transaction's own id and time (the proposal's timestamp, identical on every endorser, never the clock), the
 * calling identity, and events. `fabric-state.adapter.ts` implements it over the chaincode stub; tests use an
 * in-memory one.
 */
export interface Caller {
  /** MSP id of the submitting client's organisation. */
  mspId: string;
  /** The certificate carries the `admin` node OU (an organisation administrator). */
  isAdmin: boolean;
  /** The certificate subject, for the record (e.g. "CN=Admin@authority.citygate.test,OU=admin,..."). */
  subject: string;
}

export interface StateEntry {
  key: string;
  value: string;
}

export interface HistoryEntry {
  txId: string;
  /** ISO 8601 time of the transaction that wrote this version. */
  at: string;
  /** The value written, or null for a delete. */
  value: string | null;
}

export interface WorldState {
  readonly txId: string;
  /** ISO 8601 time of the transaction proposal. */
  readonly txTime: string;
  readonly caller: Caller;
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  /** Entries with start ≤ key < end, in key order, at most `limit`. */
  range(start: string, end: string, limit: number): Promise<StateEntry[]>;
  /** Every committed version of `key`, oldest first. */
  history(key: string): Promise<HistoryEntry[]>;
  /** Sets the transaction's event (Fabric keeps one per transaction: the last one set). */
  emit(name: string, payload: string): void;
}
