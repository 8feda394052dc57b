/**
 * `tandem node --config FILE --node NAME`: the launcher. It is the node's boot loader: it picks
 * the firmware slot to boot (core/firmware/boot.ts), prepares the configuration for it (snapshot,
 * migration by the slot's own code), runs that slot's daemon (`tandem daemon`) as its child and,
 * while the slot is on trial, watches its health and commits it or falls back on its own.
 *
 * The launcher is always the installed (factory) code, never a slot's: a firmware, however
 * broken, cannot break the thing that falls back from it. It reads the configuration file only
 * loosely (the node's state directory and the `firmware` trial settings), so a configuration
 * migrated to a newer schema by a newer firmware does not stop it.
 *
 * The daemon child dies with the launcher (PR_SET_PDEATHSIG through `setpriv`, and a parent
 * check in the daemon as a backstop): killing the node's process kills the node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { controlRequest } from '../../adapters/control/client.js';
import { CONTROL_SOCKET } from '../../adapters/control/protocol.js';
import { crashPoint } from '../../adapters/faults/crash-point.js';
import { FirmwareDir } from '../../adapters/firmware/slots.js';
import { jsonLogger, type Logger } from '../../adapters/log/logger.js';
import { readJson, writeJsonAtomic, writeTextAtomic } from '../../adapters/state/store.js';
import {
  configStepFor, describeSlot, healthOf, planBoot, stepBoot,
  type BootLimits, type BootRecord, type Decision, type HealthView, type SlotRef,
} from '../../core/firmware/boot.js';
import { CONFIG_SCHEMA } from '../../core/compat.js';
import { INSTALL_ROOT } from './installation.js';
import { runTree } from './run-tree.js';

/** The trial settings when the configuration gives none (`firmware.trial_timeout_s`, `trial_attempts`). */
export const DEFAULT_TRIAL_TIMEOUT_S = 600;
export const DEFAULT_TRIAL_ATTEMPTS = 3;
/** A daemon must have run this long before its health counts (one that dies soon after start is not kept). */
const MIN_UP_MS = 5000;
/** How often the health of a daemon on trial is read. */
const HEALTH_POLL_MS = 500;
/** A slot's configuration migration gets this long. */
const MIGRATE_TIMEOUT_MS = 60_000;
/** A daemon asked to stop gets this long (a primary hands over first), then SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

export interface LauncherOptions {
  readonly configFile: string;
  readonly nodeName: string;
}

export interface BootSettings {
  readonly stateDir: string;
  readonly limits: BootLimits;
}

export class LauncherError extends Error {}

/** Reads what the launcher needs from the configuration file, without validating the rest. */
export function readBootSettings(configFile: string, nodeName: string): BootSettings {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(configFile, 'utf8'));
  } catch (err) {
    throw new LauncherError(`${configFile}: cannot read the configuration: ${(err as Error).message}`);
  }
  const at = (path: readonly string[]): unknown => path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), doc);
  const nodes = at(['nodes']);
  if (typeof nodes !== 'object' || nodes === null || !Object.hasOwn(nodes, nodeName)) {
    const known = typeof nodes === 'object' && nodes !== null ? Object.keys(nodes).join(', ') : 'none';
    throw new LauncherError(`${configFile}: nodes: node ${nodeName} is not in the configuration (known: ${known})`);
  }
  const stateDir = at(['nodes', nodeName, 'state_dir']);
  if (typeof stateDir !== 'string' || stateDir === '') throw new LauncherError(`${configFile}: nodes.${nodeName}.state_dir: missing: every node needs a state directory`);
  const number = (key: string, fallback: number, min: number): number => {
    const v = at(['firmware', key]);
    return typeof v === 'number' && Number.isInteger(v) && v >= min ? v : fallback;
  };
  return {
    stateDir: resolve(dirname(resolve(configFile)), stateDir),
    limits: {
      maxAttempts: number('trial_attempts', DEFAULT_TRIAL_ATTEMPTS, 1),
      trialMs: number('trial_timeout_s', DEFAULT_TRIAL_TIMEOUT_S, 1) * 1000,
      minUpMs: MIN_UP_MS,
    },
  };
}

/** The configuration schema of a configuration text (its top-level `schema`, 1 when absent). */
export function schemaOfText(text: string): number {
  try {
    const doc = parseYaml(text) as { schema?: unknown } | null;
    const v = doc?.schema;
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : 1;
  } catch {
    return 1;
  }
}

interface Snapshot { readonly activation: string; readonly schema: number; readonly text: string; readonly at: string }

export async function runLauncher(opts: LauncherOptions): Promise<never> {
  const configFile = resolve(opts.configFile);
  const settings = readBootSettings(configFile, opts.nodeName);
  const log: Logger = jsonLogger(opts.nodeName);
  const fw = new FirmwareDir(settings.stateDir);
  const leftovers = fw.prepare();
  if (leftovers.length > 0) log.log('info', 'firmware', `removed ${String(leftovers.length)} interrupted installation(s)`);
  const socket = join(settings.stateDir, CONTROL_SOCKET);
  const limits = settings.limits;

  let record: BootRecord;
  let child: ChildProcess | null = null;
  let childStarted = 0;
  /** In an object: it changes while awaits are pending (a SIGTERM during a health read). */
  const run = { stopping: false };
  let poll: NodeJS.Timeout | null = null;

  const say = (d: Decision): void => {
    for (const l of d.log) log.log(l.level, 'firmware', l.message);
  };
  /** The record is on disk before anything it decided happens. */
  const persist = (next: BootRecord): void => {
    record = next;
    fw.writeBoot(next);
  };

  const treeOf = (ref: SlotRef): string => (ref.slot === 0 ? INSTALL_ROOT : fw.treeOf(ref.slot));
  const schemaOf = (ref: SlotRef): number => (ref.slot === 0 ? CONFIG_SCHEMA : fw.slot(ref.slot)?.manifest.config_schema.version ?? CONFIG_SCHEMA);
  const snapshotOf = (install: string): Snapshot | null => (readJson(fw.snapshotFile(install)) as Snapshot | undefined) ?? null;

  /**
   * Before a trial start: keep the configuration the committed slot runs with (once per
   * activation, before anything changes it), then bring the file to what the slot reads.
   */
  async function prepareConfig(target: SlotRef, from: SlotRef, activation: string): Promise<string | null> {
    const text = readFileSync(configFile, 'utf8');
    if (snapshotOf(from.install)?.activation !== activation) {
      const snap: Snapshot = { activation, schema: schemaOfText(text), text, at: new Date().toISOString() };
      writeJsonAtomic(fw.snapshotFile(from.install), snap);
      log.log('info', 'firmware', `configuration snapshot kept for ${describeSlot(from)} (schema ${String(snap.schema)})`);
    }
    crashPoint('launcher:after-snapshot');
    const own = snapshotOf(target.install);
    const step = configStepFor(schemaOfText(text), schemaOf(target), own?.schema ?? null);
    if (step.kind === 'refuse') return step.reason;
    if (step.kind === 'restore-snapshot' && own !== null) {
      writeTextAtomic(configFile, own.text);
      log.log('warn', 'firmware', `configuration restored from the snapshot of ${describeSlot(target)} (schema ${String(own.schema)})`);
    }
    if (step.kind === 'migrate' || (step.kind === 'restore-snapshot' && step.then === 'migrate')) {
      const r = await runTree(treeOf(target), ['config', 'migrate', '--config', configFile, '--node', opts.nodeName], MIGRATE_TIMEOUT_MS);
      const output = `${r.stdout}${r.stderr}`.trim();
      if (r.code !== 0) return `its configuration migration failed: ${output || `exit ${String(r.code)}`}`;
      log.log('info', 'firmware', `configuration migrated by ${describeSlot(target)}: ${output}`);
    }
    crashPoint('launcher:after-config');
    return null;
  }

  /** After a failed trial: the configuration the committed slot last ran with. */
  function restoreConfig(from: SlotRef): void {
    const snap = snapshotOf(from.install);
    if (snap === null) return;
    if (readFileSync(configFile, 'utf8') === snap.text) return;
    writeTextAtomic(configFile, snap.text);
    log.log('warn', 'firmware', `configuration of ${describeSlot(from)} restored from its snapshot (${snap.at})`);
  }

  function startDaemon(ref: SlotRef, trial: boolean): void {
    const entry = join(treeOf(ref), 'dist', 'cli', 'tandem.js');
    const argv = [entry, 'daemon', '--config', configFile, '--node', opts.nodeName];
    const env = {
      ...process.env,
      TANDEM_FIRMWARE_SLOT: String(ref.slot),
      TANDEM_FIRMWARE_INSTALL: ref.install,
      TANDEM_LAUNCHER_PID: String(process.pid),
    };
    const [cmd, args] = withDeathSignal(process.execPath, argv);
    log.log('info', 'firmware', `starting the daemon of ${describeSlot(ref)}${trial ? ' (trial)' : ''}`);
    const c = spawn(cmd, args, { stdio: 'inherit', env });
    child = c;
    childStarted = Date.now();
    c.once('exit', (code, signal) => { void onExit(c, code, signal); });
    c.once('error', (err) => { log.log('error', 'firmware', `cannot start the daemon: ${err.message}`); });
    if (trial) watchTrial();
  }

  function watchTrial(): void {
    if (poll !== null) return;
    poll = setInterval(() => { void checkHealth(); }, HEALTH_POLL_MS);
  }
  function unwatch(): void {
    if (poll !== null) clearInterval(poll);
    poll = null;
  }

  let checking = false;
  /** Read afresh after every await: a SIGTERM or a commit may have come in meanwhile. */
  const onTrial = (): boolean => !run.stopping && record.trial !== null;
  async function checkHealth(): Promise<void> {
    if (checking || !onTrial()) return;
    checking = true;
    try {
      let status: HealthView | null = null;
      try {
        const r = await controlRequest(socket, 'GET', '/status', undefined, 2000);
        if (r.status === 200) status = r.body as HealthView;
      } catch { /* not answering yet */ }
      if (!onTrial()) return;
      const h = healthOf(status);
      await act(stepBoot(record, { kind: 'health', at: Date.now(), healthy: h.healthy, detail: h.detail, upMs: Date.now() - childStarted }, limits));
    } finally {
      checking = false;
    }
  }

  async function act(d: Decision): Promise<void> {
    persist(d.record);
    say(d);
    const a = d.action;
    switch (a.kind) {
      case 'none': return;
      case 'committed':
        crashPoint('launcher:after-commit');
        unwatch();
        return;
      case 'exit':
        unwatch();
        process.exit(1);
        break;
      case 'start':
        await start(a.slot, a.trial, a.newTrial);
        return;
      case 'fall-back': {
        unwatch();
        await stopChild();
        restoreConfig(a.from);
        crashPoint('launcher:after-fallback');
        startDaemon(a.from, false);
        return;
      }
    }
  }

  async function start(ref: SlotRef, trial: boolean, newTrial: boolean): Promise<void> {
    crashPoint('launcher:before-start');
    const t = record.trial;
    if (trial && t !== null) {
      if (newTrial) log.log('info', 'firmware', `new firmware ${describeSlot(ref)}: preparing its configuration`);
      const problem = await prepareConfig(ref, t.from, t.activation);
      if (problem !== null) {
        await act(stepBoot(record, { kind: 'unbootable', at: Date.now(), reason: problem }, limits));
        return;
      }
    }
    if (!existsSync(join(treeOf(ref), 'dist', 'cli', 'tandem.js'))) {
      await act(stepBoot(record, { kind: 'unbootable', at: Date.now(), reason: `${describeSlot(ref)} holds no daemon (dist/cli/tandem.js)` }, limits));
      return;
    }
    startDaemon(ref, trial);
  }

  async function onExit(c: ChildProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (child !== c) return;
    child = null;
    if (run.stopping) process.exit(code ?? 1);
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
    await act(stepBoot(record, { kind: 'exited', at: Date.now(), how }, limits));
  }

  async function stopChild(): Promise<void> {
    const c = child;
    if (c === null) return;
    child = null;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => { c.kill('SIGKILL'); }, STOP_TIMEOUT_MS);
      c.once('exit', () => { clearTimeout(timer); done(); });
      c.kill('SIGTERM');
    });
  }

  const stop = (signal: NodeJS.Signals): void => {
    if (run.stopping) return;
    run.stopping = true;
    unwatch();
    const c = child;
    if (c === null) process.exit(0);
    // Under systemd and in the lab the signal reaches the whole process group; forwarding it
    // also covers a launcher signalled alone. The daemon treats a second SIGTERM as the first.
    c.kill(signal);
    setTimeout(() => { c.kill('SIGKILL'); }, STOP_TIMEOUT_MS).unref();
  };
  process.on('SIGTERM', () => { stop('SIGTERM'); });
  process.on('SIGINT', () => { stop('SIGINT'); });
  process.on('SIGHUP', () => { child?.kill('SIGHUP'); });

  const first = planBoot(fw.boot(), fw.activation(), (ref) => fw.holds(ref), Date.now(), limits);
  record = first.record;
  await act(first);
  // The launcher lives as long as its daemon; every exit goes through process.exit above.
  return new Promise<never>(() => { /* forever */ });
}

/**
 * argv that makes the child die with the launcher: `setpriv --pdeathsig KILL` sets
 * PR_SET_PDEATHSIG, which survives the exec of node. Without setpriv, the daemon's own parent
 * check (TANDEM_LAUNCHER_PID) is the only guard.
 */
function withDeathSignal(cmd: string, args: readonly string[]): [string, string[]] {
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  return setpriv === undefined ? [cmd, [...args]] : [setpriv, ['--pdeathsig', 'KILL', '--', cmd, ...args]];
}
