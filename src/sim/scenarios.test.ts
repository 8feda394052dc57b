/**
 * The fault matrix on the simulated network: each row builds a steady cluster (a primary, b
 * secondary, both in sync), injects faults at virtual times and checks roles, statuses and
 * latency bounds. Both timing profiles run every row.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TIMING_PROFILE_NAMES, TIMING_PROFILES, type TimingProfile } from '../core/timing.js';
import { nextHopTakeoverBound, peerDeathTakeoverBound, settleBound } from './bounds.js';
import { InvariantMonitor, servingSwitches } from './invariants.js';
import { Simulation, type SimOptions } from './simulation.js';

const STEADY_AT = 8000;

function steadyCluster(t: TimingProfile, opts: SimOptions = {}): { sim: Simulation; inv: InvariantMonitor } {
  const sim = new Simulation({ profile: t, seed: 42, ...opts });
  const inv = new InvariantMonitor(sim, settleBound(t));
  sim.runUntil(STEADY_AT);
  assert.deepEqual(sim.servingNodes(), ['a'], 'a (lower HA address) is primary after start');
  assert.equal(sim.status('a')?.cluster.status, 'HA');
  return { sim, inv };
}

function noViolations(inv: InvariantMonitor): void {
  assert.deepEqual(inv.violations.slice(0, 3), []);
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
    name: 'both lose the same next hop, the secondary later by the tolerated skew → no role change',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      // The default profile tolerates 2 s (ANCHORS), the fast one 0.4 s (docs/benchmarks.md).
      const skew = t.name === 'default' ? 2000 : 400;
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(skew);
      sim.setNextHop('b', 'ext0', false);
      sim.runFor(20_000);
      assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
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
    name: 'secondary not in sync → no takeover on next-hop loss until UpToDate, then takeover',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.setSync('b', 'Syncing');
      sim.setNextHop('a', 'ext0', false);
      sim.runFor(10_000);
      assert.deepEqual(sim.servingNodes(), ['a']);
      assert.match(sim.status('a')?.takeover_veto ?? '', /vetoed: the peer cannot take over/);
      assert.match(sim.status('b')?.takeover_veto ?? '', /sync Syncing/);
      const t0 = sim.now;
      sim.setSync('b', 'UpToDate');
      sim.runFor(2000);
      const at = sim.servingSince('b', t0);
      assert.ok(at !== null && at - t0 <= 3 * t.heartbeatIntervalMs + 3 * t.tickMs, 'takeover as soon as the veto clears');
      noViolations(inv);
    },
  },
  {
    name: 'secondary not in sync and primary killed → no automatic takeover; forced takeover works',
    run: (t) => {
      const { sim, inv } = steadyCluster(t);
      sim.setSync('b', 'Outdated');
      sim.crash('a');
      sim.runFor(5000);
      assert.equal(sim.role('b'), 'secondary');
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

for (const name of TIMING_PROFILE_NAMES) {
  describe(`fault matrix, ${name} profile`, () => {
    for (const row of rows) it(row.name, () => { row.run(TIMING_PROFILES[name]); });
  });
}
