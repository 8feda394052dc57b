/**
 * The HTTPS API's guards over real HTTPS (a real certificate, the real operations table, the real
 * session, CSRF, lockout and token code): no operation without a session or a token, a viewer
 * refused every change, a change without the CSRF token refused, a tampered cookie refused, the
 * lockout after 20 failures, oversized and malformed bodies refused with a clear reason. The
 * application layer behind it only records what reached it: a refused request must reach nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadOrCreateCertificate } from '../../adapters/tls/certificate.js';
import type { NodeApp } from '../node-app.js';
import { Auth, LOCKOUT_MS, MAX_FAILURES } from './auth.js';
import { EventHub } from './events.js';
import { startHttpsApi } from './https.js';
import { OPERATIONS } from './operations.js';
import { UserStore } from './users.js';

interface Reply { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: string }

const dir = mkdtempSync(join(tmpdir(), 'tandem-https-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

/** Whatever the table calls on the application layer is recorded and answered with an empty object. */
const reached: string[] = [];
const app = new Proxy({}, {
  get: (_t, key: string) => new Proxy(() => ({}), {
    apply: () => { reached.push(key); return {}; },
    get: (_f, method: string) => () => { reached.push(`${key}.${method}`); return { ok: true, messages: [] }; },
  }),
}) as unknown as NodeApp;

let clock = Date.now();
let server: FastifyInstance;
let port = 0;
const users = new UserStore(dir);

function call(method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, rejectUnauthorized: false, headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }); });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function signIn(user: string, password: string): Promise<{ cookie: string; csrf: string; reply: Reply }> {
  const reply = await call('POST', '/api/session', { body: JSON.stringify({ user, password }), headers: { 'content-type': 'application/json' } });
  const set = reply.headers['set-cookie'];
  const cookie = ((Array.isArray(set) ? set[0] : set) ?? '').split(';')[0] ?? '';
  return { cookie, csrf: reply.status === 200 ? (JSON.parse(reply.body) as { csrf: string }).csrf : '', reply };
}

/** A request path for an operation, with its parameters filled in. */
const pathOf = (p: string): string => `/api${p.replace(':slot', '1').replace(':name', 'alice').replace(':id', 'abcdefabcdef')}`;
const bodyFor = (method: string): string | undefined => (method === 'GET' || method === 'DELETE' ? undefined : '{}');
const jsonHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({ 'content-type': 'application/json', ...extra });

describe('the HTTPS API refuses what it must, over real HTTPS', () => {
  before(async () => {
    await users.add('alice', 'admin', 'correct horse');
    await users.add('victor', 'viewer', 'viewer password');
    const certificate = loadOrCreateCertificate({ stateDir: dir, node: 'a', addresses: ['127.0.0.1'], certFile: null, keyFile: null });
    server = await startHttpsApi({
      app, operations: OPERATIONS, auth: new Auth(users, () => clock), events: new EventHub(), certificate,
      host: '127.0.0.1', port: 0, webRoot: null, version: '0.0.0', audit: undefined, status: () => ({}),
    });
    const addr = server.server.address();
    port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  });
  after(async () => { await server.close(); });

  it('no operation, no document and no event stream without a session or a token', async () => {
    reached.length = 0;
    for (const op of OPERATIONS) {
      const r = await call(op.method, pathOf(op.path), { body: bodyFor(op.method), headers: jsonHeaders() });
      assert.equal(r.status, 401, `${op.method} ${op.path}: ${r.body}`);
    }
    for (const path of ['/api/openapi.json', '/api/events']) assert.equal((await call('GET', path)).status, 401, path);
    assert.deepEqual(reached, []);
  });

  it('a viewer may read, and is refused every change; a change without the CSRF token is refused', async () => {
    const viewer = await signIn('victor', 'viewer password');
    assert.equal(viewer.reply.status, 200);
    reached.length = 0;
    for (const op of OPERATIONS.filter((o) => o.access === 'change')) {
      const r = await call(op.method, pathOf(op.path), { body: bodyFor(op.method), headers: jsonHeaders({ cookie: viewer.cookie, 'x-csrf-token': viewer.csrf }) });
      assert.equal(r.status, 403, `${op.id} as a viewer: ${r.body}`);
    }
    assert.deepEqual(reached, [], 'nothing reached the application');
    assert.equal((await call('GET', '/api/status', { headers: { cookie: viewer.cookie } })).status, 200, 'a viewer reads');
    reached.length = 0;

    const admin = await signIn('alice', 'correct horse');
    const noCsrf = await call('POST', '/api/action', { body: '{"type":"reload"}', headers: jsonHeaders({ cookie: admin.cookie }) });
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.body, /CSRF/);
    const wrongCsrf = await call('POST', '/api/action', { body: '{"type":"reload"}', headers: jsonHeaders({ cookie: admin.cookie, 'x-csrf-token': viewer.csrf }) });
    assert.equal(wrongCsrf.status, 403);
    assert.deepEqual(reached, []);
    const ok = await call('POST', '/api/action', { body: '{"type":"reload"}', headers: jsonHeaders({ cookie: admin.cookie, 'x-csrf-token': admin.csrf }) });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(reached, ['act']);
  });

  it('the session cookie is HttpOnly, Secure and SameSite=Strict; a tampered or signed-out cookie is refused', async () => {
    const s = await signIn('alice', 'correct horse');
    const set = String(s.reply.headers['set-cookie']);
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict']) assert.ok(set.includes(attr), `${attr} in ${set}`);
    const [name, value] = s.cookie.split('=') as [string, string];
    const flipped = `${name}=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
    assert.equal((await call('GET', '/api/status', { headers: { cookie: flipped } })).status, 401);
    assert.equal((await call('GET', '/api/status', { headers: { cookie: s.cookie } })).status, 200);
    assert.equal((await call('DELETE', '/api/session', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } })).status, 200);
    assert.equal((await call('GET', '/api/status', { headers: { cookie: s.cookie } })).status, 401, 'signed out');
  });

  it('API tokens: a valid one works (no CSRF needed), a wrong or revoked one is refused', async () => {
    const t = users.createToken('alice', 'script');
    const auth = { authorization: `Bearer ${t.token}` };
    assert.equal((await call('GET', '/api/status', { headers: auth })).status, 200);
    assert.equal((await call('POST', '/api/action', { body: '{"type":"reload"}', headers: jsonHeaders(auth) })).status, 200);
    assert.equal((await call('GET', '/api/status', { headers: { authorization: `Bearer ${t.token.slice(0, -2)}xx` } })).status, 401);
    users.revokeToken(t.view.id);
    assert.equal((await call('GET', '/api/status', { headers: auth })).status, 401);
  });

  it(`${String(MAX_FAILURES)} failed sign-ins lock the user and the source out for 10 minutes, even with the right password`, async () => {
    await users.add('mallory', 'admin', 'the real password');
    for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await signIn('mallory', `guess ${String(i)}`)).reply.status, 401);
    const locked = await signIn('mallory', 'the real password');
    assert.equal(locked.reply.status, 429);
    assert.match(locked.reply.body, /locked for 10 more minute/);
    clock += LOCKOUT_MS + 1000;
    assert.equal((await signIn('mallory', 'the real password')).reply.status, 200, 'after 10 minutes');
  });

  it('a body over the limit and malformed JSON are refused with the reason; nothing reaches the application', async () => {
    const s = await signIn('alice', 'correct horse');
    reached.length = 0;
    const headers = jsonHeaders({ cookie: s.cookie, 'x-csrf-token': s.csrf });
    const big = await call('POST', '/api/action', { body: JSON.stringify({ type: 'reload', pad: 'x'.repeat(70_000) }), headers });
    assert.equal(big.status, 413);
    assert.match(big.body, /larger than 65536 bytes/);
    const bad = await call('POST', '/api/action', { body: '{"type": "reload"', headers });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /not valid JSON/);
    const wrong = await call('POST', '/api/action', { body: '{"type":"reboot","target":"everyone"}', headers });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /target/);
    assert.deepEqual(reached, []);
  });

  it('serves the OpenAPI 3.1 document of every operation', async () => {
    const s = await signIn('alice', 'correct horse');
    const r = await call('GET', '/api/openapi.json', { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200);
    const doc = JSON.parse(r.body) as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
    assert.equal(doc.openapi, '3.1.0');
    const ids = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    for (const op of OPERATIONS) assert.ok(ids.includes(op.id), op.id);
  });
});
