import type { AccessService } from '../access/access.service.js';
import type { AccessRequest } from '../access/access-request.js';
import type { CatalogueService } from '../catalogue/catalogue.service.js';
import type { RateLimiter, RateSubject } from '../consumers/rate-limiter.js';
import { notFound } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';
import type { Receipt } from '../ledger/provenance-log.port.js';
import type { DataService } from '../query/data.service.js';
import { citation, renderDownload, type Citation, type DownloadFormat } from './download-formats.js';

/** Records per keyset page: big enough to amortise a query, small enough to keep memory flat. */
export const DOWNLOAD_BATCH = 1000;
const RAW_VISIBLE = new Set(['allow', 'mask', 'generalise']);

export interface PreparedDownload {
  citation: Citation;
  rows: number;
  receipt: Receipt;
  body: AsyncGenerator<string>;
}

/**
 * Whole-dataset downloads of unconditional (无条件开放) datasets, through the same path as GraphQL records:
 * AccessService decides for the caller's tier (so masks and geometry generalisation apply alike), the query
 * engine streams keyset pages, and the release is in the provenance log before the first byte.
 */
export class DownloadsService {
  constructor(
    private readonly catalogue: CatalogueService,
    private readonly access: AccessService,
    private readonly data: DataService,
    private readonly limiter: RateLimiter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async prepare(
    requester: Requester,
    subject: RateSubject,
    datasetId: string,
    format: DownloadFormat,
  ): Promise<PreparedDownload> {
    // Every attempt counts, found or not, so probing ids costs the same as downloading.
    await this.limiter.begin(subject);
    const dataset = this.catalogue.get(datasetId);
    // Conditional and closed datasets are not downloadable: the same answer as an unknown id.
    if (!dataset || dataset.openClass !== 'unconditional') throw notFound('No downloadable dataset with this id.');
    const all = dataset.fields.map((f) => f.name);
    // The fields the caller's tier may read as records; if none, ask for all and let the decision refuse.
    const preview = await this.access.preview(requester, dataset, 'raw', all);
    const visible = all.filter((f) => RAW_VISIBLE.has(preview.fields[f]?.effect ?? 'deny'));
    const request: AccessRequest = {
      datasetId: dataset.id,
      mode: 'raw',
      purpose: null,
      fields: visible.length > 0 ? visible : all,
      filters: [],
      sort: [],
      groupBy: null,
      measures: [],
      within: null,
      bbox: null,
      first: 0,
      offset: 0,
    };
    const { result, receipt } = await this.data.recordStream(requester, request, DOWNLOAD_BATCH, (rows) =>
      this.limiter.charge(subject, rows),
    );
    const org = this.catalogue.org(dataset.ownerOrg) ?? { name: dataset.ownerOrg, nameZh: dataset.ownerOrg };
    const cite = citation(org, dataset, this.now());
    return {
      citation: cite,
      rows: result.rows,
      receipt,
      body: renderDownload(format, cite, result.fields, result.geometry, result.batches),
    };
  }
}
