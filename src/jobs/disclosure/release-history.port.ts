/**
 * Port: the cells an organisation has already been given, for the differencing audit.
 *
 * Contract: `list` returns every release appended for the scope, in append order; `append` is durable before it
 * resolves. A scope is one organisation and one population (the set of units counted: a dataset's records, or the
 * space grains of a kind), so that cells of unrelated populations are never compared. Unit ids must be stable and
 * unique within a population (record ids or grain ids).
 *
 * The caller serialises `check` + `append` per scope (see `DifferencingAuditor.release`); an adapter that serves
 * several gateway instances must do it with a lock of its own (e.g. a PostgreSQL advisory lock on the scope).
 */
export interface AuditScope {
  org: string;
  population: string;
}

/** One released cell: a label for messages (e.g. `ward=W3`) and the units it counts. */
export interface AuditedCell {
  cell: string;
  units: readonly string[];
}

export interface ReleaseRecord {
  releaseId: string;
  cells: readonly AuditedCell[];
}

export interface ReleaseHistory {
  list(scope: AuditScope): Promise<readonly ReleaseRecord[]>;
  append(scope: AuditScope, release: ReleaseRecord): Promise<void>;
}
