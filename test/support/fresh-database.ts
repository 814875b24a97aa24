/**
 * A new, empty database on the integration test server (deploy/postgres/with-postgres.sh). Specs that start
 * gateways need one of their own: a database's provenance log is bound to the log key of the first gateway
 * that opened it, and every spec's gateways bring their own key.
 */
import { PostgresDb } from '../../src/store/postgres.adapter.js';

let counter = 0;

export async function freshDatabase(baseUrl: string, prefix = 'citygate_spec'): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const admin = await PostgresDb.open(baseUrl);
  try {
    await admin.exec(`create database ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by freshDatabase (its gateways closed first). */
export async function dropDatabase(baseUrl: string, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const admin = await PostgresDb.open(baseUrl, 1);
  try {
    await admin.exec(`drop database if exists ${name}`);
  } finally {
    await admin.close();
  }
}
