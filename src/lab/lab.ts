/**
 * The namespace lab: builds the two-node topology of issue 3 in network namespaces, runs the
 * node processes, injects faults, and removes exactly what it created.
 *
 * All state that outlives one call lives in `<dir>/state.json` (guarded by a lock file), so the
 * API, the CLI (`npm run lab`) and the commands the cluster config runs (reboot → `restart`)
 * can work on the same lab from different processes. See docs/lab.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TIMING_PROFILE_NAMES, type TimingProfileName } from '../core/timing.js';
import { CONFIG_FILE, HOOKS_LOG, writeLabFiles, type LabFileParams, type LabFirmware } from './files.js';
import { LabError, mustRun, procStat, run, sleep, waitFor, type RunResult } from './run.js';
import {
  ATTACHMENTS, BRIDGES, HOST_IFACE, NODE_ADDRESSES, NODE_IFACES, NODE_TTL, NODES, ROLES, ROUTER_ROLE, SEGMENTS,
  sysctlsFor, VIP, type NodeIface, type NodeName, type Role, type Segment,
} from './topology.js';

export { LabError } from './run.js';
export * from './topology.js';

/** Repository root: this file is dist/lab/lab.js (or src/lab/lab.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where labs live unless a directory is given. */
export const LABS_ROOT = join(REPO_ROOT, '.tandem-lab');
export const NS_PREFIX = 'tdm';
const NETNS_DIR = '/run/netns';
const NFT_TABLE = 'tandem_lab';
const ID_PATTERN = /^[a-z0-9]{1,8}$/;

/**
 * Default node command. Placeholders: {node}, {config}, {dir}, {repo}, {id}. Run inside the
 * node's namespace as `ip netns exec tdm<ID>-<node> <command…>`, working directory the lab dir.
 */
export const DEFAULT_NODE_COMMAND: readonly string[] = [
  process.execPath, '{repo}/dist/cli/tandem.js', 'node', '--config', '{config}', '--node', '{node}',
];

export interface LabOptions {
  /** Lab id ([a-z0-9], ≤ 8 chars); default a random 5-character id. */
  readonly id?: string;
  /** Lab directory; default `<repo>/.tandem-lab/<id>`. Made absolute. */
  readonly dir?: string;
  /** Timing profile written to cluster.yaml (`up` only). Default `default`. */
  readonly timing?: TimingProfileName;
  /**
   * `sync.resync_rate_mbit` written to cluster.yaml (`up` only; 0 = unlimited): a slow resync
   * lets a test act in the middle of one. Default: the configuration's default (not written).
   */
  readonly resyncRateMbit?: number;
  /** The `firmware` section of cluster.yaml (`up` only): trusted keys, trial limits. */
  readonly firmware?: LabFirmware;
  /** The node process command (see DEFAULT_NODE_COMMAND); stored in state.json by `up`. */
  readonly nodeCommand?: readonly string[];
  /** How long `stop` waits after SIGTERM before SIGKILL. Default 10 s. */
  readonly stopTimeoutMs?: number;
  /** `start` fails if the process exits within this long. Default 1000 ms. */
  readonly startCheckMs?: number;
  /** Called before each step of `up` (progress output; tests inject failures by throwing). */
  readonly onStep?: (step: string) => void | Promise<void>;
}

interface ProcessRecord {
  pid: number;
  /** /proc start time: with the pid, proves the process is still ours. */
  startTime: string;
  argv: string[];
  startedAt: string;
  frozen: boolean;
}

interface LabState {
  version: 1;
  id: string;
  dir: string;
  repoRoot: string;
  timing: TimingProfileName;
  nodeCommand: string[];
  /** False while `up` is building; true once the topology is complete. */
  up: boolean;
  /** Namespaces this lab created, recorded before each `ip netns add`. */
  namespaces: string[];
  /** Active loss rules: node → interface → percent. */
  loss: Partial<Record<NodeName, Partial<Record<NodeIface, number>>>>;
  /** Interfaces set down by `cut`. */
  cut: Partial<Record<NodeName, NodeIface[]>>;
  routersDown: Segment[];
  processes: Partial<Record<NodeName, ProcessRecord>>;
}

export type ProcessState = 'running' | 'frozen' | 'stopped';

export interface LinkInfo {
  readonly name: string;
  /** Administrative state (`ip link set up/down`). */
  readonly up: boolean;
  /** Kernel operstate, e.g. UP, DOWN, LOWERLAYERDOWN. */
  readonly operstate: string;
  readonly mac: string;
  readonly addresses: readonly string[];
}

export interface LabStatus {
  readonly id: string;
  readonly dir: string;
  readonly config: string;
  readonly up: boolean;
  readonly timing: TimingProfileName;
  readonly namespaces: readonly { readonly role: Role; readonly name: string; readonly exists: boolean }[];
  readonly links: Readonly<Partial<Record<Role, readonly LinkInfo[]>>>;
  readonly nodes: Readonly<Record<NodeName, { readonly pid: number | null; readonly state: ProcessState; readonly log: string }>>;
  readonly loss: Readonly<Partial<Record<NodeName, Partial<Record<NodeIface, number>>>>>;
  readonly cut: Readonly<Partial<Record<NodeName, NodeIface[]>>>;
  readonly routersDown: readonly Segment[];
  readonly vipOwner: VipOwner;
}

export type VipOwner = NodeName | 'both' | null;

export interface PingReply {
  readonly seq: number;
  readonly ok: boolean;
  readonly rttMs: number | null;
  readonly ttl: number | null;
  /** Which node answered, from the reply's TTL (NODE_TTL); null for others or no reply. */
  readonly node: NodeName | null;
  /** Wall-clock time of the reply (ms since the epoch), null without reply. */
  readonly at: number | null;
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
  /** One entry per sequence number 1..count, in order. */
  readonly replies: readonly PingReply[];
  /** Duplicate replies (two hosts answering the same echo). */
  readonly duplicates: number;
}

export interface PingOptions {
  readonly count?: number;
  readonly intervalMs?: number;
  /** How long to wait for the last reply. Default 1000 ms. */
  readonly waitMs?: number;
}

export interface ArpView {
  /** The MAC the client's ARP cache holds for the address, or null. */
  readonly mac: string | null;
  /** Neighbour states, e.g. ['REACHABLE'] or ['STALE']. */
  readonly state: readonly string[];
  /** The node whose ext0 has that MAC, or null. */
  readonly node: NodeName | null;
  /** Each node's ext0 MAC, for comparison. */
  readonly macs: Readonly<Record<NodeName, string>>;
}

function randomId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

export function isNodeName(s: string): s is NodeName { return (NODES as readonly string[]).includes(s); }
export function isNodeIface(s: string): s is NodeIface { return (NODE_IFACES as readonly string[]).includes(s); }
export function isSegment(s: string): s is Segment { return (SEGMENTS as readonly string[]).includes(s); }
export function isRole(s: string): s is Role { return (ROLES as readonly string[]).includes(s); }
export function isTiming(s: string): s is TimingProfileName { return (TIMING_PROFILE_NAMES as readonly string[]).includes(s); }

/** Names of every network namespace on the machine (`ip netns list`). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

/** Ids of the labs that have a state file under `root` (default `<repo>/.tandem-lab`). */
export function listLabs(root = LABS_ROOT): string[] {
  try {
    return readdirSync(root).filter((id) => ID_PATTERN.test(id) && existsSync(join(root, id, 'state.json'))).sort();
  } catch {
    return [];
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export class Lab {
  readonly id: string;
  /** Absolute lab directory. */
  readonly dir: string;
  readonly configPath: string;
  readonly statePath: string;
  readonly hooksLog: string;
  private readonly options: LabOptions;

  constructor(options: LabOptions = {}) {
    const id = options.id ?? randomId();
    if (!ID_PATTERN.test(id)) throw new LabError(`lab id "${id}" must be 1–8 characters a–z, 0–9`);
    this.id = id;
    this.dir = resolve(options.dir ?? join(LABS_ROOT, id));
    this.configPath = join(this.dir, CONFIG_FILE);
    this.statePath = join(this.dir, 'state.json');
    this.hooksLog = join(this.dir, HOOKS_LOG);
    this.options = options;
  }

  /**
   * The lab recorded in a directory (or `<repo>/.tandem-lab/<id>`): its id comes from state.json.
   * Without a state file a lab object for `id` is returned all the same (so `down` can still
   * remove namespaces of that id).
   */
  static open(where: { id?: string; dir?: string }, options: Omit<LabOptions, 'id' | 'dir'> = {}): Lab {
    const dir = resolve(where.dir ?? join(LABS_ROOT, where.id ?? ''));
    if (where.dir === undefined && where.id === undefined) throw new LabError('give a lab id or directory');
    const state = readStateFile(join(dir, 'state.json'));
    const id = state?.id ?? where.id;
    if (id === undefined) throw new LabError(`no lab in ${dir} (no state.json)`);
    return new Lab({ ...options, id, dir });
  }

  /**
   * The node whose namespace this process runs in (as `ip netns identify` finds it: same device
   * and inode as /run/netns/<name>), or null outside the lab's node namespaces.
   */
  selfNode(): NodeName | null {
    try {
      const own = statSync('/proc/self/ns/net');
      for (const n of NODES) {
        const st = statSync(join(NETNS_DIR, this.ns(n)), { throwIfNoEntry: false });
        if (st !== undefined && st.ino === own.ino && st.dev === own.dev) return n;
      }
    } catch { /* no /proc */ }
    return null;
  }

  /** Namespace name of a role: `tdm<ID>-<role>`. */
  ns(role: Role): string { return `${NS_PREFIX}${this.id}-${role}`; }
  logPath(node: NodeName): string { return join(this.dir, `${node}.log`); }

  // ── up / down ────────────────────────────────────────────────────────────────────────────

  /**
   * Builds the topology and writes the lab directory; starts both nodes unless `start` is false.
   * Idempotent: on a complete lab it only starts the nodes that are not running. On any failure
   * everything this call created is removed before the error is thrown.
   */
  async up(opts: { start?: boolean } = {}): Promise<void> {
    const start = opts.start ?? true;
    const existing = this.readState();
    if (existing?.up === true && this.ownNamespaces().length === ROLES.length) {
      if (start) for (const n of NODES) await this.start(n);
      return;
    }
    if (!isRoot()) throw new LabError('network namespaces need root: run as root');
    if (existing !== null) {
      throw new LabError(`lab ${this.id} exists but is not up (${this.dir}): run \`npm run lab -- --dir ${this.dir} down\` first`);
    }
    const stray = this.ownNamespaces();
    if (stray.length > 0) {
      throw new LabError(`namespaces of lab ${this.id} exist but are not recorded (${stray.join(', ')}): run \`npm run lab -- --id ${this.id} down\``);
    }
    if (existsSync(this.dir) && readdirSync(this.dir).length > 0) {
      throw new LabError(`lab directory ${this.dir} exists and is not empty`);
    }
    const timing = this.options.timing ?? 'default';
    const params: LabFileParams = {
      id: this.id, dir: this.dir, repoRoot: REPO_ROOT, timing, nodeBinary: process.execPath,
      ...(this.options.resyncRateMbit === undefined ? {} : { resyncRateMbit: this.options.resyncRateMbit }),
      ...(this.options.firmware === undefined ? {} : { firmware: this.options.firmware }),
    };
    try {
      await this.step('files');
      writeLabFiles(params);
      this.writeState({
        version: 1, id: this.id, dir: this.dir, repoRoot: REPO_ROOT, timing,
        nodeCommand: [...(this.options.nodeCommand ?? DEFAULT_NODE_COMMAND)],
        up: false, namespaces: [], loss: {}, cut: {}, routersDown: [], processes: {},
      });
      await this.step('namespaces');
      for (const role of ROLES) {
        const name = this.ns(role);
        await this.update((s) => { s.namespaces.push(name); });
        await mustRun('ip', ['netns', 'add', name]);
        await this.sysctl(role, sysctlsFor(role));
        await this.ip(role, ['link', 'set', 'lo', 'up']);
      }
      await this.step('ha-link');
      await this.ip('a', ['link', 'add', 'ha0', 'type', 'veth', 'peer', 'name', 'ha0', 'netns', this.ns('b')]);
      await this.step('bridges');
      for (const seg of SEGMENTS) {
        await this.ip('sw', ['link', 'add', BRIDGES[seg], 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
        await this.ip('sw', ['link', 'set', BRIDGES[seg], 'up']);
      }
      await this.step('segments');
      for (const at of ATTACHMENTS) {
        await this.ip(at.role, ['link', 'add', at.iface, 'type', 'veth', 'peer', 'name', at.port, 'netns', this.ns('sw')]);
        await this.ip('sw', ['link', 'set', at.port, 'master', BRIDGES[at.segment]]);
        await this.ip('sw', ['link', 'set', at.port, 'up']);
        await this.ip(at.role, ['addr', 'add', at.address, 'dev', at.iface]);
        await this.ip(at.role, ['link', 'set', at.iface, 'up']);
      }
      for (const n of NODES) {
        await this.ip(n, ['addr', 'add', NODE_ADDRESSES[n].ha0, 'dev', 'ha0']);
        await this.ip(n, ['link', 'set', 'ha0', 'up']);
      }
      await this.update((s) => { s.up = true; });
      if (start) {
        await this.step('start');
        for (const n of NODES) await this.start(n);
      }
    } catch (err) {
      await this.down().catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      throw new LabError(`lab ${this.id}: up failed, everything it created was removed: ${message}`);
    }
  }

  /**
   * Kills the lab's processes (the recorded node processes and anything else running in its
   * namespaces), removes the nftables tables it added, deletes the namespaces it recorded plus
   * any `tdm<ID>-*`, and removes the lab directory unless `keep`. Idempotent.
   */
  async down(opts: { keep?: boolean } = {}): Promise<void> {
    const state = this.readState();
    const names = new Set([...(state?.namespaces ?? []), ...this.ownNamespaces()]);
    const existing = listNamespaces();
    for (const rec of Object.values(state?.processes ?? {})) {
      if (isOurs(rec)) signalNode(rec.pid, 'SIGKILL');
    }
    // Anything else still running inside the lab's namespaces (hooks, pings, exec'd shells).
    for (const name of names) {
      if (!existing.includes(name)) continue;
      const r = await run('ip', ['netns', 'pids', name]);
      for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
        if (pid !== process.pid && pid !== process.ppid) signal(pid, 'SIGKILL');
      }
    }
    for (const n of NODES) {
      if (names.has(this.ns(n)) && existing.includes(this.ns(n))) {
        await run('ip', ['netns', 'exec', this.ns(n), 'nft', 'delete', 'table', 'inet', NFT_TABLE]);
      }
    }
    const failures: string[] = [];
    for (const name of [...names].reverse()) {
      if (!listNamespaces().includes(name)) continue;
      const r = await run('ip', ['netns', 'del', name]);
      if (r.code !== 0) failures.push(`${name}: ${r.stderr.trim()}`);
    }
    if (failures.length > 0) throw new LabError(`could not delete namespaces: ${failures.join('; ')}`);
    if (opts.keep === true) {
      if (state !== null) {
        await this.update((s) => {
          s.up = false; s.namespaces = []; s.processes = {}; s.loss = {}; s.cut = {}; s.routersDown = [];
        });
      }
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  // ── faults ───────────────────────────────────────────────────────────────────────────────

  /** Sets a node's interface (or all three) administratively down. */
  async cut(node: NodeName, iface: NodeIface | 'all'): Promise<void> {
    await this.setLinks(node, iface, false);
  }

  /** Sets a node's interface (or all three) up again. */
  async heal(node: NodeName, iface: NodeIface | 'all'): Promise<void> {
    await this.setLinks(node, iface, true);
  }

  private async setLinks(node: NodeName, iface: NodeIface | 'all', up: boolean): Promise<void> {
    this.requireUp();
    const ifaces: readonly NodeIface[] = iface === 'all' ? NODE_IFACES : [iface];
    for (const i of ifaces) await this.ip(node, ['link', 'set', i, up ? 'up' : 'down']);
    await this.update((s) => {
      const now = new Set(s.cut[node] ?? []);
      for (const i of ifaces) { if (up) now.delete(i); else now.add(i); }
      s.cut[node] = NODE_IFACES.filter((i) => now.has(i));
    });
  }

  /**
   * Random loss on a node's interface, both directions: nftables in the node's namespace
   * (`numgen random mod 100 < pct drop` on input and output; 100 is a plain `drop`, as nft
   * refuses `< 100` for a value 0–99). 0 removes the rule; the table goes with the last rule.
   */
  async loss(node: NodeName, iface: NodeIface, pct: number): Promise<void> {
    if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new LabError(`loss must be an integer 0–100, not ${pct}`);
    this.requireUp();
    let rules: Partial<Record<NodeIface, number>> = {};
    await this.update((s) => {
      rules = { ...(s.loss[node] ?? {}) };
      if (pct === 0) Reflect.deleteProperty(rules, iface); else rules[iface] = pct;
      s.loss[node] = rules;
      if (Object.keys(rules).length === 0) Reflect.deleteProperty(s.loss, node);
    });
    await this.applyLoss(node, rules);
  }

  private async applyLoss(node: NodeName, rules: Partial<Record<NodeIface, number>>): Promise<void> {
    const entries = NODE_IFACES.flatMap((i) => { const p = rules[i]; return p === undefined ? [] : [[i, p] as const]; });
    // Adding then deleting the table makes the script work whether or not it existed.
    const lines = [`add table inet ${NFT_TABLE}`, `delete table inet ${NFT_TABLE}`];
    if (entries.length > 0) {
      lines.push(
        `table inet ${NFT_TABLE} {`,
        '  chain input {',
        '    type filter hook input priority -10; policy accept;',
        ...entries.map(([i, p]) => `    iifname "${i}" ${p === 100 ? '' : `numgen random mod 100 < ${p} `}drop`),
        '  }',
        '  chain output {',
        '    type filter hook output priority -10; policy accept;',
        ...entries.map(([i, p]) => `    oifname "${i}" ${p === 100 ? '' : `numgen random mod 100 < ${p} `}drop`),
        '  }',
        '}',
      );
    }
    await mustRun('ip', ['netns', 'exec', this.ns(node), 'nft', '-f', '-'], { input: `${lines.join('\n')}\n` });
  }

  /** The segment's router stops answering (its interface goes down): both nodes lose that next hop. */
  async routerDown(segment: Segment): Promise<void> {
    await this.setRouter(segment, false);
  }

  async routerUp(segment: Segment): Promise<void> {
    await this.setRouter(segment, true);
  }

  private async setRouter(segment: Segment, up: boolean): Promise<void> {
    this.requireUp();
    await this.ip(ROUTER_ROLE[segment], ['link', 'set', HOST_IFACE, up ? 'up' : 'down']);
    await this.update((s) => {
      s.routersDown = SEGMENTS.filter((g) => (g === segment ? !up : s.routersDown.includes(g)));
    });
  }

  // ── node processes ───────────────────────────────────────────────────────────────────────

  /** Starts the node process (detached, output appended to `<dir>/<node>.log`); returns its pid. */
  async start(node: NodeName): Promise<number> {
    const state = this.requireUp();
    const current = state.processes[node];
    if (current !== undefined && isOurs(current)) return current.pid;
    const argv = state.nodeCommand.map((a) => a
      .replaceAll('{node}', node).replaceAll('{config}', this.configPath).replaceAll('{dir}', this.dir)
      .replaceAll('{repo}', state.repoRoot).replaceAll('{id}', this.id));
    const log = this.logPath(node);
    const fd = openSync(log, 'a');
    let pid: number;
    try {
      writeSync(fd, `--- lab ${this.id}: starting ${node} at ${new Date().toISOString()}: ${argv.join(' ')}\n`);
      pid = await new Promise<number>((resolvePid, reject) => {
        const child = spawn('ip', ['netns', 'exec', this.ns(node), ...argv], {
          detached: true,
          stdio: ['ignore', fd, fd],
          cwd: this.dir,
          env: { ...process.env, TANDEM_NODE: node, TANDEM_LAB_ID: this.id, TANDEM_LAB_DIR: this.dir },
        });
        child.once('error', reject);
        child.once('spawn', () => {
          child.unref();
          if (child.pid === undefined) reject(new LabError(`node ${node}: no pid`)); else resolvePid(child.pid);
        });
      });
    } finally {
      closeSync(fd);
    }
    const stat = procStat(pid);
    const record: ProcessRecord = {
      pid, startTime: stat?.startTime ?? '?', argv, startedAt: new Date().toISOString(), frozen: false,
    };
    await this.update((s) => { s.processes[node] = record; });
    // The daemon refuses a bad configuration about half a second after it starts (module loading).
    await sleep(this.options.startCheckMs ?? 1000);
    if (!isOurs(record)) {
      await this.update((s) => { if (s.processes[node]?.pid === pid) Reflect.deleteProperty(s.processes, node); });
      throw new LabError(`node ${node} exited right after start; last lines of ${log}:\n${tail(log, 12)}`);
    }
    return pid;
  }

  /** SIGTERM (and SIGCONT, in case it is frozen); SIGKILL after `stopTimeoutMs`. */
  async stop(node: NodeName): Promise<void> {
    const rec = this.readState()?.processes[node];
    if (rec !== undefined && isOurs(rec)) {
      signalNode(rec.pid, 'SIGTERM');
      signalNode(rec.pid, 'SIGCONT');
      if (!await waitFor(() => !isOurs(rec), this.options.stopTimeoutMs ?? 10_000, 25)) {
        signalNode(rec.pid, 'SIGKILL');
        await waitFor(() => !isOurs(rec), 5000);
      }
    }
    await this.forget(node, rec);
  }

  /** SIGKILL: the node dies without any chance to hand over. */
  async kill(node: NodeName): Promise<void> {
    const rec = this.readState()?.processes[node];
    if (rec !== undefined && isOurs(rec)) {
      signalNode(rec.pid, 'SIGKILL');
      await waitFor(() => !isOurs(rec), 5000);
    }
    await this.forget(node, rec);
  }

  /** SIGSTOP: the process is frozen (its sockets keep queueing) until `thaw`. */
  async freeze(node: NodeName): Promise<void> {
    const rec = this.requireProcess(node);
    signalNode(rec.pid, 'SIGSTOP');
    await waitFor(() => procStat(rec.pid)?.state === 'T', 2000, 10);
    await this.update((s) => { const r = s.processes[node]; if (r?.pid === rec.pid) r.frozen = true; });
  }

  /** SIGCONT. */
  async thaw(node: NodeName): Promise<void> {
    const rec = this.requireProcess(node);
    signalNode(rec.pid, 'SIGCONT');
    await waitFor(() => procStat(rec.pid)?.state !== 'T', 2000, 10);
    await this.update((s) => { const r = s.processes[node]; if (r?.pid === rec.pid) r.frozen = false; });
  }

  /** stop, then start; returns the new pid. */
  async restart(node: NodeName): Promise<number> {
    await this.stop(node);
    return this.start(node);
  }

  /** The node's pid if its process runs (frozen or not), else null. */
  pid(node: NodeName): number | null {
    const rec = this.readState()?.processes[node];
    return rec !== undefined && isOurs(rec) ? rec.pid : null;
  }

  processState(node: NodeName): ProcessState {
    const rec = this.readState()?.processes[node];
    if (rec === undefined || !isOurs(rec)) return 'stopped';
    return procStat(rec.pid)?.state === 'T' ? 'frozen' : 'running';
  }

  private requireProcess(node: NodeName): ProcessRecord {
    const rec = this.readState()?.processes[node];
    if (rec === undefined || !isOurs(rec)) throw new LabError(`node ${node} is not running`);
    return rec;
  }

  private async forget(node: NodeName, rec: ProcessRecord | undefined): Promise<void> {
    if (rec === undefined) return;
    await this.update((s) => { if (s.processes[node]?.pid === rec.pid) Reflect.deleteProperty(s.processes, node); });
  }

  // ── observation ──────────────────────────────────────────────────────────────────────────

  /** Runs a command inside a namespace of the lab (role or full name) and collects its output. */
  async exec(where: string, argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.resolveNs(where), ...argv], opts);
  }

  /** The full namespace name of a role or a `tdm<ID>-…` name of this lab. */
  resolveNs(where: string): string {
    if (isRole(where)) return this.ns(where);
    if (ROLES.some((r) => this.ns(r) === where)) return where;
    throw new LabError(`"${where}" is not a namespace of lab ${this.id} (one of ${ROLES.join(', ')})`);
  }

  /**
   * Pings `address` from a namespace of the lab; one entry per echo request. The nodes send with
   * distinct TTLs (a 65, b 66), so each reply says which node answered.
   */
  async ping(from: Role, address: string, opts: PingOptions = {}): Promise<PingResult> {
    const count = opts.count ?? 1;
    const intervalMs = opts.intervalMs ?? 1000;
    const waitMs = opts.waitMs ?? 1000;
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new LabError(`not an IPv4 address: ${address}`);
    const args = ['ping', '-n', '-D', '-c', String(count), '-i', (intervalMs / 1000).toFixed(3),
      '-W', (waitMs / 1000).toFixed(3), address];
    const r = await this.exec(from, args, { timeoutMs: count * intervalMs + waitMs + 5000 });
    const bySeq = new Map<number, PingReply>();
    let duplicates = 0;
    for (const line of r.stdout.split('\n')) {
      const m = /^\[(\d+\.\d+)\] \d+ bytes from [\d.]+: icmp_seq=(\d+) ttl=(\d+) time=([\d.]+) ms( \(DUP!\))?/.exec(line);
      if (m === null) continue;
      const seq = Number(m[2]);
      if (m[5] !== undefined || bySeq.has(seq)) { duplicates++; continue; }
      const ttl = Number(m[3]);
      const node = NODES.find((n) => NODE_TTL[n] === ttl) ?? null;
      bySeq.set(seq, { seq, ok: true, rttMs: Number(m[4]), ttl, node, at: Math.round(Number(m[1]) * 1000) });
    }
    const replies: PingReply[] = [];
    for (let seq = 1; seq <= count; seq++) {
      replies.push(bySeq.get(seq) ?? { seq, ok: false, rttMs: null, ttl: null, node: null, at: null });
    }
    return { sent: count, received: bySeq.size, replies, duplicates };
  }

  /** Pings from the client (192.0.2.100), by default the VIP. */
  clientPing(vip = VIP, opts: PingOptions = {}): Promise<PingResult> {
    return this.ping('client', vip, opts);
  }

  /** Which node namespace has the address configured (on any interface), `both`, or null. */
  async vipOwner(vip = VIP): Promise<VipOwner> {
    const owners: NodeName[] = [];
    for (const n of NODES) {
      const links = await this.links(n);
      if (links.some((l) => l.addresses.some((a) => a.split('/')[0] === vip))) owners.push(n);
    }
    return owners.length === 2 ? 'both' : owners[0] ?? null;
  }

  /** Each node's ext0 MAC address. */
  async nodeMacs(): Promise<Record<NodeName, string>> {
    const mac = async (n: NodeName): Promise<string> => (await this.links(n)).find((l) => l.name === 'ext0')?.mac ?? '';
    return { a: await mac('a'), b: await mac('b') };
  }

  /** What the client's ARP cache says about the address, beside each node's ext0 MAC. */
  async clientArpMac(vip = VIP): Promise<ArpView> {
    const out = await mustRun('ip', ['-n', this.ns('client'), '-j', 'neigh', 'show', 'to', vip, 'dev', HOST_IFACE]);
    const entries = (parseJson(out) ?? []) as { lladdr?: string; state?: string[] }[];
    const entry = entries[0];
    const mac = entry?.lladdr ?? null;
    const macs = await this.nodeMacs();
    const node = mac === null ? null : NODES.find((n) => macs[n] === mac) ?? null;
    return { mac, state: entry?.state ?? [], node, macs };
  }

  /** Interfaces (except lo) of a namespace with state and IPv4 addresses. */
  async links(role: Role): Promise<LinkInfo[]> {
    const out = await mustRun('ip', ['-n', this.ns(role), '-j', '-4', 'addr', 'show']);
    const raw = (parseJson(out) ?? []) as { ifname: string; addr_info?: { local?: string; prefixlen?: number }[] }[];
    // `ip -4 addr show` omits interfaces without IPv4 addresses (bridges, ports): add them.
    const all = (parseJson(await mustRun('ip', ['-n', this.ns(role), '-j', 'link', 'show'])) ?? []) as
      { ifname: string; flags?: string[]; operstate?: string; address?: string }[];
    return all.filter((l) => l.ifname !== 'lo').map((l) => {
      const withAddr = raw.find((r) => r.ifname === l.ifname);
      return {
        name: l.ifname,
        up: l.flags?.includes('UP') ?? false,
        operstate: l.operstate ?? '?',
        mac: l.address ?? '',
        addresses: (withAddr?.addr_info ?? []).map((a) => `${a.local ?? '?'}/${a.prefixlen ?? '?'}`),
      };
    });
  }

  /** Everything `npm run lab -- status` shows. */
  async status(): Promise<LabStatus> {
    const state = this.readState();
    const existing = listNamespaces();
    const namespaces = ROLES.map((role) => ({ role, name: this.ns(role), exists: existing.includes(this.ns(role)) }));
    const links: Partial<Record<Role, LinkInfo[]>> = {};
    for (const n of namespaces) if (n.exists) links[n.role] = await this.links(n.role);
    const nodeView = (n: NodeName): LabStatus['nodes'][NodeName] => ({ pid: this.pid(n), state: this.processState(n), log: this.logPath(n) });
    const complete = namespaces.every((n) => n.exists);
    return {
      id: this.id, dir: this.dir, config: this.configPath, up: state?.up === true && complete,
      timing: state?.timing ?? 'default', namespaces, links,
      nodes: { a: nodeView('a'), b: nodeView('b') },
      loss: state?.loss ?? {}, cut: state?.cut ?? {}, routersDown: state?.routersDown ?? [],
      vipOwner: existing.includes(this.ns('a')) && existing.includes(this.ns('b')) ? await this.vipOwner() : null,
    };
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────

  /** Namespaces on the machine that belong to this lab id (`tdm<ID>-*`). */
  private ownNamespaces(): string[] {
    const prefix = `${NS_PREFIX}${this.id}-`;
    return listNamespaces().filter((n) => n.startsWith(prefix));
  }

  private async step(name: string): Promise<void> {
    await this.options.onStep?.(name);
  }

  private ip(role: Role, args: readonly string[]): Promise<string> {
    return mustRun('ip', ['-n', this.ns(role), ...args]);
  }

  private async sysctl(role: Role, values: Record<string, string>): Promise<void> {
    await mustRun('ip', ['netns', 'exec', this.ns(role), 'sysctl', '-q', '-w',
      ...Object.entries(values).map(([k, v]) => `${k}=${v}`)]);
  }

  private requireUp(): LabState {
    const s = this.readState();
    if (s?.up !== true) throw new LabError(`lab ${this.id} is not up (${this.dir})`);
    return s;
  }

  private readState(): LabState | null {
    return readStateFile(this.statePath);
  }

  private writeState(s: LabState): void {
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o644 });
    renameSync(tmp, this.statePath);
  }

  /** Read-modify-write of state.json under the lab's lock file (other processes use it too). */
  private async update(fn: (s: LabState) => void): Promise<void> {
    const lock = join(this.dir, 'state.lock');
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (lockIsStale(lock)) { rmSync(lock, { force: true }); continue; }
        if (Date.now() > deadline) throw new LabError(`lab ${this.id}: ${lock} stays locked`);
        await sleep(15);
      }
    }
    try {
      const s = this.readState();
      if (s === null) throw new LabError(`lab ${this.id}: no state.json in ${this.dir}`);
      fn(s);
      this.writeState(s);
    } finally {
      try { unlinkSync(lock); } catch { /* removed as stale by another process */ }
    }
  }
}

function readStateFile(path: string): LabState | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LabState;
  } catch {
    return null;
  }
}

function parseJson(text: string): unknown {
  try {
    return text.trim() === '' ? null : JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** A lock held by a dead process, or for more than 30 s, is stale. */
function lockIsStale(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (Date.now() - statSync(lock).mtimeMs > 30_000) return true;
    return pid > 0 && procStat(pid) === null;
  } catch {
    return false;
  }
}

/** The recorded process still runs: same pid, same start time, not a zombie. */
function isOurs(rec: ProcessRecord): boolean {
  const stat = procStat(rec.pid);
  return stat !== null && stat.startTime === rec.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/**
 * A node is its process group: the launcher (`tandem node`, started detached, so it leads its
 * group) and the daemon it runs. A signal to the node reaches both, as a power cut (SIGKILL) or a
 * frozen machine (SIGSTOP) would; systemd does the same with the unit's cgroup.
 */
function signalNode(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pid, sig); } catch { signal(pid, sig); }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* already gone */ }
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  ${l}`).join('\n');
  } catch {
    return '  (no log)';
  }
}
