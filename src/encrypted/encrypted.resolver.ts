/**
 * GraphQL face of encrypted columns: the owner's uploads (key bundle, layout and rows, ciphertext chunks) and
 * the governed `encryptedAggregate`. Thin: arguments in, one call into EncryptedColumnsService, result out.
 */
import { Inject } from '@nestjs/common';
import { Args, Context, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { HIERARCHY_LEVELS, type HierarchyLevel } from '../access/access-request.js';
import type { Purpose } from '../access/decision.js';
import { badInput } from '../errors/domain.error.js';
import type { GatewayContext } from '../graphql/context.js';
import { Governed } from '../graphql/governed.js';
import type { AggregateKind } from './aggregator.js';
import type { ColumnLayout } from './column-codec.js';
import { EncryptedColumnsService } from './encrypted-columns.service.js';
import {
  CIPHERTEXT_PART_BYTES,
  EncryptedUploadsService,
  KEY_BUNDLE_PART_BYTES,
  ROW_IDS_PER_PART,
} from './encrypted-uploads.service.js';
import { fromBase64, parseBundle, parseJson } from './key-bundle-json.js';

const KINDS: readonly AggregateKind[] = ['sum', 'count', 'mean', 'weightedSum'];

@ObjectType('UploadProgress')
export class UploadProgressModel {
  @Field(() => Int) received!: number;
  @Field(() => Int) total!: number;
  @Field(() => [Int], { description: 'ciphertext indices still missing' }) missing!: number[];
}

@ObjectType('KeyBundleProgress')
export class KeyBundleProgressModel {
  @Field(() => Int) received!: number;
  @Field(() => Int) total!: number;
  @Field(() => [Int], { description: 'part indices still missing' }) missing!: number[];
  @Field(() => String, {
    description: 'receiving (parts missing), checking (all in, being checked in the background), stored or rejected',
  })
  status!: string;
  @Field(() => String, { nullable: true, description: 'the stored key id, once checked' })
  keyId!: string | null;
  @Field(() => String, { nullable: true, description: 'why the bundle was rejected' })
  message!: string | null;
}

@ObjectType('ColumnRowsProgress')
export class ColumnRowsProgressModel {
  @Field(() => Int) received!: number;
  @Field(() => Int) total!: number;
  @Field(() => [Int], { description: 'record-id parts still missing' }) missing!: number[];
  @Field(() => UploadProgressModel, {
    nullable: true,
    description: 'once every part is in: the ciphertexts received and still missing',
  })
  ciphertexts!: UploadProgressModel | null;
}

@ObjectType('CiphertextPartsProgress')
export class CiphertextPartsProgressModel {
  @Field(() => Int) received!: number;
  @Field(() => Int) total!: number;
  @Field(() => [Int], { description: 'parts of this ciphertext still missing' }) missing!: number[];
  @Field(() => UploadProgressModel, {
    nullable: true,
    description: 'once every part is in: the column’s ciphertexts received and still missing',
  })
  ciphertexts!: UploadProgressModel | null;
}

@ObjectType('EncryptedCell', { description: 'One cell of an encrypted aggregate: its result stays encrypted.' })
export class EncryptedCellModel {
  @Field(() => String, { nullable: true }) group!: string | null;
  @Field(() => Int) records!: number;
  @Field(() => Int) unitsCovered!: number;
  @Field(() => Boolean, { description: 'fewer records than the decision allows: no ciphertext' })
  suppressed!: boolean;
  @Field(() => String, { nullable: true, description: 'base64 SEAL ciphertext; every slot holds the cell sum' })
  ciphertext!: string | null;
  @Field(() => String, { nullable: true, description: 'hex SHA-256 of the ciphertext bytes, as logged' })
  sha256!: string | null;
}

@ObjectType('EncryptedAggregate', {
  description: 'An aggregate computed on ciphertexts; the owner’s key holder decrypts approved cells.',
})
export class EncryptedAggregateModel {
  @Field(() => String) computationId!: string;
  @Field(() => String, {
    description:
      "pending (until the dataset's owner approves or refuses it) or approved (by the owner's standing rule)",
  })
  approval!: string;
  @Field(() => String) kind!: string;
  @Field(() => String) scheme!: string;
  @Field(() => String) keyId!: string;
  @Field(() => [EncryptedCellModel]) cells!: EncryptedCellModel[];
  @Field(() => Int, { description: "provenance log index of the computation's record" })
  receiptIndex!: number;
  @Field(() => String) leafHash!: string;
}

@Resolver()
export class EncryptedResolver {
  constructor(
    @Inject(EncryptedColumnsService) private readonly svc: EncryptedColumnsService,
    @Inject(EncryptedUploadsService) private readonly uploads: EncryptedUploadsService,
  ) {}

  @Mutation(() => String, { description: "Upload the owner's public key bundle (JSON, bytes base64) for a column." })
  async uploadHeKeyBundle(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('bundle') bundle: string,
  ): Promise<string> {
    return this.svc.uploadKeyBundle(ctx.requester, dataset, column, parseBundle(bundle));
  }

  @Mutation(() => KeyBundleProgressModel, {
    description: `Upload part \`index\` of \`count\` of the owner's public key bundle JSON (base64, at most ${KEY_BUNDLE_PART_BYTES / 1024} KiB decoded). When every part is in, the bundle is checked in the background: poll heKeyBundleUpload. Idempotent: re-send to resume.`,
  })
  async uploadHeKeyBundlePart(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('sha256') sha256: string,
    @Args('index', { type: () => Int }) index: number,
    @Args('count', { type: () => Int }) count: number,
    @Args('part') part: string,
  ): Promise<KeyBundleProgressModel> {
    return this.uploads.putKeyBundlePart(ctx.requester, dataset, column, {
      bundleSha256: sha256,
      index,
      count,
      bytes: fromBase64(part),
    });
  }

  @Query(() => KeyBundleProgressModel, {
    description:
      'Where the upload of the key bundle with this SHA-256 stands (parts missing, checking, stored, rejected).',
  })
  async heKeyBundleUpload(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('sha256') sha256: string,
  ): Promise<KeyBundleProgressModel> {
    return this.uploads.keyBundleStatus(ctx.requester, dataset, column, sha256);
  }

  @Mutation(() => ColumnRowsProgressModel, {
    description: `Upload part \`index\` of \`count\` of a column's record ids (at most ${ROW_IDS_PER_PART} ids; row r of the column is id r of the whole list); \`sha256\` is the hex SHA-256 of all ids joined by newlines. The last part begins the column upload. Idempotent: re-send to resume; a stored list answers at once.`,
  })
  async uploadEncryptedColumnRows(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('layout') layout: string,
    @Args('sha256') sha256: string,
    @Args('index', { type: () => Int }) index: number,
    @Args('count', { type: () => Int }) count: number,
    @Args('recordIds', { type: () => [String] }) recordIds: string[],
  ): Promise<ColumnRowsProgressModel> {
    return this.uploads.putColumnRowsPart(ctx.requester, dataset, column, {
      layout: parseJson(layout) as ColumnLayout,
      rowsSha256: sha256,
      index,
      count,
      recordIds,
    });
  }

  @Mutation(() => UploadProgressModel, {
    description:
      'Start or resume a small column upload (layout JSON, every record id); larger: uploadEncryptedColumnRows.',
  })
  async beginEncryptedColumn(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('layout') layout: string,
    @Args('recordIds', { type: () => [String] }) recordIds: string[],
  ): Promise<UploadProgressModel> {
    return this.svc.beginColumn(ctx.requester, dataset, column, parseJson(layout) as ColumnLayout, recordIds);
  }

  @Mutation(() => UploadProgressModel, { description: 'Upload ciphertext `index` (base64); idempotent.' })
  async uploadCiphertextChunk(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('index', { type: () => Int }) index: number,
    @Args('ciphertext') ciphertext: string,
  ): Promise<UploadProgressModel> {
    return this.svc.putChunk(ctx.requester, dataset, column, index, fromBase64(ciphertext));
  }

  @Mutation(() => CiphertextPartsProgressModel, {
    description: `Upload part \`part\` of \`parts\` (at most ${CIPHERTEXT_PART_BYTES} bytes, base64) of ciphertext \`index\`; \`sha256\` is the hex SHA-256 of the whole ciphertext. The last part stores it. Idempotent: re-send to resume.`,
  })
  async uploadCiphertextPart(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('index', { type: () => Int }) index: number,
    @Args('sha256') sha256: string,
    @Args('part', { type: () => Int }) part: number,
    @Args('parts', { type: () => Int }) parts: number,
    @Args('bytes') bytes: string,
  ): Promise<CiphertextPartsProgressModel> {
    return this.uploads.putCiphertextPart(ctx.requester, dataset, column, {
      chunk: index,
      ciphertextSha256: sha256,
      index: part,
      count: parts,
      bytes: fromBase64(bytes),
    });
  }

  @Governed()
  @Query(() => EncryptedAggregateModel, {
    description: 'sum, count, mean or weightedSum of an encrypted column, grouped by a level; computed on ciphertexts.',
  })
  async encryptedAggregate(
    @Context() ctx: GatewayContext,
    @Args('dataset') dataset: string,
    @Args('column') column: string,
    @Args('kind') kind: string,
    @Args('groupBy', { type: () => String, nullable: true }) groupBy: string | null,
    @Args('within', { type: () => String, nullable: true }) within: string | null,
    @Args('purpose', { type: () => String, nullable: true }) purpose: string | null,
    @Args('weightField', { type: () => String, nullable: true }) weightField: string | null,
  ): Promise<EncryptedAggregateModel> {
    // Omitted nullable arguments arrive as undefined.
    groupBy ??= null;
    within ??= null;
    purpose ??= null;
    weightField ??= null;
    if (!KINDS.includes(kind as AggregateKind)) throw badInput(`kind is one of ${KINDS.join(', ')}.`);
    if (groupBy !== null && !HIERARCHY_LEVELS.includes(groupBy as HierarchyLevel)) {
      throw badInput(`groupBy is one of ${HIERARCHY_LEVELS.join(', ')}.`);
    }
    try {
      const r = await this.svc.aggregate(ctx.requester, {
        datasetId: dataset,
        column,
        kind: kind as AggregateKind,
        weightField,
        groupBy: groupBy as HierarchyLevel | null,
        within,
        purpose: (purpose ?? ctx.headerPurpose ?? null) as Purpose | null,
        deadline: ctx.deadline,
      });
      ctx.receipts.push({ ...r.receipt, dataset, released: true });
      return {
        computationId: r.computationId,
        approval: r.approval,
        kind: r.kind,
        scheme: r.scheme,
        keyId: r.keyId,
        receiptIndex: r.receipt.index,
        leafHash: r.receipt.leafHash,
        cells: r.cells.map((c) => ({
          ...c,
          ciphertext: c.ciphertext ? Buffer.from(c.ciphertext).toString('base64') : null,
        })),
      };
    } catch (err) {
      const receipt = (err as { extensions?: { receipt?: { index: number; leafHash: string } } }).extensions?.receipt;
      if (receipt) ctx.receipts.push({ ...receipt, dataset, released: false });
      throw err;
    }
  }
}
