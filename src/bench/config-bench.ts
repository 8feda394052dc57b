/**
 * `npm run bench:config` — configuration export / import (issue 10), in one run: a node whose
 * configuration has 10,000 users (real scrypt hash strings, as `tandem user add` stores them)
 * and a license, exported plain and encrypted, each imported into a fresh node (upload, then
 * the import applied, the difference computed); the time of each step (median of --rounds) and
 * the peak RSS of the process; and the KDF's cost alone (the scrypt parameters an encrypted
 * export is sealed with), which sets the time of every guess at an export's password.
 *
 *   node dist/bench/config-bench.js [--users N] [--rounds N] [--json]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { KDF } from '../adapters/backup/archive.js';
import { scryptKey } from '../adapters/crypto/password.js';
import { ConfigBackupService, ImportRequest } from '../app/backup/service.js';
import { licenseOf, makeVendor, writeNodeConfig } from '../app/license/license.test-support.js';
import { loadConfig } from '../config/load.js';
import { summarize } from './failover/stats.js';

const median = (xs: readonly number[]): number => summarize(xs)?.median ?? Number.NaN;

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const USERS = arg('--users', 10_000);
const ROUNDS = arg('--rounds', 3);
const PASSWORD = 'a bench password of a reasonable length';

const root = mkdtempSync(join(tmpdir(), 'tandem-config-bench-'));
const vendor = makeVendor();
let n = 0;

function node(): ConfigBackupService {
  const dir = join(root, String(n += 1));
  const file = writeNodeConfig(dir, { vendorPems: [vendor.pubPem] });
  return new ConfigBackupService({
    nodeName: 'a', stateDir: join(dir, 'state'), configFile: file, hostname: 'bench',
    config: () => { const l = loadConfig(file); if (!l.ok) throw new Error('bench configuration refused'); return l.config; },
    configRoot: join(dir, 'state', 'store', 'config'), licenseRoot: join(dir, 'state', 'store', 'license'),
    firmwareVersion: '1.2.0', role: () => 'primary', frozen: () => null,
    apply: () => Promise.resolve({ ok: true, messages: [] }),
    log: () => undefined,
  });
}

/** The source node: USERS users (each hash as long as a real one) and a license. */
function source(): ConfigBackupService {
  const svc = node();
  const dir = join(root, String(n));
  const users: Record<string, { role: string; hash: string; created: string }> = {};
  for (let i = 0; i < USERS; i++) {
    users[`user${String(i)}`] = { role: i % 10 === 0 ? 'admin' : 'viewer', hash: `scrypt$16$8$1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`, created: '2026-01-01T00:00:00.000Z' };
  }
  mkdirSync(join(dir, 'state', 'store', 'config'), { recursive: true });
  writeFileSync(join(dir, 'state', 'store', 'config', 'users.json'), JSON.stringify({ version: 1, users, tokens: {} }));
  mkdirSync(join(dir, 'state', 'store', 'license'), { recursive: true });
  writeFileSync(join(dir, 'state', 'store', 'license', 'license.lic'), licenseOf(vendor));
  return svc;
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

async function main(): Promise<void> {
  const src = source();
  const rows: { step: string; ms: number[]; bytes: number }[] = [];
  const row = (step: string, ms: number, bytes: number): void => {
    let r = rows.find((x) => x.step === step);
    if (r === undefined) { r = { step, ms: [], bytes }; rows.push(r); }
    r.ms.push(ms);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const sealing of ['plain', 'encrypted'] as const) {
      const body = sealing === 'plain' ? {} : { password: PASSWORD };
      const out = await timed(() => src.export(body));
      const file = Buffer.from(out.value.content_base64, 'base64');
      row(`export ${sealing}`, out.ms, file.length);
      const dst = node();
      const imp = await timed(async () => {
        const staged = await dst.stage(Readable.from([file]));
        return dst.import(ImportRequest.parse({ file: staged.file, ...body }));
      });
      if (!imp.value.ok) throw new Error(`import refused: ${imp.value.messages.join('; ')}`);
      row(`import ${sealing}`, imp.ms, file.length);
    }
  }
  const kdf: number[] = [];
  for (let i = 0; i < ROUNDS; i++) kdf.push((await timed(() => scryptKey(PASSWORD, randomBytes(16), KDF, 1024 ** 3))).ms);
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  const result = {
    users: USERS, rounds: ROUNDS, cpu: cpus()[0]?.model ?? 'unknown',
    steps: rows.map((r) => ({ step: r.step, median_ms: Math.round(median(r.ms)), file_bytes: r.bytes })),
    kdf: { ...KDF, median_ms: Math.round(median(kdf)) },
    peak_rss_mib: Math.round(peakMiB),
  };
  if (process.argv.includes('--json')) { console.log(JSON.stringify(result, null, 2)); return; }
  console.log(`Configuration export / import, ${String(USERS)} users, median of ${String(ROUNDS)} (${result.cpu})`);
  console.log('| step | median | file |\n|---|---|---|');
  for (const s of result.steps) console.log(`| ${s.step} | ${String(s.median_ms)} ms | ${(s.file_bytes / 1048576).toFixed(2)} MiB |`);
  console.log(`KDF scrypt N=${String(KDF.N)} r=${String(KDF.r)} p=${String(KDF.p)} (${String((128 * KDF.N * KDF.r) / 1048576)} MiB): ${String(result.kdf.median_ms)} ms per derivation`);
  console.log(`peak RSS of the process: ${String(result.peak_rss_mib)} MiB`);
}

try {
  await main();
} finally {
  rmSync(root, { recursive: true, force: true });
}
