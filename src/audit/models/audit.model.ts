import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';

@InputType({ description: 'Filters of the trail; all optional.' })
export class TrailFilterInput {
  @Field(() => String, { nullable: true }) sub?: string | null;
  @Field(() => String, { nullable: true }) org?: string | null;
  @Field(() => ID, { nullable: true }) dataset?: string | null;
  @Field(() => String, { nullable: true, description: 'e.g. urban-planning' }) purpose?: string | null;
  @Field(() => String, { nullable: true, description: 'auditor, owner, granted, department or public' }) tier?:
    string | null;
  @Field(() => Boolean, { nullable: true, description: 'true: released; false: refused' }) released?: boolean | null;
  @Field(() => Date, { nullable: true }) from?: Date | null;
  @Field(() => Date, { nullable: true }) to?: Date | null;
}

@ObjectType('TrailEntry', { description: 'One provenance record: metadata of a decision, never data values.' })
export class TrailEntryModel {
  @Field(() => Int) index!: number;
  @Field(() => Date) at!: Date;
  @Field(() => String) sub!: string;
  @Field(() => String, { nullable: true }) org!: string | null;
  @Field(() => [String]) roles!: string[];
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => String) dataset!: string;
  @Field(() => String) mode!: string;
  @Field(() => [String]) fields!: string[];
  @Field(() => String) tier!: string;
  @Field(() => Boolean) released!: boolean;
  @Field(() => String, { nullable: true }) refusal!: string | null;
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => Int) rows!: number;
  @Field(() => String, { nullable: true }) within!: string | null;
  @Field(() => [String]) reasons!: string[];
}

@ObjectType('AccessReportLine', { description: 'Requests to one dataset by organisation, purpose and outcome.' })
export class ReportLineModel {
  @Field(() => String, { nullable: true }) org!: string | null;
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => Boolean) released!: boolean;
  @Field(() => Int) requests!: number;
  @Field(() => Int) rows!: number;
}

@ObjectType('AuditFlag', { description: 'Something an auditor should look at.' })
export class FlagModel {
  @Field(() => String, { description: 'burst, repeated-refusals, outside-grant-purpose or outside-grant-extent' })
  kind!: string;
  @Field(() => String) sub!: string;
  @Field(() => String, { nullable: true }) org!: string | null;
  @Field(() => String, { nullable: true }) dataset!: string | null;
  @Field(() => Date) at!: Date;
  @Field(() => Int) count!: number;
  @Field(() => Int, { nullable: true }) index!: number | null;
  @Field(() => String) detail!: string;
}
