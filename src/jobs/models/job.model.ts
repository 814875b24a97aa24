import { Field, Float, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { ValueScalar } from '../../graphql/scalars.js';

export enum JobStatusEnum {
  QUEUED = 'queued',
  RUNNING = 'running',
  AWAITING_REVIEW = 'awaiting_review',
  SUCCEEDED = 'succeeded',
  REFUSED = 'refused',
  FAILED = 'failed',
  CANCELLED = 'cancelled',
}
export enum JobLanguageEnum {
  JS = 'js',
  TS = 'ts',
}
export enum JobRunOnEnum {
  DUMMY = 'dummy',
  REAL = 'real',
}
registerEnumType(JobStatusEnum, {
  name: 'JobStatus',
  description: 'QUEUED → RUNNING → SUCCEEDED | REFUSED | FAILED, or AWAITING_REVIEW when the owner reviews releases.',
});
registerEnumType(JobLanguageEnum, { name: 'JobLanguage' });
registerEnumType(JobRunOnEnum, {
  name: 'JobRunOn',
  description: 'DUMMY: synthetic records with the same schema (no checks); REAL: the dataset, checked outputs.',
});

@ObjectType('JobLogLine', { description: 'A line of the job log (sanitised: never a data value of a real run).' })
export class JobLogLineModel {
  @Field(() => String) at!: string;
  @Field(() => String) message!: string;
}

@ObjectType('JobOutputRow')
export class JobOutputRowModel {
  @Field(() => [ValueScalar], { nullable: 'items', description: 'one cell per column; null where suppressed' })
  cells!: (string | number | boolean | null)[];
}

@ObjectType('JobSuppressedCell', { description: 'A cell disclosure control hid, and the rule that hid it.' })
export class JobSuppressedCellModel {
  @Field(() => Int) row!: number;
  @Field(() => String) column!: string;
  @Field(() => String, { description: 'threshold, dominance, p-percent or secondary' }) rule!: string;
}

@ObjectType('JobOutputTable', { description: 'An output table of a job, as released (values are data).' })
export class JobOutputTableModel {
  @Field(() => String) name!: string;
  @Field(() => [String]) columns!: string[];
  @Field(() => [JobOutputRowModel]) rows!: JobOutputRowModel[];
  @Field(() => [JobSuppressedCellModel]) suppressed!: JobSuppressedCellModel[];
}

@ObjectType('JobRefusal', { description: 'Why nothing was released: the rule and the cells it concerns.' })
export class JobRefusalModel {
  @Field(() => String, {
    description:
      'access, record-level, invalid-table, threshold, dominance, p-percent, secondary, unprotectable, differencing or owner-review',
  })
  rule!: string;
  @Field(() => String) reason!: string;
  @Field(() => String, { nullable: true }) table!: string | null;
  @Field(() => [String], { description: 'cell labels (group keys and column), never values' }) cells!: string[];
}

@ObjectType('JobDpSpend', {
  description: 'What a release from a DP dataset drew on the privacy budget (metadata: no data values).',
})
export class JobDpSpendModel {
  @Field(() => String, { description: 'laplace or gaussian (discrete)' }) mechanism!: string;
  @Field(() => Float, { description: 'the epsilon of the release, charged when it was first computed' })
  epsilon!: number;
  @Field(() => Float, { description: 'what this run charged: 0 when the stored noisy tables were returned' })
  epsilonCharged!: number;
  @Field(() => Boolean) cached!: boolean;
  @Field(() => Float, { description: 'the budget spent after this run' }) epsilonSpent!: number;
  @Field(() => Float) epsilonTotal!: number;
  @Field(() => String, { description: 'whose budget (the submitter’s organisation, or public)' }) budgetOrg!: string;
}

@ObjectType('Job', { description: 'A sandbox job: code run over a dataset’s fields, and what it released.' })
export class JobModel {
  @Field(() => ID) id!: string;
  @Field(() => String) datasetId!: string;
  @Field(() => [String]) fields!: string[];
  @Field(() => String, { nullable: true }) purpose!: string | null;
  @Field(() => JobLanguageEnum) language!: JobLanguageEnum;
  @Field(() => JobRunOnEnum) runOn!: JobRunOnEnum;
  @Field(() => Boolean, { description: 'true when the outputs come from dummy (synthetic) data' }) dummy!: boolean;
  @Field(() => JobStatusEnum) status!: JobStatusEnum;
  @Field(() => String) submittedBy!: string;
  @Field(() => String, { description: 'sha256 of the code, as logged' }) codeHash!: string;
  @Field(() => Int) attempts!: number;
  @Field(() => String) createdAt!: string;
  @Field(() => String, { nullable: true }) startedAt!: string | null;
  @Field(() => String, { nullable: true }) finishedAt!: string | null;
  @Field(() => [JobLogLineModel]) log!: JobLogLineModel[];
  @Field(() => [JobOutputTableModel], {
    nullable: true,
    description: 'released tables (for an owner reviewing: the tables waiting for review); null before release',
  })
  outputs!: JobOutputTableModel[] | null;
  @Field(() => JobRefusalModel, { nullable: true }) refusal!: JobRefusalModel | null;
  @Field(() => String, { nullable: true, description: 'why the job failed (sandbox error class, limit)' })
  error!: string | null;
  @Field(() => Int, { nullable: true, description: 'provenance log index of the release or refusal' })
  receiptIndex!: number | null;
  @Field(() => String, { nullable: true, description: 'sha256 of the released tables, as logged' })
  outputHash!: string | null;
  @Field(() => String, { nullable: true }) reviewedBy!: string | null;
  @Field(() => String, { nullable: true }) reviewReason!: string | null;
  @Field(() => JobDpSpendModel, {
    nullable: true,
    description: 'datasets released with differential privacy: the budget the release (or refusal) concerned',
  })
  dpSpend!: JobDpSpendModel | null;
}
