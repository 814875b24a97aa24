import type { Db } from './db.port.js';
import { MIGRATIONS, type Migration } from './migrations.js';

const LOCK_ID = 7_340_001; // advisory lock: one migrator at a time across gateway instances

/** Applies pending migrations in one transaction each, under an advisory lock. Returns the ids applied. */
export async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<string[]> {
  await db.exec(
    `create table if not exists schema_migrations (id text primary key, applied_at timestamptz not null default now())`,
  );
  const applied: string[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [LOCK_ID]);
      const rows = await tx.query('select 1 from schema_migrations where id = $1', [m.id]);
      if (rows.length > 0) return false;
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await tx.query('insert into schema_migrations (id) values ($1)', [m.id]);
      return true;
    });
    if (done) applied.push(m.id);
  }
  return applied;
}

/** Splits a migration script into statements; `$$ ... $$` bodies are kept whole. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (line.trim().startsWith('--') && !inDollar) continue;
    const dollars = line.split('$$').length - 1;
    if (dollars % 2 === 1) inDollar = !inDollar;
    cur += line + '\n';
    if (!inDollar && line.trimEnd().endsWith(';')) {
      out.push(cur.trim());
      cur = '';
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
