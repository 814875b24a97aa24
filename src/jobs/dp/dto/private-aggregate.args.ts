import { ArgsType, Field, Float, ID, InputType, registerEnumType } from '@nestjs/graphql';
import { FieldFilterInput, HierarchyLevelEnum, PurposeEnum } from '../../../query/dto/records.args.js';

export enum DpMeasureEnum {
  COUNT = 'COUNT',
  SUM = 'SUM',
}
registerEnumType(DpMeasureEnum, { name: 'DpMeasure', description: 'A count of records, or a sum of a bounded field.' });

@InputType({ description: 'Which records a private aggregate covers; all conditions hold together.' })
export class PrivateFilterInput {
  @Field(() => [ID], { nullable: true, description: 'At most one district, subdistrict, community or building.' })
  unitIds?: string[] | null;
  @Field(() => [[[Float]]], {
    nullable: true,
    description: 'GeoJSON Polygon coordinates ([outer ring, ...holes], each a list of [lon, lat]).',
  })
  polygon?: number[][][] | null;
  @Field(() => [FieldFilterInput], { nullable: true }) conditions?: FieldFilterInput[] | null;
}

@ArgsType()
export class PrivateAggregateArgs {
  @Field(() => ID, { description: 'Dataset id (one whose policy asks for differential privacy).' })
  datasetId!: string;
  @Field(() => DpMeasureEnum) measure!: DpMeasureEnum;
  @Field(() => String, { nullable: true, description: 'The summed field (SUM only; its bounds are declared).' })
  field?: string | null;
  @Field(() => HierarchyLevelEnum) groupBy!: HierarchyLevelEnum;
  @Field(() => PrivateFilterInput, { nullable: true }) filter?: PrivateFilterInput | null;
  @Field(() => PurposeEnum, { nullable: true, description: 'Purpose of the request (or header X-Purpose).' })
  purpose?: PurposeEnum | null;
}
