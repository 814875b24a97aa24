import { Inject } from '@nestjs/common';
import { Args, Context, Field, Float, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { CatalogueService } from '../catalogue/catalogue.service.js';
import { forbidden, notFound } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import { PROVENANCE_LOG, type VerifiableProvenanceLog } from './provenance-log.port.js';
import { canonicalJson } from './provenance-record.js';
import { ReceiptTokens } from './receipt-tokens.js';

@ObjectType('SignedTreeHead', { description: 'A signed head of the provenance log (Ed25519 over canonical JSON).' })
export class SignedTreeHeadModel {
  @Field(() => String) logId!: string;
  @Field(() => Int) treeSize!: number;
  @Field(() => String, { description: 'hex' }) rootHash!: string;
  @Field(() => Float, { description: 'ms since the epoch' }) timestamp!: number;
  @Field(() => String, { description: 'base64 Ed25519 signature' }) signature!: string;
}

@ObjectType('LogPublicKey')
export class LogPublicKeyModel {
  @Field(() => String) logId!: string;
  @Field(() => String, { description: 'SPKI PEM' }) pem!: string;
}

@ObjectType('InclusionProof', { description: 'RFC 9162 inclusion proof of a leaf in a signed tree head.' })
export class InclusionProofModel {
  @Field(() => Int) leafIndex!: number;
  @Field(() => Int) treeSize!: number;
  @Field(() => [String]) hashes!: string[];
  @Field(() => SignedTreeHeadModel) treeHead!: SignedTreeHeadModel;
}

@ObjectType('ConsistencyProof', { description: 'RFC 9162 consistency proof between two tree sizes.' })
export class ConsistencyProofModel {
  @Field(() => Int) fromSize!: number;
  @Field(() => Int) toSize!: number;
  @Field(() => [String]) hashes!: string[];
}

/**
 * The verifiable log's public face: tree heads, the public key and proofs carry hashes only, so anyone may
 * ask. A receipt bundle holds the record itself: only its requester (or the holder of its receipt token), the
 * owning department or an auditor gets it.
 */
@Resolver()
export class LedgerResolver {
  constructor(
    @Inject(PROVENANCE_LOG) private readonly log: VerifiableProvenanceLog,
    @Inject(CatalogueService) private readonly catalogue: CatalogueService,
    @Inject(ReceiptTokens) private readonly tokens: ReceiptTokens,
  ) {}

  @Query(() => SignedTreeHeadModel, { description: 'The latest signed tree head.' })
  async logTreeHead(): Promise<SignedTreeHeadModel> {
    return this.log.treeHead();
  }

  @Query(() => LogPublicKeyModel, { description: 'The key that signs tree heads.' })
  logPublicKey(): LogPublicKeyModel {
    const k = this.log.publicKey();
    return { logId: k.logId, pem: k.pem };
  }

  @Query(() => InclusionProofModel, {
    description: 'Proof that the receipt at `index` is in the latest signed tree head.',
  })
  async inclusionProof(@Args('index', { type: () => Int }) index: number): Promise<InclusionProofModel> {
    const treeHead = await this.log.treeHead();
    const proof = await this.log.inclusionProof(index, treeHead.treeSize);
    return { ...proof, treeHead };
  }

  @Query(() => ConsistencyProofModel, {
    description: 'Proof that the log at `fromSize` is a prefix of the log at `toSize`.',
  })
  async consistencyProof(
    @Args('fromSize', { type: () => Int }) fromSize: number,
    @Args('toSize', { type: () => Int }) toSize: number,
  ): Promise<ConsistencyProofModel> {
    return this.log.consistencyProof(fromSize, toSize);
  }

  @Query(() => String, {
    description:
      'A receipt bundle (record, receipt, inclusion proof, signed tree head) as JSON, for `citygate verify`. Its requester (a token or an API key by its own key; anyone by the receipt’s `token`), an owner of the dataset’s department, or an auditor only.',
  })
  async receiptBundle(
    @Context() ctx: GatewayContext,
    @Args('index', { type: () => Int }) index: number,
    @Args('token', {
      type: () => String,
      nullable: true,
      description: 'the `token` of the receipt in `extensions.receipts`: opens this one bundle to whoever holds it',
    })
    token?: string | null,
  ): Promise<string> {
    const entry = await this.log.get(index);
    const r = ctx.requester;
    const auditor = r.via === 'jwt' && r.roles.includes('auditor');
    // A JWT subject or an API key is its own requester; an anonymous caller has no identity to match.
    const mine = r.via !== 'anonymous' && entry?.record.requester.sub === r.sub;
    const holder = typeof token === 'string' && entry !== null && this.tokens.valid(index, entry.leafHash, token);
    // The owning department sees who used its data (and its key holder reads the approvals it decrypts by).
    const owner =
      r.via === 'jwt' &&
      r.roles.includes('owner') &&
      r.org !== null &&
      entry !== null &&
      this.catalogue.get(entry.record.dataset)?.ownerOrg === r.org;
    // Same answer for "absent" and "not yours": the trail of others is not for the caller to probe.
    if (!entry || (!auditor && !mine && !owner && !holder)) {
      if (!entry && auditor) throw notFound('No such log entry.');
      throw forbidden(
        'Receipt bundles are for their requester (or whoever holds the receipt token), the owning department and auditors.',
      );
    }
    const treeHead = await this.log.treeHead();
    const proof = await this.log.inclusionProof(index, treeHead.treeSize);
    return canonicalJson({ record: entry.record, receipt: { index, leafHash: entry.leafHash }, proof, treeHead });
  }
}
