import { Inject } from '@nestjs/common';
import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import type { GatewayContext } from '../../graphql/context.js';
import { Governed } from '../../graphql/governed.js';
import { purposeOf, toFieldFilter } from '../../query/request-builder.js';
import { DpMeasureEnum, PrivateAggregateArgs } from './dto/private-aggregate.args.js';
import { PrivateAggregateModel } from './models/private-aggregate.model.js';
import { PrivateAggregateService } from './private-aggregate.service.js';

const MAX_CONDITIONS = 50;

/** Thin: arguments in, one call into PrivateAggregateService (decide, budget, noise, log), result out. */
@Resolver()
export class PrivateAggregateResolver {
  constructor(@Inject(PrivateAggregateService) private readonly dp: PrivateAggregateService) {}

  @Governed()
  @Query(() => PrivateAggregateModel, {
    description:
      'A count or bounded sum with discrete DP noise, charged to your organisation’s privacy budget; ' +
      'an equivalent query asked again returns the stored answer free.',
  })
  async privateAggregate(
    @Args() args: PrivateAggregateArgs,
    @Context() ctx: GatewayContext,
  ): Promise<PrivateAggregateModel> {
    const f = args.filter ?? {};
    try {
      const a = await this.dp.answer(
        ctx.requester,
        {
          datasetId: args.datasetId,
          measure: args.measure === DpMeasureEnum.SUM ? 'sum' : 'count',
          field: args.field ?? null,
          groupBy: args.groupBy,
          unitIds: f.unitIds ?? [],
          polygon: f.polygon ?? null,
          conditions: (f.conditions ?? []).slice(0, MAX_CONDITIONS + 1).map(toFieldFilter),
          purpose: purposeOf(args.purpose ?? null, ctx.headerPurpose),
        },
        ctx.deadline,
      );
      ctx.receipts.push({ ...a.receipt, dataset: a.datasetId, released: true });
      return {
        datasetId: a.datasetId,
        groupBy: a.groupBy,
        measure: a.measure,
        field: a.field,
        mechanism: a.mechanism,
        epsilon: a.epsilonMicro / 1e6,
        epsilonCharged: a.chargedMicro / 1e6,
        cached: a.cached,
        epsilonRemaining: (a.totalMicro - a.spentMicro) / 1e6,
        cells: a.cells,
        queryKey: a.queryKey,
        receiptIndex: a.receipt.index,
      };
    } catch (err) {
      const receipt = (err as { extensions?: { receipt?: { index: number; leafHash: string } } }).extensions?.receipt;
      if (receipt) ctx.receipts.push({ ...receipt, dataset: args.datasetId, released: false });
      throw err;
    }
  }
}
