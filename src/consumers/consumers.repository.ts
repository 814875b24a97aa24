import type { RateTier } from '../config/config.js';
import type { Queryable } from '../store/db.port.js';

/** Tiers a consumer's key can hold: `open` on self-registration; an admin may set `partner`. */
export const CONSUMER_TIERS = ['open', 'partner'] as const satisfies readonly RateTier[];
export type ConsumerTier = (typeof CONSUMER_TIERS)[number];

export interface Consumer {
  id: string;
  apiKeyId: string;
  name: string;
  email: string;
  intendedUse: string;
  tier: ConsumerTier;
  createdAt: Date;
  revokedAt: Date | null;
}

interface ConsumerRow {
  id: string;
  api_key_id: string;
  name: string;
  email: string;
  intended_use: string;
  tier: ConsumerTier;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const SELECT = `select c.id, c.api_key_id, c.name, c.email, c.intended_use, c.tier, c.created_at, k.revoked_at
  from consumers c join api_keys k on k.id = c.api_key_id`;

/** The consumers table (self-registered open-data consumers and their tiers). */
export class ConsumersRepository {
  constructor(private readonly db: Queryable) {}

  async insert(tx: Queryable, c: Omit<Consumer, 'createdAt' | 'revokedAt'>): Promise<void> {
    await tx.query(
      `insert into consumers (id, api_key_id, name, email, intended_use, tier) values ($1, $2, $3, $4, $5, $6)`,
      [c.id, c.apiKeyId, c.name, c.email, c.intendedUse, c.tier],
    );
  }

  async byId(id: string): Promise<Consumer | null> {
    const rows = await this.db.query<ConsumerRow>(`${SELECT} where c.id = $1`, [id]);
    return rows[0] ? toConsumer(rows[0]) : null;
  }

  async byApiKey(apiKeyId: string): Promise<Consumer | null> {
    const rows = await this.db.query<ConsumerRow>(`${SELECT} where c.api_key_id = $1`, [apiKeyId]);
    return rows[0] ? toConsumer(rows[0]) : null;
  }

  /** Every consumer, newest first (for the CLI). */
  async list(): Promise<Consumer[]> {
    const rows = await this.db.query<ConsumerRow>(`${SELECT} order by c.created_at desc, c.id`);
    return rows.map(toConsumer);
  }

  async setTier(id: string, tier: ConsumerTier): Promise<boolean> {
    const rows = await this.db.query('update consumers set tier = $2 where id = $1 returning id', [id, tier]);
    return rows.length === 1;
  }
}

function toConsumer(r: ConsumerRow): Consumer {
  return {
    id: r.id,
    apiKeyId: r.api_key_id,
    name: r.name,
    email: r.email,
    intendedUse: r.intended_use,
    tier: r.tier,
    createdAt: new Date(r.created_at),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
  };
}
