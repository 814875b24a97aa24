/**
 * Keeps the statistical release of each dataset (src/query/statistical-release.ts): built on the first public
 * aggregate of a dataset in this process, stored in the store's `kv` under its version, and logged once in the
 * provenance log (a `statistical-release` record with its hash) before it serves anyone. Every public caller
 * gets the same stored answer; a new data version gets a new release.
 */
import { Logger } from '@nestjs/common';
import type { Dataset } from '../catalogue/catalogue.service.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import { DomainError } from '../errors/domain.error.js';
import { sumSensitivity } from '../jobs/dp/discrete-noise.js';
import type { DpDatasetSettings } from '../jobs/dp/dp-settings.js';
import type { PrivacyBudgetRepository } from '../jobs/dp/privacy-budget.repository.js';
import { PUBLIC_BUDGET_ORG } from '../jobs/dp/private-aggregate.service.js';
import { sha256Hex } from '../ledger/provenance-record.js';
import type { Db } from '../store/db.port.js';
import {
  buildRelease,
  PARTITIONS_PER_RECORD,
  publishDpRelease,
  readTrueCells,
  type StatisticalRelease,
} from './statistical-release.js';

const log = new Logger('StatisticalRelease');

export class StatisticalReleases {
  private readonly building = new Map<string, Promise<StatisticalRelease>>();

  constructor(
    private readonly db: Db,
    private readonly recorder: ProvenanceRecorder,
    private readonly budget: PrivacyBudgetRepository | null = null,
  ) {}

  /**
   * The public release of a dataset answered with differential privacy: every published cell of the count and of
   * each bounded sum, noised once per data version with the dataset's whole public budget (the public gets this
   * release and no other answer), stored by the privacy budget so every gateway serves the same noise.
   */
  forDpDataset(dataset: Dataset, settings: DpDatasetSettings): Promise<StatisticalRelease> {
    const key = JSON.stringify(['dp', dataset.id, settings.version]);
    let p = this.building.get(key);
    if (!p) {
      p = this.buildDp(dataset, settings);
      this.building.set(key, p);
      p.catch(() => this.building.delete(key));
    }
    return p;
  }

  private async buildDp(dataset: Dataset, settings: DpDatasetSettings): Promise<StatisticalRelease> {
    if (!this.budget) throw new Error('a DP release needs the privacy budget');
    const started = Date.now();
    const fields = Object.keys(settings.sumBounds).sort();
    const { cells } = await readTrueCells(this.db, dataset, fields, settings.sumBounds);
    const dataVersion = sha256Hex(JSON.stringify(cells.map((c) => [c.partition, c.key, c.count, c.sums]))).slice(0, 16);
    const version = `${settings.version}:${dataVersion}`;
    const queryKey = sha256Hex(`statistical-release\n${dataset.id}\n${version}`);
    // The release is the public's one answer: it spends what is left of the public budget (all of it, unless
    // an earlier gateway version answered the public from it).
    const state = await this.budget.budget(PUBLIC_BUDGET_ORG, dataset.id);
    const total = state?.totalMicro ?? settings.budgetMicroPerOrg;
    const left = total - (state?.spentMicro ?? 0);
    // Each record is in one cell of every partition, and in the count and each sum: the release's L1
    // sensitivity is the sum over measures of PARTITIONS_PER_RECORD × (1 for a count, the bound for a sum).
    const measures = 1 + fields.length;
    const scale = PARTITIONS_PER_RECORD * measures;
    const sensitivities: number[] = [];
    const flat: { key: string; label: string | null; value: number }[] = [];
    cells.forEach((c, i) => {
      flat.push({ key: `${i}:count`, label: null, value: c.count });
      sensitivities.push(scale);
      fields.forEach((f, j) => {
        const b = settings.sumBounds[f]!;
        flat.push({ key: `${i}:${f}`, label: null, value: Math.round(c.sums[j] ?? 0) });
        sensitivities.push(scale * sumSensitivity(b.lower, b.upper));
      });
    });
    const outcome = await this.budget.answer({
      org: PUBLIC_BUDGET_ORG,
      datasetId: dataset.id,
      queryKey,
      mechanism: settings.mechanism,
      epsilonMicro: Math.max(1, left),
      budgetMicro: settings.budgetMicroPerOrg,
      compute: () => Promise.resolve({ sensitivity: scale, sensitivities, cells: flat }),
    });
    if (outcome.status === 'exhausted') {
      throw new DomainError(
        'LIMIT_EXCEEDED',
        'The public privacy budget of this dataset is spent; its public statistics cannot be published again.',
      );
    }
    const noisy = new Map(outcome.answer.cells.map((c) => [c.key, c.value]));
    const release = publishDpRelease(
      dataset.id,
      fields,
      cells,
      cells.map((_, i) => ({ count: noisy.get(`${i}:count`)!, sums: fields.map((f) => noisy.get(`${i}:${f}`)!) })),
      { mechanism: outcome.answer.mechanism, epsilonMicro: outcome.answer.epsilonMicro, version },
    );
    await this.publish(dataset, release, started);
    return release;
  }

  /** The release of a dataset for these published measure fields (built, stored and logged once). */
  forDataset(dataset: Dataset, fields: readonly string[], minCell: number): Promise<StatisticalRelease> {
    const key = JSON.stringify([dataset.id, [...fields].sort(), minCell]);
    let p = this.building.get(key);
    if (!p) {
      p = this.build(dataset, [...fields].sort(), minCell);
      this.building.set(key, p);
      p.catch(() => this.building.delete(key));
    }
    return p;
  }

  private async build(dataset: Dataset, fields: string[], minCell: number): Promise<StatisticalRelease> {
    const started = Date.now();
    const release = await buildRelease(this.db, dataset, fields, minCell);
    await this.publish(dataset, release, started);
    return release;
  }

  /** Logs the release (once per hash), then stores it: nothing is served that was not durably logged first. */
  private async publish(dataset: Dataset, release: StatisticalRelease, started: number): Promise<void> {
    const kvKey = `release:${dataset.id}:${release.version}:${release.minCell}:${release.fields.join(',')}`;
    const stored = await this.db.query<{ value: { hash?: string } }>(`select value from kv where key = $1`, [kvKey]);
    if (stored[0]?.value?.hash === release.hash) return;
    await this.recorder.append({
      v: 1,
      kind: 'statistical-release',
      id: crypto.randomUUID(),
      at: new Date().toISOString(),
      requester: { sub: 'citygate', org: null, roles: [], via: 'system' },
      dataset: dataset.id,
      version: release.version,
      hash: release.hash,
      minCell: release.minCell,
      fields: release.fields,
      cells: release.cells.length,
      suppressed: release.cells.filter((c) => c.suppressed).length,
      ...(release.dp ? { dp: release.dp } : {}),
    });
    await this.db.query(
      `insert into kv (key, value) values ($1, $2::jsonb) on conflict (key) do update set value = excluded.value`,
      [kvKey, JSON.stringify(release)],
    );
    log.log(
      `published the ${release.dp ? 'DP ' : ''}statistical release of ${dataset.id} (version ${release.version}): ${release.cells.length} cells, ${release.primary} small, ${release.secondary} complements, in ${Date.now() - started} ms`,
    );
  }
}
