import { Field, ID, InputType, Int, registerEnumType } from '@nestjs/graphql';
import { PurposeEnum } from '../../query/dto/records.args.js';

export enum GrantDecisionEnum {
  approve = 'approve',
  reject = 'reject',
}
registerEnumType(GrantDecisionEnum, { name: 'GrantDecision' });

@InputType({ description: 'An application for a grant on a dataset with conditional (or closed) fields.' })
export class GrantApplicationInput {
  @Field(() => ID) dataset!: string;
  @Field(() => [String], { description: 'fields that need a grant (not the unconditional ones)' }) fields!: string[];
  @Field(() => PurposeEnum) purpose!: PurposeEnum;
  @Field(() => [ID], {
    nullable: true,
    description: 'district, subdistrict or community ids; empty or omitted: the whole city',
  })
  extent?: string[] | null;
  @Field(() => Date, { nullable: true, description: 'default: now' }) validFrom?: Date | null;
  @Field(() => Date, { nullable: true, description: 'exactly one of validUntil and durationDays' })
  validUntil?: Date | null;
  @Field(() => Int, { nullable: true, description: '1 to 366' }) durationDays?: number | null;
  @Field(() => String, { description: 'the law or agreement the sharing rests on' }) legalBasis!: string;
  @Field(() => String, { description: 'who to contact about the application' }) contact!: string;
}

@InputType({ description: 'An approval may narrow the application: each part defaults to what was applied for.' })
export class GrantScopeInput {
  @Field(() => [String], { nullable: true, description: 'a subset of the fields applied for' })
  fields?: string[] | null;
  @Field(() => [ID], { nullable: true, description: 'units within the extent applied for' }) extent?: string[] | null;
  @Field(() => Date, { nullable: true, description: 'no later than applied for' }) validUntil?: Date | null;
}
