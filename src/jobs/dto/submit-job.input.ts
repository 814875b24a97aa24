import { Field, InputType } from '@nestjs/graphql';
import { PurposeEnum } from '../../query/dto/records.args.js';
import { DpMeasureEnum } from '../dp/dto/private-aggregate.args.js';
import { JobLanguageEnum, JobRunOnEnum } from '../models/job.model.js';

@InputType('JobDpMeasureInput', {
  description: 'A measure column of a job’s tables on a DP dataset: a count, or a sum of a field with declared bounds.',
})
export class JobDpMeasureInput {
  @Field(() => String, { description: 'the output column holding the measure' }) column!: string;
  @Field(() => DpMeasureEnum) kind!: DpMeasureEnum;
  @Field(() => String, { nullable: true, description: 'the summed field (SUM only)' }) field?: string | null;
}

@InputType('SubmitJobInput')
export class SubmitJobInput {
  @Field(() => String) datasetId!: string;
  @Field(() => [String], { description: 'the fields the code reads (record_id and the hierarchy ids come too)' })
  fields!: string[];
  @Field(() => PurposeEnum, { nullable: true }) purpose?: PurposeEnum | null;
  @Field(() => String, { description: 'exports run(input) → { tables }; see docs/sandbox-jobs.md' }) code!: string;
  @Field(() => JobLanguageEnum, { defaultValue: JobLanguageEnum.JS }) language!: JobLanguageEnum;
  @Field(() => JobRunOnEnum, { defaultValue: JobRunOnEnum.DUMMY }) runOn!: JobRunOnEnum;
  @Field(() => [JobDpMeasureInput], {
    nullable: true,
    description:
      'datasets released with differential privacy: the measure columns (counts, bounded sums) the tables hold; ' +
      'the gateway computes and noises them (docs/sandbox-jobs.md)',
  })
  dpMeasures?: JobDpMeasureInput[] | null;
}
