/**
 * The systems the failover benchmark compares, each behind one interface: how to make a lab for
 * it, how to bring it to a known steady state (who is primary, everything healthy), and how to
 * SIGKILL its daemon on one node.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest } from '../../adapters/control/client.js';
import { CONTROL_SOCKET } from '../../adapters/control/protocol.js';
import type { NodeStatus } from '../../core/ha/status.js';
import type { TimingProfileName } from '../../core/timing.js';
import { stateDir } from '../../lab/files.js';
import { Lab, NEXT_HOPS, NODES, VIP_CIDR, type NodeName } from '../../lab/lab.js';
import { run, sleep } from '../../lab/run.js';
import { KEEPALIVED_COMMAND, vrrpState, writeKeepalivedConf } from './keepalived.js';

export const SYSTEM_NAMES = ['tandem-default', 'tandem-fast', 'keepalived'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

export const FAULTS = ['next-hop', 'kill'] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_LABEL: Readonly<Record<Fault, string>> = {
  'next-hop': 'next hop lost on the primary',
  kill: 'primary killed (SIGKILL)',
};

export interface BenchSystem {
  readonly name: SystemName;
  /** Target for "fault → VIP answered by the secondary" in ms (ANCHORS.md), null: none (a reference system). */
  readonly targetMs: Readonly<Record<Fault, number | null>>;
  /** What the target column says. */
  readonly targetText: Readonly<Record<Fault, string>>;
  newLab(id: string): Lab;
  /** On a lab that is up (no node process yet): starts both nodes, waits until they are steady, returns the primary. Throws on timeout. */
  start(lab: Lab, timeoutMs: number): Promise<NodeName>;
  /** The node's daemon processes (the ones a SIGKILL fault kills), found before the fault. */
  daemonPids(lab: Lab, node: NodeName): Promise<number[]>;
}

/** Pids of the processes in a namespace (`ip netns pids`). */
export async function pidsIn(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns]);
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

export function comm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function lastLines(path: string, count: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-count).join(' / ');
  } catch {
    return '(no log)';
  }
}

// ── Tandem ──────────────────────────────────────────────────────────────────────────────────

async function tandemStatus(lab: Lab, node: NodeName): Promise<NodeStatus | null> {
  try {
    const r = await controlRequest(join(stateDir(lab.dir, node), CONTROL_SOCKET), 'GET', '/status');
    return r.status === 200 ? r.body as NodeStatus : null;
  } catch {
    return null;
  }
}

/** One node primary and serving, the other secondary, both hearing each other on every path, every next hop up in both views, no veto. */
function tandemSteady(a: NodeStatus, b: NodeStatus): NodeName | null {
  const healthy = (s: NodeStatus): boolean =>
    s.other_node?.reachable === true
    && s.cluster.redundant_heartbeat === 'ok'
    && s.heartbeat_paths.every((p) => p.up)
    && s.next_hops.length > 0
    && s.next_hops.every((h) => h.this_node.reachable === true && h.other_node.reachable === true)
    && s.takeover_veto === null;
  if (!healthy(a) || !healthy(b)) return null;
  if (a.this_node.role === 'primary' && a.this_node.serving && b.this_node.role === 'secondary') return 'a';
  if (b.this_node.role === 'primary' && b.this_node.serving && a.this_node.role === 'secondary') return 'b';
  return null;
}

function tandem(profile: TimingProfileName): BenchSystem {
  // Next hop lost → VIP answers from the secondary ≤ 1 s median (default) / ≤ 0.4 s (fast), by
  // evidence (issue 12; ANCHORS.md asked ≤ 3 s / ≤ 1 s); primary killed → ≤ 2 s / ≤ 0.5 s.
  const nextHop = profile === 'default' ? 1000 : 400;
  const kill = profile === 'default' ? 2000 : 500;
  return {
    name: profile === 'default' ? 'tandem-default' : 'tandem-fast',
    targetMs: { 'next-hop': nextHop, kill },
    targetText: { 'next-hop': `≤ ${nextHop / 1000} s`, kill: `≤ ${kill / 1000} s` },
    newLab: (id) => new Lab({ id, timing: profile }),
    async start(lab, timeoutMs) {
      for (const n of NODES) await lab.start(n);
      const deadline = Date.now() + timeoutMs;
      let last = 'no status yet';
      for (;;) {
        const [a, b] = await Promise.all([tandemStatus(lab, 'a'), tandemStatus(lab, 'b')]);
        if (a !== null && b !== null) {
          const primary = tandemSteady(a, b);
          if (primary !== null && await lab.vipOwner() === primary) return primary;
          last = `a ${a.this_node.role} (${a.this_node.reason}), b ${b.this_node.role} (${b.this_node.reason})`;
        }
        // lab.start only checks the first 300 ms; a daemon that refuses its configuration exits later.
        for (const n of NODES) {
          if (lab.processState(n) === 'stopped') throw new Error(`node ${n} exited: ${lastLines(lab.logPath(n), 3)}`);
        }
        if (Date.now() > deadline) throw new Error(`Tandem not steady within ${timeoutMs} ms: ${last}`);
        await sleep(100);
      }
    },
    async daemonPids(lab, node) {
      const pid = lab.pid(node);
      return Promise.resolve(pid === null ? [] : [pid]);
    },
  };
}

// ── keepalived ──────────────────────────────────────────────────────────────────────────────

const keepalived: BenchSystem = {
  name: 'keepalived',
  targetMs: { 'next-hop': null, kill: null },
  // Not targets: what ANCHORS.md reports for keepalived's defaults (ping track_script with a
  // weight; VRRPv2 master-down timer), for comparison with what is measured here.
  targetText: { 'next-hop': 'ref. 5–7 s (ANCHORS)', kill: 'ref. 3.6 s (ANCHORS)' },
  newLab: (id) => new Lab({ id, nodeCommand: KEEPALIVED_COMMAND }),
  async start(lab, timeoutMs) {
    for (const node of NODES) {
      writeKeepalivedConf(lab.dir, { node, labId: lab.id, vipCidr: VIP_CIDR, nextHop: NEXT_HOPS.ext, ping: '/usr/bin/ping' });
    }
    const deadline = Date.now() + timeoutMs;
    const waitState = async (node: NodeName, from: number, want: string): Promise<void> => {
      for (;;) {
        const state = vrrpState(lab.logPath(node), from);
        if (state === want) return;
        if (Date.now() > deadline) throw new Error(`keepalived on ${node} not ${want} within ${timeoutMs} ms (is ${state})`);
        await sleep(50);
      }
    };
    // a first, and b only once a is MASTER: the primary is known (a) without racing the two
    // master-down timers at start.
    const fromA = fileSize(lab.logPath('a'));
    await lab.start('a');
    await waitState('a', fromA, 'MASTER');
    const fromB = fileSize(lab.logPath('b'));
    await lab.start('b');
    await waitState('b', fromB, 'BACKUP');
    // b must have heard a's adverts and stayed BACKUP; both track scripts have run.
    await sleep(1200);
    for (const [node, from, want] of [['a', fromA, 'MASTER'], ['b', fromB, 'BACKUP']] as const) {
      const state = vrrpState(lab.logPath(node), from);
      if (state !== want) throw new Error(`keepalived on ${node} is ${state}, not ${want}, after start`);
    }
    const owner = await lab.vipOwner();
    if (owner !== 'a') throw new Error(`keepalived steady but the VIP is on ${String(owner)}`);
    return 'a';
  },
  async daemonPids(lab, node) {
    // The parent (the lab's node process) and its VRRP child: every keepalived in the namespace,
    // the parent last (killing the child first leaves the parent no time to respawn it).
    const parent = lab.pid(node);
    const pids = (await pidsIn(lab.ns(node))).filter((p) => comm(p) === 'keepalived');
    return [...pids.filter((p) => p !== parent), ...pids.filter((p) => p === parent)];
  },
};

export function systemOf(name: SystemName): BenchSystem {
  switch (name) {
    case 'tandem-default': return tandem('default');
    case 'tandem-fast': return tandem('fast');
    case 'keepalived': return keepalived;
  }
}
