/**
 * The jobs feature as a Nest module: provides the gateway's one JobsService to JobsResolver (which is listed with
 * the other resolvers in graphql/schema.ts, so that schema.gql is generated from the same list).
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { JobsService } from './jobs.service.js';

@Module({})
export class JobsModule {
  static register(service: JobsService): DynamicModule {
    return {
      module: JobsModule,
      providers: [{ provide: JobsService, useValue: service }],
      exports: [JobsService],
    };
  }
}
