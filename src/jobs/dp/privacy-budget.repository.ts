/**
 * The durable privacy budget (migration 0006_dp_budget). `answer` charges and answers a DP query in ONE
 * transaction under the (organisation, dataset) budget row's lock:
 *   lock the budget row (FOR UPDATE)
 *   → a stored answer for the query key: return it, charging nothing ('cached')
 *   → spent + ε > total: 'exhausted', nothing computed is returned
 *   → compute the true cells, noise each once, store the noisy answer and the spend, commit; only then return.
 * So concurrent callers are serialised per budget, the budget is never overspent, and a crash before the
 * commit leaves neither a charge nor an answer (nothing was released), after it both. Stored answers are
 * never redrawn: the table is append-only.
 */
import type { Db, Queryable } from '../../store/db.port.js';
import { drawNoise, Sampler, type DpMechanism } from './discrete-noise.js';

/** One true (un-noised) cell of an aggregate: an integer count or bounded sum. */
export interface TrueCell {
  key: string;
  label: string | null;
  value: number;
}

export interface TrueAnswer {
  cells: TrueCell[];
  /** Sensitivity of each cell (cells are disjoint groups, so one record moves at most one cell). */
  sensitivity: number;
  /** Per-cell sensitivities, when cells differ (a job's table: counts and sums); overrides `sensitivity`. */
  sensitivities?: number[];
}

/** The released answer, as stored and returned on every repeat. */
export interface NoisyAnswer {
  cells: TrueCell[];
  mechanism: DpMechanism;
  epsilonMicro: number;
}

export interface DpAnswerRequest {
  org: string;
  datasetId: string;
  /** The canonical query key (query-key.ts). */
  queryKey: string;
  mechanism: DpMechanism;
  epsilonMicro: number;
  /** The total budget to open for (org, dataset) when it has none yet. */
  budgetMicro: number;
  /** Computes the true answer. Runs inside the transaction: read through `tx`, never through another handle. */
  compute: (tx: Queryable) => Promise<TrueAnswer>;
}

export type DpOutcome =
  | { status: 'answered'; answer: NoisyAnswer; chargedMicro: number; spentMicro: number; totalMicro: number }
  | { status: 'cached'; answer: NoisyAnswer; chargedMicro: 0; spentMicro: number; totalMicro: number }
  | { status: 'exhausted'; chargedMicro: 0; spentMicro: number; totalMicro: number };

export interface BudgetState {
  totalMicro: number;
  spentMicro: number;
}

export class PrivacyBudgetRepository {
  constructor(
    private readonly db: Db,
    private readonly sampler: Sampler = new Sampler(),
  ) {}

  async answer(req: DpAnswerRequest): Promise<DpOutcome> {
    checkMicro(req.epsilonMicro, 'epsilonMicro', 1);
    checkMicro(req.budgetMicro, 'budgetMicro', 0);
    if (!/^[0-9a-f]{64}$/.test(req.queryKey)) throw new RangeError('queryKey must be a hex SHA-256');
    return this.db.transaction(async (tx) => {
      await tx.query(
        `insert into dp_budgets (org_id, dataset_id, total_micro) values ($1, $2, $3) on conflict do nothing`,
        [req.org, req.datasetId, req.budgetMicro],
      );
      const [budget] = await tx.query<{ total_micro: number; spent_micro: number }>(
        `select total_micro, spent_micro from dp_budgets where org_id = $1 and dataset_id = $2 for update`,
        [req.org, req.datasetId],
      );
      if (!budget) throw new Error('dp budget row vanished under its lock');
      const state = { spentMicro: Number(budget.spent_micro), totalMicro: Number(budget.total_micro) };
      const [stored] = await tx.query<{ answer: NoisyAnswer }>(
        `select answer from dp_answers where org_id = $1 and dataset_id = $2 and query_key = $3`,
        [req.org, req.datasetId, req.queryKey],
      );
      if (stored) return { status: 'cached', answer: stored.answer, chargedMicro: 0, ...state };
      if (state.spentMicro + req.epsilonMicro > state.totalMicro)
        return { status: 'exhausted', chargedMicro: 0, ...state };

      const truth = await req.compute(tx);
      const answer: NoisyAnswer = {
        cells: truth.cells.map((c, i) => {
          if (!Number.isSafeInteger(c.value)) throw new RangeError('DP cells must be integers');
          const noise = drawNoise(this.sampler, {
            mechanism: req.mechanism,
            epsilonMicro: req.epsilonMicro,
            sensitivity: truth.sensitivities?.[i] ?? truth.sensitivity,
          });
          return { key: c.key, label: c.label, value: Number(BigInt(c.value) + noise) };
        }),
        mechanism: req.mechanism,
        epsilonMicro: req.epsilonMicro,
      };
      await tx.query(
        `insert into dp_answers (org_id, dataset_id, query_key, mechanism, epsilon_micro, answer)
         values ($1, $2, $3, $4, $5, $6)`,
        [req.org, req.datasetId, req.queryKey, req.mechanism, req.epsilonMicro, JSON.stringify(answer)],
      );
      const [after] = await tx.query<{ spent_micro: number }>(
        `update dp_budgets set spent_micro = spent_micro + $3, updated_at = now()
         where org_id = $1 and dataset_id = $2 returning spent_micro`,
        [req.org, req.datasetId, req.epsilonMicro],
      );
      return {
        status: 'answered',
        answer,
        chargedMicro: req.epsilonMicro,
        spentMicro: Number(after!.spent_micro),
        totalMicro: state.totalMicro,
      };
    });
  }

  /** The budget of (org, dataset), or null when it has none yet (then the dataset's default applies). */
  async budget(org: string, datasetId: string): Promise<BudgetState | null> {
    const [row] = await this.db.query<{ total_micro: number; spent_micro: number }>(
      `select total_micro, spent_micro from dp_budgets where org_id = $1 and dataset_id = $2`,
      [org, datasetId],
    );
    return row ? { totalMicro: Number(row.total_micro), spentMicro: Number(row.spent_micro) } : null;
  }

  /** Sets a budget's total (an administrator's act); refuses to go below what is already spent. */
  async setTotal(org: string, datasetId: string, totalMicro: number): Promise<BudgetState> {
    checkMicro(totalMicro, 'totalMicro', 0);
    return this.db.transaction(async (tx) => {
      await tx.query(
        `insert into dp_budgets (org_id, dataset_id, total_micro) values ($1, $2, $3) on conflict do nothing`,
        [org, datasetId, totalMicro],
      );
      const [row] = await tx.query<{ spent_micro: number }>(
        `select spent_micro from dp_budgets where org_id = $1 and dataset_id = $2 for update`,
        [org, datasetId],
      );
      const spent = Number(row!.spent_micro);
      if (totalMicro < spent) throw new RangeError('a budget cannot be set below what is already spent');
      await tx.query(
        `update dp_budgets set total_micro = $3, updated_at = now() where org_id = $1 and dataset_id = $2`,
        [org, datasetId, totalMicro],
      );
      return { totalMicro, spentMicro: spent };
    });
  }

  /** The charges of the stored answers of (org, dataset): what the audit of a budget adds up. */
  async charges(org: string, datasetId: string): Promise<{ queryKey: string; epsilonMicro: number }[]> {
    const rows = await this.db.query<{ query_key: string; epsilon_micro: number }>(
      `select query_key, epsilon_micro from dp_answers where org_id = $1 and dataset_id = $2 order by query_key`,
      [org, datasetId],
    );
    return rows.map((r) => ({ queryKey: r.query_key, epsilonMicro: Number(r.epsilon_micro) }));
  }
}

function checkMicro(v: number, name: string, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}`);
}
