/**
 * Helpers for the system tests: a lab per test (built and always removed), the nodes' status
 * through their control sockets, and polling with a deadline.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest } from '../adapters/control/client.js';
import type { ReplicationStatus } from '../app/sync/service.js';
import type { NodeStatus } from '../core/ha/status.js';
import type { TimingProfileName } from '../core/timing.js';
import { dataDir, stateDir, type LabFirmware } from '../lab/files.js';
import { isRoot, Lab, NODE_ADDRESSES, NODES, REPO_ROOT, type NodeName } from '../lab/lab.js';

export const VIP = '192.0.2.10';
export const HEARTBEAT_PORT = 5405;

/** Why the system tests cannot run here, or null when they can. */
export function cannotRun(): string | null {
  if (!isRoot()) return 'system tests need root (network namespaces)';
  return null;
}

export interface LabTestOptions {
  /** `sync.resync_rate_mbit` in cluster.yaml (a slow resync a test can act in the middle of). */
  readonly resyncRateMbit?: number;
  /** Start both nodes (default); false: the topology only, the test starts the nodes. */
  readonly start?: boolean;
  /** The `firmware` section of cluster.yaml (trusted keys, trial limits). */
  readonly firmware?: LabFirmware;
}

/** Builds a lab with both nodes started, runs `body`, and removes the lab whatever happens. */
export async function withLab(timing: TimingProfileName, body: (lab: Lab) => Promise<void>, opts: LabTestOptions = {}): Promise<void> {
  const lab = new Lab({
    timing,
    ...(opts.resyncRateMbit === undefined ? {} : { resyncRateMbit: opts.resyncRateMbit }),
    ...(opts.firmware === undefined ? {} : { firmware: opts.firmware }),
  });
  try {
    await lab.up({ start: opts.start ?? true });
    await body(lab);
  } finally {
    await lab.down();
  }
}

export async function status(lab: Lab, node: NodeName): Promise<NodeStatus> {
  const r = await controlRequest(join(lab.dir, node, 'control.sock'), 'GET', '/status');
  return r.body as NodeStatus;
}

/** The `sync` part of the status with the replication fields the daemon adds. */
export type SyncStatus = NodeStatus['sync'] & ReplicationStatus;

export async function syncStatus(lab: Lab, node: NodeName): Promise<SyncStatus> {
  return (await status(lab, node)).sync as SyncStatus;
}

/** Runs the `tandem` CLI for `node` (inside its namespace, as an operator on that node would). */
export function tandem(lab: Lab, node: NodeName, args: readonly string[], timeoutMs?: number): ReturnType<Lab['exec']> {
  return lab.exec(node, [process.execPath, join(REPO_ROOT, 'dist/cli/tandem.js'), ...args,
    '--config', join(lab.dir, 'cluster.yaml'), '--node', node], timeoutMs === undefined ? {} : { timeoutMs });
}

/** Each node's address on the ext segment, where its HTTPS API is reached from the client. */
export const EXT_ADDRESS: Readonly<Record<NodeName, string>> = {
  a: NODE_ADDRESSES.a.ext0.split('/')[0] ?? '', b: NODE_ADDRESSES.b.ext0.split('/')[0] ?? '',
};

/**
 * The remote CLI against `node`'s HTTPS API on its ext address, run from the client's namespace
 * (the operator's workstation). Set TANDEM_KNOWN_NODES to a file of the test's own first: the
 * CLI pins each node's certificate there.
 */
export function remoteTandem(lab: Lab, node: NodeName, token: string, args: readonly string[], timeoutMs?: number): ReturnType<Lab['exec']> {
  return lab.exec('client', [process.execPath, join(REPO_ROOT, 'dist/cli/tandem.js'), '--url', `https://${EXT_ADDRESS[node]}:8443`, '--token', token, ...args],
    timeoutMs === undefined ? {} : { timeoutMs });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`);
    }
    await sleep(100);
  }
}

/**
 * Waits until the cluster is steady: one primary serving the VIP, the other secondary, status HA,
 * every next hop reachable, and both nodes' data UpToDate — a secondary still in its first
 * resync vetoes a takeover, and a test that kills or freezes the primary then waits in vain.
 */
export async function steady(lab: Lab): Promise<{ primary: NodeName; secondary: NodeName }> {
  return waitFor('a steady cluster', 20_000, async () => {
    const [a, b] = [await status(lab, 'a'), await status(lab, 'b')];
    const owner = await lab.vipOwner();
    if (a.cluster.status !== 'HA' || b.cluster.status !== 'HA' || (owner !== 'a' && owner !== 'b')) return undefined;
    if (a.next_hops.some((n) => n.this_node.reachable !== true) || b.next_hops.some((n) => n.this_node.reachable !== true)) return undefined;
    if (a.sync.state !== 'UpToDate' || b.sync.state !== 'UpToDate') return undefined;
    return owner === 'a' ? { primary: 'a', secondary: 'b' } : { primary: 'b', secondary: 'a' };
  });
}

/** nftables in a node's namespace: drop everything to and from `address` (a next hop lost). */
export async function blockAddress(lab: Lab, node: NodeName, address: string): Promise<void> {
  await drop(lab, node, [`ip saddr ${address}`], [`ip daddr ${address}`]);
}

/** nftables in a node's namespace: drop the heartbeats on every path (a full partition). */
export async function blockHeartbeats(lab: Lab, node: NodeName): Promise<void> {
  await drop(lab, node, [`udp dport ${HEARTBEAT_PORT}`], [`udp dport ${HEARTBEAT_PORT}`]);
}

/** Drop rules in a table of the tests' own, so that `unblock` removes exactly them. */
async function drop(lab: Lab, node: NodeName, input: readonly string[], output: readonly string[]): Promise<void> {
  await nft(lab, node, [
    'add table inet tdmtest',
    'add chain inet tdmtest in { type filter hook input priority 0; }',
    'add chain inet tdmtest out { type filter hook output priority 0; }',
    ...input.map((m) => `add rule inet tdmtest in ${m} drop`),
    ...output.map((m) => `add rule inet tdmtest out ${m} drop`),
  ]);
}

/**
 * nftables in a node's namespace: drop every packet to and from the peer's addresses — every
 * heartbeat path and the replication channel cut, while next hops and clients stay reachable.
 */
export async function isolate(lab: Lab, node: NodeName): Promise<void> {
  const peer = NODES.find((n) => n !== node) ?? 'b';
  const set = `{ ${Object.values(NODE_ADDRESSES[peer]).map((a) => a.split('/')[0] ?? a).join(', ')} }`;
  await drop(lab, node, [`ip saddr ${set}`], [`ip daddr ${set}`]);
}

export async function unblock(lab: Lab, node: NodeName): Promise<void> {
  await nft(lab, node, ['delete table inet tdmtest']);
}

async function nft(lab: Lab, node: NodeName, commands: readonly string[]): Promise<void> {
  const r = await lab.exec(node, ['nft', '-f', '-'], { input: `${commands.join('\n')}\n` });
  if (r.code !== 0) throw new Error(`nft in ${node}: ${r.stderr}`);
}

// ---- Synchronized data ------------------------------------------------------------------------

/** The directory where sync keeps its work files in every root: not part of the data. */
const SYNC_WORK_DIR = '.tandem-sync';

export interface NodeRoots { readonly data: string; readonly config: string; readonly firmware: string; readonly license: string }

/** A node's synchronized roots (root name → directory), as the lab configures them. */
export function rootsOf(lab: Lab, node: NodeName): NodeRoots {
  const store = join(stateDir(lab.dir, node), 'store');
  return { data: dataDir(lab.dir, node), config: join(store, 'config'), firmware: join(store, 'firmware'), license: join(store, 'license') };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every regular file under `dir` (relative path → sha256), sorted, ignoring `.tandem-sync/`. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (path === SYNC_WORK_DIR) continue;
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) out[path] = sha256File(join(dir, path));
      else out[path] = `(${e.isSymbolicLink() ? 'symlink' : 'special file'})`;
    }
  };
  if (existsSync(dir)) walk('');
  return Object.fromEntries(Object.entries(out).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** A node's roots as [name, directory] pairs. */
export function rootEntries(lab: Lab, node: NodeName): [string, string][] {
  const r = rootsOf(lab, node);
  return [['data', r.data], ['config', r.config], ['firmware', r.firmware], ['license', r.license]];
}

/** Every root of a node: root name → its tree. */
export function nodeTrees(lab: Lab, node: NodeName): Record<string, Record<string, string>> {
  return Object.fromEntries(rootEntries(lab, node).map(([name, dir]) => [name, treeHashes(dir)]));
}

export interface LogLine { readonly time: string; readonly level: string; readonly event: string; readonly msg: string }

/** The node's JSON log lines (the lab's own lines and anything unparsable are skipped). */
export function logLines(lab: Lab, node: NodeName): LogLine[] {
  let text: string;
  try { text = readFileSync(lab.logPath(node), 'utf8'); } catch { return []; }
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as Partial<LogLine>;
      if (typeof v.msg === 'string' && typeof v.event === 'string') {
        out.push({ time: v.time ?? '', level: v.level ?? '', event: v.event, msg: v.msg });
      }
    } catch { /* a line cut by kill -9 */ }
  }
  return out;
}
