import { Field, InputType } from '@nestjs/graphql';
import { PurposeEnum } from '../../query/dto/records.args.js';
import { JobLanguageEnum, JobRunOnEnum } from '../models/job.model.js';

@InputType('SubmitJobInput')
export class SubmitJobInput {
  @Field(() => String) datasetId!: string;
  @Field(() => [String], { description: 'the fields the code reads (record_id and the hierarchy ids come too)' })
  fields!: string[];
  @Field(() => PurposeEnum, { nullable: true }) purpose?: PurposeEnum | null;
  @Field(() => String, { description: 'exports run(input) → { tables }; see docs/sandbox-jobs.md' }) code!: string;
  @Field(() => JobLanguageEnum, { defaultValue: JobLanguageEnum.JS }) language!: JobLanguageEnum;
  @Field(() => JobRunOnEnum, { defaultValue: JobRunOnEnum.DUMMY }) runOn!: JobRunOnEnum;
}
