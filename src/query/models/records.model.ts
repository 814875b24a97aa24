import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { GeoJSONScalar, ValueScalar } from '../../graphql/scalars.js';

export enum MaskKindEnum {
  redact = 'redact',
  hash = 'hash',
  truncate = 'truncate',
}
export enum GeometryEffectEnum {
  allow = 'allow',
  generalise = 'generalise',
  deny = 'deny',
}
registerEnumType(MaskKindEnum, { name: 'MaskKind', description: 'How a masked value was transformed.' });
registerEnumType(GeometryEffectEnum, { name: 'GeometryEffect' });

@ObjectType('FieldValue')
export class FieldValueModel {
  @Field(() => String) field!: string;
  @Field(() => ValueScalar, { nullable: true }) value!: string | number | boolean | null;
  @Field(() => MaskKindEnum, { nullable: true, description: 'Set when the policy masked this value.' })
  masked!: MaskKindEnum | null;
}

@ObjectType('DataRecord')
export class DataRecordModel {
  @Field(() => ID, { description: 'Record id, or a pseudonym when geometry is generalised.' }) id!: string;
  @Field(() => ID, { nullable: true }) grainId!: string | null;
  @Field(() => GeoJSONScalar, { nullable: true }) geometry!: Record<string, unknown> | null;
  @Field(() => String, { nullable: true, description: 'H3 cell when geometry was generalised.' }) cell!: string | null;
  @Field(() => [FieldValueModel]) values!: FieldValueModel[];
}

@ObjectType('RecordPage')
export class RecordPageModel {
  @Field(() => [DataRecordModel]) items!: DataRecordModel[];
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' }) nextCursor!:
    string | null;
  @Field(() => GeometryEffectEnum) geometry!: GeometryEffectEnum;
  @Field(() => Int) receiptIndex!: number;
}

@ObjectType('MeasureValue')
export class MeasureValueModel {
  @Field(() => String) measure!: string;
  @Field(() => Number, { nullable: true }) value!: number | null;
}

@ObjectType('AggregateCell')
export class AggregateCellModel {
  @Field(() => String) key!: string;
  @Field(() => String, { nullable: true }) label!: string | null;
  @Field(() => Int, { nullable: true, description: 'null when suppressed.' }) count!: number | null;
  @Field(() => [MeasureValueModel]) values!: MeasureValueModel[];
  @Field(() => Boolean) suppressed!: boolean;
}

@ObjectType('AggregateResult')
export class AggregateResultModel {
  @Field(() => String) groupBy!: string;
  @Field(() => Int) minCell!: number;
  @Field(() => [AggregateCellModel]) cells!: AggregateCellModel[];
  @Field(() => AggregateCellModel) total!: AggregateCellModel;
  @Field(() => Int) primarySuppressed!: number;
  @Field(() => Int) secondarySuppressed!: number;
  @Field(() => Int) receiptIndex!: number;
}
