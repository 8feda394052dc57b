/**
 * The fault matrix on the simulated network: each row builds a steady cluster (a primary, b
 * secondary, both in sync), injects faults at virtual times and checks roles, statuses, data and
 * latency bounds. Both timing profiles run every row.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SyncState } from '../core/sync/state.js';
import type { Millis } from '../core/time.js';
import { TIMING_PROFILE_NAMES, TIMING_PROFILES, type TimingProfile } from '../core/timing.js';
import { nextHopTakeoverBound, peerDeathTakeoverBound, settleBound } from './bounds.js';
import { DataInvariantMonitor, InvariantMonitor, servingSwitches, type Violation } from './invariants.js';
import { Simulation, syncGraceMs, type NodeName, type SimOptions } from './simulation.js';

const STEADY_AT = 8000;

/** Both monitors of a run: the HA invariants and the data invariants. */
class Monitors {
  readonly ha: InvariantMonitor;
  readonly data: DataInvariantMonitor;
  constructor(sim: Simulation, settleMs: Millis) {
    this.ha = new InvariantMonitor(sim, settleMs);
    this.data = new DataInvariantMonitor(sim, settleMs);
  }
  get violations(): Violation[] { return [...this.ha.violations, ...this.data.violations]; }
}

function steadyCluster(t: TimingProfile, opts: SimOptions = {}): { sim: Simulation; inv: Monitors } {
  const sim = new Simulation({ profile: t, seed: 42, ...opts });
  const inv = new Monitors(sim, settleBound(t));
  sim.runUntil(STEADY_AT);
  assert.deepEqual(sim.servingNodes(), ['a'], 'a (lower HA address) is primary after start');
  assert.equal(sim.status('a')?.cluster.status, 'HA');
  assert.equal(sim.syncOf('b'), 'UpToDate', 'b caught up');
  return { sim, inv };
}

function noViolations(inv: { readonly violations: readonly Violation[] }): void {
  assert.deepEqual(inv.violations.slice(0, 3), []);
}

/** Runs until `node`'s HA core holds `state`; returns that time (fails after `maxMs`). */
function runUntilSync(sim: Simulation, node: NodeName, state: SyncState, maxMs: Millis): Millis {
  const until = sim.now + maxMs;
  while (sim.syncOf(node) !== state || !sim.isRunning(node)) {
    assert.ok(sim.now < until, `${node} not ${state} within ${maxMs} ms (it is ${sim.syncOf(node)})`);
    sim.runFor(5);
  }
  return sim.now;
}

function sameRecords(sim: Simulation): void {
  const a = [...sim.records('a')].sort();
  const b = [...sim.records('b')].sort();
  assert.equal(a.length, b.length, `a holds ${a.length} records, b ${b.length}`);
  assert.deepEqual(a, b);
}

interface Row {
  readonly name: string;
  readonly run: (t: TimingProfile) => void;
}

const rows: Row[] = [
  {
    name: 'next hop lost on the primary → forced takeover within the bound',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      const t0 = sim.now;
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(nextHopTakeoverBound(t) + 100);
      const at = sim.servingSince('b', t0);
      assert.ok(at !== null && at - t0 <= nextHopTakeoverBound(t), `b serves ${at === null ? 'never' : at - t0} ms after`);
      assert.deepEqual(sim.servingNodes(), ['b']);
      assert.match(sim.status('a')?.this_node.reason ?? '', /next hops/);
      noViolations(inv);
    },
  },
  {
    name: 'both lose the same next hop at once → no role change',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.setNextHop('a', 'ext0', false);
      sim.setNextHop('b', 'ext0', false);
      sim.runFor(20_000);
      assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
      noViolations(inv);
    },
  },
  {
    // "Up to 2 s apart" is when the two nodes *notice* one router's death (probe phase, miss
    // counting, the skew of their clocks), not a router that keeps answering one of them.
    name: 'a shared router dies at one instant for both, node clocks skewed up to ±2 s, random probe phase → no role change, VIP served',
    run: (t) => {
      const variants = [
        { offset: 2000, phase: 0, at: 0 }, { offset: -2000, phase: 37, at: 55 },
        { offset: 1500, phase: 71, at: 13 }, { offset: -700, phase: 13, at: 91 },
      ];
      for (const v of variants) {
        const phase = (v.phase * t.probeIntervalMs) / 100;
        const { sim, inv } = steadyCluster(t, { clockOffset: { b: v.offset }, startSkewMs: phase });
        sim.runFor((v.at * t.probeIntervalMs) / 100);
        sim.setNextHop('a', 'ext0', false);
        sim.setNextHop('b', 'ext0', false);
        sim.runFor(20_000);
        assert.deepEqual(servingSwitches(sim, STEADY_AT), [], `clock offset ${v.offset} ms, phase ${phase} ms`);
        assert.deepEqual(sim.servingNodes(), ['a']);
        assert.equal(sim.status('a')?.next_hops.find((h) => h.interface === 'ext0')?.this_node.reachable, false, 'a judged the router down');
        noViolations(inv);
      }
    },
  },
  {
    name: 'the next hop keeps answering the secondary after the primary lost it → handover within the bound (the primary\'s own loss)',
    run: (t) => {
      const { sim, inv } = steadyCluster(t, { clockOffset: { b: -1234 } });
      const t0 = sim.now;
      sim.setNextHop('a', 'ext0', false);
      // It answers b for 2 s more, then dies for b too: by then the handover is done.
      sim.runFor(2000);
      sim.setNextHop('b', 'ext0', false);
      sim.runFor(20_000);
      const at = sim.servingSince('b', t0);
      assert.ok(at !== null && at - t0 <= nextHopTakeoverBound(t), `b serves ${at === null ? 'never' : at - t0} ms after`);
      assert.equal(servingSwitches(sim, STEADY_AT).length, 1, 'one handover; the later equal loss changes nothing');
      assert.deepEqual(sim.servingNodes(), ['b']);
      noViolations(inv);
    },
  },
  {
    name: 'primary killed → takeover within the bound; restarted, it returns as secondary',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      const t0 = sim.now;
      sim.crash('a');
      sim.runFor(peerDeathTakeoverBound(t) + 100);
      const at = sim.servingSince('b', t0);
      assert.ok(at !== null && at - t0 <= peerDeathTakeoverBound(t), `b serves ${at === null ? 'never' : at - t0} ms after`);
      sim.restart('a');
      sim.runFor(10_000);
      assert.deepEqual(sim.servingNodes(), ['b']);
      assert.equal(sim.role('a'), 'secondary');
      assert.equal(sim.status('b')?.cluster.status, 'HA');
      noViolations(inv);
    },
  },
  {
    name: 'primary frozen (SIGSTOP) → takeover; resumed, it yields without a split brain',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      const t0 = sim.now;
      sim.freeze('a', 3000);
      sim.runFor(3000);
      assert.ok((sim.servingSince('b', t0) ?? Infinity) - t0 <= peerDeathTakeoverBound(t));
      sim.runFor(5000);
      assert.equal(sim.role('a'), 'secondary');
      assert.equal(sim.role('b'), 'primary');
      assert.equal(sim.status('a')?.cluster.status, 'HA', 'the frozen node wrote nothing: no split brain');
      noViolations(inv);
    },
  },
  {
    name: 'secondary frozen → no role change',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.freeze('b', 3000);
      sim.runFor(10_000);
      assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
      assert.equal(sim.role('b'), 'secondary');
      assert.equal(sim.status('b')?.cluster.status, 'HA');
      noViolations(inv);
    },
  },
  {
    name: 'HA link cut with the redundant path up → no takeover, redundant heartbeat degraded',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.cutPath('ha0');
      sim.runFor(10_000);
      assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
      assert.equal(sim.status('b')?.cluster.redundant_heartbeat, 'degraded');
      assert.equal(sim.status('b')?.heartbeat_paths.find((p) => p.ha_link)?.up, false);
      sim.cutPath('ha0', false);
      sim.runFor(2000);
      assert.equal(sim.status('b')?.cluster.redundant_heartbeat, 'ok');
      noViolations(inv);
    },
  },
  {
    name: 'every path cut → both primary; healed → split brain reported, one primary, recovery',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.cutAllPaths();
      sim.runFor(5000);
      assert.deepEqual(sim.servingNodes(), ['a', 'b']);
      assert.equal(sim.status('a')?.cluster.status, 'Degraded');
      sim.cutAllPaths(false);
      sim.runFor(settleBound(t) + 200);
      assert.equal(sim.servingNodes().length, 1, 'exactly one primary keeps serving');
      assert.equal(sim.status('a')?.cluster.status, 'SplitBrain');
      assert.equal(sim.status('b')?.cluster.status, 'SplitBrain');
      assert.ok(sim.alerts.some((a) => a.event === 'split-brain'));
      // The newer term (b took over during the partition) keeps serving; recovery keeps b's data.
      assert.deepEqual(sim.servingNodes(), ['b']);
      sim.operator('b', { type: 'resolve-split-brain', keep: 'this' });
      sim.runFor(5000);
      assert.equal(sim.status('a')?.cluster.status, 'HA');
      assert.equal(sim.status('a')?.sync.state, 'UpToDate');
      noViolations(inv);
    },
  },
  {
    name: 'secondary resyncing after a HA link cut → no takeover on next-hop loss until UpToDate, then takeover',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      // b falls behind: the HA link is cut while a writes 200 records (10.5 s of resync at 10 Mbit/s).
      sim.cutPath('ha0');
      sim.runFor(t.peerDeadAfterMs + 100);
      assert.equal(sim.sessionInfo(), null, 'the channel timed out');
      assert.equal(sim.writeMany(200, 'a'), 200);
      sim.cutPath('ha0', false);
      sim.runFor(500);
      assert.equal(sim.syncOf('b'), 'Syncing');
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(5000);
      assert.deepEqual(sim.servingNodes(), ['a']);
      assert.match(sim.status('a')?.takeover_veto ?? '', /vetoed: the peer cannot take over/);
      assert.match(sim.status('b')?.takeover_veto ?? '', /sync Syncing/);
      const t0 = runUntilSync(sim, 'b', 'UpToDate', 20_000);
      sim.runFor(2000);
      const at = sim.servingSince('b', t0);
      assert.ok(at !== null && at - t0 <= 3 * t.heartbeatIntervalMs + 3 * t.tickMs, 'takeover as soon as the veto clears');
      assert.equal(sim.records('b').size, 200);
      noViolations(inv);
    },
  },
  {
    name: 'secondary outdated (HA link cut past the grace) and primary killed → no automatic takeover; forced takeover works',
    run: (t) => {
      const { sim, inv } = steadyCluster(t, { writeEveryMs: 100 });
      sim.cutPath('ha0');
      sim.runFor(t.peerDeadAfterMs + syncGraceMs(t) + 200);
      assert.deepEqual(sim.syncDiskOf('b'), { inconsistent: false, outdated: true });
      sim.crash('a');
      sim.runFor(5000);
      assert.equal(sim.role('b'), 'secondary');
      assert.equal(sim.syncOf('b'), 'Outdated');
      assert.ok(sim.alerts.some((a) => a.node === 'b' && a.event === 'takeover-vetoed'));
      sim.operator('b', { type: 'takeover', force: true });
      sim.runFor(100);
      assert.equal(sim.role('b'), 'primary');
      assert.ok(sim.alerts.some((a) => a.node === 'b' && a.event === 'forced-takeover'));
      noViolations(inv);
    },
  },
  {
    name: 'manual takeover on the secondary → planned handover, never two primaries',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.operator('b', { type: 'takeover', force: false });
      sim.runFor(1000);
      assert.deepEqual(sim.servingNodes(), ['b']);
      const log = sim.servingLog.filter((c) => c.at >= STEADY_AT);
      assert.deepEqual(log.map((c) => `${c.node}:${c.serving}`), ['a:false', 'b:true'], 'release before acquire');
      noViolations(inv);
    },
  },
  {
    name: 'reboot cluster → secondary first, one planned handover, both back',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.operator('a', { type: 'reboot-cluster' });
      sim.runFor(30_000);
      const log = sim.servingLog.filter((c) => c.at >= STEADY_AT).map((c) => `${c.node}:${c.serving}`);
      assert.deepEqual(log, ['a:false', 'b:true'], 'one planned handover, no unplanned takeover');
      assert.equal(sim.role('a'), 'secondary');
      assert.equal(sim.status('a')?.cluster.status, 'HA');
      noViolations(inv);
    },
  },
  {
    name: 'secondary restarted → no role change',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.restart('b');
      sim.runFor(10_000);
      assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
      assert.equal(sim.status('b')?.cluster.status, 'HA');
      noViolations(inv);
    },
  },
  {
    name: 'next hop flapping on the primary → switches bounded by the flap limiter',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      // Whoever is primary loses its next hop 3 s after each switch; the other has it back.
      for (let i = 0; i < 40; i++) {
        const primary = sim.servingNodes()[0] ?? 'a';
        const secondary = primary === 'a' ? 'b' : 'a';
        sim.setNextHop(secondary, 'ext0', true);
        sim.setNextHop(primary, 'ext0', false);
        sim.runFor(t.minDwellMs / 2);
      }
      const switches = servingSwitches(sim, STEADY_AT);
      for (let i = 1; i < switches.length; i++) {
        const gap = (switches[i]?.at ?? 0) - (switches[i - 1]?.at ?? 0);
        assert.ok(gap >= t.minDwellMs, `switches ${gap} ms apart`);
      }
      for (const s of switches) {
        const inWindow = switches.filter((x) => x.at > s.at - t.flapWindowMs && x.at <= s.at).length;
        assert.ok(inWindow <= t.flapMaxSwitches, `${inWindow} switches within one window`);
      }
      assert.ok(sim.alerts.some((a) => a.event === 'flap-hold'), 'the flap hold raised an alarm');
      noViolations(inv);
    },
  },
  {
    name: 'nodes started 3 s apart → one primary, the lower HA address when both are heard in time',
    run: (t) => {
      const sim = new Simulation({ profile: t, seed: 3, startSkewMs: Math.min(3000, t.startupHoldMs - 500) });
      const inv = new InvariantMonitor(sim, settleBound(t));
      sim.runUntil(15_000);
      assert.deepEqual(sim.servingNodes(), ['a']);
      assert.deepEqual(servingSwitches(sim).map((s) => s.to), ['a']);
      noViolations(inv);
    },
  },
  {
    name: 'a node alone waits for the start-up hold before serving',
    run: (t) => {
      const sim = new Simulation({ profile: t, seed: 5, startSkewMs: 600_000 });
      sim.runUntil(t.startupHoldMs - 100);
      assert.deepEqual(sim.servingNodes(), []);
      sim.runUntil(t.startupHoldMs + 100);
      assert.deepEqual(sim.servingNodes(), ['a']);
      assert.equal(sim.status('a')?.cluster.status, 'Degraded');
    },
  },
];

const CLEAN = { inconsistent: false, outdated: false };

/** A resync that started and did not finish: inconsistent on disk (a long one is outdated too: apart from the live primary). */
function halfCopied(sim: Simulation, node: NodeName): void {
  assert.equal(sim.syncDiskOf(node)?.inconsistent, true, `${node} inconsistent on disk`);
}

/** Data replication: the real sync engine on the simulated HA link, with records and barriers. */
const dataRows: Row[] = [
  {
    name: 'initial sync with the primary\'s next hop cut → no takeover until b is UpToDate, then takeover',
    run: (t) => {
      // a holds 300 records of 64 KiB, b none: 15.7 s of resync at 10 Mbit/s.
      const sim = new Simulation({ profile: t, seed: 7, data: { a: 300 } });
      const inv = new Monitors(sim, settleBound(t));
      sim.runFor(1000);
      assert.equal(sim.role('a'), 'primary');
      assert.equal(sim.syncOf('b'), 'Syncing');
      halfCopied(sim, 'b');
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(nextHopTakeoverBound(t) + 2000);
      assert.deepEqual(sim.servingNodes(), ['a'], 'vetoed while b resyncs');
      assert.match(sim.status('b')?.takeover_veto ?? '', /sync Syncing/);
      const left = sim.engineOf('b')?.progress?.filesLeft ?? -1;
      assert.ok(left > 0 && left < 300, `progress: ${left} files left`);
      const t0 = runUntilSync(sim, 'b', 'UpToDate', 20_000);
      assert.ok(t0 >= 15_000, `a 15.7 s resync took until ${t0}`);
      assert.equal(sim.records('b').size, 300);
      sim.runFor(2000);
      const at = sim.servingSince('b', t0);
      assert.ok(at !== null && at - t0 <= 3 * t.heartbeatIntervalMs + 3 * t.tickMs, 'takeover as soon as b is UpToDate');
      assert.deepEqual(sim.servingNodes(), ['b']);
      sameRecords(sim);
      noViolations(inv);
    },
  },
  {
    name: 'HA link cut, redundant path up → session closes, Outdated, no takeover on next-hop loss; healed → resync, UpToDate',
    run: (t) => {
      const { sim, inv } = steadyCluster(t, { writeEveryMs: 100 });
      sim.cutPath('ha0');
      sim.runFor(t.peerDeadAfterMs - 50);
      assert.equal(sim.sessionInfo()?.phase, 'live', 'the channel waits out its idle timeout');
      const during = sim.barrier('a');
      sim.runFor(150);
      assert.equal(sim.sessionInfo(), null, 'closed by the idle timeout');
      assert.equal(sim.syncOf('b'), 'Outdated');
      assert.equal(sim.status('b')?.other_node?.reachable, true, 'the peer is alive on ext0');
      sim.runFor(syncGraceMs(t) + 100);
      assert.deepEqual(sim.syncDiskOf('b'), { inconsistent: false, outdated: true }, 'apart past the grace: outdated on disk');
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(nextHopTakeoverBound(t) + 3000);
      assert.deepEqual(sim.servingNodes(), ['a'], 'an outdated copy takes no service');
      assert.match(sim.status('b')?.takeover_veto ?? '', /sync Outdated/);
      sim.setNextHop('a', 'ext0', true);
      sim.runUntil(Math.max(sim.now + 1000, during.at + 5001));
      assert.equal(during.status, 'failed', 'a barrier cannot pass while the HA link is cut');
      sim.cutPath('ha0', false);
      runUntilSync(sim, 'b', 'Syncing', 1000);
      runUntilSync(sim, 'b', 'UpToDate', 10_000);
      assert.deepEqual(sim.syncDiskOf('b'), CLEAN);
      const after = sim.barrier('a');
      sim.runFor(100);
      assert.equal(after.status, 'acked');
      sim.stopWriter();
      sim.runFor(500);
      sameRecords(sim);
      assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
      noViolations(inv);
    },
  },
  {
    name: 'every path cut, writes on both sides → SplitBrain on both; resolved keeping b → a\'s records set aside, resync, HA',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.writeMany(10, 'a');
      const before = sim.barrier('a');
      sim.runFor(100);
      assert.equal(before.status, 'acked');
      sim.cutAllPaths();
      sim.runFor(5000);
      assert.deepEqual(sim.servingNodes(), ['a', 'b']);
      const onA = Array.from({ length: 5 }, () => sim.write('a'));
      const onB = Array.from({ length: 7 }, () => sim.write('b'));
      assert.ok([...onA, ...onB].every((id) => id !== null));
      const healedAt = sim.now;
      sim.cutAllPaths(false);
      sim.runFor(settleBound(t) + 200);
      for (const n of ['a', 'b'] as const) {
        assert.equal(sim.status(n)?.cluster.status, 'SplitBrain', `${n} shows the split brain`);
        assert.equal(sim.syncOf(n), 'Diverged');
        assert.ok(sim.alerts.some((a) => a.node === n && a.event === 'split-brain' && a.at >= healedAt), `${n} alerted`);
      }
      assert.equal(sim.sessionInfo(), null, 'no replication between diverged copies');
      assert.deepEqual(sim.servingNodes(), ['b'], 'the newer term keeps serving');
      sim.operator('b', { type: 'resolve-split-brain', keep: 'this' });
      runUntilSync(sim, 'a', 'UpToDate', 5000);
      sim.runFor(500);
      assert.equal(sim.status('a')?.cluster.status, 'HA');
      assert.equal(sim.status('b')?.cluster.status, 'HA');
      assert.equal(sim.preserved.length, 1);
      const aside = sim.preserved[0];
      assert.equal(aside?.node, 'a');
      for (const id of onA) {
        assert.ok(id !== null && aside.records.has(id), `${String(id)} kept aside`);
        assert.ok(!sim.records('a').has(id) && !sim.records('b').has(id));
      }
      for (const id of onB) assert.ok(id !== null && sim.records('a').has(id), `${String(id)} replicated to a`);
      for (const id of before.records) assert.ok(sim.records('a').has(id) && sim.records('b').has(id));
      sameRecords(sim);
      noViolations(inv);
    },
  },
  {
    name: 'heartbeats lost on every path while the replication channel lives, writes on both sides → SplitBrain on heal (the new generation is never adopted over the old session)',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      // 100 % loss, not a cut: the heartbeats go, the simulated replication channel stays up.
      for (const path of sim.paths) sim.setPathLoss(path, 100);
      sim.runFor(5000);
      assert.deepEqual(sim.servingNodes(), ['a', 'b']);
      const onA = sim.write('a');
      const onB = sim.write('b');
      assert.ok(onA !== null && onB !== null);
      const healedAt = sim.now;
      for (const path of sim.paths) sim.setPathLoss(path, 0);
      sim.runFor(settleBound(t) + 200);
      for (const n of ['a', 'b'] as const) {
        assert.equal(sim.status(n)?.cluster.status, 'SplitBrain', `${n} shows the split brain`);
        assert.ok(sim.alerts.some((a) => a.node === n && a.event === 'split-brain' && a.at >= healedAt), `${n} alerted`);
      }
      assert.ok(!sim.records('b').has(onA) && !sim.records('a').has(onB), 'nothing crossed between the diverged copies');
      // Both primary while "connected" is this scenario's premise (the paths lose every heartbeat
      // but are not cut), so only the data invariants apply.
      noViolations(inv.data);
    },
  },
  {
    name: 'split brain resolved keeping the secondary\'s data → the kept copy becomes primary (never both secondary), the other resyncs',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.cutAllPaths();
      sim.runFor(5000);
      const onA = sim.write('a');
      const onB = sim.write('b');
      sim.cutAllPaths(false);
      // Diverged for longer than the grace: the secondary's copy must stay promotable.
      sim.runFor(settleBound(t) + 3 * syncGraceMs(t));
      assert.equal(sim.role('a'), 'secondary', 'the older term yielded');
      assert.equal(sim.status('a')?.cluster.status, 'SplitBrain');
      assert.notEqual(sim.syncDiskOf('a')?.outdated, true, 'a diverged copy is not outdated');
      assert.equal(sim.syncOf('a'), 'Diverged');
      sim.operator('a', { type: 'resolve-split-brain', keep: 'this' });
      runUntilSync(sim, 'b', 'UpToDate', 10_000);
      sim.runFor(500);
      assert.deepEqual(sim.servingNodes(), ['a'], 'the kept copy serves');
      assert.equal(sim.status('a')?.cluster.status, 'HA');
      assert.equal(sim.preserved[0]?.node, 'b');
      assert.ok(onA !== null && onB !== null && sim.records('b').has(onA) && sim.preserved[0].records.has(onB));
      sameRecords(sim);
      noViolations(inv);
    },
  },
  {
    name: 'primary killed in the middle of a long resync → the inconsistent secondary is not promoted; primary back → resync resumes',
    run: (t) => {
      const sim = new Simulation({ profile: t, seed: 11, data: { a: 300 } });
      const inv = new Monitors(sim, settleBound(t));
      sim.runFor(6000);
      assert.equal(sim.syncOf('b'), 'Syncing');
      const had = sim.records('b').size;
      assert.ok(had > 50 && had < 300, `b holds ${had} records mid-resync`);
      sim.crash('a');
      sim.runFor(5000);
      assert.equal(sim.role('b'), 'secondary', 'a half-copied secondary is never promoted');
      assert.equal(sim.syncOf('b'), 'Outdated');
      halfCopied(sim, 'b');
      assert.ok(sim.alerts.some((a) => a.node === 'b' && a.event === 'takeover-vetoed'));
      sim.restart('a');
      runUntilSync(sim, 'b', 'Syncing', 8000);
      assert.equal(sim.role('a'), 'primary');
      const left = sim.sessionInfo()?.filesLeft ?? -1;
      assert.ok(left >= 0 && left <= 300 - had, `resumed: ${left} records left after ${had} copied`);
      runUntilSync(sim, 'b', 'UpToDate', 20_000);
      assert.deepEqual(sim.syncDiskOf('b'), CLEAN);
      sameRecords(sim);
      noViolations(inv);
    },
  },
  {
    name: 'secondary killed in the middle of a long resync → restarted Outdated, the resync resumes, consistent',
    run: (t) => {
      const sim = new Simulation({ profile: t, seed: 13, data: { a: 300 } });
      const inv = new Monitors(sim, settleBound(t));
      sim.runFor(6000);
      const had = sim.records('b').size;
      assert.ok(had > 50 && had < 300, `b holds ${had} records mid-resync`);
      sim.crash('b');
      sim.runFor(2000);
      halfCopied(sim, 'b');
      sim.restart('b');
      assert.equal(sim.syncOf('b'), 'Outdated', 'inconsistent on disk: Outdated from the start');
      runUntilSync(sim, 'b', 'Syncing', 3000);
      const left = sim.sessionInfo()?.filesLeft ?? -1;
      assert.ok(left >= 0 && left <= 300 - had, `resumed: ${left} records left after ${had} copied`);
      runUntilSync(sim, 'b', 'UpToDate', 20_000);
      assert.deepEqual(sim.syncDiskOf('b'), CLEAN);
      sameRecords(sim);
      assert.deepEqual(servingSwitches(sim).map((c) => c.to), ['a']);
      noViolations(inv);
    },
  },
  {
    name: 'barrier, then the primary loses its next hop → takeover; no acked record lost',
    run: (t) => {
      const { sim, inv } = steadyCluster(t, { writeEveryMs: 50 });
      sim.runFor(1000);
      const first = sim.barrier('a');
      sim.runFor(50);
      assert.equal(first.status, 'acked');
      assert.ok(first.records.length >= 15);
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(nextHopTakeoverBound(t) + 500);
      assert.deepEqual(sim.servingNodes(), ['b']);
      for (const id of first.records) assert.ok(sim.records('b').has(id), `acked ${id} on the new primary`);
      const second = sim.barrier('b');
      sim.runFor(1000);
      assert.equal(second.status, 'acked', 'a resynced from b and replicates live');
      sim.stopWriter();
      sim.runFor(500);
      sameRecords(sim);
      assert.equal(sim.barriers.filter((b) => b.status === 'pending').length, 0);
      noViolations(inv);
    },
  },
];

for (const name of TIMING_PROFILE_NAMES) {
  describe(`fault matrix, ${name} profile`, () => {
    for (const row of rows) it(row.name, () => { row.run(TIMING_PROFILES[name]); });
  });
  describe(`data replication, ${name} profile`, () => {
    for (const row of dataRows) it(row.name, () => { row.run(TIMING_PROFILES[name]); });
    it('primary resumes from a freeze while partitioned and writes; the partition heals within its freeze grace → split brain detected', () => {
      const t = TIMING_PROFILES[name];
      const { sim, inv } = steadyCluster(t);
      sim.cutAllPaths();
      sim.freeze('a', 3000);
      sim.runFor(2500);
      const onB = sim.write('b');
      sim.runFor(500);
      const onA = sim.write('a');
      assert.ok(onA !== null && onB !== null, 'both primaries wrote while apart');
      sim.runFor(t.freezeGraceMs / 3);
      sim.cutAllPaths(false);
      sim.runFor(settleBound(t) + 500);
      assert.equal(sim.status('a')?.cluster.status, 'SplitBrain');
      assert.equal(sim.status('b')?.cluster.status, 'SplitBrain');
      for (const n of ['a', 'b'] as const) assert.ok(sim.alerts.some((x) => x.node === n && x.event === 'split-brain'), `${n} raised the split-brain alert`);
      assert.deepEqual(sim.servingNodes(), ['b'], 'the newer term keeps serving');
      noViolations(inv);
      // The operator keeps b: a's write is set aside (never deleted), a resyncs from b.
      sim.operator('b', { type: 'resolve-split-brain', keep: 'this' });
      runUntilSync(sim, 'a', 'UpToDate', 10_000);
      assert.ok(sim.preserved.some((p) => p.node === 'a' && p.records.has(onA)), 'a\'s write preserved');
      assert.ok(sim.records('a').has(onB) && !sim.records('a').has(onA));
      assert.equal(sim.status('a')?.cluster.status, 'HA');
      noViolations(inv);
    });
  });
}
