import { Inject } from '@nestjs/common';
import { Args, Context, ID, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { badInput, limitExceeded } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import type { PurposeEnum } from '../query/dto/records.args.js';
import type { Grant, GrantApplication } from './grant.types.js';
import { GrantApplicationInput, GrantDecisionEnum, GrantScopeInput } from './dto/grant.input.js';
import { GrantsService } from './grants.service.js';
import { ApplicationStatusEnum, GrantApplicationModel, GrantModel, GrantStateEnum } from './models/grant.model.js';
import { grantState } from './grant.types.js';

const MAX_PAGE = 500;

function page(first: number, offset: number): void {
  if (first < 1 || offset < 0) throw badInput('first must be ≥ 1 and offset ≥ 0.');
  if (first > MAX_PAGE) throw limitExceeded(`first may be at most ${MAX_PAGE}.`);
}

/** Grant applications and grants: metadata, no data values. Thin: one call into GrantsService each. */
@Resolver()
export class GrantsResolver {
  constructor(@Inject(GrantsService) private readonly svc: GrantsService) {}

  @Mutation(() => GrantApplicationModel, {
    description: "Apply for a grant on another department's dataset. A department's analysts only.",
  })
  async applyForGrant(
    @Context() ctx: GatewayContext,
    @Args('input', { type: () => GrantApplicationInput }) input: GrantApplicationInput,
  ): Promise<GrantApplicationModel> {
    const app = await this.svc.apply(ctx.requester, {
      datasetId: input.dataset,
      fields: input.fields,
      purpose: input.purpose,
      extent: input.extent ?? [],
      validFrom: input.validFrom ?? null,
      validUntil: input.validUntil ?? null,
      durationDays: input.durationDays ?? null,
      legalBasis: input.legalBasis,
      contact: input.contact,
    });
    return toApplication(app);
  }

  @Mutation(() => GrantApplicationModel, {
    description:
      "Approve (possibly narrower) or reject (with a reason) a pending application. An owner of the dataset's department only.",
  })
  async decideGrantApplication(
    @Context() ctx: GatewayContext,
    @Args('id', { type: () => ID }) id: string,
    @Args('decision', { type: () => GrantDecisionEnum }) decision: GrantDecisionEnum,
    @Args('narrower', { type: () => GrantScopeInput, nullable: true }) narrower: GrantScopeInput | null,
    @Args('reason', { type: () => String, nullable: true }) reason: string | null,
  ): Promise<GrantApplicationModel> {
    const app = await this.svc.decide(ctx.requester, {
      applicationId: id,
      approve: decision === GrantDecisionEnum.approve,
      fields: narrower?.fields ?? null,
      extent: narrower?.extent ?? null,
      validUntil: narrower?.validUntil ?? null,
      reason,
    });
    return toApplication(app);
  }

  @Mutation(() => GrantModel, {
    description: "Revoke a grant at once. An owner of the dataset's department, or an admin.",
  })
  async revokeGrant(
    @Context() ctx: GatewayContext,
    @Args('id', { type: () => ID }) id: string,
    @Args('reason', { type: () => String }) reason: string,
  ): Promise<GrantModel> {
    return toGrant(await this.svc.revoke(ctx.requester, id, reason), new Date());
  }

  @Query(() => [GrantApplicationModel], {
    description: 'Applications your department made or received (auditors and admins: all), newest first.',
  })
  async grantApplications(
    @Context() ctx: GatewayContext,
    @Args('status', { type: () => ApplicationStatusEnum, nullable: true }) status: ApplicationStatusEnum | null,
    @Args('dataset', { type: () => ID, nullable: true }) dataset: string | null,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
  ): Promise<GrantApplicationModel[]> {
    page(first, offset);
    const apps = await this.svc.applications(ctx.requester, { status, datasetId: dataset }, first, offset);
    return apps.map(toApplication);
  }

  @Query(() => GrantApplicationModel, { description: 'One application you may see.' })
  async grantApplication(
    @Context() ctx: GatewayContext,
    @Args('id', { type: () => ID }) id: string,
  ): Promise<GrantApplicationModel> {
    return toApplication(await this.svc.application(ctx.requester, id));
  }

  @Query(() => [GrantModel], {
    description: 'Grants your department holds or gave on its datasets (auditors and admins: all).',
  })
  async grants(
    @Context() ctx: GatewayContext,
    @Args('dataset', { type: () => ID, nullable: true }) dataset: string | null,
    @Args('state', { type: () => GrantStateEnum, nullable: true }) state: GrantStateEnum | null,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
  ): Promise<GrantModel[]> {
    page(first, offset);
    const now = new Date();
    const list = await this.svc.list(ctx.requester, { datasetId: dataset, state: state }, first, offset);
    return list.map((g) => toGrant(g, now));
  }
}

function toApplication(a: GrantApplication): GrantApplicationModel {
  return {
    id: a.id,
    applicantOrg: a.applicantOrg,
    applicantSub: a.applicantSub,
    dataset: a.datasetId,
    ownerOrg: a.ownerOrg,
    fields: a.fields,
    purpose: a.purpose as PurposeEnum,
    extent: a.extent,
    validFrom: a.validFrom,
    validUntil: a.validUntil,
    legalBasis: a.legalBasis,
    contact: a.contact,
    status: a.status as ApplicationStatusEnum,
    createdAt: a.createdAt,
    decidedBy: a.decidedBy,
    decidedAt: a.decidedAt,
    reason: a.reason,
    grantId: a.grantId,
  };
}

function toGrant(g: Grant, now: Date): GrantModel {
  return {
    id: g.id,
    org: g.org,
    dataset: g.datasetId,
    fields: g.fields,
    purpose: g.purpose as PurposeEnum,
    extent: g.extent,
    validFrom: g.validFrom,
    validUntil: g.validTo,
    state: grantState(g, now) as GrantStateEnum,
    approvedBy: g.approvedBy,
    applicationId: g.applicationId,
    revokedAt: g.revokedAt,
    revokedBy: g.revokedBy,
    revokeReason: g.revokeReason,
  };
}
