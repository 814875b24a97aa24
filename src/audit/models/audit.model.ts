import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';

@InputType({ description: 'Filters of the trail; all optional.' })
export class TrailFilterInput {
  @Field(() => String, {
    nullable: true,
    description: 'access, grant-applied, grant-approved, grant-rejected, grant-revoked or grant-expired',
  })
  kind?: string | null;
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

@ObjectType('TrailEntry', {
  description: 'One provenance record: metadata of a decision or of a grant step, never data values.',
})
export class TrailEntryModel {
  @Field(() => Int) index!: number;
  @Field(() => String, {
    description:
      'access (a request for data), a grant step (grant-applied, grant-approved, grant-rejected, grant-revoked, grant-expired), an owner step on encrypted computations (he-approved, he-refused, he-rule-set, he-rule-revoked), or release.undelivered (a logged release whose response did not reach its caller)',
  })
  kind!: string;
  @Field(() => Date) at!: Date;
  @Field(() => String) sub!: string;
  @Field(() => String, { nullable: true }) org!: string | null;
  @Field(() => [String]) roles!: string[];
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => String) dataset!: string;
  @Field(() => String, { nullable: true, description: 'null for grant steps' }) mode!: string | null;
  @Field(() => [String], { description: 'requested fields; for grant steps, the fields applied for or granted' })
  fields!: string[];
  @Field(() => String, { nullable: true, description: 'null for grant steps' }) tier!: string | null;
  @Field(() => Boolean) released!: boolean;
  @Field(() => String, { nullable: true }) refusal!: string | null;
  @Field(() => String, { nullable: true }) grantId!: string | null;
  @Field(() => Int) rows!: number;
  @Field(() => String, { nullable: true }) within!: string | null;
  @Field(() => [String]) reasons!: string[];
  @Field(() => String, { nullable: true, description: 'grant steps: the application' }) applicationId!: string | null;
  @Field(() => [String], { nullable: true, description: 'grant steps: the extent applied for or granted' })
  extent!: string[] | null;
  @Field(() => String, {
    nullable: true,
    description:
      'grant steps: why it was rejected or revoked; release.undelivered: why, and which release (e.g. "deadline: release #42")',
  })
  reason!: string | null;
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
