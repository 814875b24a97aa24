import { Inject } from '@nestjs/common';
import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import { CONFIG, type Config } from '../config/config.js';
import type { GatewayContext } from '../graphql/context.js';
import { Governed } from '../graphql/governed.js';
import { DataService } from './data.service.js';
import { AggregateArgs, RecordsArgs } from './dto/records.args.js';
import { AggregateResultModel, RecordPageModel } from './models/records.model.js';
import { aggregateRequest, encodeCursor, recordsRequest } from './request-builder.js';
import type { AggregateResult, RecordsResult } from './query.types.js';

/** Thin: arguments in, one call into DataService (decide, execute, log), result out. */
@Resolver()
export class RecordsResolver {
  constructor(
    @Inject(DataService) private readonly data: DataService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  @Governed()
  @Query(() => RecordPageModel, {
    description: 'Records of a dataset, as your tier allows (masks, generalisation, row filters applied).',
  })
  async records(@Args() args: RecordsArgs, @Context() ctx: GatewayContext): Promise<RecordPageModel> {
    const request = recordsRequest(args, ctx.headerPurpose, this.config.maxPageSize);
    try {
      const { result, receipt } = await this.data.records(ctx.requester, request, ctx.deadline);
      ctx.receipts.push({ ...receipt, dataset: request.datasetId, released: true });
      ctx.releasedRows += result.items.length;
      return toRecordPage(result, receipt.index);
    } catch (err) {
      collectRefusalReceipt(ctx, request.datasetId, err);
      throw err;
    }
  }

  @Governed()
  @Query(() => AggregateResultModel, {
    description: 'Aggregates of a dataset grouped by a hierarchy level, an H3 cell or a field; small cells suppressed.',
  })
  async aggregate(@Args() args: AggregateArgs, @Context() ctx: GatewayContext): Promise<AggregateResultModel> {
    const request = aggregateRequest(args, ctx.headerPurpose);
    try {
      const { result, receipt } = await this.data.aggregate(ctx.requester, request, ctx.deadline);
      ctx.receipts.push({ ...receipt, dataset: request.datasetId, released: true });
      return toAggregate(result, receipt.index);
    } catch (err) {
      collectRefusalReceipt(ctx, request.datasetId, err);
      throw err;
    }
  }
}

function collectRefusalReceipt(ctx: GatewayContext, dataset: string, err: unknown): void {
  const receipt = (err as { extensions?: { receipt?: { index: number; leafHash: string } } }).extensions?.receipt;
  if (receipt) ctx.receipts.push({ ...receipt, dataset, released: false });
}

function toRecordPage(r: RecordsResult, receiptIndex: number): RecordPageModel {
  return {
    items: r.items as RecordPageModel['items'],
    nextCursor: r.nextOffset === null ? null : encodeCursor(r.nextOffset),
    geometry: r.geometry as RecordPageModel['geometry'],
    receiptIndex,
  };
}

function toAggregate(r: AggregateResult, receiptIndex: number): AggregateResultModel {
  return { ...r, receiptIndex };
}
