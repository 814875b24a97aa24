import fs from 'node:fs';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * The web console's pages may load only what the gateway itself serves: no CDN, no tiles, no fonts. MapLibre
 * starts its workers from its own script (`worker-src`) and draws sprites from data and blob URLs (`img-src`).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>CityGate console not built</title>
<h1>The web console was not built</h1>
<p>Build it with <code>npm run console:build</code> (or <code>npm run build</code>, which builds it too) and restart the gateway.
GraphQL is served at <code>/graphql</code> all the same.</p>`;

/**
 * Serves the built console (vite output) under /console/ with a strict Content-Security-Policy, or a page that
 * says how to build it. Call before `app.init()`: plugins cannot be registered once fastify is ready.
 */
export function registerConsole(app: NestFastifyApplication, dir: string): void {
  const fastify = app.getHttpAdapter().getInstance();
  // Every answer under /console carries the policy: files, 404s and the not-built page alike.
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (request.url === '/console' || request.url.startsWith('/console/')) reply.headers(SECURITY_HEADERS);
    return payload;
  });
  fastify.get('/console', (_req, reply) => reply.redirect('/console/', 301));
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    fastify.get('/console/*', (_req, reply) => reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT));
    return;
  }
  app.useStaticAssets({
    root: dir,
    prefix: '/console/',
    index: ['index.html'],
    wildcard: true,
    dotfiles: 'deny',
  });
}
