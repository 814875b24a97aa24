#!/usr/bin/env node
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConsoleLogger, Logger, type LogLevel } from '@nestjs/common';
import { Command, Option } from 'commander';
import { ROLES, type Role } from '../access/decision.js';
import { createApp } from '../app.module.js';
import { HeError } from '../encrypted/encrypted.errors.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { buildGateway } from '../gateway.js';
import { generateSchemaSdl } from '../graphql/schema.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../identity/api-keys.js';
import { LocalIssuer } from '../identity/local-issuer.js';
import { seedDemoCity } from '../spatial/demo-city.seeder.js';
import { progressBar } from '../spatial/progress.js';
import { openDb } from '../store/db.factory.js';
import { openLogKey } from '../ledger/log-key.js';
import { FILE_LOG_DIR, openLogStorage } from '../ledger/verifiable-log.factory.js';
import { FileLogStorage } from '../ledger/storage/file-log-storage.adapter.js';
import { verifyLogIntegrity } from '../ledger/integrity.js';
import { StoreLogWitness } from '../ledger/store-witness.js';
import { auditStorage, verifyBundle, verifyCheckpoint, type ReceiptBundle } from '../ledger/verifier.js';
import type { SignedTreeHead } from '../ledger/signed-tree-head.js';
import type { ConsistencyProof } from '../ledger/provenance-log.port.js';
import { registerHeCommands } from './he.commands.js';
import { CONSUMER_TIERS, ConsumersRepository, type ConsumerTier } from '../consumers/consumers.repository.js';

const program = new Command('citygate').description('CityGate: a policy-enforced gateway for a city’s spatial data.');

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

program
  .command('serve', { isDefault: true })
  .description('start the gateway (embedded defaults: PGlite in ./var, local token issuer, demo city)')
  .action(async () => {
    const cfg = config();
    // One JSON object per line (request lines included), for log shippers; never data values.
    Logger.overrideLogger(new ConsoleLogger({ json: true, logLevels: logLevels(cfg.logLevel) }));
    const gw = await buildGateway(cfg, { progress: true, processMetrics: true });
    const app = await createApp(gw, { logger: true });
    await app.listen(cfg.port, cfg.host);
    const bound = app.getHttpServer().address();
    const url = `http://${cfg.host}:${typeof bound === 'object' && bound ? bound.port : cfg.port}/graphql`;
    console.log(`\nCityGate is listening on ${url}`);
    console.log(`Web console: http://${cfg.host}:${cfg.port}/console/`);
    if (gw.identity.localIssuer) {
      console.log('Mint a demo token:  npm run citygate -- token --org planning-bureau --role analyst');
    }
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`${signal}: draining requests (up to ${cfg.shutdownGraceMs} ms), then closing the log and store`);
      gw.readiness.startDraining();
      const server = app.getHttpServer();
      // Stop accepting and wait for in-flight requests; past the grace period, cut what is left.
      const deadline = setTimeout(() => server.closeAllConnections(), cfg.shutdownGraceMs);
      // SEAL work still running near the end of the grace period is stopped (its threads terminated), so its
      // request answers UNAVAILABLE before the connections are cut.
      const sealStop = setTimeout(() => void gw.encrypted.close(), Math.max(0, cfg.shutdownGraceMs - 1_000));
      let code = 0;
      try {
        await app.close();
      } catch (err) {
        console.error(`closing the server: ${(err as Error).message}`);
        code = 1;
      } finally {
        clearTimeout(deadline);
        clearTimeout(sealStop);
      }
      try {
        await gw.close(); // flushes queued provenance records, then closes the store
      } catch (err) {
        console.error(`closing the log and store: ${(err as Error).message}`);
        code = 1;
      }
      console.log(`${signal}: closed`);
      process.exit(code);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });

function logLevels(level: Config['logLevel']): LogLevel[] {
  const all: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug'];
  return all.slice(0, all.indexOf(level) + 1);
}

program
  .command('token')
  .description('mint a bearer token for a demo identity from the local issuer')
  .requiredOption('--org <org>', 'department id, e.g. planning-bureau')
  .addOption(new Option('--role <role...>', 'one or more roles').choices([...ROLES]).makeOptionMandatory())
  .option('--sub <sub>', 'subject id (default: <role>@<org>)')
  .option('--ttl <seconds>', 'lifetime in seconds (at most CITYGATE_TOKEN_MAX_LIFETIME_SECONDS, 12 h)', '3600')
  .action(async (opts: { org: string; role: Role[]; sub?: string; ttl: string }) => {
    const cfg = config();
    if (cfg.jwksUrl) {
      console.error('JWKS_URL is set: tokens come from your identity provider, not from citygate.');
      process.exit(2);
    }
    const ttl = Number(opts.ttl);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > cfg.tokenMaxLifetimeSeconds) {
      console.error(
        `--ttl must be a whole number of seconds from 1 to ${cfg.tokenMaxLifetimeSeconds} ` +
          '(CITYGATE_TOKEN_MAX_LIFETIME_SECONDS): the gateway refuses longer-lived tokens.',
      );
      process.exit(2);
    }
    const issuer = await LocalIssuer.open(cfg);
    const token = await issuer.mint({
      sub: opts.sub ?? `${opts.role[0]}@${opts.org}`,
      org: opts.org,
      roles: opts.role,
      ttlSeconds: ttl,
    });
    console.log(token);
  });

program
  .command('schema')
  .description('write the GraphQL schema (SDL) generated from the resolvers')
  .option('--out <file>', 'output file (default: stdout)')
  .option('--check', 'fail if the file differs from the generated schema')
  .action(async (opts: { out?: string; check?: boolean }) => {
    const sdl = await generateSchemaSdl();
    if (!opts.out) {
      process.stdout.write(sdl);
      return;
    }
    if (opts.check) {
      const current = fs.existsSync(opts.out) ? fs.readFileSync(opts.out, 'utf8') : '';
      if (current !== sdl) {
        console.error(`${opts.out} is out of date: run npm run schema and commit it.`);
        process.exit(1);
      }
      console.log(`${opts.out} matches the resolvers.`);
      return;
    }
    fs.writeFileSync(opts.out, sdl);
    console.log(`wrote ${opts.out}`);
  });

program
  .command('seed')
  .description('generate the demo city into the configured store (deterministic from the seed)')
  .option('--rooms <n>', 'number of rooms', (v) => Number(v))
  .option('--seed <seed>', 'generator seed')
  .action(async (opts: { rooms?: number; seed?: string }) => {
    const cfg = config();
    const db = await openDb(cfg);
    const stats = await seedDemoCity(db, {
      rooms: opts.rooms ?? cfg.demo.rooms,
      seed: opts.seed ?? cfg.demo.seed,
      onProgress: progressBar('demo city'),
    });
    console.log(JSON.stringify(stats, null, 2));
    await db.close();
  });

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    console.error(`cannot read ${what} from ${file}: ${(err as Error).message}`);
    process.exit(2);
  }
}

const logCmd = program.command('log').description('the verifiable provenance log');
logCmd
  .command('public-key')
  .description("print the log's public key (PEM; --jwk for JWK), for auditors and `citygate verify`")
  .option('--jwk', 'print a JWK instead of PEM')
  .action((opts: { jwk?: boolean }) => {
    const key = openLogKey(config().dataDir);
    console.log(opts.jwk ? JSON.stringify(key.jwk) : key.pem.trim());
  });

program
  .command('verify')
  .description(
    'verify offline, with only the log public key: a receipt bundle, or a saved checkpoint against a newer tree head',
  )
  .requiredOption('--public-key <file>', "the log's public key (PEM or JWK file)")
  .option('--bundle <file>', 'a receipt bundle (JSON from the receiptBundle query)')
  .option('--checkpoint <file>', 'a signed tree head saved earlier')
  .option('--tree-head <file>', 'a newer signed tree head (with --checkpoint)')
  .option('--proof <file>', 'a consistency proof between them (with --checkpoint)')
  .action((opts: { publicKey: string; bundle?: string; checkpoint?: string; treeHead?: string; proof?: string }) => {
    const text = fs.readFileSync(opts.publicKey, 'utf8').trim();
    const key = text.startsWith('{') ? (JSON.parse(text) as webcrypto.JsonWebKey) : text;
    let verdict;
    if (opts.bundle) verdict = verifyBundle(readJson<ReceiptBundle>(opts.bundle, 'a receipt bundle'), key);
    else if (opts.checkpoint && opts.treeHead) {
      verdict = verifyCheckpoint(
        readJson<SignedTreeHead>(opts.checkpoint, 'a checkpoint'),
        readJson<SignedTreeHead>(opts.treeHead, 'a tree head'),
        opts.proof ? readJson<ConsistencyProof>(opts.proof, 'a consistency proof') : null,
        key,
      );
    } else {
      console.error('give --bundle, or --checkpoint with --tree-head (and --proof)');
      process.exit(2);
    }
    if (verdict.ok) console.log('OK: verified with the log public key');
    else {
      console.error(`FAILED: ${verdict.reason}`);
      process.exit(1);
    }
  });

const auditCmd = program.command('audit').description('auditors’ tools');
auditCmd
  .command('verify')
  .description(
    'recompute the tree from storage and check every signed tree head; locates changed, dropped or reordered records (stop the gateway first when the log is in files)',
  )
  .action(async () => {
    const cfg = config();
    const key = openLogKey(cfg.dataDir);
    const storage = await openLogStorage(cfg);
    try {
      const report = await auditStorage(storage, key.pem, {
        onProgress: (done: number, total: number) => {
          if (total > 0 && (done === total || done % 100_000 === 0))
            process.stderr.write(`audit: ${done}/${total} leaves\n`);
        },
      });
      for (const f of report.findings)
        console.log(`- ${f.kind}${f.index !== undefined ? ` at leaf ${f.index}` : ''}: ${f.message}`);
      if (report.findingsOmitted) console.log(`- ... and ${report.findingsOmitted} more`);
      if (report.suspect) console.log(`suspect leaves: ${report.suspect.first}..${report.suspect.last}`);
      // What the gateway checks on opening: the storage's own findings (acknowledgement mark, both copies of
      // the heads) and the store's witness, which catch deleted heads and a log truncated consistently.
      const db = await openDb(cfg);
      let integrity: Awaited<ReturnType<typeof verifyLogIntegrity>>;
      try {
        const witness = new StoreLogWitness(db);
        const seen = await witness.load(key.logId);
        integrity = await verifyLogIntegrity(storage, key.pem, {
          witnessHead: seen.head,
          known: seen.verified,
          witnessName: witness.name,
        });
      } finally {
        await db.close();
      }
      if (!integrity.ok) console.log(`- integrity: ${integrity.reason}`);
      const ok = report.ok && integrity.ok;
      console.log(
        `${ok ? 'OK' : 'TAMPERED'}: ${report.leavesChecked} of ${report.size} leaves and ${report.treeHeadsChecked} signed tree heads checked`,
      );
      if (!ok) process.exitCode = 1;
    } finally {
      await storage.close();
    }
  });
auditCmd
  .command('accept-log')
  .description(
    "after restoring the log from a backup on purpose: make the store's witness accept the log as it is now (it must verify on its own); the gateway must be stopped",
  )
  .requiredOption('--reason <text>', 'why (kept in the store with the time)')
  .action(async (opts: { reason: string }) => {
    const cfg = config();
    const key = openLogKey(cfg.dataDir);
    const storage = cfg.databaseUrl
      ? await openLogStorage(cfg)
      : await FileLogStorage.open(path.join(cfg.dataDir, FILE_LOG_DIR), { adoptMissingMark: true });
    const db = await openDb(cfg);
    try {
      const verdict = await verifyLogIntegrity(storage, key.pem);
      if (!verdict.ok) {
        console.error(`refused: the log does not verify on its own: ${verdict.reason}`);
        process.exitCode = 1;
        return;
      }
      const heads = await storage.treeHeads();
      await db.query(`delete from kv where key in ($1, $2)`, [`log-head:${key.logId}`, `log-verified:${key.logId}`]);
      const witness = new StoreLogWitness(db);
      const latest = heads[heads.length - 1];
      if (latest) await witness.saveHead(key.logId, latest);
      await witness.saveVerified(key.logId, { size: verdict.size, root: verdict.root });
      await db.query(`insert into kv (key, value) values ($1, $2::jsonb)`, [
        `log-accepted:${key.logId}:${new Date().toISOString()}`,
        JSON.stringify({ reason: opts.reason, size: verdict.size, root: verdict.root }),
      ]);
      console.log(`accepted: the log of ${verdict.size} records is now what the witness expects (${opts.reason})`);
    } finally {
      await db.close();
      await storage.close();
    }
  });

const apikey = program.command('apikey').description('API keys for public open-data consumers');
apikey
  .command('create')
  .requiredOption('--label <label>', 'who the key is for')
  .action(async (opts: { label: string }) => {
    const db = await openDb(config());
    const k = await createApiKey(db, opts.label);
    console.log(`API key ${k.id} (${k.label}); shown once, keep it safe:\n${k.key}`);
    await db.close();
  });
apikey.command('list').action(async () => {
  const db = await openDb(config());
  console.table(await listApiKeys(db));
  await db.close();
});
apikey.command('revoke <id>').action(async (id: string) => {
  const db = await openDb(config());
  console.log((await revokeApiKey(db, id)) ? `revoked ${id}` : `no active key ${id}`);
  await db.close();
});

const consumer = program.command('consumer').description('self-registered open-data consumers (docs/open-data.md)');
consumer.command('list').action(async () => {
  const db = await openDb(config());
  console.table(
    (await new ConsumersRepository(db).list()).map((c) => ({
      id: c.id,
      apiKeyId: c.apiKeyId,
      name: c.name,
      email: c.email,
      tier: c.tier,
      createdAt: c.createdAt,
      revokedAt: c.revokedAt,
    })),
  );
  await db.close();
});
consumer
  .command('tier <consumerId>')
  .description("set a consumer's rate-limit tier")
  .addOption(new Option('--tier <tier>', 'the new tier').choices([...CONSUMER_TIERS]).makeOptionMandatory())
  .action(async (id: string, opts: { tier: ConsumerTier }) => {
    const db = await openDb(config());
    const ok = await new ConsumersRepository(db).setTier(id, opts.tier);
    console.log(ok ? `consumer ${id} is now ${opts.tier} (instances pick it up within 5 s)` : `no consumer ${id}`);
    await db.close();
    if (!ok) process.exitCode = 1;
  });

registerHeCommands(program);

program.parseAsync().catch((err: unknown) => {
  // An encrypted-column error's detail (e.g. `row 0: 13.4 is not a whole number`) is the user's own input here.
  if (err instanceof HeError) console.error(`${err.message}: ${err.detail}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
