import type { Role } from '../access/decision.js';

/** The authenticated (or anonymous) caller of one request. */
export interface Requester {
  /** Subject id; `anonymous` for callers without credentials; `apikey:<id>` for API-key consumers. */
  sub: string;
  /** Department id, or null for the public. */
  org: string | null;
  roles: Role[];
  /** How the caller proved who they are. */
  via: 'anonymous' | 'api-key' | 'jwt';
}

export const ANONYMOUS: Requester = Object.freeze({
  sub: 'anonymous',
  org: null,
  roles: ['public'],
  via: 'anonymous',
}) as Requester;
