/**
 * GraphQL face of sandbox jobs. Thin: arguments in, one call into JobsService, result out. Outputs are data:
 * these fields serve only outputs whose release record is already durable in the provenance log (`@ServesReleased`).
 */
import { Inject } from '@nestjs/common';
import { Args, Context, ID, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { badInput, limitExceeded } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import { ServesReleased } from '../graphql/governed.js';
import { SubmitJobInput } from './dto/submit-job.input.js';
import type { JobView } from './jobs.service.js';
import { JobsService } from './jobs.service.js';
import { JobModel, type JobLanguageEnum, type JobRunOnEnum, type JobStatusEnum } from './models/job.model.js';

@Resolver()
export class JobsResolver {
  constructor(@Inject(JobsService) private readonly svc: JobsService) {}

  @ServesReleased()
  @Mutation(() => JobModel, { description: 'Queue a job: code run in the sandbox over a dataset’s fields.' })
  async submitJob(@Context() ctx: GatewayContext, @Args('input') input: SubmitJobInput): Promise<JobModel> {
    try {
      const job = await this.svc.submit(ctx.requester, {
        datasetId: input.datasetId,
        fields: input.fields,
        purpose: input.purpose ?? ctx.headerPurpose ?? null,
        code: input.code,
        language: input.language,
        runOn: input.runOn,
        outputs: input.outputs.map((t) => ({
          name: t.name,
          keys: t.keys.map((k) => ({
            column: k.column,
            level: k.level ?? null,
            within: k.within ?? null,
            field: k.field ?? null,
            values: k.values ?? null,
          })),
          sums: t.sums ?? [],
          margins: t.margins,
        })),
      });
      return toModel({ job, viewer: 'submitter', outputs: null });
    } catch (err) {
      const receipt = (err as { extensions?: { receipt?: { index: number; leafHash: string } } }).extensions?.receipt;
      if (receipt) ctx.receipts.push({ ...receipt, dataset: input.datasetId, released: false });
      throw err;
    }
  }

  @ServesReleased()
  @Query(() => JobModel, { description: 'One job you submitted (owners: on their datasets; auditors: metadata).' })
  async job(@Context() ctx: GatewayContext, @Args('id', { type: () => ID }) id: string): Promise<JobModel> {
    return toModel(await this.svc.get(ctx.requester, id));
  }

  @ServesReleased()
  @Query(() => [JobModel], {
    description: 'Your jobs, newest first; an owner also sees jobs on the organisation’s datasets, an auditor all.',
  })
  async jobs(
    @Context() ctx: GatewayContext,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
  ): Promise<JobModel[]> {
    if (first < 1) throw badInput('first must be ≥ 1.');
    if (first > 500) throw limitExceeded('first may be at most 500.');
    return (await this.svc.list(ctx.requester, first)).map(toModel);
  }

  @ServesReleased()
  @Mutation(() => JobModel, { description: 'Cancel a job you submitted that has not finished.' })
  async cancelJob(@Context() ctx: GatewayContext, @Args('id', { type: () => ID }) id: string): Promise<JobModel> {
    return toModel(await this.svc.cancel(ctx.requester, id));
  }

  @ServesReleased()
  @Mutation(() => JobModel, {
    description: 'Owners: approve (release) or reject a job waiting for review, with a reason. Not your own job.',
  })
  async reviewJob(
    @Context() ctx: GatewayContext,
    @Args('id', { type: () => ID }) id: string,
    @Args('approve', { type: () => Boolean }) approve: boolean,
    @Args('reason', { type: () => String }) reason: string,
  ): Promise<JobModel> {
    return toModel(await this.svc.review(ctx.requester, id, approve, reason));
  }

  @Mutation(() => Boolean, {
    description: 'Owners: require (or stop requiring) human review of sandbox releases from a dataset.',
  })
  async setJobReviewRequired(
    @Context() ctx: GatewayContext,
    @Args('datasetId', { type: () => String }) datasetId: string,
    @Args('required', { type: () => Boolean }) required: boolean,
  ): Promise<boolean> {
    return this.svc.setReviewRequired(ctx.requester, datasetId, required);
  }
}

function toModel(v: JobView): JobModel {
  const j = v.job;
  return {
    id: j.id,
    datasetId: j.datasetId,
    fields: j.fields,
    purpose: j.purpose,
    language: j.language as JobLanguageEnum,
    runOn: j.runOn as JobRunOnEnum,
    dummy: j.runOn === 'dummy',
    status: j.status as JobStatusEnum,
    submittedBy: j.submitter.sub,
    codeHash: j.codeHash,
    attempts: j.attempts,
    createdAt: j.createdAt.toISOString(),
    startedAt: j.startedAt?.toISOString() ?? null,
    finishedAt: j.finishedAt?.toISOString() ?? null,
    log: j.log,
    outputs:
      v.outputs?.map((t) => ({
        name: t.name,
        columns: t.columns,
        rows: t.rows.map((cells) => ({ cells })),
        suppressed: t.suppressed,
      })) ?? null,
    refusal: j.refusal,
    error: j.error,
    receiptIndex: j.receiptIndex,
    outputHash: j.outputHash,
    reviewedBy: j.reviewedBy,
    reviewReason: j.reviewReason,
    dpSpend: j.dpSpend
      ? {
          mechanism: j.dpSpend.mechanism,
          epsilon: j.dpSpend.epsilonMicro / 1e6,
          epsilonCharged: j.dpSpend.chargedMicro / 1e6,
          cached: j.dpSpend.cached,
          epsilonSpent: j.dpSpend.spentMicro / 1e6,
          epsilonTotal: j.dpSpend.totalMicro / 1e6,
          budgetOrg: j.dpSpend.org,
        }
      : null,
  };
}
