import { Inject } from '@nestjs/common';
import { Args, Context, Field, ID, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { forbidden, limitExceeded } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import { PROVENANCE_LOG, type ProvenanceLog } from '../ledger/provenance-log.port.js';

@ObjectType('ProvenanceEntry', { description: 'One provenance record: metadata of a decision, never data values.' })
export class ProvenanceEntryModel {
  @Field(() => Int) index!: number;
  @Field(() => String) leafHash!: string;
  @Field(() => ID) id!: string;
  @Field(() => String) at!: string;
  @Field(() => String) sub!: string;
  @Field(() => String, { nullable: true }) org!: string | null;
  @Field(() => [String]) roles!: string[];
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => String) dataset!: string;
  @Field(() => String) mode!: string;
  @Field(() => [String]) fields!: string[];
  @Field(() => String) tier!: string;
  @Field(() => Boolean) released!: boolean;
  @Field(() => Int) rows!: number;
  @Field(() => String, { nullable: true }) refusal!: string | null;
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => String) bundleRevision!: string;
  @Field(() => String, { nullable: true }) resultHash!: string | null;
}

/** The auditors' trail (basic listing; search, proofs and reports build on it). Auditors only. */
@Resolver()
export class ProvenanceResolver {
  constructor(@Inject(PROVENANCE_LOG) private readonly log: ProvenanceLog) {}

  @Query(() => [ProvenanceEntryModel], { description: 'Provenance records, newest first. Auditors only.' })
  async provenance(
    @Context() ctx: GatewayContext,
    @Args('first', { type: () => Int, defaultValue: 50 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
    @Args('dataset', { type: () => ID, nullable: true }) dataset: string | null,
    @Args('org', { type: () => String, nullable: true }) org: string | null,
  ): Promise<ProvenanceEntryModel[]> {
    if (!(ctx.requester.via === 'jwt' && ctx.requester.roles.includes('auditor'))) {
      throw forbidden('The provenance trail is for auditors.');
    }
    if (first < 1 || first > 500 || offset < 0) throw limitExceeded('first must be 1 to 500 and offset ≥ 0.');
    const rows = await this.log.list({ first, offset, dataset, org });
    return rows.map(({ index, record: r, leafHash }) => ({
      index,
      leafHash,
      id: r.id,
      at: r.at,
      sub: r.requester.sub,
      org: r.requester.org,
      roles: r.requester.roles,
      purpose: r.purpose,
      dataset: r.dataset,
      mode: r.mode,
      fields: r.fields,
      tier: r.decision.tier,
      released: r.outcome.released,
      rows: r.outcome.rows,
      refusal: r.outcome.refusal,
      grantId: r.decision.grantId,
      bundleRevision: r.decision.bundleRevision,
      resultHash: r.outcome.resultHash,
    }));
  }
}
