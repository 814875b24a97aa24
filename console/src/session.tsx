import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Credential } from './api/session.js';
import type { Me } from './api/types.js';

export interface Session {
  credential: Credential;
  me: Me;
}

export const SessionContext = createContext<Session>({
  credential: null,
  me: { sub: 'anonymous', org: null, roles: ['public'], via: 'anonymous' },
});

export const useSession = () => useContext(SessionContext);

/** Roles a page needs; the gateway enforces them anyway, the console only hides what would be refused. */
export const can = {
  department: (me: Me) => me.via === 'jwt' && me.org !== null && me.roles.includes('analyst'),
  owner: (me: Me) => me.via === 'jwt' && me.roles.includes('owner'),
  auditor: (me: Me) => me.via === 'jwt' && me.roles.includes('auditor'),
};
