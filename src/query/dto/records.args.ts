import { ArgsType, Field, Float, ID, InputType, Int, registerEnumType } from '@nestjs/graphql';
import { ValueScalar } from '../../graphql/scalars.js';

export enum PurposeEnum {
  urban_planning = 'urban-planning',
  emergency_response = 'emergency-response',
  public_service = 'public-service',
  research = 'research',
  statistics = 'statistics',
}
export enum FilterOpEnum {
  eq = 'eq',
  ne = 'ne',
  lt = 'lt',
  lte = 'lte',
  gt = 'gt',
  gte = 'gte',
  in = 'in',
  prefix = 'prefix',
}
export enum HierarchyLevelEnum {
  district = 'district',
  subdistrict = 'subdistrict',
  community = 'community',
  building = 'building',
}
export enum AggFuncEnum {
  count = 'count',
  sum = 'sum',
  mean = 'mean',
  min = 'min',
  max = 'max',
}
registerEnumType(PurposeEnum, { name: 'Purpose', description: 'Why data is requested (controlled vocabulary).' });
registerEnumType(FilterOpEnum, { name: 'FilterOp' });
registerEnumType(HierarchyLevelEnum, { name: 'HierarchyLevel' });
registerEnumType(AggFuncEnum, { name: 'AggFunc' });

@InputType()
export class FieldFilterInput {
  @Field(() => String) field!: string;
  @Field(() => FilterOpEnum) op!: FilterOpEnum;
  @Field(() => ValueScalar, { nullable: true, description: 'The value, for every op but `in`.' })
  value?: string | number | boolean | null;
  @Field(() => [ValueScalar], { nullable: true, description: 'The values, for `in` (1 to 100).' })
  values?: (string | number | boolean | null)[] | null;
}

@InputType()
export class SortInput {
  @Field(() => String) field!: string;
  @Field(() => Boolean, { defaultValue: false }) descending!: boolean;
}

@InputType()
export class BBoxInput {
  @Field(() => Float) minLon!: number;
  @Field(() => Float) minLat!: number;
  @Field(() => Float) maxLon!: number;
  @Field(() => Float) maxLat!: number;
}

@InputType({ description: 'Exactly one of level, h3Resolution, field.' })
export class GroupByInput {
  @Field(() => HierarchyLevelEnum, { nullable: true }) level?: HierarchyLevelEnum | null;
  @Field(() => Int, { nullable: true, description: '7, 8 or 9' }) h3Resolution?: number | null;
  @Field(() => String, { nullable: true }) field?: string | null;
}

@InputType()
export class MeasureInput {
  @Field(() => AggFuncEnum) fn!: AggFuncEnum;
  @Field(() => String, { nullable: true, description: 'Omit for count of records.' }) field?: string | null;
}

@ArgsType()
class ScopeArgs {
  @Field(() => ID, { description: 'Dataset id.' }) dataset!: string;
  @Field(() => PurposeEnum, { nullable: true, description: 'Purpose of the request (or header X-Purpose).' })
  purpose?: PurposeEnum | null;
  @Field(() => [FieldFilterInput], { nullable: true }) filter?: FieldFilterInput[] | null;
  @Field(() => ID, {
    nullable: true,
    description: 'Only grains inside this district, subdistrict, community or building.',
  })
  within?: string | null;
  @Field(() => BBoxInput, { nullable: true }) bbox?: BBoxInput | null;
}

@ArgsType()
export class RecordsArgs extends ScopeArgs {
  @Field(() => [String], { description: 'Fields to return.' }) fields!: string[];
  @Field(() => [SortInput], { nullable: true }) sort?: SortInput[] | null;
  @Field(() => Int, { defaultValue: 50, description: 'Page size (hard maximum applies).' }) first!: number;
  @Field(() => String, { nullable: true, description: 'Cursor from the previous page.' }) after?: string | null;
}

@ArgsType()
export class AggregateArgs extends ScopeArgs {
  @Field(() => GroupByInput) groupBy!: GroupByInput;
  @Field(() => [MeasureInput]) measures!: MeasureInput[];
}
