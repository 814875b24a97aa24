import { Inject } from '@nestjs/common';
import { Args, Context, ID, Query, ResolveField, Resolver, Parent } from '@nestjs/graphql';
import type { AccessRequest } from '../access/access-request.js';
import { AccessService } from '../access/access.service.js';
import { notFound } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import { CatalogueService, type Dataset } from './catalogue.service.js';
import { DatasetAccessModel, DatasetModel, type EffectEnum, type TierEnum } from './models/dataset.model.js';

/** Catalogue metadata: every caller sees which datasets exist, their classification and what it may ask. */
@Resolver(() => DatasetModel)
export class CatalogueResolver {
  constructor(
    @Inject(CatalogueService) private readonly catalogue: CatalogueService,
    @Inject(AccessService) private readonly accessService: AccessService,
  ) {}

  @Query(() => [DatasetModel], { description: 'The catalogue: every dataset, closed ones as metadata only.' })
  datasets(): DatasetModel[] {
    return this.catalogue.list().map((d) => this.toModel(d));
  }

  @Query(() => DatasetModel, { description: 'One dataset of the catalogue.' })
  dataset(@Args('id', { type: () => ID }) id: string): DatasetModel {
    const d = this.catalogue.get(id);
    if (!d) throw notFound('No such dataset.');
    return this.toModel(d);
  }

  @ResolveField(() => DatasetAccessModel, { description: 'What you may ask of this dataset (without a purpose).' })
  async access(@Parent() model: DatasetModel, @Context() ctx: GatewayContext): Promise<DatasetAccessModel> {
    const d = this.catalogue.get(model.id) as Dataset;
    const names = d.fields.map((f) => f.name);
    const raw = await this.accessService.preview(ctx.requester, d, 'raw', names);
    const agg = await this.accessService.preview(ctx.requester, d, 'aggregate', names);
    const countOnly = await this.accessService.preview(ctx.requester, d, 'aggregate', []);
    const rawVisible = (e: string | undefined) => e === 'allow' || e === 'mask' || e === 'generalise';
    const fields = names.map((n) => ({
      field: n,
      records: (raw.fields[n]?.effect ?? 'deny') as EffectEnum,
      aggregates: (agg.fields[n]?.effect ?? 'deny') as EffectEnum,
    }));
    // What the caller may ask is decided by the query path's own decision (decide), not read off field effects:
    // a preview that says "records" must not be followed by a refusal.
    const visible = fields.filter((f) => rawVisible(f.records)).map((f) => f.field);
    const records =
      raw.tier !== 'auditor' &&
      visible.length > 0 &&
      (await this.accessService.wouldAllow(ctx.requester, previewRequest(d.id, 'raw', visible)));
    const aggregates =
      countOnly.allow && (await this.accessService.wouldAllow(ctx.requester, previewRequest(d.id, 'aggregate', [])));
    return {
      tier: raw.tier as TierEnum,
      records,
      aggregates,
      minCell: agg.minCell,
      fields,
      note:
        records || aggregates
          ? null
          : raw.tier === 'auditor'
            ? 'Auditors see metadata only.'
            : 'Metadata only for your tier; a department may apply for a grant.',
    };
  }

  private toModel(d: Dataset): DatasetModel {
    return {
      id: d.id,
      title: d.title,
      titleZh: d.titleZh,
      description: d.description,
      ownerOrg: d.ownerOrg,
      ownerName: this.catalogue.org(d.ownerOrg)?.name ?? d.ownerOrg,
      grainKind: d.grainKind,
      grade: d.grade as DatasetModel['grade'],
      personal: d.personal as DatasetModel['personal'],
      openClass: d.openClass as DatasetModel['openClass'],
      updatedAt: d.updatedAt,
      fields: d.fields.map((f) => ({
        name: f.name,
        type: f.type,
        grade: f.grade as DatasetModel['grade'],
        personal: f.personal as DatasetModel['personal'],
        openClass: f.openClass as DatasetModel['openClass'],
        unit: f.unit ?? null,
        description: f.description,
      })),
    };
  }
}

/** The simplest request of a mode: records of the given fields, or a count by community. */
function previewRequest(datasetId: string, mode: 'raw' | 'aggregate', fields: string[]): AccessRequest {
  return {
    datasetId,
    mode,
    purpose: null,
    fields,
    filters: [],
    sort: [],
    groupBy: mode === 'aggregate' ? { kind: 'level', level: 'community' } : null,
    measures: mode === 'aggregate' ? [{ fn: 'count', field: null }] : [],
    within: null,
    bbox: null,
    first: 1,
    offset: 0,
  };
}
