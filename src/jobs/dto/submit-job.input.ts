import { Field, InputType } from '@nestjs/graphql';
import { HierarchyLevelEnum, PurposeEnum } from '../../query/dto/records.args.js';
import { JobLanguageEnum, JobRunOnEnum } from '../models/job.model.js';

@InputType('JobOutputKeyInput', {
  description:
    'A key column of a declared output table and its domain: exactly one of level (the official unit ids of a ' +
    'hierarchy level), field (the code list of a catalogue field the job reads) or values (a fixed list).',
})
export class JobOutputKeyInput {
  @Field(() => String, { description: 'the column name (lower case, digits, _)' }) column!: string;
  @Field(() => HierarchyLevelEnum, { nullable: true, description: 'keys are unit ids of this level' })
  level?: HierarchyLevelEnum | null;
  @Field(() => String, { nullable: true, description: 'with level: only the units inside this unit id' })
  within?: string | null;
  @Field(() => String, { nullable: true, description: 'keys are the code list of this field (its categories)' })
  field?: string | null;
  @Field(() => [String], { nullable: true, description: 'keys are these values (not on DP datasets)' })
  values?: string[] | null;
}

@InputType('JobOutputSumInput', { description: 'A sum the gateway computes per cell over a numeric field.' })
export class JobOutputSumInput {
  @Field(() => String, { description: 'the column name' }) column!: string;
  @Field(() => String, { description: 'the summed field (one of the job’s fields)' }) field!: string;
}

@InputType('JobOutputTableInput', {
  description:
    'An output table declared before the code runs: its keys and sums. The code assigns each record to a row; ' +
    'the gateway builds every row, computes the counts and sums, and checks them (docs/sandbox-jobs.md).',
})
export class JobOutputTableInput {
  @Field(() => String, { description: 'the table name (lower case, digits, _)' }) name!: string;
  @Field(() => [JobOutputKeyInput]) keys!: JobOutputKeyInput[];
  @Field(() => [JobOutputSumInput], { nullable: true, defaultValue: [] }) sums?: JobOutputSumInput[] | null;
  @Field(() => Boolean, { defaultValue: true, description: 'margin rows (Total), computed by the gateway' })
  margins!: boolean;
}

@InputType('SubmitJobInput')
export class SubmitJobInput {
  @Field(() => String) datasetId!: string;
  @Field(() => [String], { description: 'the fields the code reads (record_id and the hierarchy ids come too)' })
  fields!: string[];
  @Field(() => PurposeEnum, { nullable: true }) purpose?: PurposeEnum | null;
  @Field(() => String, {
    description:
      'exports run(input) → { tables }: per declared table, one row of keys per record (docs/sandbox-jobs.md)',
  })
  code!: string;
  @Field(() => JobLanguageEnum, { defaultValue: JobLanguageEnum.JS }) language!: JobLanguageEnum;
  @Field(() => JobRunOnEnum, { defaultValue: JobRunOnEnum.DUMMY }) runOn!: JobRunOnEnum;
  @Field(() => [JobOutputTableInput], {
    description:
      'the output tables, declared before the code sees data; on datasets released with differential privacy ' +
      'their counts and sums are noised',
  })
  outputs!: JobOutputTableInput[];
}
