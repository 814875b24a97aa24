import { Inject } from '@nestjs/common';
import { Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { DatasetModel } from '../catalogue/models/dataset.model.js';
import { JobsService } from './jobs.service.js';

/** The jobs module's review rule shown on the catalogue's Dataset: policy metadata, so whoever sees the dataset. */
@Resolver(() => DatasetModel)
export class DatasetReviewResolver {
  constructor(@Inject(JobsService) private readonly jobs: JobsService) {}

  @ResolveField(() => Boolean, {
    description:
      'Whether sandbox job releases from this dataset wait for review by an owner of its organisation (setJobReviewRequired).',
  })
  async jobReviewRequired(@Parent() model: DatasetModel): Promise<boolean> {
    return this.jobs.reviewRequired(model.id);
  }
}
