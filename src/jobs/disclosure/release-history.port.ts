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
  /**
   * The earlier cells of the scope that share at least one unit with these (each distinct cell once): all the
   * audit needs, since cells that share no unit are never compared. An index, not a re-read of the history.
   */
  overlapping(scope: AuditScope, units: readonly string[]): Promise<readonly ReleaseRecord[]>;
  /**
   * Runs `fn` holding the scope's lock, across every gateway instance that shares this history, with a history
   * bound to that lock (check and append inside one transaction).
   */
  locked<T>(scope: AuditScope, fn: (history: ReleaseHistory) => Promise<T>): Promise<T>;
}
