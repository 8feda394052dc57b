/**
 * The HTTPS API and web console of a node (SPEC §6), on `api.listen` (default all addresses,
 * port 8443): the operations table under /api (the same as the control socket's), behind a
 * sign-in (auth.ts); the session routes; the OpenAPI document; live events (SSE); and the
 * console's files (web/dist). Nothing but the console's static files answers without a session
 * or a token.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Certificate } from '../../adapters/tls/certificate.js';
import { CSRF_HEADER, SESSION_IDLE_MS, sessionCookie, type Auth } from './auth.js';
import type { EventHub, LiveEvent } from './events.js';
import { OpError, type Caller } from './operation.js';
import { openapiDocument } from './openapi.js';
import { buildServer, type AnyOperation, type ServeOptions } from './server.js';

export interface HttpsApiOptions<A> {
  readonly app: A;
  readonly operations: readonly AnyOperation<A>[];
  readonly auth: Auth;
  readonly events: EventHub;
  readonly certificate: Certificate;
  readonly host: string;
  readonly port: number;
  /** The built console (web/dist), or null when it is not built. */
  readonly webRoot: string | null;
  readonly version: string;
  readonly audit: ServeOptions<A>['audit'];
  /** The first status event a new subscriber gets. */
  readonly status: () => unknown;
  /** Prometheus metrics (served at /metrics to a session or a token, as a scraper sends one). */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly text: string }>;
}

/** SSE comments this often keep proxies and the browser's connection from timing out. */
const KEEPALIVE_MS = 15_000;
const LOGIN = z.object({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();

export async function startHttpsApi<A>(o: HttpsApiOptions<A>): Promise<FastifyInstance> {
  const server = buildServer({
    app: o.app, operations: o.operations, prefix: '/api', audit: o.audit,
    authenticate: (req) => o.auth.authenticate(req),
    fastify: { https: { key: o.certificate.key, cert: o.certificate.cert }, trustProxy: false },
  });
  const refused = (reply: FastifyReply, e: OpError): FastifyReply => reply.code(e.status).send({ ok: false, messages: e.messages });

  server.post('/api/session', async (req, reply) => {
    const body = LOGIN.safeParse(req.body);
    if (!body.success) return refused(reply, new OpError(400, body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)));
    try {
      const s = await o.auth.login(body.data.user, body.data.password, req.ip);
      o.audit?.({ caller: { user: s.user, role: s.role, from: req.ip }, op: 'signIn', ok: true, detail: '' });
      return await reply.header('set-cookie', sessionCookie(s.session, Math.floor(SESSION_IDLE_MS / 1000)))
        .send({ user: s.user, role: s.role, csrf: s.csrf });
    } catch (err) {
      const e = err instanceof OpError ? err : new OpError(500, [(err as Error).message]);
      o.audit?.({ caller: { user: body.data.user, role: 'viewer', from: req.ip }, op: 'signIn', ok: false, detail: e.messages.join('; ') });
      return refused(reply, e);
    }
  });
  server.get('/api/session', (req, reply) => {
    const s = o.auth.session(req);
    if (s === null) return refused(reply, new OpError(401, ['not signed in']));
    return reply.send({ user: s.user, role: s.role, csrf: s.csrf });
  });
  server.delete('/api/session', (req, reply) => {
    const s = o.auth.session(req);
    if (s !== null && req.headers[CSRF_HEADER] !== s.csrf) return refused(reply, new OpError(403, [`signing out needs the CSRF token in ${CSRF_HEADER}`]));
    o.auth.logout(s?.session ?? null);
    return reply.header('set-cookie', sessionCookie('', 0)).send({ ok: true, messages: ['signed out'] });
  });

  const doc = openapiDocument(o.operations, o.version, [
    { path: '/api/session', method: 'post', operation: { operationId: 'signIn', summary: 'Sign in: sets the session cookie; the reply carries the CSRF token', security: [], requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { user: { type: 'string' }, password: { type: 'string' } }, required: ['user', 'password'] } } } }, responses: { 200: { description: 'signed in' }, 401: { description: 'wrong user name or password' }, 429: { description: 'locked out' } } } },
    { path: '/api/session', method: 'get', operation: { operationId: 'whoAmI', summary: 'The signed-in user, role and CSRF token', responses: { 200: { description: 'the session' } } } },
    { path: '/api/session', method: 'delete', operation: { operationId: 'signOut', summary: 'Sign out', responses: { 200: { description: 'signed out' } } } },
    { path: '/api/events', method: 'get', operation: { operationId: 'events', summary: 'Live updates (server-sent events): status, log lines (alerts, firmware, upgrade progress)', responses: { 200: { description: 'text/event-stream' } } } },
    { path: '/metrics', method: 'get', operation: { operationId: 'metrics', summary: 'Prometheus metrics (text exposition format); a scraper authenticates with an API token (Authorization: Bearer)', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
    { path: '/api/openapi.json', method: 'get', operation: { operationId: 'openapi', summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
  ]);
  server.get('/api/openapi.json', (req, reply) => {
    if (!signedIn(o.auth, req, reply)) return reply;
    return reply.send(doc);
  });

  server.get('/metrics', async (req, reply) => {
    if (!signedIn(o.auth, req, reply)) return reply;
    if (o.metrics === undefined) return reply.code(404).send({ ok: false, messages: ['no metrics on this node'] });
    const m = await o.metrics();
    return reply.type(m.contentType).header('cache-control', 'no-store').send(m.text);
  });

  // Event streams never end by themselves: closing the server (a restart on a new address, the
  // node stopping) ends them, or it would wait for every open console to go away.
  const streams = new Set<ServerResponse>();
  server.addHook('preClose', (done) => { for (const s of streams) s.end(); done(); });
  server.get('/api/events', (req, reply) => {
    if (!signedIn(o.auth, req, reply)) return;
    reply.hijack();
    const out = reply.raw;
    streams.add(out);
    out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (e: LiveEvent): void => { out.write(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`); };
    send({ type: 'status', data: o.status() });
    const off = o.events.subscribe(send);
    const keepalive = setInterval(() => { out.write(': keepalive\n\n'); }, KEEPALIVE_MS);
    req.raw.on('close', () => { off(); clearInterval(keepalive); streams.delete(out); });
  });

  // The console: its files, and index.html for its own routes (a reload on /firmware works).
  server.get('/*', (req, reply) => {
    const url = (req.params as { '*': string })['*'];
    if (url.startsWith('api/')) return reply.code(404).send({ ok: false, messages: [`no such endpoint: ${req.method} ${req.url}`] });
    if (o.webRoot === null) return reply.code(404).type('text/plain').send('the web console is not built (npm run build)');
    const file = staticFile(o.webRoot, url) ?? staticFile(o.webRoot, 'index.html');
    if (file === null) return reply.code(404).send({ ok: false, messages: ['not found'] });
    return reply.type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
      .send(readFileSync(file));
  });

  await server.listen({ host: o.host, port: o.port });
  return server;
}

/** Refuses (401) a request without a session or token; true when the caller is known. */
function signedIn(auth: Auth, req: FastifyRequest, reply: FastifyReply): Caller | null {
  try {
    return auth.authenticate(req);
  } catch (err) {
    const e = err as OpError;
    void reply.code(e.status).send({ ok: false, messages: e.messages });
    return null;
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
};

/** A file under `root` (never outside it), or null. */
function staticFile(root: string, rel: string): string | null {
  const path = normalize(join(root, rel));
  if (path !== root && !path.startsWith(root + sep)) return null;
  try {
    return statSync(path).isFile() ? path : null;
  } catch {
    return null;
  }
}
