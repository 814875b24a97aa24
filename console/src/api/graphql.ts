import type { Credential } from './session.js';

/** A GraphQL error as the gateway sends it: a fixed message and a stable code. */
export interface GqlError {
  message: string;
  extensions?: { code?: string; [k: string]: unknown };
}

/** A provenance receipt of this request (log index and leaf hash), from `extensions.receipts`. */
export interface Receipt {
  index: number;
  leafHash: string;
  dataset: string;
  released: boolean;
}

export interface GqlResponse<T> {
  data: T | null;
  errors: GqlError[];
  receipts: Receipt[];
  status: number;
}

/** Thrown by `gqlOrThrow` so that a page can show the refusal with its code. */
export class GqlRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly receipts: Receipt[] = [],
  ) {
    super(message);
    this.name = 'GqlRefusal';
  }
}

/** The caller's credential as the gateway reads it, on GraphQL and on downloads alike. */
export function credentialHeaders(credential: Credential): Record<string, string> {
  if (credential?.kind === 'jwt') return { authorization: `Bearer ${credential.value}` };
  if (credential?.kind === 'api-key') return { 'x-api-key': credential.value };
  return {};
}

/** One operation against the gateway's own /graphql, with the caller's own credential and nothing else. */
export async function gql<T>(
  credential: Credential,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResponse<T>> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    ...credentialHeaders(credential),
  };
  let res: Response;
  try {
    res = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch {
    return {
      data: null,
      errors: [{ message: 'The gateway cannot be reached.', extensions: { code: 'UNAVAILABLE' } }],
      receipts: [],
      status: 0,
    };
  }
  let body: { data?: T | null; errors?: GqlError[]; extensions?: { receipts?: Receipt[] } };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    body = {
      errors: [{ message: `The gateway answered ${res.status} without JSON.`, extensions: { code: 'INTERNAL' } }],
    };
  }
  return {
    data: body.data ?? null,
    errors: body.errors ?? [],
    receipts: body.extensions?.receipts ?? [],
    status: res.status,
  };
}

/** Like `gql`, but any error becomes a `GqlRefusal` carrying the first error's code and message. */
export async function gqlOrThrow<T>(
  credential: Credential,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ data: T; receipts: Receipt[] }> {
  const r = await gql<T>(credential, query, variables);
  const first = r.errors[0];
  if (first || r.data === null) {
    throw new GqlRefusal(
      first?.extensions?.code ?? 'INTERNAL',
      first?.message ?? 'The gateway returned no data.',
      r.receipts,
    );
  }
  return { data: r.data, receipts: r.receipts };
}
