/**
 * Helpers for the system tests: a lab per test (built and always removed), the nodes' status
 * through their control sockets, and polling with a deadline.
 */
import { join } from 'node:path';
import { controlRequest } from '../adapters/control/client.js';
import type { NodeStatus } from '../core/ha/status.js';
import type { TimingProfileName } from '../core/timing.js';
import { isRoot, Lab, type NodeName } from '../lab/lab.js';

export const VIP = '192.0.2.10';
export const HEARTBEAT_PORT = 5405;

/** Why the system tests cannot run here, or null when they can. */
export function cannotRun(): string | null {
  if (!isRoot()) return 'system tests need root (network namespaces)';
  return null;
}

/** Builds a lab with both nodes started, runs `body`, and removes the lab whatever happens. */
export async function withLab(timing: TimingProfileName, body: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = new Lab({ timing });
  try {
    await lab.up({ start: true });
    await body(lab);
  } finally {
    await lab.down();
  }
}

export async function status(lab: Lab, node: NodeName): Promise<NodeStatus> {
  const r = await controlRequest(join(lab.dir, node, 'control.sock'), 'GET', '/status');
  return r.body as NodeStatus;
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

/** Waits until the cluster is steady: one primary serving the VIP, the other secondary, status HA. */
export async function steady(lab: Lab): Promise<{ primary: NodeName; secondary: NodeName }> {
  return waitFor('a steady cluster', 20_000, async () => {
    const [a, b] = [await status(lab, 'a'), await status(lab, 'b')];
    const owner = await lab.vipOwner();
    if (a.cluster.status !== 'HA' || b.cluster.status !== 'HA' || (owner !== 'a' && owner !== 'b')) return undefined;
    if (a.next_hops.some((n) => n.this_node.reachable !== true) || b.next_hops.some((n) => n.this_node.reachable !== true)) return undefined;
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

export async function unblock(lab: Lab, node: NodeName): Promise<void> {
  await nft(lab, node, ['delete table inet tdmtest']);
}

async function nft(lab: Lab, node: NodeName, commands: readonly string[]): Promise<void> {
  const r = await lab.exec(node, ['nft', '-f', '-'], { input: `${commands.join('\n')}\n` });
  if (r.code !== 0) throw new Error(`nft in ${node}: ${r.stderr}`);
}
