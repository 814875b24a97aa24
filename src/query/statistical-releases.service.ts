/**
 * Keeps the statistical release of each dataset (src/query/statistical-release.ts): built on the first public
 * aggregate of a dataset in this process, stored in the store's `kv` under its version, and logged once in the
 * provenance log (a `statistical-release` record with its hash) before it serves anyone. Every public caller
 * gets the same stored answer; a new data version gets a new release.
 */
import { Logger } from '@nestjs/common';
import type { Dataset } from '../catalogue/catalogue.service.js';
import type { ProvenanceRecorder } from '../ledger/provenance-recorder.js';
import type { Db } from '../store/db.port.js';
import { buildRelease, type StatisticalRelease } from './statistical-release.js';

const log = new Logger('StatisticalRelease');

export class StatisticalReleases {
  private readonly building = new Map<string, Promise<StatisticalRelease>>();

  constructor(
    private readonly db: Db,
    private readonly recorder: ProvenanceRecorder,
  ) {}

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
    const kvKey = `release:${dataset.id}:${release.version}:${minCell}:${fields.join(',')}`;
    const stored = await this.db.query<{ value: { hash?: string } }>(`select value from kv where key = $1`, [kvKey]);
    if (stored[0]?.value?.hash === release.hash) return release;
    // Logged before it is stored and served: nothing is released that was not durably logged first.
    await this.recorder.append({
      v: 1,
      kind: 'statistical-release',
      id: crypto.randomUUID(),
      at: new Date().toISOString(),
      requester: { sub: 'citygate', org: null, roles: [], via: 'system' },
      dataset: dataset.id,
      version: release.version,
      hash: release.hash,
      minCell,
      fields,
      cells: release.cells.length,
      suppressed: release.cells.filter((c) => c.suppressed).length,
    });
    await this.db.query(
      `insert into kv (key, value) values ($1, $2::jsonb) on conflict (key) do update set value = excluded.value`,
      [kvKey, JSON.stringify(release)],
    );
    log.log(
      `published the statistical release of ${dataset.id} (version ${release.version}): ${release.cells.length} cells, ${release.primary} small, ${release.secondary} complements, in ${Date.now() - started} ms`,
    );
    return release;
  }
}
