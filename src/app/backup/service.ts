/**
 * Configuration export and import (SPEC §5, the seed's "Exporting / Importing the
 * configuration"; operators: docs/configuration-backup.md).
 *
 * Export: the running configuration file, the users (password hashes), the license, the public
 * key and certificate files the configuration names — and, only when the file is encrypted
 * (password or OpenPGP), the secrets: the cluster key, the API's private key, the webhook
 * secrets. Every export is recorded in `state_dir/config-exports.json` (the upgrade checklist's
 * "configuration backup").
 *
 * Import: decrypted (a wrong password or a changed byte: refused, nothing changed), refused when
 * written by an older major release or a newer firmware than this one (both named), migrated
 * forward by the same migrations the firmware bundles carry (`migrateText`), validated, the
 * difference shown; then applied with a snapshot of every file it replaces, and applied live.
 * Unless confirmed within the time limit (`tandem config confirm`), the snapshot is put back by
 * itself — also after a restart — so an import that cuts the management address locks nobody out.
 * The primary replicates the result like any configuration change (config and users through the
 * `config` root, the license through the `license` root; the cluster key never).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  ArchiveRefused, checkPassword, open, openGpg, pack, seal, sealGpg, sealingOf, unpack, type Archive, type ArchiveFile, type Sealing,
} from '../../adapters/backup/archive.js';
import { ensureDir, readJson, writeFileAtomic, writeJsonAtomic } from '../../adapters/state/store.js';
import { readClusterKey, MIN_KEY_BYTES } from '../../config/load.js';
import { migrateText } from '../../config/migrate-file.js';
import { parseConfig } from '../../config/parse.js';
import { formatConfigError, type TandemConfig } from '../../config/types.js';
import { CONFIG_SCHEMA } from '../../core/compat.js';
import { compareVersions, parseVersion } from '../../core/firmware/semver.js';
import { ActionReply, OpError, readBounded, refuse } from '../api/operation.js';
import { USERS_FILE } from '../api/users.js';
import { CONFIG_EXPORTS_FILE } from '../firmware/service.js';
import { LICENSE_FILE } from '../license/service.js';

export const DEFAULT_CONFIRM_S = 120;
export const MAX_CONFIRM_S = 3600;
/** Largest export file an import takes. */
export const MAX_IMPORT_BYTES = 128 * 1024 * 1024;
const IMPORT_DIR = 'config-import';
const PENDING_FILE = 'pending.json';

export const ExportRequest = z.strictObject({
  password: z.string().max(1024).optional(),
  gpg_public_key: z.string().max(256 * 1024).optional(),
});
export type ExportRequest = z.infer<typeof ExportRequest>;

export const ExportReply = z.object({
  name: z.string(), sealing: z.enum(['plain', 'encrypted', 'gpg']), bytes: z.number().int(), sha256: z.string(),
  secrets: z.boolean(), content_base64: z.string(), warnings: z.array(z.string()),
});
export type ExportReply = z.infer<typeof ExportReply>;

export const StageReply = z.object({ file: z.string(), sealing: z.enum(['plain', 'encrypted', 'gpg']), bytes: z.number().int() });

export const ImportRequest = z.strictObject({
  /** The staged upload (POST /config/import/file). */
  file: z.string().regex(/^[0-9a-f]{16}$/),
  password: z.string().max(1024).optional(),
  gpg_private_key: z.string().max(256 * 1024).optional(),
  confirm_timeout_s: z.number().int().min(5).max(MAX_CONFIRM_S).default(DEFAULT_CONFIRM_S),
  dry_run: z.boolean().default(false),
});
export type ImportRequest = z.infer<typeof ImportRequest>;

export const ImportReply = z.object({
  ok: z.boolean(), applied: z.boolean(),
  from: z.object({ firmware: z.string(), schema: z.number().int(), node: z.string(), exported_at: z.string() }),
  migrations: z.array(z.string()),
  diff: z.array(z.string()),
  confirm_by: z.string().nullable(),
  messages: z.array(z.string()),
});
export type ImportReply = z.infer<typeof ImportReply>;


export interface ConfigBackupOptions {
  readonly nodeName: string;
  readonly stateDir: string;
  readonly configFile: string;
  readonly config: () => TandemConfig;
  readonly configRoot: string;
  readonly licenseRoot: string;
  /** The running firmware's version. */
  readonly firmwareVersion: string;
  readonly role: () => string | null;
  /** A configuration freeze (cluster upgrade), or null. */
  readonly frozen: () => string | null;
  /** Applies the configuration on disk live (the daemon's reload); ok false when it refused it. */
  readonly apply: () => Promise<{ readonly ok: boolean; readonly messages: readonly string[] }>;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly now?: () => number;
  readonly hostname?: string;
}

interface Saved { readonly path: string; readonly existed: boolean; readonly mode: number; readonly saved: string }
interface Pending { readonly id: string; readonly deadline: number; readonly timeout_s: number; readonly files: readonly Saved[] }

interface Planned { readonly path: string; readonly bytes: Buffer; readonly mode: number; readonly what: string }

export class ConfigBackupService {
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ConfigBackupOptions) {}

  private now(): number { return (this.o.now ?? Date.now)(); }
  private get dir(): string { return join(this.o.stateDir, IMPORT_DIR); }
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ── export ─────────────────────────────────────────────────────────────────────────────────

  async export(req: ExportRequest): Promise<ExportReply> {
    if (req.password !== undefined && req.gpg_public_key !== undefined) refuse(400, 'give a password or an OpenPGP public key, not both');
    const sealing: Sealing = req.password !== undefined ? 'encrypted' : req.gpg_public_key !== undefined ? 'gpg' : 'plain';
    if (req.password !== undefined) refusing(() => { checkPassword(req.password ?? ''); });
    const secrets = sealing !== 'plain';
    const at = new Date(this.now());
    const archive: Archive = {
      product: 'tandem', format: 1, schema: CONFIG_SCHEMA, firmware: this.o.firmwareVersion, exported_at: at.toISOString(),
      node: this.o.nodeName, hostname: this.o.hostname ?? osHostname(), secrets,
      config: readFileSync(this.o.configFile, 'utf8'),
      files: this.collect(secrets),
    };
    const gz = pack(archive);
    const file = sealing === 'plain' ? gz
      : sealing === 'encrypted' ? await refusingAsync(() => seal(gz, req.password ?? '', { schema: archive.schema, firmware: archive.firmware, exported_at: archive.exported_at }))
        : await refusingAsync(() => sealGpg(gz, req.gpg_public_key ?? ''));
    const stamp = at.toISOString().replace(/[-:]/g, '').slice(0, 13);
    const name = `${archive.hostname}-${stamp}${sealing === 'plain' ? '' : `-${sealing}`}.config`;
    mkdirSync(this.o.stateDir, { recursive: true, mode: 0o700 });
    writeJsonAtomic(join(this.o.stateDir, CONFIG_EXPORTS_FILE), { last: at.getTime(), at: at.toISOString(), name, sealing });
    const warnings = sealing === 'plain'
      ? ['this file is not encrypted: it holds the users\' password hashes and the public keys; it does not hold the cluster key, the API private key or the webhook secrets (export with --password-file or --gpg to include them). Keep it private.']
      : [];
    this.o.log('info', `configuration exported (${sealing}${secrets ? ', with the secrets' : ''}): ${name}`);
    return { name, sealing, bytes: file.length, sha256: createHash('sha256').update(file).digest('hex'), secrets, content_base64: file.toString('base64'), warnings };
  }

  private collect(secrets: boolean): ArchiveFile[] {
    const c = this.o.config();
    const out: ArchiveFile[] = [];
    const add = (role: string, field: string, path: string | null, secret: boolean): void => {
      if (path === null || (secret && !secrets) || !existsSync(path)) return;
      out.push({ role, field, secret, mode: statSync(path).mode & 0o7777, base64: readFileSync(path).toString('base64') });
    };
    add('users', '', join(this.o.configRoot, USERS_FILE), false);
    add('license', '', join(this.o.licenseRoot, LICENSE_FILE), false);
    add('cluster-key', 'cluster.key_file', c.cluster.keyFile, true);
    if (c.api.certFile !== null) add('api-cert', 'api.cert_file', c.api.certFile, false);
    if (c.api.keyFile !== null) add('api-key', 'api.key_file', c.api.keyFile, true);
    if (c.api.certFile === null) {
      add('api-self-signed-cert', '', join(this.o.stateDir, 'api', 'cert.pem'), false);
      add('api-self-signed-key', '', join(this.o.stateDir, 'api', 'key.pem'), true);
    }
    c.alerts.webhooks.forEach((w, i) => { add('webhook-secret', `alerts.webhooks[${String(i)}].secret_file`, w.secretFile, true); });
    c.firmware.trustedKeys.forEach((k, i) => { if (!k.includes('-----BEGIN')) add('trusted-key', `firmware.trusted_keys[${String(i)}]`, k, false); });
    c.license.vendorKeys.forEach((k, i) => { if (!k.includes('-----BEGIN')) add('vendor-key', `license.vendor_keys[${String(i)}]`, k, false); });
    return out;
  }

  // ── import ─────────────────────────────────────────────────────────────────────────────────

  /** Keeps an uploaded export file for `import` (0600, removed by the import that reads it). */
  async stage(upload: Readable): Promise<z.infer<typeof StageReply>> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.dir)) {
      if (f.startsWith('upload-') && statSync(join(this.dir, f)).mtimeMs < this.now() - 3600_000) rmSync(join(this.dir, f), { force: true });
    }
    const bytes = await readBounded(upload, MAX_IMPORT_BYTES);
    const sealing = sealingOf(bytes) ?? refuse(400, 'not a Tandem configuration export (neither gzip, an encrypted export nor an OpenPGP message)');
    const id = randomBytes(8).toString('hex');
    writeBytesAtomic(join(this.dir, `upload-${id}`), bytes, 0o600);
    return { file: id, sealing, bytes: bytes.length };
  }

  async import(req: ImportRequest): Promise<ImportReply> {
    return this.exclusive(async () => {
      const staged = join(this.dir, `upload-${req.file}`);
      if (!existsSync(staged)) refuse(404, `no uploaded export ${req.file} (upload it first: POST /config/import/file)`);
      try {
        return await this.importStaged(readFileSync(staged), req);
      } finally {
        rmSync(staged, { force: true });
      }
    });
  }

  private async importStaged(file: Buffer, req: ImportRequest): Promise<ImportReply> {
    if (!req.dry_run) {
      if (this.o.role() === 'secondary') refuse(409, 'this node is the secondary: import the configuration on the primary (it follows the primary)');
      const frozen = this.o.frozen();
      if (frozen !== null) refuse(409, frozen);
      if (this.pending() !== null) refuse(409, 'an imported configuration waits for confirmation: confirm it (tandem config confirm) or let it roll back first');
    }
    const archive = await refusingAsync(async () => unpack(await this.decrypt(file, req)));
    const from = { firmware: archive.firmware, schema: archive.schema, node: archive.node, exported_at: archive.exported_at };
    this.checkVersions(archive);
    const m = migrateText(archive.config, this.o.configFile, this.o.nodeName);
    if (!m.ok) return refuse(400, 'the imported configuration is refused by this firmware:', ...m.errors);
    const parsed = parseConfig(m.text, this.o.configFile);
    if (!parsed.ok) return refuse(400, ...parsed.errors.map(formatConfigError));
    const imported = parsed.config;
    const plan = this.plan(archive, m.text, imported);
    if (!plan.some((p) => p.what === 'cluster key')) {
      const key = readClusterKey(imported);
      if (!key.ok) refuse(400, `the export holds no cluster key (a plain export never does) and this node has none usable: ${formatConfigError(key.error)}`);
    }
    const diff = this.diff(plan);
    const migrations = m.applied.map((x) => `schema ${String(x.from)} → ${String(x.to)}: ${x.description}`);
    const base = { from, migrations, diff };
    if (req.dry_run) return { ok: true, applied: false, ...base, confirm_by: null, messages: ['valid (not applied: dry run)'] };
    const changed = plan.filter((p) => !sameFile(p.path, p.bytes));
    if (changed.length === 0) return { ok: true, applied: false, ...base, confirm_by: null, messages: ['nothing to change: this node runs this configuration already'] };
    const pending = this.snapshot(changed, req.confirm_timeout_s);
    for (const p of changed) writeBytesAtomic(p.path, p.bytes, p.mode);
    this.o.log('warn', `configuration imported (exported by ${archive.node} on ${archive.exported_at}, Tandem ${archive.firmware}): ${String(changed.length)} file(s) replaced; rolled back unless confirmed within ${String(req.confirm_timeout_s)} s`);
    const applied = await this.o.apply();
    if (!applied.ok) {
      await this.restore(pending, 'the imported configuration could not be applied');
      refuse(400, 'the imported configuration could not be applied; the previous one is back:', ...applied.messages);
    }
    this.arm(pending);
    const by = new Date(pending.deadline).toISOString();
    return {
      ok: true, applied: true, ...base, confirm_by: by,
      messages: [...applied.messages, `imported and applied: confirm by ${by} (tandem config confirm), or the previous configuration is restored by itself`],
    };
  }

  private async decrypt(file: Buffer, req: ImportRequest): Promise<Buffer> {
    const sealing = sealingOf(file);
    if (sealing === 'plain') return file;
    if (sealing === 'encrypted') {
      if (req.password === undefined) throw new ArchiveRefused('the export is encrypted: give its password (--password-file)');
      return open(file, req.password);
    }
    if (sealing === 'gpg') {
      if (req.gpg_private_key === undefined) throw new ArchiveRefused('the export is encrypted with OpenPGP: give the private key (--gpg-key SECRET.asc, and --password-file for its passphrase)');
      return openGpg(file, req.gpg_private_key, req.password);
    }
    throw new ArchiveRefused('not a Tandem configuration export');
  }

  private checkVersions(a: Archive): void {
    const here = `Tandem ${this.o.firmwareVersion} (configuration schema ${String(CONFIG_SCHEMA)})`;
    const there = `Tandem ${a.firmware} (configuration schema ${String(a.schema)})`;
    if (a.schema > CONFIG_SCHEMA) refuse(400, `the export was written by ${there}, newer than this node's ${here}: upgrade this node first`);
    const theirs = parseVersion(a.firmware);
    const ours = parseVersion(this.o.firmwareVersion);
    if (theirs === null) { refuse(400, `the export names firmware ${a.firmware}, which is no version`); return; }
    if (ours !== null && compareVersions(a.firmware, this.o.firmwareVersion) > 0) refuse(400, `the export was written by ${there}, newer than this node's ${here}: upgrade this node first`);
    if (ours !== null && theirs.major < ours.major) refuse(400, `the export was written by ${there}, an older major release than this node's ${here}: import it on a node of its major release and upgrade that`);
  }

  /** Where each file of the archive goes on this node, by the imported configuration. */
  private plan(a: Archive, configText: string, imported: TandemConfig): Planned[] {
    const out: Planned[] = [{ path: this.o.configFile, bytes: Buffer.from(configText, 'utf8'), mode: existsSync(this.o.configFile) ? statSync(this.o.configFile).mode & 0o7777 : 0o600, what: 'configuration' }];
    for (const f of a.files) {
      const path = this.targetOf(f, imported);
      if (path === null) continue;
      const bytes = Buffer.from(f.base64, 'base64');
      if (f.role === 'users') {
        const r = parseUsers(bytes);
        if (r === null) refuse(400, 'the export\'s users file is not a valid users file');
      }
      if (f.role === 'cluster-key' && bytes.length < MIN_KEY_BYTES) refuse(400, `the export's cluster key holds ${String(bytes.length)} bytes: a key needs at least ${String(MIN_KEY_BYTES)}`);
      out.push({ path, bytes, mode: f.secret || f.role === 'users' ? 0o600 : f.mode & 0o644, what: f.role === 'cluster-key' ? 'cluster key' : f.role });
    }
    return out;
  }

  private targetOf(f: ArchiveFile, c: TandemConfig): string | null {
    switch (f.role) {
      case 'users': return join(this.o.configRoot, USERS_FILE);
      case 'license': return join(this.o.licenseRoot, LICENSE_FILE);
      case 'api-self-signed-cert': return c.api.certFile === null ? join(this.o.stateDir, 'api', 'cert.pem') : null;
      case 'api-self-signed-key': return c.api.certFile === null ? join(this.o.stateDir, 'api', 'key.pem') : null;
      default: break;
    }
    const idx = (re: RegExp): number | null => { const m = re.exec(f.field); return m === null ? null : Number(m[1]); };
    if (f.field === 'cluster.key_file') return c.cluster.keyFile;
    if (f.field === 'api.cert_file') return c.api.certFile;
    if (f.field === 'api.key_file') return c.api.keyFile;
    const w = idx(/^alerts\.webhooks\[(\d+)\]\.secret_file$/);
    if (w !== null) return c.alerts.webhooks[w]?.secretFile ?? null;
    const t = idx(/^firmware\.trusted_keys\[(\d+)\]$/);
    if (t !== null) { const k = c.firmware.trustedKeys[t]; return k === undefined || k.includes('-----BEGIN') ? null : k; }
    const v = idx(/^license\.vendor_keys\[(\d+)\]$/);
    if (v !== null) { const k = c.license.vendorKeys[v]; return k === undefined || k.includes('-----BEGIN') ? null : k; }
    return null;
  }

  /** The difference, as the operator reads it: the configuration by lines, the users by name, other files by name. */
  private diff(plan: readonly Planned[]): string[] {
    const out: string[] = [];
    for (const p of plan) {
      const before = existsSync(p.path) ? readFileSync(p.path) : null;
      if (before !== null && before.equals(p.bytes)) continue;
      if (p.what === 'configuration') {
        out.push(`configuration ${p.path}:`, ...lineDiff(before?.toString('utf8') ?? '', p.bytes.toString('utf8')).map((l) => `  ${l}`));
      } else if (p.what === 'users') {
        const a = before === null ? {} : parseUsers(before)?.users ?? {};
        const b = parseUsers(p.bytes)?.users ?? {};
        for (const n of Object.keys(b)) if (!(n in a)) out.push(`user ${n}: added (${b[n]?.role ?? ''})`);
        for (const n of Object.keys(a)) if (!(n in b)) out.push(`user ${n}: removed`);
        for (const n of Object.keys(b)) {
          const x = a[n];
          const y = b[n];
          if (x === undefined || y === undefined) continue;
          if (x.role !== y.role) out.push(`user ${n}: role ${x.role} → ${y.role}`);
          if (x.hash !== y.hash) out.push(`user ${n}: password changed`);
        }
        if (!out.some((l) => l.startsWith('user '))) out.push('users: API tokens changed');
      } else {
        out.push(`${p.what} ${p.path}: ${before === null ? 'created' : 'replaced'}`);
      }
    }
    return out;
  }

  // ── snapshot, confirmation, rollback ──────────────────────────────────────────────────────

  private pending(): Pending | null {
    return (readJson(join(this.dir, PENDING_FILE)) as Pending | undefined) ?? null;
  }

  /** Copies of every file about to be replaced, then the pending record (the rollback's plan). */
  private snapshot(changed: readonly Planned[], timeoutS: number): Pending {
    const id = randomBytes(6).toString('hex');
    const snap = join(this.dir, `snapshot-${id}`);
    mkdirSync(snap, { recursive: true, mode: 0o700 });
    const files: Saved[] = changed.map((p, i) => {
      const saved = `${String(i)}.bin`;
      const existed = existsSync(p.path);
      if (existed) writeBytesAtomic(join(snap, saved), readFileSync(p.path), 0o600);
      return { path: p.path, existed, mode: existed ? statSync(p.path).mode & 0o7777 : 0, saved };
    });
    const pending: Pending = { id, deadline: this.now() + timeoutS * 1000, timeout_s: timeoutS, files };
    writeJsonAtomic(join(this.dir, PENDING_FILE), pending);
    return pending;
  }

  private arm(p: Pending): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.exclusive(() => this.restore(p, `the imported configuration was not confirmed within ${String(p.timeout_s)} s`));
    }, Math.max(0, p.deadline - this.now()));
    this.timer.unref();
  }

  /** Puts the snapshot back and applies it. */
  private async restore(p: Pending, why: string): Promise<void> {
    const snap = join(this.dir, `snapshot-${p.id}`);
    for (const f of p.files) {
      if (f.existed) writeBytesAtomic(f.path, readFileSync(join(snap, f.saved)), f.mode);
      else rmSync(f.path, { force: true });
    }
    rmSync(join(this.dir, PENDING_FILE), { force: true });
    rmSync(snap, { recursive: true, force: true });
    this.o.log('error', `${why}: the previous configuration is restored`);
    const r = await this.o.apply();
    if (!r.ok) this.o.log('error', `the restored configuration could not be applied: ${r.messages.join('; ')}`);
  }

  /** Keeps the imported configuration: the snapshot is dropped. */
  confirm(): Promise<z.infer<typeof ActionReply>> {
    return this.exclusive(() => {
      const p = this.pending() ?? refuse(409, 'no imported configuration waits for confirmation');
      if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
      rmSync(join(this.dir, PENDING_FILE), { force: true });
      rmSync(join(this.dir, `snapshot-${p.id}`), { recursive: true, force: true });
      this.o.log('info', 'the imported configuration is confirmed');
      return Promise.resolve({ ok: true, messages: ['the imported configuration is confirmed: it stays'] });
    });
  }

  /** At start: an import left unconfirmed by a restart rolls back when its time is up (at once if it is). */
  resume(): void {
    const p = this.pending();
    if (p === null) return;
    if (p.deadline <= this.now()) void this.exclusive(() => this.restore(p, 'an imported configuration was not confirmed before the restart'));
    else this.arm(p);
  }

  /** Stops the rollback timer (the daemon stops; the pending record stays for the next start). */
  close(): void { if (this.timer !== null) clearTimeout(this.timer); this.timer = null; }
}

const UsersShape = z.object({ version: z.literal(1), users: z.record(z.string(), z.object({ role: z.string(), hash: z.string() }).loose()), tokens: z.record(z.string(), z.unknown()) });
function parseUsers(b: Buffer): z.infer<typeof UsersShape> | null {
  try { const r = UsersShape.safeParse(JSON.parse(b.toString('utf8'))); return r.success ? r.data : null; } catch { return null; }
}

function sameFile(path: string, bytes: Buffer): boolean {
  try { return readFileSync(path).equals(bytes); } catch { return false; }
}

/** Replaces `file` with `bytes` atomically, making its directory first (an import may bring a file the node never had). */
function writeBytesAtomic(file: string, bytes: Buffer, mode: number): void {
  ensureDir(dirname(file));
  writeFileAtomic(file, bytes, mode);
}

/** A minimal line diff (longest common subsequence): `- old`, `+ new` lines; long files summarized. */
export function lineDiff(a: string, b: string): string[] {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 4_000_000) return [`(${String(x.length)} lines → ${String(y.length)} lines; too long to compare line by line)`];
  const n = x.length;
  const m = y.length;
  const L: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    const row = L[i] as Uint32Array;
    const next = L[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j -= 1) row[j] = x[i] === y[j] ? (next[j + 1] ?? 0) + 1 : Math.max(next[j] ?? 0, row[j + 1] ?? 0);
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { i += 1; j += 1; continue; }
    if (j < m && (i >= n || (L[i]?.[j + 1] ?? 0) >= (L[i + 1]?.[j] ?? 0))) { out.push(`+ ${y[j] ?? ''}`); j += 1; } else { out.push(`- ${x[i] ?? ''}`); i += 1; }
  }
  return out;
}

function refusing(f: () => void): void {
  try { f(); } catch (err) { if (err instanceof ArchiveRefused) throw new OpError(400, [err.message]); throw err; }
}
async function refusingAsync<T>(f: () => Promise<T>): Promise<T> {
  try { return await f(); } catch (err) { if (err instanceof ArchiveRefused) throw new OpError(400, [err.message]); throw err; }
}
