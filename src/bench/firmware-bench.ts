/**
 * `npm run bench:firmware` — firmware (issue 8), measured in one run. Parts are independent and
 * chosen with --only; each adds its own section to the tables and to the JSON.
 *
 *   node dist/bench/firmware-bench.js [--only PARTS] [--sizes MIB,…] [--rounds N] [--dir DIR] [--json] [--save FILE]
 *
 *   --only PARTS   comma-separated parts (default all): verify, upgrade
 *   --sizes LIST   bundle sizes for verify, MiB (default 100,1024)
 *   --rounds N     rounds per measurement, medians reported (default 3)
 *   --dir DIR      where the bundles are built (default the system temp directory); removed after
 *   --json         print the JSON instead of the tables
 *   --save FILE    also write the JSON to FILE
 *
 * Parts (the method is in docs/benchmarks.md, "Firmware (issue 8)"):
 *   verify  For each size, a bundle built by writeBundle from a tree of one large random file
 *           and a few small ones (the tree is removed once the bundle is written). Then, in
 *           alternation, `rounds` times: (a) readBundle verify-only from a 1 MiB-chunk read
 *           stream, (b) plain SHA-256 of the same file through the same stream — after one
 *           unmeasured pass of each, so both read from the page cache. (c) the ratio of their
 *           throughputs, a/b (target ≥ 0.80). (d) the peak RSS of a child process that only
 *           verifies (process.resourceUsage().maxRSS), and of one that only hashes, per size:
 *           it must not grow with the bundle; and of one that loads the same modules and reads
 *           nothing, the floor both stand on.
 *   upgrade (root: the namespace lab) `rounds` fresh labs per method: both nodes onto 1.0.0,
 *           then 1.1.0 by `tandem cluster upgrade` or by the appliance's manual order, while a
 *           client pings the VIP every 10 ms (bench/firmware/upgrade.ts).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBundle } from '../adapters/firmware/writer.js';
import { keyIdOf, type TrustedKey } from '../adapters/firmware/keys.js';
import { summarize, type Summary } from './failover/stats.js';
import { CHUNK_BYTES, sha256OfFile, verifyFile } from './firmware/passes.js';
import { upgradePart, upgradeTable } from './firmware/upgrade.js';

const PARTS = ['verify', 'upgrade'] as const;
type Part = (typeof PARTS)[number];
const MiB = 1024 * 1024;
const CHILD = fileURLToPath(new URL('./firmware/verify-child.js', import.meta.url));
/** Small files beside the large one: a few KiB each, like package.json and compiled modules. */
const SMALL_FILES = [512, 4096, 12_000, 65_536, 200_000];
/** Free space wanted beyond the tree and the bundle (both the size of the bundle). */
const SPARE_BYTES = 256 * MiB;

interface Options {
  readonly parts: readonly Part[];
  readonly sizes: readonly number[];
  readonly rounds: number;
  readonly dir: string;
  readonly json: boolean;
  readonly save: string | null;
}

function usage(): never {
  process.stderr.write('usage: node dist/bench/firmware-bench.js [--only verify,upgrade] [--sizes 100,1024] [--rounds N] [--dir DIR] [--json] [--save FILE]\n');
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  const o = { parts: [...PARTS] as Part[], sizes: [100, 1024], rounds: 3, dir: tmpdir(), json: false, save: null as string | null };
  const int = (v: string, min: number): number => { const n = Number(v); if (!Number.isInteger(n) || n < min) usage(); return n; };
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => { const v = argv[++i]; if (v === undefined) usage(); return v; };
    switch (argv[i]) {
      case '--only': {
        const names = value().split(',');
        if (!names.every((n): n is Part => (PARTS as readonly string[]).includes(n))) usage();
        o.parts = names;
        break;
      }
      case '--sizes': o.sizes = value().split(',').map((v) => int(v, 1)); break;
      case '--rounds': o.rounds = int(value(), 1); break;
      case '--dir': o.dir = resolve(value()); break;
      case '--json': o.json = true; break;
      case '--save': o.save = resolve(value()); break;
      case undefined:
      default: usage();
    }
  }
  return o;
}

// ── verify ──────────────────────────────────────────────────────────────────────────────────

interface ChildRun { readonly ms: number; readonly maxRssKiB: number }

interface VerifyRow {
  readonly sizeMiB: number;
  readonly bundleBytes: number;
  readonly files: number;
  readonly buildMs: number;
  /** ms per pass, in round order. */
  readonly verifyMs: readonly number[];
  readonly sha256Ms: readonly number[];
  readonly verify: Summary | null;
  readonly sha256: Summary | null;
  /** MB/s (10^6 bytes) from the medians. */
  readonly verifyMBps: number;
  readonly sha256MBps: number;
  /** verify throughput / SHA-256 throughput. */
  readonly ratio: number;
  readonly childVerify: readonly ChildRun[];
  readonly childSha256: readonly ChildRun[];
  /** Median peak RSS, MiB. */
  readonly verifyRssMiB: number;
  readonly sha256RssMiB: number;
}

interface VerifyResult {
  readonly rows: readonly VerifyRow[];
  readonly target: number;
  /** Median peak RSS of a child that loads the modules and reads nothing, MiB. */
  readonly idleRssMiB: number;
}

/** A tree of one random file of `bytes` less the small ones, and the small ones; returns its files. */
function writeTree(tree: string, bytes: number): { path: string; mode: number }[] {
  mkdirSync(join(tree, 'dist'), { recursive: true });
  const files = SMALL_FILES.map((size, i) => ({ path: `dist/module-${String(i)}.js`, mode: 0o644, size }));
  files.push({ path: 'payload.bin', mode: 0o644, size: Math.max(0, bytes - SMALL_FILES.reduce((a, b) => a + b, 0)) });
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  for (const f of files) {
    const fd = openSync(join(tree, f.path), 'w');
    try {
      for (let left = f.size; left > 0; left -= CHUNK_BYTES) writeSync(fd, randomFillSync(chunk), 0, Math.min(left, CHUNK_BYTES));
    } finally {
      closeSync(fd);
    }
  }
  return files.map(({ path, mode }) => ({ path, mode })).sort((a, b) => (a.path < b.path ? -1 : 1));
}

function runChild(args: readonly string[]): ChildRun {
  const r = spawnSync(process.execPath, [CHILD, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`verify child ${args[0] ?? ''} failed (${String(r.status)}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildRun;
}

const median = (xs: readonly number[]): number => summarize(xs)?.median ?? Number.NaN;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function verifyPart(opts: Options, log: (line: string) => void): Promise<VerifyResult> {
  const rows: VerifyRow[] = [];
  // A throwaway key: made for this run, gone with it.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key: { privateKey: typeof privateKey; trusted: TrustedKey } = { privateKey, trusted: { id: keyIdOf(publicKey), key: publicKey, source: 'bench key' } };
  for (const sizeMiB of opts.sizes) {
    const bytes = sizeMiB * MiB;
    const free = statfsSync(opts.dir).bavail * statfsSync(opts.dir).bsize;
    if (free < 2 * bytes + SPARE_BYTES) throw new Error(`${opts.dir}: ${(free / MiB).toFixed(0)} MiB free, ${((2 * bytes + SPARE_BYTES) / MiB).toFixed(0)} MiB needed for a ${sizeMiB} MiB bundle (--dir elsewhere, or smaller --sizes)`);
    const work = mkdtempSync(join(opts.dir, 'tandem-fw-bench-'));
    cleanup.add(work);
    try {
      log(`verify: building a ${sizeMiB} MiB bundle in ${work}`);
      const tree = join(work, 'tree');
      const files = writeTree(tree, bytes);
      const bundle = join(work, `bench-${String(sizeMiB)}.tfw`);
      const started = performance.now();
      await writeBundle({
        tree, files, signingKey: key.privateKey, out: bundle,
        fields: {
          version: '1.0.0', type: 'lts', published: '2026-01-01', notes: '', min_from: null,
          config_schema: { version: 1, migrations: [] }, ha_protocol: { min: 1, max: 1 }, releases: [],
          runtime: { node_abi: process.versions.modules, platform: process.platform, arch: process.arch },
          built_at: new Date().toISOString(),
        },
      });
      const buildMs = performance.now() - started;
      rmSync(tree, { recursive: true, force: true });
      const pub = join(work, 'bench.pub');
      writeFileSync(pub, key.trusted.key.export({ type: 'spki', format: 'pem' }));
      const bundleBytes = statSync(bundle).size;

      // Unmeasured: the file into the page cache, and each code path warmed once.
      await sha256OfFile(bundle);
      await verifyFile(bundle, key.trusted);
      const verifyMs: number[] = [];
      const sha256Ms: number[] = [];
      for (let round = 1; round <= opts.rounds; round++) {
        verifyMs.push(await timed(() => verifyFile(bundle, key.trusted)));
        sha256Ms.push(await timed(() => sha256OfFile(bundle)));
        log(`verify: ${sizeMiB} MiB round ${round}: readBundle ${(verifyMs.at(-1) ?? 0).toFixed(0)} ms, sha256 ${(sha256Ms.at(-1) ?? 0).toFixed(0)} ms`);
      }
      const childVerify: ChildRun[] = [];
      const childSha256: ChildRun[] = [];
      for (let round = 1; round <= opts.rounds; round++) {
        childVerify.push(runChild(['verify', bundle, pub]));
        childSha256.push(runChild(['sha256', bundle]));
      }
      const mbps = (ms: number): number => bundleBytes / 1e6 / (ms / 1000);
      const verifyMBps = mbps(median(verifyMs));
      const sha256MBps = mbps(median(sha256Ms));
      rows.push({
        sizeMiB, bundleBytes, files: files.length, buildMs, verifyMs, sha256Ms,
        verify: summarize(verifyMs), sha256: summarize(sha256Ms), verifyMBps, sha256MBps, ratio: verifyMBps / sha256MBps,
        childVerify, childSha256,
        verifyRssMiB: median(childVerify.map((c) => c.maxRssKiB)) / 1024,
        sha256RssMiB: median(childSha256.map((c) => c.maxRssKiB)) / 1024,
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
      cleanup.delete(work);
    }
  }
  const idle = Array.from({ length: opts.rounds }, () => runChild(['idle']));
  return { rows, target: 0.8, idleRssMiB: median(idle.map((c) => c.maxRssKiB)) / 1024 };
}

function verifyTable(r: VerifyResult): string[] {
  const s = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
  return [
    '**Bundle verification** (median of the rounds; MB = 10^6 bytes)',
    '',
    '| bundle | (a) readBundle, verify only | (b) plain SHA-256 of the file | (c) a/b | (d) peak RSS, verifying child | peak RSS, hashing child |',
    '|---|---|---|---|---|---|',
    ...r.rows.map((row) => `| ${row.sizeMiB >= 1024 ? `${(row.sizeMiB / 1024).toFixed(0)} GiB` : `${row.sizeMiB} MiB`} (${row.files} files) `
      + `| ${s(row.verify?.median)}, **${row.verifyMBps.toFixed(0)} MB/s** `
      + `| ${s(row.sha256?.median)}, ${row.sha256MBps.toFixed(0)} MB/s `
      + `| **${row.ratio.toFixed(2)}** `
      + `| **${row.verifyRssMiB.toFixed(1)} MiB** | ${row.sha256RssMiB.toFixed(1)} MiB |`),
    '',
    `Peak RSS of a child that loads the same modules and reads nothing: ${r.idleRssMiB.toFixed(1)} MiB.`,
    `Target (c) ≥ ${r.target.toFixed(2)}: ${r.rows.every((row) => row.ratio >= r.target) ? 'met' : 'NOT MET'} at every size.`,
  ];
}

// ── main ────────────────────────────────────────────────────────────────────────────────────

/** Work directories to remove on failure and on Ctrl-C / SIGTERM. */
const cleanup = new Set<string>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const log = (line: string): void => { process.stderr.write(`${line}\n`); };
  const results: Partial<Record<Part, unknown>> = {};
  const tables: string[] = [];
  const runners: Record<Part, () => Promise<void>> = {
    verify: async () => {
      const r = await verifyPart(opts, log);
      results.verify = r;
      tables.push(...verifyTable(r), '');
    },
    upgrade: async () => {
      const r = await upgradePart(opts.rounds, log);
      results.upgrade = r;
      tables.push(...upgradeTable(r), '');
    },
  };
  for (const part of opts.parts) await runners[part]();
  const json = {
    date: new Date().toISOString(),
    command: `node dist/bench/firmware-bench.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '', kernel: release(), node: process.version },
    options: { ...opts, chunkBytes: CHUNK_BYTES },
    results,
  };
  if (opts.save !== null) writeFileSync(opts.save, `${JSON.stringify(json, null, 2)}\n`);
  if (opts.json) console.log(JSON.stringify(json, null, 2));
  else console.log([`${json.command} — ${json.date}, ${json.machine.cpus} × ${json.machine.cpu}, Node.js ${json.machine.node}`, '', ...tables].join('\n'));
}

try {
  await main();
} finally {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
}
