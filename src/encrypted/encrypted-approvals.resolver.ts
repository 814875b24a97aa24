/**
 * GraphQL face of the owner's approval of encrypted computations: the computations awaiting it, one decision at
 * a time, and standing rules. Thin: arguments in, one call into EncryptedApprovalsService, result out.
 */
import { Inject } from '@nestjs/common';
import { Args, Context, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import type { GatewayContext } from '../graphql/context.js';
import {
  EncryptedApprovalsService,
  type ApprovalRule,
  type EncryptedComputation,
} from './encrypted-approvals.service.js';

@ObjectType('EncryptedComputation', {
  description: 'An encrypted computation on one of your datasets and its approval; metadata, no values.',
})
export class EncryptedComputationModel {
  @Field(() => String) computationId!: string;
  @Field(() => String) dataset!: string;
  @Field(() => String) column!: string;
  @Field(() => String) kind!: string;
  @Field(() => String) keyId!: string;
  @Field(() => String) requesterSub!: string;
  @Field(() => String, { nullable: true }) requesterOrg!: string | null;
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => Int, { description: 'result cells (suppressed ones excluded)' }) cells!: number;
  @Field(() => Int, { description: 'the fewest units any result cell covers' }) minUnitsCovered!: number;
  @Field(() => Int, { description: "log index of the computation's record" }) receiptIndex!: number;
  @Field(() => String, { description: 'pending, approved or refused' }) status!: string;
  @Field(() => String, { nullable: true, description: 'the standing rule that approved it' }) ruleId!: string | null;
  @Field(() => Int, { nullable: true, description: "log index of the owner's decision record" })
  decisionIndex!: number | null;
  @Field(() => String, { nullable: true }) decidedBy!: string | null;
  @Field(() => String, { nullable: true }) reason!: string | null;
  @Field(() => String) createdAt!: string;
  @Field(() => String, { nullable: true }) decidedAt!: string | null;
}

@ObjectType('EncryptedApprovalRule', {
  description: 'A standing approval rule for one encrypted column: who, why, which kinds, and the fewest units.',
})
export class EncryptedApprovalRuleModel {
  @Field(() => String) ruleId!: string;
  @Field(() => String) dataset!: string;
  @Field(() => String) column!: string;
  @Field(() => [String]) orgs!: string[];
  @Field(() => [String], { nullable: true, description: 'null: any purpose' }) purposes!: string[] | null;
  @Field(() => [String], { nullable: true, description: 'null: any kind' }) kinds!: string[] | null;
  @Field(() => Int, { description: 'every result cell covers at least this many units' }) minUnits!: number;
  @Field(() => String) createdBy!: string;
  @Field(() => String) createdAt!: string;
  @Field(() => Int, { description: 'log index of the record that set the rule' }) setIndex!: number;
  @Field(() => Boolean) revoked!: boolean;
  @Field(() => String, { nullable: true }) revokedAt!: string | null;
  @Field(() => String, { nullable: true }) revokedBy!: string | null;
  @Field(() => Int, { nullable: true }) revokeIndex!: number | null;
  @Field(() => String, { nullable: true }) revokeReason!: string | null;
}

const rule = (r: ApprovalRule): EncryptedApprovalRuleModel => ({
  ruleId: r.id,
  dataset: r.dataset,
  column: r.column,
  orgs: r.orgs,
  purposes: r.purposes,
  kinds: r.kinds,
  minUnits: r.minUnits,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  setIndex: r.setIndex,
  revoked: r.revokedAt !== null,
  revokedAt: r.revokedAt,
  revokedBy: r.revokedBy,
  revokeIndex: r.revokeIndex,
  revokeReason: r.revokeReason,
});
const computation = (c: EncryptedComputation): EncryptedComputationModel => c;

@Resolver()
export class EncryptedApprovalsResolver {
  constructor(@Inject(EncryptedApprovalsService) private readonly svc: EncryptedApprovalsService) {}

  @Query(() => [EncryptedComputationModel], {
    description:
      "Encrypted computations on your organisation's datasets, newest first (status: pending, approved or refused). Owners only.",
  })
  async encryptedComputations(
    @Context() ctx: GatewayContext,
    @Args('dataset', { type: () => String, nullable: true }) dataset: string | null,
    @Args('status', { type: () => String, nullable: true }) status: string | null,
  ): Promise<EncryptedComputationModel[]> {
    const list = await this.svc.computations(ctx.requester, { dataset: dataset ?? null, status: status ?? null });
    return list.map(computation);
  }

  @Query(() => EncryptedComputationModel, { description: 'One encrypted computation of yours and its approval.' })
  async encryptedComputation(
    @Context() ctx: GatewayContext,
    @Args('id') id: string,
  ): Promise<EncryptedComputationModel> {
    return computation(await this.svc.computation(ctx.requester, id));
  }

  @Mutation(() => EncryptedComputationModel, {
    description: 'Approve a pending computation for decryption by your key holder (logged before it takes effect).',
  })
  async approveEncryptedComputation(
    @Context() ctx: GatewayContext,
    @Args('id') id: string,
    @Args('reason', { type: () => String, nullable: true }) reason: string | null,
  ): Promise<EncryptedComputationModel> {
    return computation(await this.svc.approve(ctx.requester, id, reason ?? null));
  }

  @Mutation(() => EncryptedComputationModel, {
    description: 'Refuse a pending computation: your key holder will not decrypt it (logged before it takes effect).',
  })
  async refuseEncryptedComputation(
    @Context() ctx: GatewayContext,
    @Args('id') id: string,
    @Args('reason') reason: string,
  ): Promise<EncryptedComputationModel> {
    return computation(await this.svc.refuse(ctx.requester, id, reason));
  }

  @Query(() => [EncryptedApprovalRuleModel], { description: 'Your standing approval rules, oldest first.' })
  async encryptedApprovalRules(
    @Context() ctx: GatewayContext,
    @Args('dataset', { type: () => String, nullable: true }) dataset: string | null,
    @Args('includeRevoked', { type: () => Boolean, nullable: true }) includeRevoked: boolean | null,
  ): Promise<EncryptedApprovalRuleModel[]> {
    return (await this.svc.rules(ctx.requester, dataset ?? null, includeRevoked ?? false)).map(rule);
  }

  @Mutation(() => EncryptedApprovalRuleModel, {
    description:
      'Set a standing rule for one encrypted column: computations by these organisations, for these purposes and kinds (null: any), whose every cell covers at least minUnits units, are approved as they are logged.',
  })
  async setEncryptedApprovalRule(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('orgs', { type: () => [String] }) orgs: string[],
    @Args('purposes', { type: () => [String], nullable: true }) purposes: string[] | null,
    @Args('kinds', { type: () => [String], nullable: true }) kinds: string[] | null,
    @Args('minUnits', { type: () => Int }) minUnits: number,
    @Args('reason', { type: () => String, nullable: true }) reason: string | null,
  ): Promise<EncryptedApprovalRuleModel> {
    const input = { dataset, column, orgs, purposes: purposes ?? null, kinds: kinds ?? null, minUnits };
    return rule(await this.svc.setRule(ctx.requester, input, reason ?? null));
  }

  @Mutation(() => EncryptedApprovalRuleModel, { description: 'Revoke a standing approval rule.' })
  async revokeEncryptedApprovalRule(
    @Context() ctx: GatewayContext,
    @Args('id') id: string,
    @Args('reason') reason: string,
  ): Promise<EncryptedApprovalRuleModel> {
    return rule(await this.svc.revokeRule(ctx.requester, id, reason));
  }
}
