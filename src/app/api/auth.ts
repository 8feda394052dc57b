/**
 * Who calls the HTTPS API: a signed-in operator (a session cookie: HttpOnly, Secure,
 * SameSite=Strict) or a script (an API token: `Authorization: Bearer tdm_…`). Every change made
 * with a session must carry the session's CSRF token (`X-CSRF-Token`); a token needs none (it is
 * never sent by a browser on its own). Sign-in failures are counted per user and per source:
 * after 20, that user or source is locked out for 10 minutes (the appliance's rule).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { OpError, type Caller } from './operation.js';
import type { UserRole, UserStore } from './users.js';

export const SESSION_COOKIE = 'tandem_session';
export const CSRF_HEADER = 'x-csrf-token';
export const MAX_FAILURES = 20;
export const LOCKOUT_MS = 10 * 60_000;
/** A session unused this long ends; none lasts longer than SESSION_MAX_MS. */
export const SESSION_IDLE_MS = 60 * 60_000;
export const SESSION_MAX_MS = 12 * 3600_000;

interface Session { readonly user: string; readonly role: UserRole; readonly csrf: string; readonly created: number; seen: number }
interface Failures { count: number; lockedUntil: number }

export interface SignedIn { readonly session: string; readonly csrf: string; readonly user: string; readonly role: UserRole }

export class Auth {
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly users: UserStore, private readonly now: () => number = Date.now) {}

  /** Signs in, or refuses (401 wrong name or password, 429 locked out), counting the failure. */
  async login(name: string, password: string, from: string): Promise<SignedIn> {
    const keys = [`user:${name}`, `from:${from}`];
    const now = this.now();
    for (const k of keys) {
      const f = this.failures.get(k);
      if (f !== undefined && f.lockedUntil > now) {
        const minutes = Math.ceil((f.lockedUntil - now) / 60_000);
        throw new OpError(429, [`sign-in locked for ${String(minutes)} more minute(s) after ${String(MAX_FAILURES)} failed attempts (${k.startsWith('user:') ? `user ${name}` : `from ${from}`})`]);
      }
    }
    const role = await this.users.login(name, password);
    if (role === null) {
      for (const k of keys) {
        const f = this.failures.get(k) ?? { count: 0, lockedUntil: 0 };
        f.count = f.lockedUntil !== 0 && f.lockedUntil <= now ? 1 : f.count + 1;
        f.lockedUntil = f.count >= MAX_FAILURES ? now + LOCKOUT_MS : 0;
        this.failures.set(k, f);
      }
      throw new OpError(401, ['wrong user name or password']);
    }
    for (const k of keys) this.failures.delete(k);
    const session = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.sessions.set(session, { user: name, role, csrf, created: now, seen: now });
    return { session, csrf, user: name, role };
  }

  logout(session: string | null): void {
    if (session !== null) this.sessions.delete(session);
  }

  /** The signed-in session of a request (its cookie), or null. */
  session(req: FastifyRequest): (SignedIn & { readonly created: number }) | null {
    const id = cookieOf(req, SESSION_COOKIE);
    if (id === null) return null;
    const s = this.sessions.get(id);
    const now = this.now();
    if (s === undefined) return null;
    if (now - s.seen > SESSION_IDLE_MS || now - s.created > SESSION_MAX_MS) { this.sessions.delete(id); return null; }
    s.seen = now;
    return { session: id, csrf: s.csrf, user: s.user, role: s.role, created: s.created };
  }

  /** The caller of an API request, or an OpError: 401 (no valid session or token), 403 (CSRF). */
  authenticate(req: FastifyRequest): Caller {
    const from = req.ip;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer (\S+)$/.exec(header);
      const t = m === null ? null : this.users.checkToken(m[1] ?? '');
      if (t === null) throw new OpError(401, ['the API token is not valid (tandem user token NAME makes one)']);
      return { user: `${t.user} (token ${t.id})`, role: t.role, from };
    }
    const s = this.session(req);
    if (s === null) throw new OpError(401, ['sign in first (POST /api/session), or send an API token']);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !same(sent, s.csrf)) throw new OpError(403, [`a change needs the session's CSRF token in ${CSRF_HEADER}`]);
    }
    return { user: s.user, role: s.role, from };
  }
}

export function cookieOf(req: FastifyRequest, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

export function sessionCookie(value: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${String(maxAgeS)}`;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
