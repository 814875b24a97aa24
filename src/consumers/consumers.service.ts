import { randomUUID } from 'node:crypto';
import type { Config, RateTier, TierLimits } from '../config/config.js';
import { badInput, forbidden, notFound } from '../errors/domain.error.js';
import { createApiKey, revokeApiKey } from '../identity/api-keys.js';
import type { Requester } from '../identity/requester.js';
import type { Db } from '../store/db.port.js';
import { ConsumersRepository, type Consumer, type ConsumerTier } from './consumers.repository.js';
import type { RateLimiter } from './rate-limiter.js';

export interface Registration {
  consumer: Consumer;
  /** The plaintext API key: returned once, stored only as a hash. */
  apiKey: string;
  limits: TierLimits & { windowSeconds: number };
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const TIER_CACHE_MS = 5_000;

/**
 * Self-service consumers of open data: registration returns an API key once (tier `open`); the holder or an
 * admin can revoke it; an admin sets tiers. Registration is rate-limited per client address.
 */
export class ConsumersService {
  private readonly repo: ConsumersRepository;
  private readonly tierCache = new Map<string, { tier: RateTier; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly limiter: RateLimiter,
    private readonly config: Config,
  ) {
    this.repo = new ConsumersRepository(db);
  }

  async register(
    input: { name: string; email: string; intendedUse: string },
    clientAddress: string,
  ): Promise<Registration> {
    const name = text(input.name, 'name', 200);
    const intendedUse = text(input.intendedUse, 'intendedUse', 1000);
    const email = typeof input.email === 'string' ? input.email.trim() : '';
    if (email.length > 254 || !EMAIL.test(email)) throw badInput('email must be a valid e-mail address.');
    await this.limiter.registration(clientAddress);
    const { consumer, apiKey } = await this.db.transaction(async (tx) => {
      const key = await createApiKey(tx, `consumer: ${name}`.slice(0, 200));
      const c = { id: randomUUID(), apiKeyId: key.id, name, email, intendedUse, tier: 'open' as const };
      await this.repo.insert(tx, c);
      return { consumer: { ...c, createdAt: new Date(), revokedAt: null }, apiKey: key.key };
    });
    return { consumer, apiKey, limits: this.limitsOf(consumer.tier) };
  }

  /** The calling key's own consumer record (API-key callers only). */
  async mine(requester: Requester): Promise<Consumer> {
    const c = requester.via === 'api-key' ? await this.repo.byApiKey(keyId(requester)) : null;
    if (!c) throw forbidden('Only a registered consumer key can ask this.');
    return c;
  }

  /** Revokes the key that made this request. */
  async revokeOwn(requester: Requester): Promise<boolean> {
    if (requester.via !== 'api-key') throw forbidden('Send the API key to revoke in X-Api-Key.');
    const id = keyId(requester);
    this.tierCache.delete(id);
    return revokeApiKey(this.db, id);
  }

  /** Admin: revokes any API key by its id. */
  async revoke(requester: Requester, apiKeyId: string): Promise<boolean> {
    assertAdmin(requester);
    this.tierCache.delete(apiKeyId);
    return revokeApiKey(this.db, apiKeyId);
  }

  /** Admin: sets a consumer's tier. */
  async setTier(requester: Requester, consumerId: string, tier: ConsumerTier): Promise<Consumer> {
    assertAdmin(requester);
    if (!(await this.repo.setTier(consumerId, tier))) throw notFound('No such consumer.');
    const c = (await this.repo.byId(consumerId)) as Consumer;
    this.tierCache.delete(c.apiKeyId);
    return c;
  }

  /** The rate tier of an API key: its consumer's tier, `open` for keys made with the CLI. Cached briefly. */
  async tierOfKey(apiKeyId: string): Promise<RateTier> {
    const now = Date.now();
    const hit = this.tierCache.get(apiKeyId);
    if (hit && hit.until > now) return hit.tier;
    const tier = (await this.repo.byApiKey(apiKeyId))?.tier ?? 'open';
    if (this.tierCache.size > 10_000) this.tierCache.clear();
    this.tierCache.set(apiKeyId, { tier, until: now + TIER_CACHE_MS });
    return tier;
  }

  limitsOf(tier: RateTier): TierLimits & { windowSeconds: number } {
    return { ...this.config.rateLimits.tiers[tier], windowSeconds: this.config.rateLimits.windowSeconds };
  }
}

function keyId(requester: Requester): string {
  return requester.sub.slice('apikey:'.length);
}

function assertAdmin(requester: Requester): void {
  if (!(requester.via === 'jwt' && requester.roles.includes('admin'))) throw forbidden('Admins only.');
}

function text(v: unknown, field: string, max: number): string {
  const s = typeof v === 'string' ? v.trim() : '';
  if (s.length === 0 || s.length > max) throw badInput(`${field} must be 1 to ${max} characters.`);
  if (CONTROL.test(s)) throw badInput(`${field} must not contain control characters.`);
  return s;
}
