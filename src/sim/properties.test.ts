/**
 * Property-based fault sequences on the simulated cluster (fast-check): whatever faults happen
 * and in whatever order, the invariants of SPEC §1–§3 hold — the HA ones and, with the real sync
 * engine replicating the service's records, the data ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TIMING_PROFILE_NAMES, TIMING_PROFILES, type TimingProfile } from '../core/timing.js';
import { nextHopTakeoverBound, peerDeathTakeoverBound, settleBound } from './bounds.js';
import { DataInvariantMonitor, InvariantMonitor, servingSwitches } from './invariants.js';
import { NODE_NAMES, Simulation } from './simulation.js';

const STEADY_AT = 8000;
/** The largest one-way delay and loss the fault sequences put on a heartbeat path. */
const MAX_PATH_DELAY_MS = 40;
const MAX_PATH_LOSS_PCT = 20;

const node = fc.constantFrom(...NODE_NAMES);
const path = fc.constantFrom('ha0', 'ext0');
const iface = fc.constantFrom('ext0', 'int0');

/** One fault, applied at `at` ms after the cluster is steady. */
const fault = fc.record({
  at: fc.integer({ min: 0, max: 60_000 }),
  action: fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), path, cut: fc.boolean() }),
    fc.record({ kind: fc.constant('path-loss' as const), path, pct: fc.integer({ min: 0, max: MAX_PATH_LOSS_PCT }) }),
    fc.record({ kind: fc.constant('path-delay' as const), path, ms: fc.integer({ min: 0, max: MAX_PATH_DELAY_MS }) }),
    fc.record({ kind: fc.constant('next-hop' as const), node, iface, up: fc.boolean() }),
    fc.record({ kind: fc.constant('probe-loss' as const), node, iface, pct: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('crash' as const), node, downMs: fc.integer({ min: 100, max: 10_000 }) }),
    fc.record({ kind: fc.constant('freeze' as const), node, ms: fc.integer({ min: 50, max: 4000 }) }),
    fc.record({ kind: fc.constant('cut-all' as const), cut: fc.boolean() }),
    fc.record({ kind: fc.constant('restart' as const), node }),
    fc.record({ kind: fc.constant('write' as const), count: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant('barrier' as const) }),
  ),
});
type Fault = typeof fault extends fc.Arbitrary<infer F> ? F : never;

function apply(sim: Simulation, f: Fault['action']): void {
  switch (f.kind) {
    case 'cut': sim.cutPath(f.path, f.cut); break;
    case 'path-loss': sim.setPathLoss(f.path, f.pct); break;
    case 'path-delay': sim.setPathDelay(f.path, f.ms); break;
    case 'next-hop': sim.setNextHop(f.node, f.iface, f.up); break;
    case 'probe-loss': sim.setProbeLoss(f.node, f.iface, f.pct); break;
    case 'crash':
      sim.crash(f.node);
      sim.queue.at(sim.now + f.downMs, () => { sim.restart(f.node); });
      break;
    case 'freeze': sim.freeze(f.node, f.ms); break;
    case 'cut-all': sim.cutAllPaths(f.cut); break;
    case 'restart': sim.restart(f.node); break;
    // The service writes where it is served (both nodes during a split brain).
    case 'write': for (const n of sim.servingNodes()) sim.writeMany(f.count, n); break;
    case 'barrier': for (const n of sim.servingNodes()) sim.barrier(n); break;
  }
}

/**
 * How long two primaries may coexist after the nodes reconnect, on the network these sequences
 * make: the settle bound of a clean link, plus the path delay, plus heartbeats lost in a row — at
 * 20 % loss on the only path left, 8 in a row happen about once in 400 000 reconnects.
 */
function lossySettleBound(t: TimingProfile): number {
  return settleBound(t) + MAX_PATH_DELAY_MS + 8 * t.heartbeatIntervalMs;
}

function steady(t: TimingProfile, seed: number): { sim: Simulation; inv: InvariantMonitor } {
  const sim = new Simulation({ profile: t, seed, keepLogs: false });
  const inv = new InvariantMonitor(sim, lossySettleBound(t));
  sim.runUntil(STEADY_AT);
  return { sim, inv };
}

for (const name of TIMING_PROFILE_NAMES) {
  const t = TIMING_PROFILES[name];
  describe(`invariants under random fault sequences, ${name} profile`, () => {
    it('never two primaries while a heartbeat path is up; never an automatic promotion out of sync; no acked record lost; split brain always detected; convergence', () => {
      fc.assert(fc.property(fc.array(fault, { maxLength: 16 }), fc.integer(), (faults, seed) => {
        // Small records keep the resyncs of these runs short (the quiet period below covers them).
        const sim = new Simulation({ profile: t, seed, keepLogs: false, writeEveryMs: 250, recordBytes: 16_384 });
        const inv = new InvariantMonitor(sim, lossySettleBound(t));
        const data = new DataInvariantMonitor(sim, lossySettleBound(t));
        sim.runUntil(STEADY_AT);
        for (const f of faults) sim.queue.at(STEADY_AT + f.at, () => { apply(sim, f.action); });
        sim.runUntil(STEADY_AT + 70_000);
        // Quiet: every fault healed (crashed nodes are back by now), no writes; then everything
        // must converge unless the copies diverged.
        sim.stopWriter();
        sim.cutAllPaths(false);
        for (const p of sim.paths) sim.setPathLoss(p, 0);
        for (const n of NODE_NAMES) for (const i of sim.interfaces) { sim.setNextHop(n, i, true); sim.setProbeLoss(n, i, 0); }
        sim.runUntil(STEADY_AT + 90_000);
        data.checkAckedNow();
        data.checkConverged();
        assert.deepEqual(inv.violations.slice(0, 2), []);
        assert.deepEqual(data.violations.slice(0, 2), []);
      }), {
        numRuns: 15,
        // Found by CI: the primary restarted within one heartbeat; both ran the election at its
        // start and one yielded at once (the monitor had counted the connection from before).
        examples: [[[
          { at: 6945, action: { kind: 'restart', node: 'b' } },
          { at: 0, action: { kind: 'freeze', node: 'a', ms: 416 } },
          { at: 0, action: { kind: 'path-delay', path: 'ext0', ms: 25 } },
        ], 0]],
      });
    });

    it('a shared next hop dying at one instant for both (node clocks skewed up to ±2 s, random probe phase, probe loss) never moves the role', () => {
      fc.assert(fc.property(
        fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: 0, max: t.probeIntervalMs - 1 }), fc.integer({ min: 0, max: 1000 }),
        iface, fc.integer({ min: 0, max: 10 }), fc.integer(),
        (offset, phase, at, i, lossPct, seed) => {
          const sim = new Simulation({ profile: t, seed, keepLogs: false, clockOffset: { b: offset }, startSkewMs: phase });
          const inv = new InvariantMonitor(sim, lossySettleBound(t));
          sim.runUntil(STEADY_AT + at);
          for (const n of NODE_NAMES) sim.setProbeLoss(n, i, lossPct);
          sim.runFor(2000);
          sim.setNextHop('a', i, false);
          sim.setNextHop('b', i, false);
          sim.runFor(15_000);
          assert.deepEqual(servingSwitches(sim, STEADY_AT), []);
          assert.equal(sim.servingNodes().length, 1, 'the VIP stays served');
          assert.deepEqual(inv.violations, []);
        },
      ), { numRuns: 25 });
    });

    it('every takeover the rule demands happens within the bound, whatever the phase', () => {
      fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), iface, fc.integer(), (phase, i, seed) => {
        const { sim } = steady(t, seed);
        sim.runFor(phase);
        const t0 = sim.now;
        sim.setNextHop('a', i, false);
        sim.runFor(nextHopTakeoverBound(t) + 50);
        const at = sim.servingSince('b', t0);
        assert.ok(at !== null && at - t0 <= nextHopTakeoverBound(t), `took ${at === null ? '∞' : at - t0} ms`);
      }), { numRuns: 25 });
    });

    it('a dead or frozen primary is replaced within the bound, whatever the phase', () => {
      fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.boolean(), fc.integer(), (phase, freeze, seed) => {
        const { sim } = steady(t, seed);
        sim.runFor(phase);
        const t0 = sim.now;
        if (freeze) sim.freeze('a', 10_000);
        else sim.crash('a');
        sim.runFor(peerDeathTakeoverBound(t) + 50);
        const at = sim.servingSince('b', t0);
        assert.ok(at !== null && at - t0 <= peerDeathTakeoverBound(t), `took ${at === null ? '∞' : at - t0} ms`);
      }), { numRuns: 25 });
    });

    it('the flap limiter bounds next-hop switches, whatever the next hops do', () => {
      const toggle = fc.record({ at: fc.integer({ min: 0, max: 600_000 }), node, up: fc.boolean() });
      fc.assert(fc.property(fc.array(toggle, { minLength: 5, maxLength: 60 }), fc.integer(), (toggles, seed) => {
        const { sim, inv } = steady(t, seed);
        for (const g of toggles) sim.queue.at(STEADY_AT + g.at, () => { sim.setNextHop(g.node, 'ext0', g.up); });
        sim.runUntil(STEADY_AT + 600_000);
        const switches = servingSwitches(sim, STEADY_AT);
        for (const [k, s] of switches.entries()) {
          const previous = switches[k - 1];
          if (previous !== undefined) assert.ok(s.at - previous.at >= t.minDwellMs, 'minimum dwell');
          const inWindow = switches.filter((x) => x.at > s.at - t.flapWindowMs && x.at <= s.at).length;
          assert.ok(inWindow <= t.flapMaxSwitches, `${inWindow} switches in one window`);
        }
        assert.deepEqual(inv.violations, []);
      }), { numRuns: 3 });
    });
  });
}
