import { Inject } from '@nestjs/common';
import { Args, Context, ID, Int, Query, Resolver } from '@nestjs/graphql';
import { badInput, forbidden, limitExceeded } from '../errors/domain.error.js';
import { CatalogueService } from '../catalogue/catalogue.service.js';
import type { GatewayContext } from '../graphql/context.js';
import { AuditService } from './audit.service.js';
import { namedDataset, usageScope } from './dataset-usage.js';
import { FlagModel, ReportLineModel, TrailEntryModel, TrailFilterInput } from './models/audit.model.js';

function assertAuditor(ctx: GatewayContext): void {
  if (!(ctx.requester.via === 'jwt' && ctx.requester.roles.includes('auditor'))) {
    throw forbidden('The audit trail is for auditors.');
  }
}

function page(first: number, offset: number): void {
  if (first < 1 || offset < 0) throw badInput('first must be ≥ 1 and offset ≥ 0.');
  if (first > 500) throw limitExceeded('first may be at most 500.');
}

/** The auditors' trail: metadata of every decision, never data values. Auditors only. */
@Resolver()
export class AuditResolver {
  constructor(
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(CatalogueService) private readonly catalogue: CatalogueService,
  ) {}

  @Query(() => [TrailEntryModel], { description: 'Search the trail, newest first. Auditors only.' })
  async auditTrail(
    @Context() ctx: GatewayContext,
    @Args('filter', { type: () => TrailFilterInput, nullable: true }) filter: TrailFilterInput | null,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
  ): Promise<TrailEntryModel[]> {
    assertAuditor(ctx);
    page(first, offset);
    return this.audit.search(filter ?? {}, first, offset);
  }

  @Query(() => [TrailEntryModel], {
    description:
      'Who used a dataset, when and why, newest first: requests for its data (filter.kind: access unless set), released or refused. Owners: their organisation’s datasets (all of them when none is named); auditors: any. Metadata, never data values.',
  })
  async datasetUsage(
    @Context() ctx: GatewayContext,
    @Args('dataset', { type: () => ID, nullable: true }) dataset: string | null,
    @Args('filter', { type: () => TrailFilterInput, nullable: true }) filter: TrailFilterInput | null,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
  ): Promise<TrailEntryModel[]> {
    const f = filter ?? {};
    const datasets = usageScope(ctx.requester, this.catalogue, namedDataset(dataset, f.dataset));
    page(first, offset);
    return this.audit.search({ ...f, kind: f.kind ?? 'access', dataset: null, datasets }, first, offset);
  }

  @Query(() => [TrailEntryModel], { description: 'Who touched a space grain, and when. Auditors only.' })
  async grainAccess(
    @Context() ctx: GatewayContext,
    @Args('grain', { type: () => ID }) grain: string,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
  ): Promise<TrailEntryModel[]> {
    assertAuditor(ctx);
    page(first, offset);
    return this.audit.search({}, first, offset, grain);
  }

  @Query(() => [ReportLineModel], { description: 'Access report of one dataset. Auditors only.' })
  async accessReport(
    @Context() ctx: GatewayContext,
    @Args('dataset', { type: () => ID }) dataset: string,
    @Args('from', { type: () => Date, nullable: true }) from: Date | null,
    @Args('to', { type: () => Date, nullable: true }) to: Date | null,
  ): Promise<ReportLineModel[]> {
    assertAuditor(ctx);
    return this.audit.report(dataset, from, to);
  }

  @Query(() => [FlagModel], {
    description: 'Anomaly flags: bursts, repeated refusals, access outside a grant. Auditors only.',
  })
  async auditFlags(
    @Context() ctx: GatewayContext,
    @Args('from', { type: () => Date, nullable: true }) from: Date | null,
    @Args('to', { type: () => Date, nullable: true }) to: Date | null,
    @Args('burstPerMinute', { type: () => Int, defaultValue: 60 }) burstPerMinute: number,
    @Args('refusals', { type: () => Int, defaultValue: 5 }) refusals: number,
  ): Promise<FlagModel[]> {
    assertAuditor(ctx);
    if (burstPerMinute < 1 || refusals < 1) throw badInput('Thresholds must be at least 1.');
    return this.audit.flags({ from, to, burstPerMinute, refusals });
  }

  @Query(() => String, { description: 'The trail as CSV (at most 10,000 rows). Auditors only.' })
  async auditTrailCsv(
    @Context() ctx: GatewayContext,
    @Args('filter', { type: () => TrailFilterInput, nullable: true }) filter: TrailFilterInput | null,
  ): Promise<string> {
    assertAuditor(ctx);
    return this.audit.exportCsv(filter ?? {});
  }
}
