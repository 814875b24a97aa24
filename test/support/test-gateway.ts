/**
 * Test helper: a whole gateway (real PGlite, real OPA wasm bundle, real casbin, real provenance table)
 * on an in-memory store with a small demo city, driven through HTTP injection (no sockets).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Role } from '../../src/access/decision.js';
import { createApp, type AppOptions } from '../../src/app.module.js';
import { loadConfig } from '../../src/config/config.js';
import { buildGateway, type Gateway, type GatewayOverrides } from '../../src/gateway.js';
import { PgliteDb } from '../../src/store/pglite.adapter.js';
import { PostgresDb } from '../../src/store/postgres.adapter.js';
import { migrate } from '../../src/store/migrate.js';
import type { Db } from '../../src/store/db.port.js';

/** Rate limits far beyond what any test sends. */
export const NO_RATE_LIMITS = JSON.stringify(
  Object.fromEntries(['anonymous', 'open', 'partner', 'department'].map((t) => [t, { operations: 2e9, records: 2e9 }])),
);

export interface GqlResult {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
    extensions?: {
      receipts?: { index: number; leafHash: string; dataset: string; released: boolean; token?: string }[];
    };
  };
  raw: string;
}

export interface TestGateway {
  gw: Gateway;
  app: NestFastifyApplication;
  gql(
    query: string,
    variables?: Record<string, unknown>,
    auth?: { token?: string; apiKey?: string; headers?: Record<string, string>; remoteAddress?: string },
  ): Promise<GqlResult>;
  token(org: string, roles: Role[], opts?: { sub?: string; ttlSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(
  opts: {
    rooms?: number;
    env?: Record<string, string>;
    overrides?: GatewayOverrides;
    postgresUrl?: string;
    /** Share another instance's data directory (its log and issuer keys), as instances of one deployment do. */
    dataDir?: string;
    /** Options of the Nest app (e.g. a request-log sink). */
    app?: AppOptions;
    /** Use this open store and leave it open on close (a restart of the gateway on the same data). */
    db?: Db;
  } = {},
): Promise<TestGateway> {
  Logger.overrideLogger(['error', 'warn']);
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-test-'));
  const config = loadConfig({
    CITYGATE_DATA_DIR: dataDir,
    CITYGATE_DEMO_ROOMS: String(opts.rooms ?? 3000),
    ...(opts.postgresUrl ? { DATABASE_URL: opts.postgresUrl } : {}),
    // Tests that are not about rate limits are not limited; those that are set their own.
    CITYGATE_RATE_LIMITS: NO_RATE_LIMITS,
    ...opts.env,
  });
  let db: Db;
  if (opts.db) db = opts.db;
  else if (opts.postgresUrl) db = await PostgresDb.open(opts.postgresUrl);
  else db = await PgliteDb.open(null);
  await migrate(db);
  const gw = await buildGateway(config, { db, ...opts.overrides });
  const app = await createApp(gw, { logger: false, ...opts.app });
  const fastify = app.getHttpAdapter().getInstance();
  return {
    gw,
    app,
    async gql(query, variables, auth = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...auth.headers };
      if (auth.token) headers.authorization = `Bearer ${auth.token}`;
      if (auth.apiKey) headers['x-api-key'] = auth.apiKey;
      const res = await fastify.inject({
        method: 'POST',
        url: '/graphql',
        headers,
        payload: JSON.stringify({ query, variables }),
        ...(auth.remoteAddress ? { remoteAddress: auth.remoteAddress } : {}),
      });
      return { status: res.statusCode, body: JSON.parse(res.body) as GqlResult['body'], raw: res.body };
    },
    async token(org, roles, o = {}) {
      if (!gw.identity.localIssuer) throw new Error('no local issuer');
      return gw.identity.localIssuer.mint({
        sub: o.sub ?? `${roles[0]}@${org}`,
        org,
        roles,
        ttlSeconds: o.ttlSeconds ?? 600,
      });
    },
    async close() {
      await app.close();
      await gw.close();
      if (!opts.db) await db.close();
      if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function errorCode(r: GqlResult): string | undefined {
  return r.body.errors?.[0]?.extensions?.code;
}
