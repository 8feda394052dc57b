/**
 * Helpers shared by the lab benchmarks (bench:failover, arp-heal, bench:sync): small pure
 * utilities, the client-probe settings, lab ids, building and tearing down a lab, saving a run's
 * logs, and the last-resort sweep of processes that outlived a lab.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, NodeName } from '../../lab/lab.js';

/** The client pings the VIP this often. */
export const PING_INTERVAL_MS = 20;
/** Replies in a row from the primary before the fault is made. */
export const WARMUP_REPLIES = 25;
export const WARMUP_TIMEOUT_MS = 5000;
/** A lab's cluster elects its primary within this. */
export const STEADY_TIMEOUT_MS = 20_000;
/** A run whose lab fails to come up is tried this often. */
export const SETUP_ATTEMPTS = 3;

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

export interface Stoppable { stop(): Promise<void> }

/**
 * The lab a benchmark is working on and what observes it, so that a failure or a signal removes
 * exactly that lab (and any process left in it) before the process exits.
 */
export class LabSession {
  /** Every lab directory used, for the final sweep. */
  readonly dirs = new Set<string>();
  lab: Lab | null = null;
  /** The lab's `up()` while it runs: a signal waits for it (up cleans up after itself on failure). */
  building: Promise<unknown> | null = null;
  /** Client probes and recorders of the current run. */
  observers: Stoppable[] = [];
  private aborting = false;

  /** Builds `lab` (its nodes not started) as the current lab: a signal meanwhile waits for it. */
  async build(lab: Lab): Promise<void> {
    this.lab = lab;
    this.dirs.add(lab.dir);
    const up = lab.up({ start: false });
    this.building = up;
    try {
      await up;
    } finally {
      this.building = null;
    }
  }

  /** A method, not a field: the signal handler sets it while an await is pending, so no narrowing. */
  isAborting(): boolean { return this.aborting; }

  async stopObservers(): Promise<void> {
    await Promise.all(this.observers.map((o) => o.stop().catch(() => undefined)));
    this.observers = [];
  }

  async teardown(lab: Lab): Promise<void> {
    await this.stopObservers();
    await lab.down().catch((err: unknown) => { log(`  lab ${lab.id}: down failed: ${message(err)}`); });
    const stray = sweep([lab.dir]);
    if (stray > 0) log(`  lab ${lab.id}: killed ${stray} stray process(es) that outlived the lab`);
    if (this.lab === lab) this.lab = null;
  }

  /** Ctrl-C / SIGTERM: remove the lab in progress, sweep, exit 130. */
  removeOnSignals(): void {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (this.aborting) return;
      this.aborting = true;
      log(`\n${sig}: removing the lab in progress…`);
      void (async () => {
        await this.stopObservers();
        if (this.building !== null) await this.building.catch(() => undefined);
        if (this.lab !== null) await this.teardown(this.lab);
        sweep(this.dirs);
        process.exit(130);
      })();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}
