/**
 * `npm run bench:sync` — data synchronization (issue 4) on real networking: the namespace lab's
 * HA link (one veth between the node namespaces), the real daemons, everything measured in one run.
 *
 *   node dist/bench/sync-bench.js [--quick] [--only PARTS] [--rounds N] [--tree-mib N] [--writes N]
 *                                 [--big-log-mib N] [--big-appends N] [--barriers N] [--rates LIST]
 *                                 [--rate-mib N] [--json] [--save FILE] [--logs DIR]
 *
 *   --quick          small sizes and counts (about 1 minute; the defaults take about 5)
 *   --only PARTS     throughput,lag,barrier,rate (comma-separated; default all)
 *   --rounds N       full resyncs and plain copies of the tree, alternating (default 3)
 *   --tree-mib N     size of the resync tree (default 200: 5 % in 4 KiB files, 45 % in 1 MiB files, one file of 50 %)
 *   --writes N       live writes for the lag (default 300: half 200-byte appends, half new small files)
 *   --big-log-mib N, --big-appends N   appends to a large log (default 64 MiB, 20 appends)
 *   --barriers N     barriers per way of calling it (default 100)
 *   --rates LIST     full-resync rate limits to check, Mbit/s (default 10,40; 10 is the configuration's default)
 *   --rate-mib N     tree resynced under each limit (default 30: 1 MiB files, one file of a third)
 *   --resume-mib N   the file cut at 60 % for the resume part (default 1024; --quick 128)
 *   --json           print the JSON (every sample summarized) instead of the tables
 *   --save FILE      also write that JSON to FILE
 *   --logs DIR       copy each lab's node logs into DIR
 *
 * Parts (the method is in docs/benchmarks.md, "Data synchronization"):
 *   throughput  lab with `sync.resync_rate_mbit: 0`; the secondary stopped, its data_dir emptied and
 *               started again: a full resync of the tree, timed from the primary's log; alternately
 *               the same tree copied over the same link by a plain TCP copier (src/bench/sync/copy.ts),
 *               writing each file with fsync, with fsync + rename + directory fsync, and without fsync.
 *   lag         a write on the primary's data_dir → the file complete (size, sha256) in the
 *               secondary's, seen by a watcher in the secondary's namespace (inotify + 1 ms poll).
 *   barrier     a small new file, then at once `tandem data barrier` (the CLI, process start
 *               included) or the control socket's barrier action alone; the file must be on the
 *               secondary when it returns.
 *   resume      a fresh lab, limit off; one file on the primary, the secondary emptied and started, killed
 *               (SIGKILL) once its progress passes 60 %, started again: the second session's
 *               planned bytes, the bytes on the HA link (secondary's ha0 rx) until it caught up,
 *               and the file checked (sha256) on the secondary.
 *   rate        a fresh lab per limit; full resync of a tree; the secondary's progress polled every
 *               50 ms and the HA link's received bytes every 10 ms: achieved rate and the most in any 1 s.
 *
 * Every lab (`tdmsb<random>-*`) is removed at the end, on failure and on Ctrl-C / SIGTERM. Needs root.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { controlRequest, sendAction } from '../adapters/control/client.js';
import { CONTROL_SOCKET } from '../adapters/control/protocol.js';
import type { ReplicationStatus } from '../app/sync/service.js';
import type { NodeStatus } from '../core/ha/status.js';
import { dataDir, stateDir } from '../lab/files.js';
import { isRoot, Lab, NODE_ADDRESSES, REPO_ROOT, type NodeName } from '../lab/lab.js';
import { run, sleep } from '../lab/run.js';
import { helperScript, LineChild } from './sync/child.js';
import { diffTrees, KiB, MiB, mixedTree, rateTree, treeBytes, treeFiles, writeTree, type SizeClass } from './sync/tree.js';
import { labId, LabSession, log, message, other, saveLogs, sweep } from './failover/common.js';
import { systemOf } from './failover/systems.js';

const PARTS = ['throughput', 'lag', 'barrier', 'rate', 'resume'] as const;
type Part = (typeof PARTS)[number];

/** The configuration's default full-resync limit (config/schema.ts): written as "not set". */
const DEFAULT_RATE_MBIT = 10;
/** The token bucket's burst (core/sync/ratelimit.ts DEFAULT_SYNC_BURST_BYTES). */
const BURST_BYTES = 256 * KiB;
const STEADY_TIMEOUT_MS = 30_000;
const COPY_PORT = 7790;
const LAG_TIMEOUT_MS = 10_000;
const PROGRESS_EVERY_MS = 50;
const RX_EVERY_MS = 10;

interface Options {
  readonly parts: readonly Part[];
  readonly rounds: number;
  readonly treeMiB: number;
  readonly writes: number;
  readonly bigLogMiB: number;
  readonly bigAppends: number;
  readonly barriers: number;
  readonly rates: readonly number[];
  readonly rateMiB: number;
  readonly resumeMiB: number;
  readonly json: boolean;
  readonly save: string | null;
  readonly logs: string | null;
  readonly quick: boolean;
}

function usage(): never {
  process.stderr.write('usage: node dist/bench/sync-bench.js [--quick] [--only throughput,lag,barrier,rate] [--rounds N] [--tree-mib N] '
    + '[--writes N] [--big-log-mib N] [--big-appends N] [--barriers N] [--rates 10,40] [--rate-mib N] [--json] [--save FILE] [--logs DIR]\n');
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const o = {
    parts: [...PARTS] as Part[], rounds: quick ? 1 : 3, treeMiB: quick ? 40 : 200, writes: quick ? 60 : 300,
    bigLogMiB: quick ? 16 : 64, bigAppends: quick ? 5 : 20, barriers: quick ? 20 : 100, rates: [DEFAULT_RATE_MBIT, 40],
    rateMiB: quick ? 8 : 30, resumeMiB: quick ? 128 : 1024, json: false, save: null as string | null, logs: null as string | null, quick,
  };
  const int = (v: string, min: number): number => { const n = Number(v); if (!Number.isInteger(n) || n < min) usage(); return n; };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => { const v = argv[++i]; if (v === undefined) usage(); return v; };
    switch (arg) {
      case '--quick': break;
      case '--only': {
        const names = value().split(',');
        if (!names.every((n): n is Part => (PARTS as readonly string[]).includes(n))) usage();
        o.parts = names;
        break;
      }
      case '--rounds': o.rounds = int(value(), 1); break;
      case '--tree-mib': o.treeMiB = int(value(), 1); break;
      case '--writes': o.writes = int(value(), 2); break;
      case '--big-log-mib': o.bigLogMiB = int(value(), 1); break;
      case '--big-appends': o.bigAppends = int(value(), 0); break;
      case '--barriers': o.barriers = int(value(), 1); break;
      case '--rates': o.rates = value().split(',').map((v) => int(v, 1)); break;
      case '--rate-mib': o.rateMiB = int(value(), 1); break;
      case '--resume-mib': o.resumeMiB = int(value(), 2); break;
      case '--json': o.json = true; break;
      case '--save': o.save = resolve(value()); break;
      case '--logs': o.logs = resolve(value()); break;
      default: usage();
    }
  }
  return o;
}

// ── small utilities ─────────────────────────────────────────────────────────────────────────

/** Wall-clock ms with sub-ms precision; the helper processes use the same clock. */
const now = (): number => performance.timeOrigin + performance.now();
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const haAddress = (n: NodeName): string => (NODE_ADDRESSES[n].ha0.split('/')[0] ?? '');

/** The lab in progress and the helper processes observing it: removed on failure and on signals. */
const session = new LabSession();

interface Stats { n: number; median: number; p90: number; p99: number; min: number; max: number }

/** Nearest-rank quantiles (p99 of 100 samples is the 99th smallest). */
function stats(samples: readonly number[]): Stats | null {
  if (samples.length === 0) return null;
  const s = [...samples].sort((x, y) => x - y);
  const rank = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  const mid = s.length / 2;
  const median = s.length % 2 === 1 ? (s[Math.floor(mid)] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  return { n: s.length, median, p90: rank(0.9), p99: rank(0.99), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

const median = (xs: readonly number[]): number => stats(xs)?.median ?? Number.NaN;
const mbps = (bytes: number, ms: number): number => (ms > 0 ? bytes / 1e6 / (ms / 1000) : Number.NaN);
const mbit = (bytes: number, ms: number): number => mbps(bytes, ms) * 8;
const fmt = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const msText = (x: number | null | undefined): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return x < 10 ? `${x.toFixed(2)} ms` : x < 100 ? `${x.toFixed(1)} ms` : `${x.toFixed(0)} ms`;
};

type FullStatus = NodeStatus & { sync: NodeStatus['sync'] & Partial<ReplicationStatus> };

async function status(lab: Lab, node: NodeName): Promise<FullStatus | null> {
  try {
    const r = await controlRequest(join(stateDir(lab.dir, node), CONTROL_SOCKET), 'GET', '/status', undefined, 2000);
    return r.status === 200 ? r.body as FullStatus : null;
  } catch {
    return null;
  }
}

interface LogLine { at: number; msg: string; event: string }

/** The node's JSON log lines written after byte `from`. */
function logSince(lab: Lab, node: NodeName, from: number): LogLine[] {
  let text: string;
  try { text = readFileSync(lab.logPath(node)).subarray(from).toString('utf8'); } catch { return []; }
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as { time?: string; msg?: string; event?: string };
      if (typeof j.time === 'string' && typeof j.msg === 'string') out.push({ at: Date.parse(j.time), msg: j.msg, event: j.event ?? '' });
    } catch { /* a line being written */ }
  }
  return out;
}

/** The last element `pred` accepts (Array.prototype.findLast is ES2023; the project targets ES2022). */
function lastOf<T>(xs: readonly T[], pred: (x: T) => boolean): T | undefined {
  for (let i = xs.length - 1; i >= 0; i--) {
    const x = xs[i];
    if (x !== undefined && pred(x)) return x;
  }
  return undefined;
}

const fileSize = (path: string): number => { try { return statSync(path).size; } catch { return 0; } };

async function waitFor<T>(what: string, fn: () => T | null | Promise<T | null>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (session.isAborting()) throw new Error('aborted');
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

/** The secondary is caught up: UpToDate with a live session. */
async function waitInSync(lab: Lab, secondary: NodeName, timeoutMs: number): Promise<void> {
  let last = 'no status';
  try {
    await waitFor(`${secondary} in sync`, async () => {
      const s = await status(lab, secondary);
      if (s === null) return null;
      last = `${s.sync.state}, session ${s.sync.session ?? '?'}`;
      return s.sync.state === 'UpToDate' && s.sync.session === 'live' ? true : null;
    }, timeoutMs, 50);
  } catch (err) {
    throw new Error(`${message(err)} (last: ${last})`);
  }
}

function emptyDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

async function newLab(rateMbit: number | undefined): Promise<{ lab: Lab; primary: NodeName; secondary: NodeName }> {
  const lab = new Lab({ id: labId('sb'), ...(rateMbit === undefined ? {} : { resyncRateMbit: rateMbit }) });
  await session.build(lab);
  const primary = await systemOf('tandem-default').start(lab, STEADY_TIMEOUT_MS);
  const secondary = other(primary);
  await waitInSync(lab, secondary, STEADY_TIMEOUT_MS);
  log(`  lab ${lab.id} up (resync limit ${rateMbit === undefined ? `${DEFAULT_RATE_MBIT} Mbit/s, the default` : rateMbit === 0 ? 'off' : `${rateMbit} Mbit/s`}): ${primary} primary, ${secondary} secondary`);
  return { lab, primary, secondary };
}

// ── full resync (Tandem) and plain copy ────────────────────────────────────────────────────

interface ProgressSample { t: number; bytes: number; files: number }

interface Resync {
  /** The secondary's process started (lab.start). */
  startedAt: number;
  connectAt: number;
  planAt: number;
  caughtUpAt: number;
  /** The primary's `resync sent`: the last byte handed to the socket. */
  sourceDoneAt: number | null;
  /** Sessions that ended before the one that did the resync (e.g. a refused handshake): 0 expected. */
  sessionsClosedBefore: number;
  files: number;
  bytes: number;
  /** Secondary's progress, polled (bytes and files done). */
  progress: ProgressSample[];
}

/**
 * Empties the (stopped) secondary's data_dir, starts it, and waits for the secondary's log to say
 * it caught up. Times: the primary's log lines `replica … connected` and `full resync: …` (plan
 * sent), the secondary's `caught up with the primary` (everything stored).
 */
async function fullResync(lab: Lab, primary: NodeName, secondary: NodeName, timeoutMs: number): Promise<Resync> {
  emptyDir(dataDir(lab.dir, secondary));
  const from = fileSize(lab.logPath(primary));
  const fromS = fileSize(lab.logPath(secondary));
  const startedAt = Date.now();
  await lab.start(secondary);
  const progress: ProgressSample[] = [];
  let caught: LogLine | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The end is the secondary's: the primary logs `resync sent` when it *sends* that
    // message, before the replica has stored what is still in the socket buffers.
    caught = logSince(lab, secondary, fromS).find((l) => l.msg.startsWith('caught up with the primary'));
    if (caught !== undefined) {
      // The session that succeeded is the last one: earlier ones may have been refused.
      const lines = logSince(lab, primary, from);
      const plan = lastOf(lines, (l) => l.msg.startsWith('full resync:'));
      const connect = lastOf(lines, (l) => l.msg.startsWith(`replica ${secondary} connected`) && l.at <= (plan?.at ?? 0));
      const m = /full resync: (\d+) files \((\d+) bytes\)/.exec(plan?.msg ?? '');
      if (connect === undefined || plan === undefined || m === null) throw new Error(`${primary}'s log lacks the resync's start lines`);
      const sent = lastOf(lines, (l) => l.msg.startsWith('resync sent'));
      const refused = lines.filter((l) => l.msg.startsWith(`replication session with ${secondary} closed`) && l.at <= plan.at).length;
      return {
        startedAt, connectAt: connect.at, planAt: plan.at, caughtUpAt: caught.at, sourceDoneAt: sent?.at ?? null,
        files: Number(m[1]), bytes: Number(m[2]), progress, sessionsClosedBefore: refused,
      };
    }
    if (lab.processState(secondary) === 'stopped') throw new Error(`${secondary} exited during the resync`);
    if (session.isAborting()) throw new Error('aborted');
    if (Date.now() > deadline) throw new Error(`full resync not caught up within ${timeoutMs / 1000} s`);
    const t = now();
    const s = await status(lab, secondary);
    const p = s?.sync.progress;
    if (p !== undefined && p !== null) progress.push({ t, bytes: p.bytes_total - p.bytes_left, files: p.files_total - p.files_left });
    await sleep(PROGRESS_EVERY_MS);
  }
}

type CopyMode = 'durable' | 'file' | 'none';
const COPY_MODES: readonly CopyMode[] = ['durable', 'file', 'none'];
const COPY_LABEL: Readonly<Record<CopyMode, string>> = {
  durable: 'plain copy: temp file, fsync, rename, dir fsync',
  file: 'plain copy: fsync per file',
  none: 'plain copy: no fsync',
};

interface CopyResult {
  mode: CopyMode;
  startAt: number;
  doneAt: number;
  files: number;
  bytes: number;
  classes: Record<string, { firstAt: number; doneAt: number; files: number; bytes: number }>;
}

/** The plain copy of `srcDir` from the primary's namespace to `destDir` in the secondary's. */
async function plainCopy(lab: Lab, primary: NodeName, secondary: NodeName, srcDir: string, destDir: string, mode: CopyMode): Promise<CopyResult> {
  emptyDir(destDir);
  const listen = `${haAddress(secondary)}:${COPY_PORT}`;
  const recv = new LineChild(`copy recv (${secondary})`, lab.ns(secondary), helperScript('copy'),
    ['recv', '--listen', listen, '--dir', destDir, '--sync', mode]);
  session.observers.push(recv);
  let send: LineChild | null = null;
  try {
    await recv.next((m) => m.ready === true, 10_000);
    send = new LineChild(`copy send (${primary})`, lab.ns(primary), helperScript('copy'), ['send', '--to', listen, '--dir', srcDir]);
    session.observers.push(send);
    const [s, r] = await Promise.all([
      send.next((m) => typeof m.startAt === 'number', 600_000),
      recv.next((m) => typeof m.doneAt === 'number', 600_000),
    ]);
    return {
      mode, startAt: s.startAt as number, doneAt: r.doneAt as number, files: r.files as number, bytes: r.bytes as number,
      classes: r.classes as CopyResult['classes'],
    };
  } finally {
    await recv.stop();
    await send?.stop();
    session.observers = session.observers.filter((o) => o !== recv && o !== send);
  }
}

interface ClassRate { dir: string; files: number; bytes: number; ms: number }

/** Per-class durations of a resync, from the progress samples (classes are sent in order). */
function resyncClasses(r: Resync, classes: readonly SizeClass[]): ClassRate[] {
  const pts = [{ t: r.planAt, bytes: 0 }, ...r.progress.map((p) => ({ t: p.t, bytes: p.bytes })), { t: r.caughtUpAt, bytes: treeBytes(classes) }];
  const crossing = (x: number): number => {
    const j = pts.findIndex((p) => p.bytes >= x);
    if (j <= 0) return pts[0]?.t ?? Number.NaN;
    const a = pts[j - 1];
    const b = pts[j];
    if (a === undefined || b === undefined || b.bytes === a.bytes) return b?.t ?? Number.NaN;
    return a.t + ((x - a.bytes) / (b.bytes - a.bytes)) * (b.t - a.t);
  };
  const out: ClassRate[] = [];
  let at = 0;
  for (const c of classes) {
    const bytes = c.count * c.size;
    out.push({ dir: c.dir, files: c.count, bytes, ms: crossing(at + bytes) - crossing(at) });
    at += bytes;
  }
  return out;
}

function copyClasses(r: CopyResult, classes: readonly SizeClass[]): ClassRate[] {
  let prev = r.startAt;
  return classes.map((c) => {
    const done = r.classes[c.dir]?.doneAt ?? Number.NaN;
    const ms = done - prev;
    prev = done;
    return { dir: c.dir, files: c.count, bytes: c.count * c.size, ms };
  });
}

interface ThroughputResult {
  tree: { mib: number; files: number; bytes: number; classes: SizeClass[] };
  rounds: {
    tandem: (Resync & { transferMs: number; sessionMs: number; scanMs: number; classes: ClassRate[]; verified: string | null })[];
    copy: Record<CopyMode, (CopyResult & { ms: number; classRates: ClassRate[]; verified: string | null })[]>;
  };
}

async function throughputPart(lab: Lab, primary: NodeName, secondary: NodeName, opts: Options): Promise<ThroughputResult> {
  const classes = mixedTree(opts.treeMiB);
  log(`throughput: tree of ${treeFiles(classes)} files, ${(treeBytes(classes) / MiB).toFixed(0)} MiB (${classes.map((c) => `${c.count} × ${c.size >= MiB ? `${c.size / MiB} MiB` : `${c.size / KiB} KiB`}`).join(', ')})`);
  await lab.stop(secondary);
  const src = join(dataDir(lab.dir, primary), 'bulk');
  writeTree(src, classes);
  const dest = join(lab.dir, `${secondary}-copy`);
  const result: ThroughputResult = {
    tree: { mib: opts.treeMiB, files: treeFiles(classes), bytes: treeBytes(classes), classes },
    rounds: { tandem: [], copy: { durable: [], file: [], none: [] } },
  };
  const methods = ['tandem', ...COPY_MODES] as const;
  for (let round = 1; round <= opts.rounds && !session.isAborting(); round++) {
    // A different order each round; in the last, Tandem last, so that the secondary stays up,
    // caught up, for the next parts. (Restarting it on a populated data_dir would need a
    // handshake that is slow with many files: see docs/benchmarks.md.)
    let order = methods.map((_, i) => methods[(i + round - 1) % methods.length] ?? 'tandem');
    if (round === opts.rounds) order = [...order.filter((m) => m !== 'tandem'), 'tandem'];
    for (const m of order) {
      if (m === 'tandem') {
        const r = await fullResync(lab, primary, secondary, 900_000);
        const verified = round === 1 ? diffTrees(src, join(dataDir(lab.dir, secondary), 'bulk')).differences.join('; ') || null : null;
        const t = { ...r, transferMs: r.caughtUpAt - r.planAt, sessionMs: r.caughtUpAt - r.connectAt, scanMs: r.planAt - r.connectAt, classes: resyncClasses(r, classes), verified };
        result.rounds.tandem.push(t);
        log(`  round ${round} tandem: ${r.files} files, ${(r.bytes / MiB).toFixed(1)} MiB; plan → caught up ${(t.transferMs / 1000).toFixed(2)} s (${fmt(mbps(r.bytes, t.transferMs))} MB/s), primary's scan ${(t.scanMs / 1000).toFixed(2)} s${verified === null ? '' : `; DIFFERENCES: ${verified}`}`);
        if (round !== opts.rounds) await lab.stop(secondary);
      } else {
        const c = await plainCopy(lab, primary, secondary, src, dest, m);
        const ms = c.doneAt - c.startAt;
        const verified = round === 1 ? diffTrees(src, dest).differences.join('; ') || null : null;
        result.rounds.copy[m].push({ ...c, ms, classRates: copyClasses(c, classes), verified });
        log(`  round ${round} copy (${m}): ${c.files} files in ${(ms / 1000).toFixed(2)} s (${fmt(mbps(c.bytes, ms))} MB/s)${verified === null ? '' : `; DIFFERENCES: ${verified}`}`);
        rmSync(dest, { recursive: true, force: true });
      }
    }
  }
  await waitInSync(lab, secondary, 60_000);
  return result;
}

// ── live replication lag ────────────────────────────────────────────────────────────────────

interface LagResult {
  kind: 'append' | 'new-file' | 'append-big';
  label: string;
  lagsMs: number[];
  timeouts: number;
}

async function lagPart(lab: Lab, primary: NodeName, secondary: NodeName, opts: Options): Promise<LagResult[]> {
  const pData = dataDir(lab.dir, primary);
  const sData = dataDir(lab.dir, secondary);
  const live = join(pData, 'live');
  mkdirSync(join(live, 'rec'), { recursive: true });
  mkdirSync(join(live, 'barrier'), { recursive: true });
  const audit = { path: 'live/audit.log', hash: createHash('sha256'), size: 0 };
  const big = { path: 'live/big.log', hash: createHash('sha256'), size: 0 };
  const first = Buffer.from(`${new Date().toISOString()} audit log of bench:sync\n`);
  writeFileSync(join(pData, audit.path), first);
  audit.hash.update(first);
  audit.size = first.length;
  // The large log, written in 1 MiB blocks.
  if (opts.bigAppends > 0) {
    const block = Buffer.allocUnsafe(MiB);
    writeFileSync(join(pData, big.path), '');
    for (let i = 0; i < opts.bigLogMiB; i++) {
      for (let k = 0; k < block.length; k += 100) block.write(`${String(i).padStart(8, '0')} ${String(k).padStart(8, '0')} ${'x'.repeat(81)}\n`, k, 'latin1');
      appendFileSync(join(pData, big.path), block);
      big.hash.update(block);
      big.size += block.length;
    }
  }
  const probe = new LineChild(`lag probe (${secondary})`, lab.ns(secondary), helperScript('probe'), ['watch', '--root', sData]);
  session.observers.push(probe);
  let id = 0;
  /** Arms the probe for the file's next version, then writes it; returns write → seen, ms. */
  const measure = async (path: string, size: number, sha: string, write: () => void, timeoutMs = LAG_TIMEOUT_MS): Promise<number | null> => {
    const my = ++id;
    probe.send({ id: my, path, size, sha256: sha });
    await probe.next((m) => m.id === my && m.armed === true, 5000);
    write();
    const writtenAt = now();
    try {
      const seen = await probe.next((m) => m.id === my && typeof m.seenAt === 'number', timeoutMs);
      return (seen.seenAt as number) - writtenAt;
    } catch (err) {
      log(`  ${path}: ${message(err)}`);
      return null;
    }
  };
  try {
    // Wait until the setup files are on the secondary (the big log is a whole-file transfer).
    const auditLag = await measure(audit.path, audit.size, audit.hash.copy().digest('hex'), () => undefined, 60_000);
    if (auditLag === null) throw new Error('the audit log never reached the secondary');
    if (opts.bigAppends > 0 && await measure(big.path, big.size, big.hash.copy().digest('hex'), () => undefined, 120_000) === null) {
      throw new Error('the large log never reached the secondary');
    }
    await sleep(1500); // past the hash cache's racy window: the setup files are cached from now on

    const appendLags: number[] = [];
    const newLags: number[] = [];
    const timeouts = { append: 0, 'new-file': 0 };
    for (let i = 0; i < opts.writes && !session.isAborting(); i++) {
      if (i % 2 === 0) {
        const rec = Buffer.from(`${new Date().toISOString()} record ${String(i).padStart(6, '0')} ${randomBytes(64).toString('hex')}`.padEnd(199, '.') + '\n');
        audit.hash.update(rec);
        audit.size += rec.length;
        const lag = await measure(audit.path, audit.size, audit.hash.copy().digest('hex'), () => { appendFileSync(join(pData, audit.path), rec); });
        if (lag === null) timeouts.append++; else appendLags.push(lag);
      } else {
        const size = 200 + Math.floor(Math.random() * (4096 - 200));
        const body = randomBytes(size);
        const path = `live/rec/r${String(i).padStart(6, '0')}`;
        const lag = await measure(path, size, sha256(body), () => { writeFileSync(join(pData, path), body, { flag: 'wx' }); });
        if (lag === null) timeouts['new-file']++; else newLags.push(lag);
      }
      await sleep(5 + Math.random() * 10);
    }
    const bigLags: number[] = [];
    let bigTimeouts = 0;
    for (let i = 0; i < opts.bigAppends && !session.isAborting(); i++) {
      const rec = Buffer.from(`${new Date().toISOString()} big record ${String(i).padStart(6, '0')}`.padEnd(199, '.') + '\n');
      big.hash.update(rec);
      big.size += rec.length;
      const lag = await measure(big.path, big.size, big.hash.copy().digest('hex'), () => { appendFileSync(join(pData, big.path), rec); }, 60_000);
      if (lag === null) bigTimeouts++; else bigLags.push(lag);
      await sleep(20 + Math.random() * 20);
    }
    const out: LagResult[] = [
      { kind: 'append', label: `200-byte append to a log (${(audit.size / KiB).toFixed(0)} KiB at the end)`, lagsMs: appendLags, timeouts: timeouts.append },
      { kind: 'new-file', label: 'new file of 200 B–4 KiB', lagsMs: newLags, timeouts: timeouts['new-file'] },
    ];
    if (opts.bigAppends > 0) out.push({ kind: 'append-big', label: `200-byte append to a ${opts.bigLogMiB} MiB log`, lagsMs: bigLags, timeouts: bigTimeouts });
    for (const r of out) log(`  lag ${r.kind}: median ${msText(stats(r.lagsMs)?.median)}, p99 ${msText(stats(r.lagsMs)?.p99)} (${r.lagsMs.length} writes, ${r.timeouts} timeouts)`);
    return out;
  } finally {
    await probe.stop();
    session.observers = session.observers.filter((o) => o !== probe);
  }
}

// ── barrier ─────────────────────────────────────────────────────────────────────────────────

interface BarrierSet {
  way: 'cli' | 'socket' | 'cli-startup' | 'node-startup';
  tree: string;
  ms: number[];
  /** What the daemon said it took ("stored on b (x ms)"). */
  daemonMs: number[];
  failures: string[];
  /** Barriers after which the file written before was not (yet) on the secondary: must be 0. */
  missing: number;
}

const CLI = join(REPO_ROOT, 'dist', 'cli', 'tandem.js');

async function barrierPart(lab: Lab, primary: NodeName, secondary: NodeName, opts: Options): Promise<BarrierSet[]> {
  const pData = dataDir(lab.dir, primary);
  const sData = dataDir(lab.dir, secondary);
  mkdirSync(join(pData, 'live', 'barrier'), { recursive: true });
  const socket = join(stateDir(lab.dir, primary), CONTROL_SOCKET);
  let seq = 0;
  const treeLabel = (): string => {
    const files = existsSync(join(pData, 'bulk')) ? ' + the resync tree' : '';
    return `data_dir${files}`;
  };

  const one = async (set: BarrierSet): Promise<void> => {
    const path = `live/barrier/b${String(++seq).padStart(6, '0')}`;
    const body = randomBytes(200);
    writeFileSync(join(pData, path), body, { flag: 'wx' });
    const t0 = now();
    let ok: boolean;
    let text: string;
    if (set.way === 'cli') {
      const r = await run(process.execPath, [CLI, 'data', 'barrier', '--config', lab.configPath, '--node', primary, '--timeout', '10000'], { timeoutMs: 20_000 });
      ok = r.code === 0;
      text = `${r.stdout}${r.stderr}`.trim();
    } else {
      const reply = await sendAction(socket, { type: 'barrier', timeout_ms: 10_000 });
      ok = reply.ok;
      text = reply.messages.join(' ');
    }
    const ms = now() - t0;
    const there = fileSize(join(sData, path)) === body.length && sha256(readFileSync(join(sData, path))) === sha256(body);
    if (!ok) { set.failures.push(text); return; }
    set.ms.push(ms);
    if (!there) set.missing++;
    const d = /\(([\d.]+) ms\)/.exec(text);
    if (d !== null) set.daemonMs.push(Number(d[1]));
  };

  const sets: BarrierSet[] = [];
  const cli: BarrierSet = { way: 'cli', tree: treeLabel(), ms: [], daemonMs: [], failures: [], missing: 0 };
  const sock: BarrierSet = { way: 'socket', tree: treeLabel(), ms: [], daemonMs: [], failures: [], missing: 0 };
  for (let i = 0; i < opts.barriers && !session.isAborting(); i++) {
    for (const set of i % 2 === 0 ? [cli, sock] : [sock, cli]) {
      await one(set);
      await sleep(10 + Math.random() * 20);
    }
  }
  sets.push(cli, sock);
  // What the process start costs by itself: the same CLI, loading the same modules, doing nothing.
  const startup: BarrierSet = { way: 'cli-startup', tree: '–', ms: [], daemonMs: [], failures: [], missing: 0 };
  const bare: BarrierSet = { way: 'node-startup', tree: '–', ms: [], daemonMs: [], failures: [], missing: 0 };
  for (let i = 0; i < Math.min(20, opts.barriers) && !session.isAborting(); i++) {
    for (const [set, argv] of [[startup, [CLI, 'data', 'barrier', '--help']], [bare, ['-e', '']]] as const) {
      const t0 = now();
      const r = await run(process.execPath, argv);
      if (r.code === 0) set.ms.push(now() - t0); else set.failures.push(r.stderr.trim());
    }
  }
  sets.push(startup, bare);
  // Again without the resync tree: does the barrier's full pass cost grow with the tree?
  if (existsSync(join(pData, 'bulk'))) {
    rmSync(join(pData, 'bulk'), { recursive: true, force: true });
    await waitFor('the resync tree removed on the secondary', () => (existsSync(join(sData, 'bulk')) ? null : true), 60_000, 50);
    await sleep(1500);
    const small: BarrierSet = { way: 'socket', tree: treeLabel(), ms: [], daemonMs: [], failures: [], missing: 0 };
    for (let i = 0; i < opts.barriers && !session.isAborting(); i++) {
      await one(small);
      await sleep(10 + Math.random() * 20);
    }
    sets.push(small);
  }
  for (const s of sets) log(`  barrier ${s.way} (${s.tree}): median ${msText(stats(s.ms)?.median)}, p99 ${msText(stats(s.ms)?.p99)}, ${s.failures.length} failed, ${s.missing} without the file`);
  return sets;
}

/** Files and bytes under a directory (the replicated data_dir, work directory excluded). */
function treeSize(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string): void => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      if (d === dir && n === '.tandem-sync') continue;
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) { files++; bytes += st.size; }
    }
  };
  walk(dir);
  return { files, bytes };
}

// ── rate limit ──────────────────────────────────────────────────────────────────────────────

interface RateResult {
  limitMbit: number;
  configured: string;
  files: number;
  bytes: number;
  transferMs: number;
  achievedMbit: number;
  /** Most payload bytes the secondary received within any ≤ 1 s span (progress every 50 ms). */
  maxPayload1s: number;
  /** Most bytes on the HA link (secondary's ha0 rx, every 10 ms) within any ≤ 1 s span of the transfer. */
  maxWire1s: number;
  wireBytes: number;
  /** Wire bytes per payload byte over the whole transfer (frame headers, HMAC, TCP/IP). */
  wireOverhead: number;
  /** maxWire1s / wireOverhead: the most payload the primary put on the link in any 1 s. */
  maxWirePayload1s: number;
  allowed1s: number;
  verified: string | null;
  samples: { progress: number; wire: number };
}

/** Most `v` gained over any span of at most `windowMs`. */
function maxOverWindow(pts: readonly { t: number; v: number }[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < pts.length; i++) {
    const pi = pts[i];
    if (pi === undefined) continue;
    if (j < i) j = i;
    while (j + 1 < pts.length && (pts[j + 1]?.t ?? Infinity) - pi.t <= windowMs) j++;
    best = Math.max(best, (pts[j]?.v ?? 0) - pi.v);
  }
  return best;
}

async function ratePart(rateMbit: number, opts: Options): Promise<RateResult> {
  const configured = rateMbit === DEFAULT_RATE_MBIT ? 'the default, not set' : `resync_rate_mbit: ${rateMbit}`;
  const { lab, primary, secondary } = await newLab(rateMbit === DEFAULT_RATE_MBIT ? undefined : rateMbit);
  try {
    await lab.stop(secondary);
    const classes = rateTree(opts.rateMiB);
    const src = join(dataDir(lab.dir, primary), 'rl');
    writeTree(src, classes);
    const rx = new LineChild(`rx counter (${secondary})`, lab.ns(secondary), helperScript('probe'), ['rx', '--iface', 'ha0', '--every', String(RX_EVERY_MS)]);
    session.observers.push(rx);
    let r: Resync;
    try {
      await rx.next((m) => typeof m.rx === 'number', 5000);
      r = await fullResync(lab, primary, secondary, Math.max(120_000, (treeBytes(classes) * 8 / 1e6 / rateMbit) * 3000));
    } finally {
      await rx.stop();
      session.observers = session.observers.filter((o) => o !== rx);
    }
    const wire = rx.drain().filter((m) => typeof m.t === 'number' && typeof m.rx === 'number').map((m) => ({ t: m.t as number, v: m.rx as number }));
    const during = wire.filter((p) => p.t >= r.planAt - 50 && p.t <= r.caughtUpAt + 50);
    const progress = [{ t: r.planAt, v: 0 }, ...r.progress.map((p) => ({ t: p.t, v: p.bytes })), { t: r.caughtUpAt, v: r.bytes }];
    const transferMs = r.caughtUpAt - r.planAt;
    const verified = diffTrees(src, join(dataDir(lab.dir, secondary), 'rl')).differences.join('; ') || null;
    const allowed1s = (rateMbit * 1e6) / 8 + BURST_BYTES;
    const wireBytes = (during[during.length - 1]?.v ?? 0) - (during[0]?.v ?? 0);
    const maxWire1s = maxOverWindow(during, 1000);
    const wireOverhead = r.bytes > 0 ? wireBytes / r.bytes : Number.NaN;
    const res: RateResult = {
      limitMbit: rateMbit, configured, files: r.files, bytes: r.bytes, transferMs, achievedMbit: mbit(r.bytes, transferMs),
      maxPayload1s: maxOverWindow(progress, 1000), maxWire1s, wireBytes, wireOverhead, maxWirePayload1s: maxWire1s / wireOverhead,
      allowed1s, verified, samples: { progress: r.progress.length, wire: during.length },
    };
    log(`  rate ${rateMbit} Mbit/s: ${(r.bytes / MiB).toFixed(1)} MiB in ${(transferMs / 1000).toFixed(2)} s = ${fmt(res.achievedMbit, 2)} Mbit/s; most in 1 s: on the wire ${fmt(maxWire1s * 8 / 1e6, 2)} Mbit = ${fmt(res.maxWirePayload1s * 8 / 1e6, 2)} Mbit of payload (overhead ×${fmt(wireOverhead, 3)}), received ${fmt(res.maxPayload1s * 8 / 1e6, 2)} Mbit (allowed ${fmt(allowed1s * 8 / 1e6, 2)})${verified === null ? '' : `; DIFFERENCES: ${verified}`}`);
    return res;
  } finally {
    if (opts.logs !== null) saveLogs(lab, opts.logs, `rate${rateMbit}`);
    await session.teardown(lab);
  }
}

// ── resume inside a file ────────────────────────────────────────────────────────────────────

interface ResumeResult {
  fileBytes: number;
  /** The secondary's progress when it was killed. */
  cutAtBytes: number;
  /** What the primary planned for the second session (the rest), from its log. */
  plannedBytes: number;
  /** Bytes on the HA link received by the secondary from its start to caught up (frames, TCP/IP). */
  wireBytes: number;
  resumedLine: string | null;
  transferMs: number;
  verified: string | null;
}

async function resumePart(opts: Options): Promise<ResumeResult> {
  const { lab, primary, secondary } = await newLab(0);
  try {
    await lab.stop(secondary);
    const dir = join(dataDir(lab.dir, primary), 'resume');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'big.bin');
    rmSync(file, { force: true });
    for (let i = 0; i < opts.resumeMiB; i += 16) appendFileSync(file, randomBytes(Math.min(16, opts.resumeMiB - i) * MiB));
    const fileBytes = statSync(file).size;
    emptyDir(dataDir(lab.dir, secondary));
    await lab.start(secondary);
    const cutAtBytes = await waitFor('the secondary past 60 %', async () => {
      const p = (await status(lab, secondary))?.sync.progress;
      const done = p === undefined || p === null ? 0 : p.bytes_total - p.bytes_left;
      return done >= 0.6 * fileBytes ? done : null;
    }, 300_000, 10);
    await lab.kill(secondary);
    const from = fileSize(lab.logPath(primary));
    const fromS = fileSize(lab.logPath(secondary));
    const rx = new LineChild(`rx counter (${secondary})`, lab.ns(secondary), helperScript('probe'), ['rx', '--iface', 'ha0', '--every', String(RX_EVERY_MS)]);
    session.observers.push(rx);
    let caughtAt = 0;
    let startAt = 0;
    try {
      await rx.next((m) => typeof m.rx === 'number', 5000);
      startAt = now();
      await lab.start(secondary);
      caughtAt = await waitFor('caught up after the restart', () => logSince(lab, secondary, fromS).find((l) => l.msg.startsWith('caught up with the primary'))?.at ?? null, 300_000, 50);
      await sleep(50);
    } finally {
      await rx.stop();
      session.observers = session.observers.filter((o) => o !== rx);
    }
    const wire = rx.drain().filter((m) => typeof m.t === 'number' && typeof m.rx === 'number').map((m) => ({ t: m.t as number, v: m.rx as number }));
    const during = wire.filter((p) => p.t >= startAt - 20 && p.t <= caughtAt + 50);
    const wireBytes = (during[during.length - 1]?.v ?? 0) - (during[0]?.v ?? 0);
    const lines = logSince(lab, primary, from);
    const plan = lastOf(lines, (l) => l.msg.startsWith('full resync:'));
    const m = /full resync: (\d+) files \((\d+) bytes\)/.exec(plan?.msg ?? '');
    const resumed = lastOf(lines, (l) => l.msg.startsWith('resuming '));
    const verified = diffTrees(dir, join(dataDir(lab.dir, secondary), 'resume')).differences.join('; ') || null;
    const res: ResumeResult = {
      fileBytes, cutAtBytes, plannedBytes: Number(m?.[2] ?? Number.NaN), wireBytes, resumedLine: resumed?.msg ?? null,
      transferMs: caughtAt - (plan?.at ?? caughtAt), verified,
    };
    log(`  resume: ${(fileBytes / MiB).toFixed(0)} MiB cut at ${(100 * cutAtBytes / fileBytes).toFixed(1)} %; planned ${(res.plannedBytes / MiB).toFixed(1)} MiB, on the wire ${(wireBytes / MiB).toFixed(1)} MiB${verified === null ? ', verified' : `; DIFFERENCES: ${verified}`}`);
    return res;
  } finally {
    if (opts.logs !== null) saveLogs(lab, opts.logs, 'resume');
    await session.teardown(lab);
  }
}

function resumeTable(r: ResumeResult): string[] {
  const mib = (b: number): string => (b / MiB).toFixed(1);
  return [
    '| file | cut at (secondary\'s progress) | rest | second session: planned | on the HA link | resent from the start | verified |',
    '|---:|---:|---:|---:|---:|---:|---|',
    `| ${mib(r.fileBytes)} MiB | ${mib(r.cutAtBytes)} MiB (${(100 * r.cutAtBytes / r.fileBytes).toFixed(1)} %) | ${mib(r.fileBytes - r.cutAtBytes)} MiB | ${mib(r.plannedBytes)} MiB | ${mib(r.wireBytes)} MiB (${(100 * r.wireBytes / r.fileBytes).toFixed(1)} % of the file) | ${r.resumedLine === null ? 'yes' : 'no'} | ${r.verified === null ? 'sha256 identical' : r.verified} |`,
    '',
    r.resumedLine === null ? 'The primary did not resume.' : `The primary's log: \`${r.resumedLine}\`. The rest took ${(r.transferMs / 1000).toFixed(2)} s (plan → caught up).`,
  ];
}

// ── report ──────────────────────────────────────────────────────────────────────────────────

function throughputTable(t: ThroughputResult): string[] {
  const tan = t.rounds.tandem;
  const copies = COPY_MODES.map((m) => t.rounds.copy[m]);
  const range = (xs: number[]): string => (xs.length > 1 ? ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '');
  const all = (xs: number[]): string => `${fmt(median(xs))} MB/s${range(xs)}`;
  const tTransfer = tan.map((r) => mbps(r.bytes, r.transferMs));
  const cDurable = t.rounds.copy.durable.map((r) => mbps(r.bytes, r.ms));
  const cFile = t.rounds.copy.file.map((r) => mbps(r.bytes, r.ms));
  const rows = [
    `| data | Tandem full resync, plan → caught up | Tandem, incl. the primary's scan | ${COPY_MODES.map((m) => COPY_LABEL[m]).join(' | ')} | Tandem / copy with fsync per file | Tandem / durable copy |`,
    `|---|---|---|${COPY_MODES.map(() => '---|').join('')}---|---|`,
    `| all: ${t.tree.files} files, ${(t.tree.bytes / MiB).toFixed(0)} MiB | **${all(tTransfer)}** | ${all(tan.map((r) => mbps(r.bytes, r.sessionMs)))} | ${copies.map((c) => all(c.map((r) => mbps(r.bytes, r.ms)))).join(' | ')} | **${fmt(median(tTransfer) / median(cFile), 2)}** | ${fmt(median(tTransfer) / median(cDurable), 2)} |`,
  ];
  t.tree.classes.forEach((c, k) => {
    const small = c.size < MiB;
    const per = (xs: ClassRate[][]): number => median(xs.map((x) => {
      const y = x[k];
      return y === undefined ? Number.NaN : small ? y.files / (y.ms / 1000) : mbps(y.bytes, y.ms);
    }));
    const cell = (v: number): string => (small ? `${fmt(v, 0)} files/s` : `${fmt(v)} MB/s`);
    const a = per(tan.map((r) => r.classes));
    const cs = copies.map((cc) => per(cc.map((r) => r.classRates)));
    const size = c.size >= MiB ? `${c.size / MiB} MiB` : `${c.size / KiB} KiB`;
    rows.push(`| ${c.count} × ${size} (\`${c.dir}/\`) | ${cell(a)} | – | ${cs.map(cell).join(' | ')} | ${fmt(a / (cs[1] ?? Number.NaN), 2)} | ${fmt(a / (cs[0] ?? Number.NaN), 2)} |`);
  });
  return rows;
}

function lagTable(ls: readonly LagResult[]): string[] {
  return [
    '| write on the primary | writes | median | p90 | p99 | max | not seen within 10 s |',
    '|---|---|---|---|---|---|---|',
    ...ls.map((l) => {
      const s = stats(l.lagsMs);
      return `| ${l.label} | ${s?.n ?? 0} | **${msText(s?.median)}** | ${msText(s?.p90)} | **${msText(s?.p99)}** | ${msText(s?.max)} | ${l.timeouts} |`;
    }),
  ];
}

function barrierTable(bs: readonly BarrierSet[], files: { big: string; small: string }): string[] {
  const label = (b: BarrierSet): string => {
    if (b.way === 'cli-startup') return 'CLI start-up alone: `tandem data barrier --help` (node + modules, no request)';
    if (b.way === 'node-startup') return 'bare Node.js start: `node -e \'\'`';
    const where = b.tree.includes('resync tree') ? files.big : files.small;
    return b.way === 'cli' ? `\`tandem data barrier\` (CLI, process start included), data_dir ${where}` : `control socket barrier action alone, data_dir ${where}`;
  };
  return [
    '| barrier right after a small write | runs | median | p99 | max | daemon\'s own time (median / p99) | failed | file missing after it |',
    '|---|---|---|---|---|---|---|---|',
    ...bs.map((b) => {
      const s = stats(b.ms);
      const d = stats(b.daemonMs);
      return `| ${label(b)} | ${s?.n ?? 0} | **${msText(s?.median)}** | **${msText(s?.p99)}** | ${msText(s?.max)} | ${d === null ? '–' : `${msText(d.median)} / ${msText(d.p99)}`} | ${b.failures.length} | ${b.way === 'cli-startup' || b.way === 'node-startup' ? '–' : b.missing} |`;
    }),
  ];
}

function rateTable(rs: readonly RateResult[]): string[] {
  const m = (bytes: number): string => `${fmt(bytes * 8 / 1e6, 2)} Mbit`;
  return [
    '| limit | tree | achieved (payload, plan → caught up) | most sent in any 1 s (HA link, as payload) | allowed in 1 s (limit + 256 KiB burst) | | most received by the replica in any 1 s | wire bytes per payload byte |',
    '|---|---|---|---|---|---|---|---|',
    ...rs.map((r) => `| ${r.limitMbit} Mbit/s (${r.configured}) | ${r.files} files, ${(r.bytes / MiB).toFixed(1)} MiB | **${fmt(r.achievedMbit, 2)} Mbit/s** (${(r.transferMs / 1000).toFixed(1)} s) | **${m(r.maxWirePayload1s)}** (${m(r.maxWire1s)} on the wire) | ${m(r.allowed1s)} | ${r.maxWirePayload1s > r.allowed1s ? '**over**' : 'held'} | ${m(r.maxPayload1s)} | ${fmt(r.wireOverhead, 3)} |`),
  ];
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!isRoot()) {
    log('bench:sync needs root: it builds network namespaces (run it with sudo).');
    process.exit(1);
  }
  session.removeOnSignals();
  const command = ['node', 'dist/bench/sync-bench.js', ...process.argv.slice(2)].join(' ');
  const started = new Date();
  const fsType = (await run('stat', ['-f', '-c', '%T', REPO_ROOT])).stdout.trim();
  const commit = (await run('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  log(`bench:sync: ${opts.parts.join(', ')}${opts.quick ? ' (quick)' : ''}`);

  let throughput: ThroughputResult | null = null;
  let lags: LagResult[] | null = null;
  let barriers: BarrierSet[] | null = null;
  let treeFilesBig = '';
  let treeFilesSmall = '';
  const rates: RateResult[] = [];

  if (opts.parts.some((p) => p !== 'rate' && p !== 'resume')) {
    const { lab, primary, secondary } = await newLab(0);
    try {
      if (opts.parts.includes('throughput')) throughput = await throughputPart(lab, primary, secondary, opts);
      if (opts.parts.includes('lag') && !session.isAborting()) lags = await lagPart(lab, primary, secondary, opts);
      if (opts.parts.includes('barrier') && !session.isAborting()) {
        const describe = (): string => { const s = treeSize(dataDir(lab.dir, primary)); return `${s.files} files, ${(s.bytes / MiB).toFixed(0)} MiB`; };
        treeFilesBig = describe();
        barriers = await barrierPart(lab, primary, secondary, opts);
        treeFilesSmall = describe();
      }
    } finally {
      if (opts.logs !== null) saveLogs(lab, opts.logs, 'main');
      await session.teardown(lab);
    }
  }
  if (opts.parts.includes('rate')) {
    for (const rate of opts.rates) {
      if (session.isAborting()) break;
      log(`rate limit ${rate} Mbit/s: tree of ${opts.rateMiB} MiB`);
      rates.push(await ratePart(rate, opts));
    }
  }
  let resume: ResumeResult | null = null;
  if (opts.parts.includes('resume') && !session.isAborting()) {
    log(`resume: one file of ${opts.resumeMiB} MiB, the secondary killed at 60 %`);
    resume = await resumePart(opts);
  }
  const leftovers = sweep(session.dirs);
  if (leftovers > 0) log(`killed ${leftovers} process(es) that outlived their lab`);
  const finished = new Date();

  const environment = { node: process.version, kernel: release(), cpus: cpus().length, filesystem: fsType, commit };
  const summary = {
    throughput: throughput === null ? null : {
      tree: throughput.tree,
      tandemTransferMBps: throughput.rounds.tandem.map((r) => mbps(r.bytes, r.transferMs)),
      tandemSessionMBps: throughput.rounds.tandem.map((r) => mbps(r.bytes, r.sessionMs)),
      tandemScanMs: throughput.rounds.tandem.map((r) => r.scanMs),
      copyMBps: Object.fromEntries(COPY_MODES.map((m) => [m, throughput.rounds.copy[m].map((r) => mbps(r.bytes, r.ms))])),
      tandemClasses: throughput.rounds.tandem.map((r) => r.classes),
      copyClasses: Object.fromEntries(COPY_MODES.map((m) => [m, throughput.rounds.copy[m].map((r) => r.classRates)])),
      sessionsClosedBeforeResync: throughput.rounds.tandem.map((r) => r.sessionsClosedBefore),
      sourceDoneBeforeReplicaMs: throughput.rounds.tandem.map((r) => (r.sourceDoneAt === null ? null : r.caughtUpAt - r.sourceDoneAt)),
      verified: { tandem: throughput.rounds.tandem.map((r) => r.verified), copy: COPY_MODES.flatMap((m) => throughput.rounds.copy[m].map((r) => r.verified)) },
    },
    lag: lags?.map((l) => ({ kind: l.kind, label: l.label, stats: stats(l.lagsMs), timeouts: l.timeouts })) ?? null,
    barrier: barriers?.map((b) => ({ way: b.way, tree: b.tree, stats: stats(b.ms), daemon: stats(b.daemonMs), failures: b.failures, missing: b.missing })) ?? null,
    barrierTrees: { big: treeFilesBig, small: treeFilesSmall },
    rate: rates,
    resume,
  };
  const json = `${JSON.stringify({ command, started: started.toISOString(), finished: finished.toISOString(), options: opts, environment, ...summary }, null, 2)}\n`;
  if (opts.save !== null) writeFileSync(opts.save, json);
  if (opts.json) { process.stdout.write(json); return; }

  const out = [
    `Data synchronization on the lab's HA link — ${started.toISOString()} (${Math.round((finished.getTime() - started.getTime()) / 1000)} s)`,
    `Command: \`${command}\``,
    `Host: Linux ${environment.kernel}, ${environment.cpus} CPUs, Node.js ${environment.node}, lab directories on ${fsType}; commit ${commit === '' ? 'unknown (not a git checkout)' : commit}`,
    '',
  ];
  if (throughput !== null) {
    out.push(`**Throughput** (rate limit off; median of ${opts.rounds} round(s), range in brackets)`, '', ...throughputTable(throughput), '');
    const v = [...throughput.rounds.tandem, ...COPY_MODES.flatMap((m) => throughput.rounds.copy[m])].map((r) => r.verified).filter((x) => x !== null);
    out.push(v.length === 0 ? 'Copies verified (round 1): every file identical (sha256) on the secondary.' : `**Differences**: ${v.join('; ')}`, '');
    const refused = throughput.rounds.tandem.reduce((a, r) => a + r.sessionsClosedBefore, 0);
    if (refused > 0) out.push(`${refused} replication session(s) ended before the one that did a resync (see the primary's log).`, '');
  }
  if (lags !== null) out.push('**Live replication lag** (write on the primary → complete on the secondary)', '', ...lagTable(lags), '');
  if (barriers !== null) out.push('**Barrier latency**', '', ...barrierTable(barriers, { big: treeFilesBig, small: treeFilesSmall }), '');
  if (resume !== null) out.push('**Resume inside a file** (secondary killed with SIGKILL during the full resync)', '', ...resumeTable(resume), '');
  if (rates.length > 0) {
    out.push('**Full-resync rate limit**', '', ...rateTable(rates), '');
    const bad = rates.filter((r) => r.verified !== null);
    if (bad.length > 0) out.push(`**Differences**: ${bad.map((r) => r.verified).join('; ')}`, '');
  }
  out.push(
    'References (not run here): DRBD\'s own defaults (Linux include/linux/drbd_limits.h): fixed resync-rate 250 KiB/s (2 Mbit/s); '
    + 'dynamic resync controller on (c-plan-ahead 2 s) with c-max-rate 100 MiB/s and c-min-rate 250 KiB/s; ANCHORS.md: the appliance '
    + 'limits full resync to 10 Mbit/s by default, normal replication unlimited. DRBD replicates inside the write (protocol C): its lag is the write latency itself.',
    '',
  );
  process.stdout.write(out.join('\n'));
}

main().catch(async (err: unknown) => {
  log(`bench:sync: ${message(err)}`);
  if (session.lab !== null) await session.teardown(session.lab);
  sweep(session.dirs);
  process.exit(1);
});
