/**
 * Helpers shared by the lab benchmarks (bench:failover, arp-heal): small pure utilities, lab ids,
 * saving a run's logs, and the last-resort sweep of processes that outlived a lab.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, NodeName } from '../../lab/lab.js';

export const other = (n: NodeName): NodeName => (n === 'a' ? 'b' : 'a');
export const log = (line: string): void => { process.stderr.write(`${line}\n`); };
export const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A fresh lab id with the benchmark's prefix (namespaces tdm<id>-*). */
export function labId(prefix: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}${[...randomBytes(6)].map((b) => alphabet[b % alphabet.length] ?? 'x').join('')}`;
}

/** Copies a run's node and hook logs into `dir`, named `<prefix>-<log>`. */
export function saveLogs(lab: Lab, dir: string, prefix: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of ['a.log', 'b.log', 'hooks.log']) {
    const from = join(lab.dir, name);
    if (existsSync(from)) copyFileSync(from, join(dir, `${prefix}-${name}`));
  }
}

/** SIGKILLs every process whose command line names one of our lab directories (a daemon that escaped a deleted namespace). */
export function sweep(dirs: Iterable<string>): number {
  const needles = [...dirs].map((d) => `${d}/`);
  if (needles.length === 0) return 0;
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (needles.some((n) => cmdline.includes(n))) {
      try { process.kill(pid, 'SIGKILL'); killed++; } catch { /* gone */ }
    }
  }
  return killed;
}
