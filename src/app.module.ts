import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccessService } from './access/access.service.js';
import { AuditService } from './audit/audit.service.js';
import { CatalogueService } from './catalogue/catalogue.service.js';
import { CONFIG } from './config/config.js';
import type { Gateway } from './gateway.js';
import type { GatewayContext } from './graphql/context.js';
import { formatErrors } from './graphql/error-formatter.js';
import { gatewayHooks } from './graphql/gateway-hooks.js';
import { PassThroughFilter } from './graphql/pass-through.filter.js';
import { HttpController } from './http.controller.js';
import { ANONYMOUS } from './identity/requester.js';
import { PROVENANCE_LOG } from './ledger/provenance-log.port.js';
import { DataService } from './query/data.service.js';
import { EncryptedColumnsService } from './encrypted/encrypted-columns.service.js';
import { DB } from './store/db.port.js';
import { RESOLVERS } from './graphql/schema.js';
import { JobsModule } from './jobs/jobs.module.js';

export interface AppOptions {
  /** Where to write the generated schema (schema.gql); false keeps it in memory. */
  schemaFile?: string | false;
  logger?: boolean;
}

@Module({})
export class AppModule {
  static register(gw: Gateway, opts: AppOptions): DynamicModule {
    const { config } = gw;
    return {
      module: AppModule,
      imports: [
        GraphQLModule.forRoot<MercuriusDriverConfig>({
          driver: MercuriusDriver,
          autoSchemaFile: opts.schemaFile ? opts.schemaFile : true,
          sortSchema: true,
          graphiql: false,
          allowBatchedQueries: false,
          path: '/graphql',
          context: (request: FastifyRequest, reply: FastifyReply): Omit<GatewayContext, never> => ({
            request,
            reply,
            requester: ANONYMOUS,
            deadline: Date.now() + config.requestTimeoutMs,
            receipts: [],
            headerPurpose: headerPurpose(request),
          }),
          hooks: gatewayHooks(gw.identity, config.maxPageSize) as unknown as MercuriusDriverConfig['hooks'],
          errorFormatter: formatErrors as unknown as MercuriusDriverConfig['errorFormatter'],
        }),
        JobsModule.register(gw.jobs),
      ],
      controllers: [HttpController],
      providers: [
        { provide: APP_FILTER, useClass: PassThroughFilter },
        { provide: CONFIG, useValue: config },
        { provide: DB, useValue: gw.db },
        { provide: CatalogueService, useValue: gw.catalogue },
        { provide: AccessService, useValue: gw.access },
        { provide: DataService, useValue: gw.data },
        { provide: EncryptedColumnsService, useValue: gw.encrypted },
        { provide: PROVENANCE_LOG, useValue: gw.log },
        { provide: AuditService, useValue: gw.audit },
        // The same list the schema is generated from (schema.gql).
        ...RESOLVERS,
      ],
    };
  }
}

function headerPurpose(request: FastifyRequest): string | null {
  const h = request.headers['x-purpose'];
  return typeof h === 'string' && h.length > 0 ? h : null;
}

/** Creates the Nest application (not yet listening). */
export async function createApp(gw: Gateway, opts: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: gw.config.bodyLimitBytes,
    logger: opts.logger ? { level: 'info' } : false,
    connectionTimeout: gw.config.requestTimeoutMs + 5_000,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(gw, opts), adapter, {
    logger: opts.logger ? ['error', 'warn', 'log'] : ['error'],
  });
  await app.init();
  return app;
}
