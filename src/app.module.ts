import { ReceiptTokens } from './ledger/receipt-tokens.js';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
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
import { EncryptedApprovalsService } from './encrypted/encrypted-approvals.service.js';
import { EncryptedUploadsService } from './encrypted/encrypted-uploads.service.js';
import { EncryptedColumnsService } from './encrypted/encrypted-columns.service.js';
import { GrantsService } from './grants/grants.service.js';
import { PrivateAggregateService } from './jobs/dp/private-aggregate.service.js';
import { DB } from './store/db.port.js';
import { RESOLVERS } from './graphql/schema.js';
import { ConsumersService } from './consumers/consumers.service.js';
import { RateLimiter } from './consumers/rate-limiter.js';
import { DownloadsController } from './downloads/downloads.controller.js';
import { DownloadsService } from './downloads/downloads.service.js';
import { IdentityService } from './identity/identity.service.js';
import { GatewayMetrics } from './ops/metrics.js';
import { OpsController } from './ops/ops.controller.js';
import { Readiness } from './ops/readiness.js';
import { installRequestLog, type RequestLogLine } from './ops/request-log.js';
import { DeadlineInterceptor, RequestDeadlines, socketTimeoutMs } from './ops/request-deadline.js';
import { registerConsole } from './console/console.static.js';
import { JobsModule } from './jobs/jobs.module.js';

export interface AppOptions {
  /** Where to write the generated schema (schema.gql); false keeps it in memory. */
  schemaFile?: string | false;
  logger?: boolean;
  /** Where request log lines go (default: the Nest logger, context "Request"). */
  requestLog?: (line: RequestLogLine) => void;
  /** Tests only: how long past its deadline a resolver may take to answer itself (ops/request-deadline.ts). */
  resolverGraceMs?: number;
}

@Module({})
export class AppModule {
  static register(gw: Gateway, opts: AppOptions, deadlines: RequestDeadlines): DynamicModule {
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
            deadline: deadlines.deadlineOf(request),
            receipts: [],
            headerPurpose: headerPurpose(request),
            releasedRows: 0,
          }),
          hooks: gatewayHooks(
            gw.identity,
            config.maxPageSize,
            {
              limiter: gw.limiter,
              subjectOf: (requester, address) => gw.rateSubject(requester, address),
            },
            (index, leafHash) => gw.receiptTokens.issue(index, leafHash),
          ) as unknown as MercuriusDriverConfig['hooks'],
          errorFormatter: formatErrors as unknown as MercuriusDriverConfig['errorFormatter'],
        }),
        JobsModule.register(gw.jobs),
      ],
      controllers: [HttpController, OpsController, DownloadsController],
      providers: [
        { provide: APP_FILTER, useClass: PassThroughFilter },
        { provide: RequestDeadlines, useValue: deadlines },
        { provide: APP_INTERCEPTOR, useClass: DeadlineInterceptor },
        { provide: CONFIG, useValue: config },
        { provide: DB, useValue: gw.db },
        { provide: CatalogueService, useValue: gw.catalogue },
        { provide: AccessService, useValue: gw.access },
        { provide: DataService, useValue: gw.data },
        { provide: EncryptedColumnsService, useValue: gw.encrypted },
        { provide: EncryptedApprovalsService, useValue: gw.encryptedApprovals },
        { provide: EncryptedUploadsService, useValue: gw.encryptedUploads },
        { provide: GrantsService, useValue: gw.grantsService },
        { provide: PrivateAggregateService, useValue: gw.privateAggregates },
        { provide: PROVENANCE_LOG, useValue: gw.log },
        { provide: ReceiptTokens, useValue: gw.receiptTokens },
        { provide: AuditService, useValue: gw.audit },
        { provide: IdentityService, useValue: gw.identity },
        { provide: ConsumersService, useValue: gw.consumers },
        { provide: RateLimiter, useValue: gw.limiter },
        { provide: DownloadsService, useValue: gw.downloads },
        { provide: GatewayMetrics, useValue: gw.metrics },
        { provide: Readiness, useValue: gw.readiness },
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
    // Fastify's own request lines carry URLs (a GET query string holds arguments): ops/request-log.ts logs instead.
    logController: new LogController({ disableRequestLogging: true }),
    // The socket idle timeout lies beyond every deadline answer (ops/request-deadline.ts): a caller gets
    // DEADLINE_EXCEEDED, never a closed socket.
    connectionTimeout: socketTimeoutMs(gw.config.requestTimeoutMs),
  });
  const fastify = adapter.getInstance();
  const deadlines = new RequestDeadlines(() => gw.config.requestTimeoutMs, gw.deliveries, opts.resolverGraceMs);
  gw.deliveries.install(fastify);
  deadlines.install(fastify);
  installRequestLog(fastify, gw.metrics, opts.requestLog);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(gw, opts, deadlines), adapter, {
    logger: opts.logger ? ['error', 'warn', 'log'] : ['error'],
  });
  registerConsole(app, gw.config.consoleDir);
  await app.init();
  return app;
}
