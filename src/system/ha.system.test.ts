/**
 * System tests: two real daemons in network namespaces (src/lab), real heartbeats, real ICMP,
 * real VIPs; faults by `ip link set down` and nftables. Each test builds its own lab and removes
 * it, also when it fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hmacSha256 } from '../adapters/crypto/hmac.js';
import { encodeHeartbeat } from '../core/wire/codec.js';
import { sampleHeartbeat } from '../core/wire/fixtures.test-support.js';
import type { Lab } from '../lab/lab.js';
import { NODE_ADDRESSES, NODES, ROUTER_ROLE, type NodeName } from '../lab/topology.js';
import {
  blockAddress, blockHeartbeats, cannotRun, HEARTBEAT_PORT, logLines, sleep, status, steady, unblock, VIP, waitFor, withLab,
} from './support.js';

const skip = cannotRun() ?? false;

describe('HA on real networking (namespaces)', { skip, concurrency: false }, () => {
  it('forced takeover when the primary loses its next hop; the client follows the VIP', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await blockAddress(lab, primary, '192.0.2.1');
    await waitFor('the secondary to own the VIP', 10_000, async () => ((await lab.vipOwner()) === secondary ? true : undefined));
    const s = await status(lab, primary);
    assert.equal(s.this_node.role, 'secondary');
    assert.match(s.this_node.reason, /next hops/);
    // The client follows the gratuitous ARP, then every reply comes from the new primary.
    await waitFor('the client answered by the new primary', 5000, async () => {
      const one = await lab.clientPing(VIP, { count: 1, waitMs: 300 });
      return one.replies[0]?.node === secondary ? true : undefined;
    });
    const ping = await lab.clientPing(VIP, { count: 5, intervalMs: 100 });
    assert.ok(ping.replies.every((r) => r.ok && r.node === secondary), 'the client is answered by the new primary');
  }));

  it('no role change when both nodes lose the same next hop', () => withLab('default', async (lab) => {
    const { primary } = await steady(lab);
    await lab.routerDown('ext');
    await waitFor('both nodes to see the router down', 5000, async () => {
      const [a, b] = [await status(lab, 'a'), await status(lab, 'b')];
      const down = (n: typeof a) => n.next_hops.find((h) => h.interface === 'ext0')?.this_node.reachable === false;
      return down(a) && down(b) ? true : undefined;
    });
    await sleep(5000);
    assert.equal(await lab.vipOwner(), primary);
    assert.equal((await status(lab, primary)).this_node.role, 'primary');
    await servedBy(lab, primary);
  }));

  // The shared router dies for both nodes at one instant, the way a router dies: it stops
  // answering (here nftables in the router's own namespace drop the nodes' echo requests). Each
  // node notices it at its own probe phase; neither has an answer from after the other's loss,
  // so the evidence rule changes nothing. (The nodes' monotonic clocks are not skewed here: the
  // namespaces share one kernel clock; the simulator covers skewed clocks.)
  it('no role change when the shared ext router stops answering both nodes at once; the VIP stays served', () => withLab('default', async (lab) => {
    const { primary } = await steady(lab);
    await routerIgnores(lab, NODES);
    await bothSeeExtDown(lab);
    await sleep(5000);
    assert.equal(await lab.vipOwner(), primary);
    assert.equal((await status(lab, primary)).this_node.role, 'primary');
    await servedBy(lab, primary);
  }));

  // The same router lost 2 s apart, the secondary first: the primary still reaches more for 2 s
  // (nothing to do), then loses it too — every answer the secondary has is older than that loss,
  // so no role change, however late the primary notices.
  it('no role change when the shared ext router stops answering the secondary, then 2 s later the primary; the VIP stays served', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await routerIgnores(lab, [secondary]);
    await sleep(2000);
    await routerIgnores(lab, [primary]);
    await bothSeeExtDown(lab);
    await sleep(5000);
    assert.equal(await lab.vipOwner(), primary);
    assert.equal((await status(lab, primary)).this_node.role, 'primary');
    assert.equal(logLines(lab, primary).filter((l) => l.event === 'role-change' && l.msg.includes('primary → secondary')).length, 0);
    await servedBy(lab, primary);
  }));

  // The other order is not a shared loss: for 2 s the router answers the secondary and not the
  // primary, so the secondary's answers are newer than the primary's loss — the primary's own
  // loss, one handover (docs/ha-core.md). When the secondary loses it too, both reach the same:
  // no switch back, the VIP stays where it went.
  it('the router stops answering the primary, then 2 s later the secondary: one handover, then no further change', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await routerIgnores(lab, [primary]);
    await sleep(2000);
    await routerIgnores(lab, [secondary]);
    await bothSeeExtDown(lab);
    await sleep(5000);
    assert.equal(await lab.vipOwner(), secondary);
    assert.equal((await status(lab, secondary)).this_node.role, 'primary');
    await servedBy(lab, secondary);
  }));

  it('HA link cut with the redundant path up: no takeover, redundant heartbeat degraded', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await lab.cut(primary, 'ha0');
    await waitFor('the HA link to be seen down', 5000, async () =>
      ((await status(lab, secondary)).cluster.redundant_heartbeat === 'degraded' ? true : undefined));
    await sleep(3000);
    assert.equal(await lab.vipOwner(), primary);
    const s = await status(lab, secondary);
    assert.equal(s.this_node.role, 'secondary');
    assert.equal(s.other_node?.reachable, true);
    await lab.heal(primary, 'ha0');
    await waitFor('the HA link back', 5000, async () => ((await status(lab, secondary)).cluster.redundant_heartbeat === 'ok' ? true : undefined));
  }));

  it('every path cut: split brain reported, one primary after heal, recovery restores HA', () => withLab('default', async (lab) => {
    const { primary } = await steady(lab);
    await blockHeartbeats(lab, primary);
    await waitFor('both nodes to serve', 10_000, async () => ((await lab.vipOwner()) === 'both' ? true : undefined));
    await unblock(lab, primary);
    const survivor = await waitFor('one primary again', 10_000, async () => {
      const owner = await lab.vipOwner();
      return owner === 'a' || owner === 'b' ? owner : undefined;
    });
    for (const n of ['a', 'b'] as const) {
      await waitFor(`${n} to report SplitBrain`, 5000, async () => ((await status(lab, n)).cluster.status === 'SplitBrain' ? true : undefined));
    }
    const log = readFileSync(join(lab.dir, `${survivor}.log`), 'utf8');
    assert.match(log, /split brain detected/);
    const r = await tandem(lab, survivor, ['cluster', 'resolve-split-brain', '--keep', 'this']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('HA again', 10_000, async () => ((await status(lab, 'a')).cluster.status === 'HA' && (await status(lab, 'b')).cluster.status === 'HA' ? true : undefined));
    assert.equal(await lab.vipOwner(), survivor);
  }));

  it('kill -9 of the primary: the secondary serves; restarted, the old primary returns as secondary', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await lab.kill(primary);
    await waitFor('the secondary to take over', 5000, async () => ((await status(lab, secondary)).this_node.role === 'primary' ? true : undefined));
    // The killed node's VIP lease runs out by itself: it stops answering for the address.
    await waitFor('the dead node to drop the VIP', 5000, async () => ((await lab.vipOwner()) === secondary ? true : undefined));
    await lab.start(primary);
    await waitFor('the old primary back as secondary', 15_000, async () => {
      const s = await status(lab, primary);
      return s.this_node.role === 'secondary' && s.cluster.status === 'HA' ? true : undefined;
    });
    assert.equal(await lab.vipOwner(), secondary);
  }));

  it('SIGSTOP of the primary: the secondary takes over; resumed, the old primary yields without a split brain', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await lab.freeze(primary);
    await waitFor('the secondary to take over', 5000, async () => ((await status(lab, secondary)).this_node.role === 'primary' ? true : undefined));
    await waitFor('the frozen node to lose the VIP (lease)', 6000, async () => ((await lab.vipOwner()) === secondary ? true : undefined));
    await lab.thaw(primary);
    await waitFor('the old primary to yield', 5000, async () => {
      const s = await status(lab, primary);
      return s.this_node.role === 'secondary' && s.cluster.status === 'HA' ? true : undefined;
    });
    assert.equal(await lab.vipOwner(), secondary);
  }));

  it('SIGTERM of the primary: it hands the service over before it exits', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    const ping = lab.clientPing(VIP, { count: 60, intervalMs: 50 });
    await sleep(500);
    await lab.stop(primary);
    const result = await ping;
    assert.equal(await lab.vipOwner(), secondary);
    assert.equal(result.duplicates, 0, 'never two nodes answering');
    assert.match(readFileSync(join(lab.dir, `${primary}.log`), 'utf8'), /yielding to .*stop/);
  }));

  it('tandem reboot on the primary: planned handover, then the node restarts and returns as secondary', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    const pid = lab.pid(primary);
    const r = await tandem(lab, primary, ['reboot']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the secondary to serve', 5000, async () => ((await lab.vipOwner()) === secondary ? true : undefined));
    await waitFor('the old primary restarted, back as secondary', 20_000, async () => {
      if (lab.pid(primary) === pid) return undefined;
      const s = await status(lab, primary);
      return s.this_node.role === 'secondary' && s.cluster.status === 'HA' ? true : undefined;
    });
  }));

  it('tandem takeover --other on the primary: the other node takes over (planned handover), the VIP and the client follow', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    const ping = lab.clientPing(VIP, { count: 60, intervalMs: 50 });
    await sleep(300);
    const r = await tandem(lab, primary, ['takeover', '--other', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const reply = JSON.parse(r.stdout) as { ok: boolean; messages: string[] };
    assert.ok(reply.messages.some((m) => m.startsWith(`${secondary}: `) && /takeover/.test(m)), r.stdout);
    await waitFor('the other node to own the VIP', 5000, async () => ((await lab.vipOwner()) === secondary ? true : undefined));
    const result = await ping;
    assert.equal(result.duplicates, 0, 'never two nodes answering');
    assert.equal((await status(lab, secondary)).this_node.role, 'primary');
    assert.match((await status(lab, primary)).this_node.reason, /yielding to .*operator takeover requested/);
    // Now this node is the secondary: the other node is already the primary, and says so.
    const again = await tandem(lab, primary, ['takeover', '--other']);
    assert.match(again.stdout, new RegExp(`${secondary}: .*already primary`));
  }));

  it('next-hop changes apply live with tandem reload, without a role change', () => withLab('default', async (lab) => {
    const { primary } = await steady(lab);
    const file = join(lab.dir, 'cluster.yaml');
    // Monitor the client (it answers pings) instead of the ext router, on both nodes.
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('next_hop: 192.0.2.1', 'next_hop: 192.0.2.100'));
    for (const n of ['a', 'b'] as const) {
      const r = await tandem(lab, n, ['reload']);
      assert.equal(r.code, 0, r.stderr);
    }
    // Each node says it applied the change live — in its log, not necessarily in the reload's
    // reply: the lab's nodes share one file, which a node re-reads by itself when it changes (and
    // when the other node publishes it), so the change may be applied before `tandem reload`.
    for (const n of ['a', 'b'] as const) {
      await waitFor(`${n} to apply the next hops live`, 5000, () => Promise.resolve(logLines(lab, n).some((l) => /next-hop configuration changed: applied live/.test(l.msg)) ? true : undefined));
    }
    await waitFor('the new next hop judged reachable on both nodes', 5000, async () => {
      const [a, b] = [await status(lab, 'a'), await status(lab, 'b')];
      const ok = (x: typeof a) => x.next_hops.find((h) => h.interface === 'ext0')?.this_node.address === '192.0.2.100' &&
        x.next_hops.every((h) => h.this_node.reachable === true);
      return ok(a) && ok(b) ? true : undefined;
    });
    assert.equal(await lab.vipOwner(), primary);
  }));

  it('spoofed, forged and replayed heartbeats from a third namespace are counted and change nothing', () => withLab('default', async (lab) => {
    const { secondary } = await steady(lab);
    const target = secondary === 'a' ? '192.0.2.11' : '192.0.2.12';
    const before = await status(lab, secondary);
    const captured = await capture(lab, secondary, target, 4);
    assert.equal(captured.length, 4);
    const forged = encodeHeartbeat(sampleHeartbeat({ cluster: 'lab', from: secondary === 'a' ? 'b' : 'a', to: secondary, path: 'ext0', sentAt: Date.now() }),
      hmacSha256(new TextEncoder().encode('not the cluster key, but 32 bytes or more')));
    const garbage = new TextEncoder().encode('hello, is this the heartbeat port?');
    await sendFrom(lab, 'client', target, [garbage, forged, ...captured]);
    const after = await waitFor('the rejections to be counted', 5000, async () => {
      const s = await status(lab, secondary);
      return s.heartbeats.rejected.replayed >= before.heartbeats.rejected.replayed + 4 ? s : undefined;
    });
    assert.ok(after.heartbeats.rejected.malformed >= before.heartbeats.rejected.malformed + 1);
    assert.ok(after.heartbeats.rejected.unauthenticated >= before.heartbeats.rejected.unauthenticated + 1);
    assert.equal(after.this_node.role, 'secondary');
    assert.equal(after.cluster.status, 'HA');
    assert.equal(after.this_node.role_since_ms >= before.this_node.role_since_ms, true, 'no role change');
  }));
});

/** Runs the `tandem` CLI for `node` (inside its namespace, as an operator on that node would). */
/** The client's pings to the VIP are all answered by `node`. */
/** nftables in the ext router's namespace drop the echo requests of `nodes`: it stops answering them. */
async function routerIgnores(lab: Lab, nodes: readonly NodeName[]): Promise<void> {
  for (const n of nodes) {
    const rules = `table inet tdmtest_${n} {\n  chain in { type filter hook input priority 0; ip saddr ${NODE_ADDRESSES[n].ext0.split('/')[0] ?? ''} icmp type echo-request drop; }\n}\n`;
    const r = await lab.exec(ROUTER_ROLE.ext, ['nft', '-f', '-'], { input: rules });
    assert.equal(r.code, 0, r.stderr);
  }
}

async function bothSeeExtDown(lab: Lab): Promise<void> {
  await waitFor('both nodes to see the router down', 5000, async () => {
    const [a, b] = [await status(lab, 'a'), await status(lab, 'b')];
    const down = (n: typeof a) => n.next_hops.find((h) => h.interface === 'ext0')?.this_node.reachable === false;
    return down(a) && down(b) ? true : undefined;
  });
}

async function servedBy(lab: Lab, node: 'a' | 'b'): Promise<void> {
  const ping = await lab.clientPing(VIP, { count: 5, intervalMs: 100 });
  assert.ok(ping.replies.length > 0 && ping.replies.every((r) => r.ok && r.node === node), `the client is answered by ${node}`);
}

function tandem(lab: Lab, node: 'a' | 'b', args: readonly string[]): ReturnType<Lab['exec']> {
  return lab.exec(node, [process.execPath, join(process.cwd(), 'dist/cli/tandem.js'), ...args,
    '--config', join(lab.dir, 'cluster.yaml'), '--node', node]);
}

/** Captures `count` heartbeat payloads arriving at `node` (address `to`) on ext0 (tcpdump, pcap parsed here). */
async function capture(lab: Lab, node: 'a' | 'b', to: string, count: number): Promise<Uint8Array[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-pcap-'));
  try {
    const file = join(dir, 'hb.pcap');
    const r = await lab.exec(node, ['tcpdump', '-i', 'ext0', '-c', String(count), '-w', file, '-U', 'udp', 'and', 'dst', 'port', String(HEARTBEAT_PORT), 'and', 'dst', 'host', to], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, `tcpdump: ${r.stderr}`);
    return udpPayloads(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** UDP payloads of an Ethernet pcap file (classic format, little-endian, as tcpdump writes it). */
function udpPayloads(pcap: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 24; off + 16 <= pcap.length;) {
    const len = pcap.readUInt32LE(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + len);
    off += 16 + len;
    const ip = 14;
    const ihl = ((frame[ip] ?? 0) & 0x0f) * 4;
    const udp = ip + ihl;
    const udpLen = frame.readUInt16BE(udp + 4);
    out.push(new Uint8Array(frame.subarray(udp + 8, udp + udpLen)));
  }
  return out;
}

/** Sends datagrams from a lab namespace with a small Node program (the attacker). */
async function sendFrom(lab: Lab, where: string, address: string, datagrams: readonly Uint8Array[]): Promise<void> {
  const hex = datagrams.map((d) => Buffer.from(d).toString('hex'));
  const program = `
    const s = require('node:dgram').createSocket('udp4');
    const list = ${JSON.stringify(hex)};
    let i = 0;
    const next = () => { if (i >= list.length) { s.close(); return; } s.send(Buffer.from(list[i++], 'hex'), ${HEARTBEAT_PORT}, '${address}', next); };
    next();`;
  const r = await lab.exec(where, [process.execPath, '-e', program], { timeoutMs: 5000 });
  assert.equal(r.code, 0, r.stderr);
}
