import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NextHopTarget } from '../config.js';
import type { InterfaceReach } from '../ha/report.js';
import type { Millis } from '../time.js';
import { TIMING_PROFILES } from '../timing.js';
import {
  forgetInFlight, initMonitor, monitorView, reconfigureMonitor, replyMonitor, tickMonitor,
  type Judgement, type MonitorState, type Probe, type TargetState,
} from './monitor.js';

// Default profile: a probe every 100 ms, a miss after 250 ms, down after 3 misses of the last 5,
// up after 3 replies in a row.
// The tables are written for this k-of-n (3 misses of 5, rise 3), fixed here so that tuning the
// shipped profiles does not rewrite the expected judgements; without suspicion bursts (tested
// apart, below), so that every tick sends one probe at the regular cadence.
const timing = { ...TIMING_PROFILES.default, probeWindow: 5, probeFall: 3, probeRise: 3, suspectAfterMs: Number.POSITIVE_INFINITY };
const EXT: NextHopTarget = { interface: 'ext0', address: '198.51.100.1', weight: 1 };
const EXT2: NextHopTarget = { interface: 'ext0', address: '198.51.100.2', weight: 2 };
const INT: NextHopTarget = { interface: 'int0', address: '10.0.0.1', weight: 1 };

/** The reach part of a view (the evidence fields are tested apart). */
function reach(view: readonly InterfaceReach[]): InterfaceReach[] {
  return view.map((r) => ({ interface: r.interface, score: r.score, total: r.total, ready: r.ready }));
}

/** Ticks at each time, collecting the probes sent (with the time they left). */
function tickAt(state: MonitorState, times: readonly Millis[]): { state: MonitorState; sent: (Probe & { at: Millis })[] } {
  const sent: (Probe & { at: Millis })[] = [];
  let s = state;
  for (const at of times) {
    const r = tickMonitor(s, at, timing);
    s = r.state;
    for (const p of r.probes) sent.push({ ...p, at });
  }
  return { state: s, sent };
}

/**
 * Drives one target through a sequence of probe outcomes, in the order the probes were sent:
 * `R` = answered at once, `M` = never answered. Ticks every probe interval (each tick sends one
 * probe); misses are noticed by the timeout (or by a later reply) as the monitor decides.
 */
function drive(outcomes: string, targets: readonly NextHopTarget[] = [EXT]): { state: MonitorState; changes: string[] } {
  let s = initMonitor(targets, 0);
  const changes: string[] = [];
  const note = (cs: readonly { from: Judgement; to: Judgement }[]) => { for (const c of cs) changes.push(`${c.from}→${c.to}`); };
  for (const [i, outcome] of Array.from(outcomes).entries()) {
    const r = tickMonitor(s, i * timing.probeIntervalMs, timing);
    s = r.state;
    note(r.changes);
    const probe = r.probes[0]!;
    if (outcome === 'R') {
      const reply = replyMonitor(s, probe, timing);
      assert.ok(reply.matched);
      s = reply.state;
      note(reply.changes);
    }
  }
  // No more probes; let every unanswered one time out.
  s = { ...s, targets: s.targets.map((t) => ({ ...t, nextProbeAt: Number.POSITIVE_INFINITY })) };
  const r = tickMonitor(s, (outcomes.length - 1) * timing.probeIntervalMs + timing.probeTimeoutMs, timing);
  note(r.changes);
  return { state: r.state, changes };
}

function judged(s: MonitorState): Judgement[] {
  return s.targets.map((t) => t.judged);
}

describe('tickMonitor: probe cadence', () => {
  const rows: readonly { name: string; targets?: readonly NextHopTarget[]; ticks: readonly Millis[]; sentAt: readonly Millis[] }[] = [
    { name: 'first probe on the first tick, then one every probeIntervalMs (20 ms ticks)',
      ticks: Array.from({ length: 26 }, (_, i) => i * 20), sentAt: [0, 100, 200, 300, 400, 500] },
    { name: 'ticks that jitter keep the cadence of the schedule',
      ticks: [0, 110, 190, 210, 300, 390, 405], sentAt: [0, 110, 210, 300, 405] },
    { name: 'a long gap between ticks sends one probe, no catch-up burst',
      ticks: [0, 350, 400, 440, 460], sentAt: [0, 350, 460] },
    { name: 'no probe before it is due',
      ticks: [0, 20, 40, 60, 80, 99], sentAt: [0] },
    { name: 'every target is probed on its own schedule',
      targets: [EXT, INT], ticks: [0, 50, 100], sentAt: [0, 0, 100, 100] },
    { name: 'no targets, no probes', targets: [], ticks: [0, 100, 200], sentAt: [] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const { sent } = tickAt(initMonitor(row.targets ?? [EXT], 0), row.ticks);
      assert.deepEqual(sent.map((p) => p.at), row.sentAt);
      // Sequence numbers are shared by all targets and increase by one per probe.
      assert.deepEqual(sent.map((p) => p.seq), sent.map((_, i) => i + 1));
    });
  }

  it('probes carry the target interface and address', () => {
    const { sent } = tickAt(initMonitor([EXT, INT], 0), [0]);
    assert.deepEqual(sent, [
      { interface: 'ext0', address: '198.51.100.1', seq: 1, at: 0 },
      { interface: 'int0', address: '10.0.0.1', seq: 2, at: 0 },
    ]);
  });

  it('sequence numbers wrap from 0xffff to 1 (16-bit ICMP field, 0 unused)', () => {
    const s = { ...initMonitor([EXT, INT], 0), nextSeq: 0xffff };
    const { sent, state } = tickAt(s, [0]);
    assert.deepEqual(sent.map((p) => p.seq), [0xffff, 1]);
    assert.equal(state.nextSeq, 2);
  });
});

describe('tickMonitor: timeout turns a probe into a miss', () => {
  const rows: readonly { name: string; checkAt: Millis; inFlight: number; outcomes: readonly boolean[] }[] = [
    { name: 'still in flight just before probeTimeoutMs', checkAt: 249, inFlight: 1, outcomes: [] },
    { name: 'a miss at probeTimeoutMs', checkAt: 250, inFlight: 0, outcomes: [false] },
    { name: 'a miss when the tick comes late', checkAt: 900, inFlight: 0, outcomes: [false] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      // One probe at 0; the schedule is pushed out so that no other probe is sent.
      let s = tickAt(initMonitor([EXT], 0), [0]).state;
      s = { ...s, targets: s.targets.map((t) => ({ ...t, nextProbeAt: 10_000 })) };
      const t = tickMonitor(s, row.checkAt, timing).state.targets[0]!;
      assert.equal(t.inFlight.length, row.inFlight);
      assert.deepEqual(t.outcomes, row.outcomes);
      assert.equal(t.judged, 'unknown');
    });
  }
});

describe('k-of-n judgement', () => {
  // Outcomes in the order the probes were sent: R = replied, M = missed.
  const rows: readonly { outcomes: string; judged: Judgement; changes: readonly string[]; why: string }[] = [
    { outcomes: '', judged: 'unknown', changes: [], why: 'nothing probed yet' },
    { outcomes: 'RR', judged: 'unknown', changes: [], why: 'fewer than probeRise replies' },
    { outcomes: 'MM', judged: 'unknown', changes: [], why: 'fewer than probeFall misses' },
    { outcomes: 'RMRMR', judged: 'unknown', changes: [], why: 'neither threshold reached' },
    { outcomes: 'RRR', judged: 'up', changes: ['unknown→up'], why: 'probeRise replies in a row' },
    { outcomes: 'MMM', judged: 'down', changes: ['unknown→down'], why: 'probeFall misses' },
    { outcomes: 'RRRMM', judged: 'up', changes: ['unknown→up'], why: 'two misses are tolerated' },
    { outcomes: 'RRRMMM', judged: 'down', changes: ['unknown→up', 'up→down'], why: 'probeFall misses in a row' },
    { outcomes: 'RRRMRMRM', judged: 'down', changes: ['unknown→up', 'up→down'], why: 'probeFall misses spread within probeWindow' },
    { outcomes: 'RRRMRRMRRMRRM', judged: 'up', changes: ['unknown→up'], why: 'one miss in three never fills probeFall of probeWindow' },
    { outcomes: 'RRRMRRRRM', judged: 'up', changes: ['unknown→up'], why: 'misses further apart than probeWindow never add up' },
    { outcomes: 'MMMRR', judged: 'down', changes: ['unknown→down'], why: 'two replies are not enough to rise' },
    { outcomes: 'MMMRRR', judged: 'up', changes: ['unknown→down', 'down→up'], why: 'probeRise replies in a row, even with misses in the window' },
    { outcomes: 'MMMRRMRRR', judged: 'up', changes: ['unknown→down', 'down→up'], why: 'a miss restarts the rise count' },
    { outcomes: 'MMMRRMRR', judged: 'down', changes: ['unknown→down'], why: 'interrupted replies do not rise' },
    { outcomes: 'MRRR', judged: 'up', changes: ['unknown→up'], why: 'probeRise replies in a row after an earlier miss' },
    { outcomes: 'RRRMMMRRRMMM', judged: 'down', changes: ['unknown→up', 'up→down', 'down→up', 'up→down'], why: 'every transition is reported' },
  ];
  for (const row of rows) {
    it(`${row.outcomes || '(none)'} → ${row.judged}: ${row.why}`, () => {
      const { state, changes } = drive(row.outcomes);
      assert.deepEqual(judged(state), [row.judged]);
      assert.deepEqual(changes, row.changes);
      // The window never holds more than probeWindow outcomes.
      assert.ok(state.targets[0]!.outcomes.length <= timing.probeWindow);
    });
  }

  it('keeps the outcomes of the last probeWindow probes, oldest first, in the order they were sent', () => {
    const { state } = drive('MMRRRMR');
    assert.deepEqual(state.targets[0]!.outcomes, [true, true, true, false, true]);
  });
});

describe('replyMonitor: only a reply to a probe in flight counts', () => {
  // One probe (seq 1, at 0) on ext0 and one (seq 2) on int0 are in flight.
  const start = tickAt(initMonitor([EXT, INT], 0), [0]).state;
  const rows: readonly { name: string; state?: MonitorState; reply: Probe; matched: boolean }[] = [
    { name: 'the reply to the probe in flight', reply: { interface: 'ext0', address: '198.51.100.1', seq: 1 }, matched: true },
    { name: 'a reply just before the timeout', state: tickMonitor(start, 249, timing).state,
      reply: { interface: 'ext0', address: '198.51.100.1', seq: 1 }, matched: true },
    { name: 'late: the probe already timed out', state: tickMonitor(start, 250, timing).state,
      reply: { interface: 'ext0', address: '198.51.100.1', seq: 1 }, matched: false },
    { name: 'duplicate: the probe was already answered',
      state: replyMonitor(start, { interface: 'ext0', address: '198.51.100.1', seq: 1 }, timing).state,
      reply: { interface: 'ext0', address: '198.51.100.1', seq: 1 }, matched: false },
    { name: 'forged: a sequence number never sent', reply: { interface: 'ext0', address: '198.51.100.1', seq: 7 }, matched: false },
    { name: 'forged: another address with a valid sequence number', reply: { interface: 'ext0', address: '198.51.100.9', seq: 1 }, matched: false },
    { name: 'forged: the sequence number of another target', reply: { interface: 'ext0', address: '198.51.100.1', seq: 2 }, matched: false },
    { name: 'forged: the right address on another interface', reply: { interface: 'int0', address: '198.51.100.1', seq: 1 }, matched: false },
  ];
  for (const row of rows) {
    it(`${row.matched ? 'counts' : 'ignores'} ${row.name}`, () => {
      const before = row.state ?? start;
      const r = replyMonitor(before, row.reply, timing);
      assert.equal(r.matched, row.matched);
      if (row.matched) {
        const t = r.state.targets.find((x) => x.target.address === row.reply.address)!;
        assert.equal(t.outcomes.at(-1), true);
        assert.equal(t.streak, 1);
        assert.ok(!t.inFlight.some((p) => p.seq === row.reply.seq));
      } else {
        assert.equal(r.state, before);
        assert.deepEqual(r.changes, []);
      }
    });
  }
});

describe('replyMonitor: probes answered out of order', () => {
  // Probes seq 1 (at 0) and seq 2 (at 100) on ext0 are in flight.
  const twoInFlight = tickAt(initMonitor([EXT], 0), [0, 100]).state;
  const rows: readonly { name: string; replies: readonly number[]; outcomes: readonly boolean[]; inFlight: readonly number[] }[] = [
    { name: 'replies in order: two answers', replies: [1, 2], outcomes: [true, true], inFlight: [] },
    { name: 'a reply to the later probe: the earlier one is a miss at once', replies: [2], outcomes: [false, true], inFlight: [] },
    { name: 'the earlier reply arriving after the later one is ignored', replies: [2, 1], outcomes: [false, true], inFlight: [] },
    { name: 'a reply to the earlier probe leaves the later one in flight', replies: [1], outcomes: [true], inFlight: [2] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      let s = twoInFlight;
      for (const seq of row.replies) s = replyMonitor(s, { interface: 'ext0', address: '198.51.100.1', seq }, timing).state;
      assert.deepEqual(s.targets[0]!.outcomes, row.outcomes);
      assert.deepEqual(s.targets[0]!.inFlight.map((p) => p.seq), row.inFlight);
      // A later timeout does not count the probes already judged a second time.
      assert.deepEqual(tickMonitor(s, 1000, timing).state.targets[0]!.outcomes.length, row.outcomes.length + row.inFlight.length);
    });
  }
});

describe('reconfigureMonitor', () => {
  // ext0 judged up, int0 judged down after six probes each.
  let base = initMonitor([EXT, INT], 0);
  for (let i = 0; i < 6; i++) {
    const r = tickMonitor(base, i * 100, timing);
    base = r.state;
    const ext = r.probes.find((p) => p.interface === 'ext0')!;
    base = replyMonitor(base, ext, timing).state;
  }
  base = tickMonitor(base, 900, timing).state;
  assert.deepEqual(judged(base), ['up', 'down']);

  const rows: readonly { name: string; targets: readonly NextHopTarget[]; judged: readonly Judgement[]; view: readonly InterfaceReach[] }[] = [
    { name: 'unchanged targets keep their judgement', targets: [EXT, INT], judged: ['up', 'down'],
      view: [{ interface: 'ext0', score: 1, total: 1, ready: true }, { interface: 'int0', score: 0, total: 1, ready: true }] },
    { name: 'a changed weight keeps the history and takes the new weight', targets: [{ ...EXT, weight: 3 }, INT], judged: ['up', 'down'],
      view: [{ interface: 'ext0', score: 3, total: 3, ready: true }, { interface: 'int0', score: 0, total: 1, ready: true }] },
    { name: 'a new target starts unknown: its interface is not ready', targets: [EXT, EXT2, INT], judged: ['up', 'unknown', 'down'],
      view: [{ interface: 'ext0', score: 1, total: 3, ready: false }, { interface: 'int0', score: 0, total: 1, ready: true }] },
    { name: 'a changed address is a new target', targets: [{ ...EXT, address: '198.51.100.7' }, INT], judged: ['unknown', 'down'],
      view: [{ interface: 'ext0', score: 0, total: 1, ready: false }, { interface: 'int0', score: 0, total: 1, ready: true }] },
    { name: 'a removed target is dropped', targets: [INT], judged: ['down'],
      view: [{ interface: 'int0', score: 0, total: 1, ready: true }] },
    { name: 'a target moved to another interface is a new target', targets: [{ ...EXT, interface: 'int0' }], judged: ['unknown'],
      view: [{ interface: 'int0', score: 0, total: 1, ready: false }] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const s = reconfigureMonitor(base, row.targets, 1000);
      assert.deepEqual(judged(s), row.judged);
      assert.deepEqual(reach(monitorView(s)), row.view);
      assert.deepEqual(s.targets.map((t) => t.target), row.targets);
      // Sequence numbers go on: a reply to a probe of the old configuration cannot match a new one.
      assert.equal(s.nextSeq, base.nextSeq);
      for (const t of s.targets) {
        const kept = base.targets.find((b) => b.target.interface === t.target.interface && b.target.address === t.target.address);
        if (kept) assert.deepEqual({ ...t, target: kept.target }, kept);
        else assert.equal(t.nextProbeAt, 1000);
      }
    });
  }
});

describe('forgetInFlight', () => {
  it('drops the probes in flight without counting them as misses and keeps probing', () => {
    const before = tickAt(initMonitor([EXT], 0), [0, 100, 200]).state;
    assert.equal(before.targets[0]!.inFlight.length, 3);
    const s = forgetInFlight(before, 5000, timing);
    const t = s.targets[0]!;
    assert.deepEqual(t.inFlight, []);
    assert.deepEqual(t.outcomes, []);
    assert.equal(t.judged, 'unknown');
    // The next probe was due at 300: it still is (never pushed later than one interval).
    assert.equal(t.nextProbeAt, 300);
    // A later tick records nothing for the forgotten probes, and their replies are ignored.
    const after = tickMonitor(s, 5000, timing);
    assert.deepEqual(after.state.targets[0]!.outcomes, []);
    assert.equal(after.probes.length, 1);
    assert.equal(replyMonitor(after.state, { interface: 'ext0', address: '198.51.100.1', seq: 1 }, timing).matched, false);
  });

  it('brings a schedule that lies far ahead back to one interval from now', () => {
    const s = { ...initMonitor([EXT], 0), targets: [{ ...initMonitor([EXT], 0).targets[0]!, nextProbeAt: 9000 }] };
    assert.equal(forgetInFlight(s, 1000, timing).targets[0]!.nextProbeAt, 1000 + timing.probeIntervalMs);
  });
});

describe('monitorView: weighted reach per interface', () => {
  const target = (t: NextHopTarget, j: Judgement): TargetState =>
    ({ target: t, outcomes: [], streak: 0, judged: j, inFlight: [], nextProbeAt: 0, burstLeft: 0, answeredAt: null, lostSince: null });
  const rows: readonly { name: string; targets: readonly TargetState[]; view: readonly InterfaceReach[] }[] = [
    { name: 'no targets: empty view', targets: [], view: [] },
    { name: 'one target up', targets: [target(EXT, 'up')], view: [{ interface: 'ext0', score: 1, total: 1, ready: true }] },
    { name: 'one target down', targets: [target(EXT, 'down')], view: [{ interface: 'ext0', score: 0, total: 1, ready: true }] },
    { name: 'unknown: not ready', targets: [target(EXT, 'unknown')], view: [{ interface: 'ext0', score: 0, total: 1, ready: false }] },
    { name: 'weights add up per interface', targets: [target(EXT, 'up'), target(EXT2, 'up')],
      view: [{ interface: 'ext0', score: 3, total: 3, ready: true }] },
    { name: 'only reachable targets score', targets: [target(EXT, 'down'), target(EXT2, 'up')],
      view: [{ interface: 'ext0', score: 2, total: 3, ready: true }] },
    { name: 'one unknown target makes the interface not ready', targets: [target(EXT, 'up'), target(EXT2, 'unknown')],
      view: [{ interface: 'ext0', score: 1, total: 3, ready: false }] },
    { name: 'interfaces in the order of their first target, judged apart',
      targets: [target(INT, 'unknown'), target(EXT, 'up'), target(EXT2, 'down')],
      view: [{ interface: 'int0', score: 0, total: 1, ready: false }, { interface: 'ext0', score: 1, total: 3, ready: true }] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(reach(monitorView({ targets: row.targets, nextSeq: 1, burstCredit: 0, creditAt: 0 })), row.view);
    });
  }
});
