/**
 * The operators who may sign in to the HTTPS API and the web console, and the API tokens of
 * scripts: `users.json` in the replicated `config` root, so both nodes know the same users (it
 * follows the primary like the configuration). Passwords are kept as scrypt hashes, tokens as
 * SHA-256 of their secret (a token is 256 random bits: nothing to stretch). The file is
 * written atomically, mode 0600.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { hashPassword, spendVerifyTime, verifyPassword } from '../../adapters/crypto/password.js';
import { readJson, writeJsonAtomic } from '../../adapters/state/store.js';
import { refuse } from './operation.js';

export const USERS_FILE = 'users.json';
export const ROLES = ['admin', 'viewer'] as const;
export type UserRole = (typeof ROLES)[number];

export const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;

const userSchema = z.object({ role: z.enum(ROLES), hash: z.string(), created: z.string() });
const tokenSchema = z.object({ user: z.string(), label: z.string(), sha256: z.string(), created: z.string() });
const fileSchema = z.object({ version: z.literal(1), users: z.record(z.string(), userSchema), tokens: z.record(z.string(), tokenSchema) });
type UsersFile = z.infer<typeof fileSchema>;

export interface UserView { readonly name: string; readonly role: UserRole; readonly created: string; readonly tokens: number }
export interface TokenView { readonly id: string; readonly user: string; readonly label: string; readonly created: string }

export class UserStore {
  readonly file: string;
  constructor(configRoot: string, private readonly now: () => Date = () => new Date()) {
    this.file = join(configRoot, USERS_FILE);
  }

  private read(): UsersFile {
    const raw = readJson(this.file);
    if (raw === undefined) return { version: 1, users: {}, tokens: {} };
    const parsed = fileSchema.safeParse(raw);
    // A damaged file signs nobody in; it is never silently replaced.
    if (!parsed.success) throw new Error(`${this.file} is not a valid users file: ${parsed.error.issues[0]?.message ?? ''}`);
    return parsed.data;
  }

  private write(f: UsersFile): void { writeJsonAtomic(this.file, f); }

  list(): UserView[] {
    const f = this.read();
    return Object.entries(f.users).map(([name, u]) => ({
      name, role: u.role, created: u.created, tokens: Object.values(f.tokens).filter((t) => t.user === name).length,
    }));
  }

  count(): number { return Object.keys(this.read().users).length; }

  async add(name: string, role: UserRole, password: string): Promise<UserView> {
    if (!USER_NAME.test(name)) refuse(400, `name: ${name} is not a user name (1–32 characters a-z 0-9 _ . -, starting with a letter or _)`);
    checkPassword(password);
    const f = this.read();
    if (Object.hasOwn(f.users, name)) refuse(409, `user ${name} exists already (tandem user passwd ${name} changes the password)`);
    const hash = await hashPassword(password);
    const created = this.now().toISOString();
    this.write({ ...f, users: { ...f.users, [name]: { role, hash, created } } });
    return { name, role, created, tokens: 0 };
  }

  async setPassword(name: string, password: string): Promise<void> {
    checkPassword(password);
    const f = this.read();
    const u = f.users[name] ?? refuse(404, `no user ${name}`);
    const hash = await hashPassword(password);
    this.write({ ...this.read(), users: { ...f.users, [name]: { ...u, hash } } });
  }

  remove(name: string): void {
    const f = this.read();
    if (!Object.hasOwn(f.users, name)) refuse(404, `no user ${name}`);
    const { [name]: _gone, ...users } = f.users;
    const tokens = Object.fromEntries(Object.entries(f.tokens).filter(([, t]) => t.user !== name));
    this.write({ ...f, users, tokens });
  }

  /** The user's role when the password is right; null otherwise (the same time either way). */
  async login(name: string, password: string): Promise<UserRole | null> {
    const u = this.read().users[name];
    if (u === undefined) { await spendVerifyTime(password); return null; }
    return await verifyPassword(password, u.hash) ? u.role : null;
  }

  /** A new token for `user`: the secret is shown once, only its hash is kept. */
  createToken(user: string, label: string): { readonly token: string; readonly view: TokenView } {
    const f = this.read();
    if (!Object.hasOwn(f.users, user)) refuse(404, `no user ${user}`);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const created = this.now().toISOString();
    this.write({ ...f, tokens: { ...f.tokens, [id]: { user, label, sha256: sha(secret), created } } });
    return { token: `tdm_${id}_${secret}`, view: { id, user, label, created } };
  }

  tokens(): TokenView[] {
    return Object.entries(this.read().tokens).map(([id, t]) => ({ id, user: t.user, label: t.label, created: t.created }));
  }

  revokeToken(id: string): void {
    const f = this.read();
    if (!Object.hasOwn(f.tokens, id)) refuse(404, `no token ${id}`);
    const { [id]: _gone, ...tokens } = f.tokens;
    this.write({ ...f, tokens });
  }

  /** The user and role a token belongs to, or null. */
  checkToken(token: string): { readonly user: string; readonly role: UserRole; readonly id: string } | null {
    const m = /^tdm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
    if (m === null) return null;
    const [, id, secret] = m as unknown as [string, string, string];
    const f = this.read();
    const t = f.tokens[id];
    if (t === undefined) return null;
    const a = Buffer.from(sha(secret), 'hex');
    const b = Buffer.from(t.sha256, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    const u = f.users[t.user];
    return u === undefined ? null : { user: t.user, role: u.role, id };
  }
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) refuse(400, `password: at least ${String(MIN_PASSWORD)} characters`);
  if (password.length > MAX_PASSWORD) refuse(400, `password: at most ${String(MAX_PASSWORD)} characters`);
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
