/**
 * Support (SPEC §5): core files, and the support bundle — a .tar.gz of what a support engineer
 * needs (logs, status, configuration, versions, recent alerts, audit, core file list) with every
 * secret removed (redact.ts): by field (config/secrets.ts, the JSON field names) and by value
 * (every secret this node holds, searched for in the final bytes). A bundle in which a known
 * secret is still found is refused, never handed out.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { arch, freemem, hostname, loadavg, platform, release, totalmem, uptime } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { BLOCK, encodeHeader } from '../../adapters/firmware/ustar.js';
import { logFilesOf } from '../../adapters/log/file-log.js';
import { SECRET_VALUE_FIELDS, matchesField, secretFilesOf } from '../../config/secrets.js';
import type { TandemConfig } from '../../config/types.js';
import { refuse, type Download } from '../api/operation.js';
import type { AuditLog } from '../api/audit.js';
import type { UserStore } from '../api/users.js';
import type { FirmwareService } from '../firmware/service.js';
import { installedVersion } from '../firmware/installation.js';
import { issuesOf } from '../monitor/issues.js';
import type { StatusView } from '../node-app.js';
import { CoreFiles } from './cores.js';
import { REDACTED, Redactor } from './redact.js';

/** Of each log file, at most its last this many bytes. */
const LOG_TAIL_BYTES = 8 * 1024 * 1024;
const JOURNAL_LINES = 20_000;

export interface SupportServiceOptions {
  readonly nodeName: string;
  readonly stateDir: string;
  readonly configFile: string;
  readonly config: () => TandemConfig;
  readonly coreDir: () => string;
  readonly status: () => StatusView | null;
  readonly firmware: FirmwareService | null;
  readonly users: UserStore;
  readonly audit: AuditLog | null;
  /** The recent alerts (the AlertService's list). */
  readonly recentAlerts: () => readonly unknown[];
  /** The license root (its signatures are secrets of a kind: never in a bundle). */
  readonly licenseRoot: string | null;
  readonly now?: () => number;
}

export interface BundleEntry { readonly path: string; readonly data: Buffer }

export class SupportService {
  readonly cores: CoreFiles;
  constructor(private readonly o: SupportServiceOptions) {
    this.cores = new CoreFiles(o.coreDir);
  }

  /** The support bundle's files, every one redacted. */
  async entries(): Promise<{ entries: BundleEntry[]; redactor: Redactor }> {
    const r = this.redactor();
    const config = this.o.config();
    const top = `tandem-support-${this.o.nodeName}-${stamp(this.now())}`;
    const out: BundleEntry[] = [];
    const add = (path: string, data: string | Buffer): void => { out.push({ path: `${top}/${path}`, data: typeof data === 'string' ? Buffer.from(data) : data }); };
    const status = this.o.status();
    add('status.json', r.json({ status, issues: status === null ? ['the node is starting or stopping'] : issuesOf(status) }));
    add('versions.json', r.json({
      tandem: installedVersion(), node: process.version, os: { platform: platform(), release: release(), arch: arch(), hostname: hostname() },
      versions: this.o.firmware === null ? null : await this.o.firmware.versions().catch((e: unknown) => ({ error: (e as Error).message })),
      firmware: this.o.firmware?.list() ?? null,
    }));
    add('system.json', r.json({
      uptime_s: uptime(), load: loadavg(), memory: { total: totalmem(), free: freemem() },
      disk: run('df', ['-kP']), mounts_state_dir: this.o.stateDir,
    }));
    add('config/tandem.yaml', r.bytes(redactConfigText(readText(this.o.configFile), r)));
    add('config/users.json', r.json({ users: this.safe(() => this.o.users.list()), tokens: this.safe(() => this.o.users.tokens()) }));
    add('alerts.json', r.json({ recent: this.o.recentAlerts() }));
    add('audit.json', r.json({ entries: this.o.audit?.recent(1000) ?? [] }));
    add('cores.json', r.json({ directory: this.o.coreDir(), files: this.safe(() => this.cores.list()) }));
    for (const file of logFilesOf(this.o.stateDir)) {
      if (existsSync(file)) add(`logs/${file.slice(file.lastIndexOf('/') + 1)}`, r.bytes(tail(file, LOG_TAIL_BYTES)));
    }
    const journal = journalOf();
    if (journal !== null) add('logs/journal.txt', r.bytes(journal));
    add('README.txt', Buffer.from(readme(config, r)));
    // The final check: no known secret in any byte handed out.
    for (const e of out) {
      const left = r.leftovers(e.data);
      if (left.length > 0) refuse(500, `the support bundle still holds ${left.join(', ')} in ${e.path}: not handed out`);
    }
    return { entries: out, redactor: r };
  }

  /** The support bundle as a streamed .tar.gz. */
  async bundle(): Promise<Download> {
    const { entries } = await this.entries();
    const name = `${entries[0]?.path.split('/')[0] ?? 'tandem-support'}.tar.gz`;
    return { stream: tarGz(entries, Math.floor(this.now() / 1000)), size: null, name, contentType: 'application/gzip' };
  }

  private now(): number { return (this.o.now ?? Date.now)(); }

  private safe<T>(f: () => T): T | { error: string } {
    try { return f(); } catch (err) { return { error: (err as Error).message }; }
  }

  /** Every secret this node holds, to be searched for. */
  private redactor(): Redactor {
    const r = new Redactor();
    const config = this.o.config();
    for (const s of secretFilesOf(config)) {
      try { r.addBytes(s.what, readFileSync(s.path)); } catch { /* absent: nothing to find */ }
    }
    // The self-signed API key, and whatever private key sits beside it.
    for (const f of ['key.pem', 'key.pem.tmp']) {
      try { r.addBytes('API private key', readFileSync(join(this.o.stateDir, 'api', f))); } catch { /* none */ }
    }
    // Password hashes and token hashes, read from the users file itself.
    try {
      const users = JSON.parse(readFileSync(this.o.users.file, 'utf8')) as { users?: Record<string, { hash?: string }>; tokens?: Record<string, { sha256?: string }> };
      for (const u of Object.values(users.users ?? {})) if (typeof u.hash === 'string') r.addText('password hash', u.hash);
      for (const t of Object.values(users.tokens ?? {})) if (typeof t.sha256 === 'string') r.addText('token hash', t.sha256);
    } catch { /* no users */ }
    // License signatures: any `signature` field of a JSON document in the license root.
    if (this.o.licenseRoot !== null) for (const f of filesUnder(this.o.licenseRoot)) {
      try {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/"signature"\s*:\s*"([^"]+)"/g)) if (m[1] !== undefined) r.addText('license signature', m[1]);
      } catch { /* unreadable */ }
    }
    return r;
  }
}

/** The configuration text with every field declared secret replaced (comments kept, then scanned by value like all text). */
export function redactConfigText(text: string, r: Redactor): string {
  if (SECRET_VALUE_FIELDS.length === 0) return text;
  const doc = parseDocument(text);
  const walk = (n: YamlNode | null | undefined, path: (string | number)[]): void => {
    if (isMap(n)) {
      for (const item of n.items) {
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        if (SECRET_VALUE_FIELDS.some((p) => matchesField(p, [...path, key])) && isScalar(item.value)) { item.value.value = REDACTED; r.counts['config field'] = (r.counts['config field'] ?? 0) + 1; continue; }
        walk(item.value as YamlNode, [...path, key]);
      }
    } else if (isSeq(n)) {
      n.items.forEach((x, i) => { walk(x as YamlNode, [...path, i]); });
    }
  };
  walk(doc.contents, []);
  return doc.toString();
}

function readme(config: TandemConfig, r: Redactor): string {
  const counts = Object.entries(r.counts).map(([k, n]) => `  ${k}: ${String(n)}`);
  return [
    `Tandem support bundle of node ${hostname()} (cluster ${config.cluster.name}), made ${new Date().toISOString()}.`,
    '',
    'status.json     the node status and what the System Monitor lists as issues',
    'versions.json   Tandem, Node.js and OS versions; the firmware slots and their boot events',
    'system.json     uptime, load, memory, disk',
    'config/         the configuration file and the users (names and roles only)',
    'alerts.json     the recent alerts',
    'audit.json      the audit log: who changed what',
    'cores.json      the core files waiting (tandem core get NAME downloads one)',
    'logs/           the node log (and the journal, under systemd)',
    '',
    'Secrets removed (never in this bundle): the cluster key, webhook secrets, private keys,',
    'password hashes, API tokens and their hashes, license signatures. Removed here:',
    ...(counts.length === 0 ? ['  nothing was found'] : counts),
    ...(r.tooShort.length === 0 ? [] : ['', `Too short to be searched for by value (shorter than 6 characters): ${r.tooShort.join(', ')}`]),
    '',
  ].join('\n');
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function readText(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch (err) { return `(cannot read ${file}: ${(err as Error).message})\n`; }
}

function tail(file: string, max: number): Buffer {
  const b = readFileSync(file);
  if (b.length <= max) return b;
  const cut = b.indexOf(0x0a, b.length - max);
  return b.subarray(cut < 0 ? b.length - max : cut + 1);
}

function run(cmd: string, args: readonly string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }); } catch { return ''; }
}

/** The journal of the systemd unit, when there is one (else null). */
function journalOf(): string | null {
  const r = spawnSync('journalctl', ['-u', 'tandem.service', '-o', 'short-iso', '--no-pager', '-n', String(JOURNAL_LINES)], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || typeof r.stdout !== 'string' || r.stdout.trim() === '' || /^-- No entries --\s*$/.test(r.stdout.trim())) return null;
  return r.stdout;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 4) return;
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = join(d, n);
      try {
        const st = statSync(p);
        if (st.isDirectory()) walk(p, depth + 1);
        else if (st.isFile() && st.size < 1024 * 1024) out.push(p);
      } catch { /* gone */ }
    }
  };
  walk(dir, 0);
  return out;
}

/** A ustar archive of `entries`, gzipped, as a stream (the repo's strict ustar headers). */
export function tarGz(entries: readonly BundleEntry[], mtime: number): Readable {
  function* members(): Generator<Uint8Array> {
    for (const e of entries) {
      yield encodeHeader(e.path, e.data.length, 0o600, mtime);
      yield e.data;
      const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
      if (pad > 0) yield new Uint8Array(pad);
    }
    yield new Uint8Array(BLOCK * 2);
  }
  return Readable.from(members()).pipe(createGzip());
}

