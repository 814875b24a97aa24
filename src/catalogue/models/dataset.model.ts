import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';

export enum GradeEnum {
  general = 'general',
  important = 'important',
  core = 'core',
}
export enum PersonalEnum {
  none = 'none',
  personal = 'personal',
  sensitive = 'sensitive',
}
export enum OpenClassEnum {
  unconditional = 'unconditional',
  conditional = 'conditional',
  closed = 'closed',
}
export enum EffectEnum {
  allow = 'allow',
  mask = 'mask',
  generalise = 'generalise',
  aggregate_only = 'aggregate-only',
  deny = 'deny',
}
export enum TierEnum {
  auditor = 'auditor',
  owner = 'owner',
  granted = 'granted',
  department = 'department',
  public = 'public',
}
registerEnumType(GradeEnum, { name: 'Grade', description: 'Data grade (GB/T 43697-2024).' });
registerEnumType(PersonalEnum, {
  name: 'PersonalLevel',
  description: 'Personal information: none, personal, sensitive.',
});
registerEnumType(OpenClassEnum, { name: 'OpenClass', description: 'Shanghai public-data open class.' });
registerEnumType(EffectEnum, { name: 'Effect', description: 'What the policy lets the caller do with a field.' });
registerEnumType(TierEnum, { name: 'Tier', description: 'The tier the caller falls in for a dataset.' });

@ObjectType({ description: 'A field of a dataset with its classification.' })
export class DatasetFieldModel {
  @Field(() => String) name!: string;
  @Field(() => String) type!: string;
  @Field(() => GradeEnum) grade!: GradeEnum;
  @Field(() => PersonalEnum) personal!: PersonalEnum;
  @Field(() => OpenClassEnum) openClass!: OpenClassEnum;
  @Field(() => String, { nullable: true }) unit!: string | null;
  @Field(() => String) description!: string;
}

@ObjectType({ description: 'What the caller may do with one field (without a purpose, i.e. before grants).' })
export class FieldAccessModel {
  @Field(() => String) field!: string;
  @Field(() => EffectEnum, { description: 'Effect for record queries.' }) records!: EffectEnum;
  @Field(() => EffectEnum, { description: 'Effect for aggregates.' }) aggregates!: EffectEnum;
}

@ObjectType({ description: "The caller's access to a dataset, as the policy decides it without a purpose." })
export class DatasetAccessModel {
  @Field(() => TierEnum) tier!: TierEnum;
  @Field(() => Boolean, { description: 'May the caller read records (at least with some fields)?' }) records!: boolean;
  @Field(() => Boolean, { description: 'May the caller ask for aggregates?' }) aggregates!: boolean;
  @Field(() => Int, { description: 'Minimum cell size of aggregates.' }) minCell!: number;
  @Field(() => [FieldAccessModel]) fields!: FieldAccessModel[];
  @Field(() => String, { nullable: true, description: 'Why not, when records and aggregates are both refused.' })
  note!: string | null;
}

@ObjectType('Dataset', { description: 'A dataset of records keyed to space grains, owned by one department.' })
export class DatasetModel {
  @Field(() => ID) id!: string;
  @Field(() => String) title!: string;
  @Field(() => String) titleZh!: string;
  @Field(() => String) description!: string;
  @Field(() => String) ownerOrg!: string;
  @Field(() => String) ownerName!: string;
  @Field(() => String, { description: 'room, box or segment' }) grainKind!: string;
  @Field(() => GradeEnum) grade!: GradeEnum;
  @Field(() => PersonalEnum) personal!: PersonalEnum;
  @Field(() => OpenClassEnum) openClass!: OpenClassEnum;
  @Field(() => Date) updatedAt!: Date;
  @Field(() => [DatasetFieldModel]) fields!: DatasetFieldModel[];
}
