/**
 * The launcher (`tandem node`) with real processes: this checkout's CLI runs as the launcher, and
 * boots fixture firmware slots whose `dist/cli/tandem.js daemon` is a small node script
 * (fixture-firmware.test-support.ts) that is healthy (answers GET /status on the control socket),
 * never healthy, or crashes at once. What the tests read is what an operator would: boot.json and
 * the slots through FirmwareDir, the configuration file and its snapshot, the launcher's JSON-lines
 * log, and the processes themselves (pids, /proc).
 *
 * Slot 0 (the factory firmware) is this checkout, whose real daemon would need a real network
 * configuration: every trial here falls back to a fixture slot committed beforehand, as the
 * launcher leaves boot.json after committing it. Trial timeouts are short; the 5 s a daemon must
 * run before it is committed (MIN_UP_MS) is the launcher's own and is waited for where it matters.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../../adapters/control/client.js';
import { CONTROL_SOCKET } from '../../adapters/control/protocol.js';
import { manifestFor, tempDirs } from '../../adapters/firmware/fixtures.test-support.js';
import { FirmwareDir } from '../../adapters/firmware/slots.js';
import { FACTORY, freshRecord, type BootEventKind, type BootRecord, type SlotRef } from '../../core/firmware/boot.js';
import { daemonStarts, writeFirmwareTree, type DaemonStart, type FirmwareFixture } from './fixture-firmware.test-support.js';
import { bootView, runningFirmware } from './identity.js';

const CLI = fileURLToPath(new URL('../../cli/tandem.js', import.meta.url));
const freshDir = tempDirs('tandem-launcher-');
const NODE = 'a';
const MIN_UP_MS = 5000;
const HAS_SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));

// ── processes ────────────────────────────────────────────────────────────────────────────────

/** Every process a test started or saw started (launchers, daemons): whatever still runs is killed after the test. */
const started = new Set<number>();
afterEach(() => {
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  started.clear();
});

/** Alive and not a zombie (a daemon killed with its launcher is reparented and may wait unreaped). */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false | Promise<T | undefined | false>, diagnostics: () => string = () => ''): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) assert.fail(`${what}: not within ${String(timeoutMs)} ms\n${diagnostics()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `p`, or 'timeout' after `ms` (the timer cleared either way: a pending one would keep the test process up). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, ms, 'timeout'); })]);
  } finally {
    clearTimeout(timer);
  }
}

interface LogLine { readonly level: string; readonly node: string; readonly event: string; readonly msg: string }

/** A launcher process: `node dist/cli/tandem.js node --config F --node a`, its log lines and its end. */
class Launcher {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(n: Node, env: Readonly<Record<string, string>> = {}) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (env.TANDEM_CRASH_POINT === undefined) delete childEnv.TANDEM_CRASH_POINT;
    this.child = spawn(process.execPath, [CLI, 'node', '--config', n.configFile, '--node', NODE], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    this.pid = this.child.pid ?? assert.fail('the launcher did not start');
    started.add(this.pid);
    this.exited = new Promise((resolve) => { this.child.once('exit', (code, signal) => { resolve({ code, signal }); }); });
    this.child.stdout?.on('data', (b: Buffer) => {
      const text = this.partial + b.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) {
        try { this.lines.push(JSON.parse(line) as LogLine); } catch { /* not a log line */ }
      }
    });
    this.child.stderr?.on('data', (b: Buffer) => { this.stderr += b.toString('utf8'); });
  }

  /** The firmware log lines (level and message). */
  firmwareLog(): string[] {
    return this.lines.filter((l) => l.event === 'firmware').map((l) => `${l.level}: ${l.msg}`);
  }

  describe(): string {
    return `launcher log:\n${this.lines.map((l) => `  ${l.level} ${l.event}: ${l.msg}`).join('\n')}\nstderr: ${this.stderr}`;
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

// ── a node ───────────────────────────────────────────────────────────────────────────────────

interface Node {
  readonly stateDir: string;
  readonly configFile: string;
  readonly socket: string;
  readonly fw: FirmwareDir;
}

/**
 * A node's configuration as the launcher reads it (loosely: the node's state_dir and the trial
 * limits); the fixture daemons read only state_dir (absolute, on a line of its own).
 */
function node(limits: { readonly timeoutS: number; readonly attempts: number }): Node {
  const base = freshDir();
  const stateDir = join(base, 'state');
  mkdirSync(stateDir);
  const configFile = join(base, 'tandem.yaml');
  writeFileSync(configFile, [
    '# launcher test configuration', 'nodes:', `  ${NODE}:`, `    state_dir: ${stateDir}`,
    'firmware:', `  trial_timeout_s: ${String(limits.timeoutS)}`, `  trial_attempts: ${String(limits.attempts)}`, '',
  ].join('\n'));
  const fw = new FirmwareDir(stateDir);
  fw.prepare();
  return { stateDir, configFile, socket: join(stateDir, CONTROL_SOCKET), fw };
}

/** Installs a fixture firmware into `slot` as an upload would leave it: staging, tree, slot.json, one rename. */
function install(n: Node, slot: number, f: FirmwareFixture): SlotRef {
  const staging = n.fw.newStaging();
  const files = writeFirmwareTree(staging.tree, f);
  const schema = f.configSchema ?? 1;
  const manifest = manifestFor(files.map((file) => ({ path: file.path, data: readFileSync(join(staging.tree, file.path)), mode: file.mode })), {
    version: f.version ?? `1.0.${String(slot)}`,
    config_schema: { version: schema, migrations: schema === 1 ? [] : [{ from: 1, to: 2, description: 'fixture migration', steps: [] }] },
    runtime: { node_abi: process.versions.modules, platform: process.platform, arch: process.arch },
  });
  n.fw.commitStaging(staging, {
    version: 1, slot, install: staging.install, manifest, key_id: '0123456789abcdef',
    bundle: { sha256: '0'.repeat(64), bytes: 0, stored_as: null }, installed_at: new Date().toISOString(), origin: 'upload',
  });
  return { slot, install: staging.install };
}

/** boot.json as the launcher leaves it once `ref` was committed (its trial is over). */
function committed(n: Node, ref: SlotRef): void {
  const record: BootRecord = { ...freshRecord(), good: ref, previous: FACTORY, current: ref, outcomes: { [ref.install]: { state: 'committed', at: Date.now() - 60_000 } } };
  n.fw.writeBoot(record);
}

/** The operator's After reboot choice (what FirmwareService.activate writes). */
function activate(n: Node, ref: SlotRef): string {
  const id = randomBytes(8).toString('hex');
  n.fw.writeActivation({ slot: ref.slot, install: ref.install, id, at: Date.now() });
  return id;
}

const record = (n: Node): BootRecord => n.fw.boot() ?? assert.fail('no boot.json');
const kinds = (r: BootRecord, ref: SlotRef): BootEventKind[] => r.events.filter((e) => e.install === ref.install).map((e) => e.kind);
const eventAt = (r: BootRecord, ref: SlotRef, kind: BootEventKind): number => r.events.find((e) => e.install === ref.install && e.kind === kind)?.at ?? assert.fail(`no ${kind} event`);

/** The daemons started so far (each remembered for the cleanup). */
function starts(n: Node): DaemonStart[] {
  const s = daemonStarts(n.stateDir);
  for (const d of s) started.add(d.pid);
  return s;
}

/** The /status answer of whatever daemon listens on the node's control socket, or undefined. */
async function status(n: Node): Promise<unknown> {
  try {
    return (await controlRequest(n.socket, 'GET', '/status', undefined, 1000)).body;
  } catch {
    return undefined;
  }
}

const HEALTHY_STATUS = { cluster: { status: 'Standalone' }, firmware: {} };

/** Waits until the `count`-th daemon start was recorded and, for a healthy fixture, it answers. */
async function daemonUp(n: Node, l: Launcher, count: number): Promise<DaemonStart> {
  const d = await waitFor(`daemon start ${String(count)}`, 10_000, () => starts(n)[count - 1], () => l.describe());
  await waitFor(`daemon ${d.name} answering`, 5000, async () => (await status(n)) !== undefined, () => l.describe());
  assert.deepEqual(await status(n), HEALTHY_STATUS);
  return d;
}

// ── trials ───────────────────────────────────────────────────────────────────────────────────

describe('launcher: trials with real processes', () => {
  it('a healthy slot is committed once it ran 5 s and answered; its daemon keeps running; SIGTERM stops both', async () => {
    const n = node({ timeoutS: 30, attempts: 2 });
    const target = install(n, 1, { name: 'healthy', daemon: 'healthy' });
    const activation = activate(n, target);
    const l = new Launcher(n);
    const daemon = await daemonUp(n, l, 1);
    assert.deepEqual({ name: daemon.name, slot: daemon.slot }, { name: 'healthy', slot: '1' });
    assert.equal(record(n).trial?.attempts, 1);

    // The record on disk, and the launcher's line saying so (read from its stdout pipe, so it may come a moment later).
    await waitFor('the commit', MIN_UP_MS + 5000, () => record(n).trial === null && l.firmwareLog().some((m) => m.includes('committed')), () => l.describe());
    const r = record(n);
    assert.deepEqual({ good: r.good, previous: r.previous, current: r.current, handled: r.handled, outcome: r.outcomes[target.install]?.state },
      { good: target, previous: FACTORY, current: target, handled: activation, outcome: 'committed' });
    assert.deepEqual(kinds(r, target), ['trial-started', 'attempt', 'committed']);
    // Healthy from its first poll, but only committed once it had run MIN_UP_MS.
    assert.ok(eventAt(r, target, 'committed') - eventAt(r, target, 'attempt') >= MIN_UP_MS, JSON.stringify(r.events));
    // What `tandem status` shows of it (the daemon's view of boot.json).
    const view = bootView(n.fw, runningFirmware(n.fw, { TANDEM_FIRMWARE_SLOT: '1', TANDEM_FIRMWARE_INSTALL: target.install }));
    assert.deepEqual({ slot: view.slot, trial: view.trial, outcome: view.activation_outcome, fallback: view.last_fallback },
      { slot: 1, trial: null, outcome: { state: 'committed', reason: null }, fallback: null });
    assert.deepEqual(l.firmwareLog().filter((m) => !m.includes('configuration snapshot')), [
      'warn: slot 1 boots on trial: it must be healthy within 30 s and 2 start(s), or the node falls back to slot 0 (factory)',
      'info: starting slot 1 on trial (start 1 of 2)',
      'info: new firmware slot 1: preparing its configuration',
      'info: starting the daemon of slot 1 (trial)',
      'info: firmware slot 1 is healthy: committed (the fallback is now this slot; slot 0 (factory) is the previous one)',
    ]);

    // After the commit the daemon just runs: no restart, no other start, still answering.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(starts(n).length, 1);
    assert.ok(alive(daemon.pid) && alive(l.pid));
    assert.deepEqual(await status(n), HEALTHY_STATUS);

    assert.deepEqual(await l.stop(), { code: 0, signal: null });
    // The launcher exits only once its daemon did: no orphan.
    assert.equal(alive(daemon.pid), false);
  });

  it('a daemon that never answers fails its trial when the time is up: fallback to the committed slot, whose configuration snapshot (kept at the trial start) is restored and whose daemon runs again', async () => {
    const n = node({ timeoutS: 3, attempts: 2 });
    const good = install(n, 1, { name: 'committed', daemon: 'healthy' });
    committed(n, good);
    const bad = install(n, 2, { name: 'never', daemon: 'never-healthy' });
    const activation = activate(n, bad);
    const original = readFileSync(n.configFile, 'utf8');
    const l = new Launcher(n);

    const trialDaemon = await waitFor('the trial daemon', 10_000, () => starts(n)[0], () => l.describe());
    assert.equal(trialDaemon.name, 'never');
    // The snapshot was taken before the trial's daemon started, from the file as the committed slot ran it.
    const snapshot = JSON.parse(readFileSync(n.fw.snapshotFile(good.install), 'utf8')) as { activation: string; schema: number; text: string };
    assert.deepEqual({ activation: snapshot.activation, schema: snapshot.schema, text: snapshot.text }, { activation, schema: 1, text: original });
    // A change during the trial (an operator, the new firmware's own edit) is not what the committed slot ran with.
    appendFileSync(n.configFile, 'cluster: { name: changed-during-trial }\n');

    await waitFor('the fallback', 10_000, () => record(n).outcomes[bad.install]?.state === 'failed', () => l.describe());
    const r = record(n);
    const outcome = r.outcomes[bad.install];
    assert.equal(outcome?.state === 'failed' ? outcome.reason : null, 'not healthy within 3 s (the daemon does not answer its control socket)');
    assert.deepEqual({ good: r.good, current: r.current, trial: r.trial }, { good, current: good, trial: null });
    assert.deepEqual(kinds(r, bad), ['trial-started', 'attempt', 'fell-back']);
    const fellBack = r.events.at(-1);
    assert.equal(fellBack?.message, 'firmware slot 2 failed its trial: not healthy within 3 s (the daemon does not answer its control socket); falling back to slot 1 and its configuration');
    assert.ok(eventAt(r, bad, 'fell-back') - eventAt(r, bad, 'trial-started') > 3000);

    const back = await daemonUp(n, l, 2);
    assert.deepEqual({ name: back.name, slot: back.slot }, { name: 'committed', slot: '1' });
    assert.equal(alive(trialDaemon.pid), false);
    assert.equal(readFileSync(n.configFile, 'utf8'), original);
    const log = l.firmwareLog();
    assert.ok(log.includes(`error: ${fellBack.message}`), l.describe());
    assert.ok(log.some((m) => /^warn: configuration of slot 1 restored from its snapshot \(/.test(m)), l.describe());
    assert.equal(log.at(-1), 'info: starting the daemon of slot 1');
    assert.deepEqual(bootView(n.fw, runningFirmware(n.fw, { TANDEM_FIRMWARE_SLOT: '1', TANDEM_FIRMWARE_INSTALL: good.install })).activation_outcome,
      { state: 'failed', reason: 'not healthy within 3 s (the daemon does not answer its control socket)' });

    assert.deepEqual(await l.stop(), { code: 0, signal: null });
    assert.equal(alive(back.pid), false);
  });

  it('a daemon that crashes at once is restarted until trial_attempts are used, then the node falls back', async () => {
    const n = node({ timeoutS: 30, attempts: 3 });
    const good = install(n, 1, { name: 'committed', daemon: 'healthy' });
    committed(n, good);
    const bad = install(n, 2, { name: 'crash', daemon: 'crashes' });
    activate(n, bad);
    const l = new Launcher(n);

    const back = await daemonUp(n, l, 4);
    assert.deepEqual(starts(n).map((s) => s.name), ['crash', 'crash', 'crash', 'committed']);
    assert.equal(back.slot, '1');
    const r = record(n);
    assert.deepEqual(kinds(r, bad), ['trial-started', 'attempt', 'attempt', 'attempt', 'fell-back']);
    assert.deepEqual(r.events.filter((e) => e.kind === 'attempt').map((e) => e.message),
      [1, 2, 3].map((i) => `starting slot 2 on trial (start ${String(i)} of 3)`));
    assert.deepEqual(r.outcomes[bad.install], { state: 'failed', at: eventAt(r, bad, 'fell-back'), reason: 'not healthy after 3 start(s) (last: its daemon exited with code 1)' });
    assert.deepEqual({ good: r.good, current: r.current, trial: r.trial }, { good, current: good, trial: null });
    assert.deepEqual(l.firmwareLog().filter((m) => m.startsWith('error: trial of')),
      [1, 2, 3].map((i) => `error: trial of slot 2: the daemon exited with code 1 (start ${String(i)} of 3)`));

    assert.deepEqual(await l.stop(), { code: 0, signal: null });
    assert.equal(alive(back.pid), false);
  });

  it('SIGKILL of the launcher alone kills its daemon within a second (PR_SET_PDEATHSIG through setpriv)', { skip: HAS_SETPRIV ? false : 'no setpriv on this machine' }, async () => {
    const n = node({ timeoutS: 30, attempts: 2 });
    const good = install(n, 1, { name: 'committed', daemon: 'healthy' });
    committed(n, good);
    const l = new Launcher(n);
    const daemon = await daemonUp(n, l, 1);
    // A committed slot starts without a trial.
    assert.equal(l.firmwareLog().at(-1), 'info: starting the daemon of slot 1');
    assert.equal(record(n).trial, null);

    process.kill(l.pid, 'SIGKILL');
    assert.deepEqual(await l.exited, { code: null, signal: 'SIGKILL' });
    const killedAt = Date.now();
    // The fixture daemon has no launcher check of its own: only the death signal can end it.
    await waitFor('the daemon gone', 1000, () => !alive(daemon.pid));
    assert.ok(Date.now() - killedAt <= 1000);
  });
});

// ── power cuts ───────────────────────────────────────────────────────────────────────────────

/**
 * A power cut (SIGKILL at a named point of the launcher), then a start without it. The target
 * slot reads configuration schema 2, so its first trial start runs its own `config migrate`
 * (the step a cut between the snapshot and the daemon's start must not tear or repeat). The
 * node committed slot 1 (schema 1) before.
 */
interface PowerCut {
  readonly point: string;
  readonly target: 'healthy' | 'crashes';
  /** Daemon starts the first launcher made before it died. */
  readonly before: readonly string[];
  /** Whose daemon runs after the restart. */
  readonly runs: 'target' | 'committed';
  /** The trial after the restart: its starts, or null when there is none (the commit or the fallback stands). */
  readonly attempts: number | null;
  /** The configuration file after the restart: migrated (once) by the target, or the committed slot's own. */
  readonly config: 'migrated' | 'original';
}

const POWER_CUTS: readonly PowerCut[] = [
  { point: 'launcher:before-start', target: 'healthy', before: [], runs: 'target', attempts: 2, config: 'migrated' },
  { point: 'launcher:after-snapshot', target: 'healthy', before: [], runs: 'target', attempts: 2, config: 'migrated' },
  { point: 'launcher:after-config', target: 'healthy', before: [], runs: 'target', attempts: 2, config: 'migrated' },
  { point: 'launcher:after-commit', target: 'healthy', before: ['target'], runs: 'target', attempts: null, config: 'migrated' },
  { point: 'launcher:after-fallback', target: 'crashes', before: ['target', 'target', 'target'], runs: 'committed', attempts: null, config: 'original' },
];

describe('launcher: power cuts', () => {
  for (const cut of POWER_CUTS) {
    it(`SIGKILL at ${cut.point}, then a start: ${cut.attempts === null ? `the ${cut.runs === 'target' ? 'commit' : 'fallback'} stands` : 'the trial goes on, one more start counted'}; the configuration is intact`, async () => {
      const n = node({ timeoutS: 30, attempts: 3 });
      const good = install(n, 1, { name: 'committed', daemon: 'healthy' });
      committed(n, good);
      const target = install(n, 2, { name: 'target', daemon: cut.target, configSchema: 2 });
      const activation = activate(n, target);
      const original = readFileSync(n.configFile, 'utf8');

      const first = new Launcher(n, { TANDEM_CRASH_POINT: cut.point });
      // after-commit: the cut comes once the daemon ran MIN_UP_MS; the others within a second or two.
      assert.deepEqual(await within(first.exited, MIN_UP_MS + 8000), { code: null, signal: 'SIGKILL' }, first.describe());
      assert.match(first.stderr, new RegExp(`crash point ${cut.point}: SIGKILL`));
      assert.deepEqual(starts(n).map((s) => s.name), cut.before);
      // What the cut left on disk: the start it was making was counted before anything began.
      assert.equal(record(n).trial?.attempts ?? null, cut.attempts === null ? null : cut.attempts - 1);
      // The cut took the daemon with it (a dead node runs nothing) before anything else starts.
      for (const d of starts(n)) await waitFor(`daemon ${String(d.pid)} gone with its launcher`, 2000, () => !alive(d.pid));

      const second = new Launcher(n);
      const running = await daemonUp(n, second, cut.before.length + 1);
      assert.equal(running.name, cut.runs);
      const r = record(n);
      const runningRef = cut.runs === 'target' ? target : good;
      assert.deepEqual({ current: r.current, handled: r.handled }, { current: runningRef, handled: activation });
      if (cut.attempts === null) {
        assert.deepEqual({ trial: r.trial, good: r.good }, { trial: null, good: runningRef });
        assert.equal(second.firmwareLog().at(-1), `info: starting the daemon of slot ${String(runningRef.slot)}`);
      } else {
        assert.deepEqual({ target: r.trial?.target, attempts: r.trial?.attempts, from: r.trial?.from }, { target, attempts: cut.attempts, from: good });
        assert.equal(second.firmwareLog().at(-1), 'info: starting the daemon of slot 2 (trial)');
      }
      const migrated = `schema: 2\n${original}# migrated by target\n`;
      assert.equal(readFileSync(n.configFile, 'utf8'), cut.config === 'migrated' ? migrated : original);
      // The snapshot is the committed slot's configuration, taken once for this activation.
      assert.equal((JSON.parse(readFileSync(n.fw.snapshotFile(good.install), 'utf8')) as { text: string }).text, original);

      assert.deepEqual(await second.stop(), { code: 0, signal: null });
      assert.equal(alive(running.pid), false);
    });
  }
});
