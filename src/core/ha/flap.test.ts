import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TIMING_PROFILES } from '../timing.js';
import { flapGate, INITIAL_FLAP, recordSwitch, type FlapState } from './flap.js';

// Default profile: 30 s minimum dwell, at most 3 switches in 10 min, then a 30 min hold.
const timing = TIMING_PROFILES.default;
const S = 1000_000; // seconds → ms helper base
const s = (seconds: number) => S + seconds * 1000;

describe('flapGate', () => {
  const rows: readonly { name: string; state: FlapState; now: number; allowed: boolean; reason?: RegExp }[] = [
    { name: 'no switch yet', state: INITIAL_FLAP, now: s(0), allowed: true },
    { name: 'within the minimum dwell of the last switch', state: { switches: [s(0)], heldUntil: null }, now: s(29.999), allowed: false, reason: /minimum dwell of 30 s/ },
    { name: 'right after a switch', state: { switches: [s(0)], heldUntil: null }, now: s(0), allowed: false, reason: /minimum dwell/ },
    { name: 'the dwell has passed', state: { switches: [s(0)], heldUntil: null }, now: s(30), allowed: true },
    { name: 'only the last switch counts for the dwell', state: { switches: [s(0), s(100)], heldUntil: null }, now: s(110), allowed: false, reason: /minimum dwell/ },
    { name: 'held: switching stops although the dwell has passed', state: { switches: [s(0), s(40), s(80)], heldUntil: s(80 + 1800) }, now: s(200), allowed: false, reason: /3 switches within 600 s, held/ },
    { name: 'held until the hold ends', state: { switches: [s(0), s(40), s(80)], heldUntil: s(80 + 1800) }, now: s(1879.999), allowed: false, reason: /held/ },
    { name: 'the hold has ended', state: { switches: [s(0), s(40), s(80)], heldUntil: s(80 + 1800) }, now: s(1880), allowed: true },
    { name: 'a hold that ended long ago', state: { switches: [], heldUntil: s(0) }, now: s(5000), allowed: true },
  ];
  for (const row of rows) {
    it(`${row.allowed ? 'allows' : 'blocks'}: ${row.name}`, () => {
      const gate = flapGate(row.state, row.now, timing);
      assert.equal(gate.allowed, row.allowed);
      if (!gate.allowed) assert.match(gate.reason, row.reason ?? /./);
    });
  }
});

describe('recordSwitch', () => {
  const rows: readonly { name: string; state: FlapState; now: number; switches: number[]; heldUntil: number | null; nowHeld: boolean }[] = [
    { name: 'first switch', state: INITIAL_FLAP, now: s(0), switches: [s(0)], heldUntil: null, nowHeld: false },
    { name: 'second switch within the window', state: { switches: [s(0)], heldUntil: null }, now: s(40), switches: [s(0), s(40)], heldUntil: null, nowHeld: false },
    { name: 'flapMaxSwitches within the window: held with an alarm', state: { switches: [s(0), s(40)], heldUntil: null }, now: s(80),
      switches: [s(0), s(40), s(80)], heldUntil: s(80 + 1800), nowHeld: true },
    { name: 'switches older than the window are forgotten', state: { switches: [s(0), s(40)], heldUntil: null }, now: s(600),
      switches: [s(40), s(600)], heldUntil: null, nowHeld: false },
    { name: 'a switch exactly one window old is out of it', state: { switches: [s(0), s(40)], heldUntil: null }, now: s(640),
      switches: [s(640)], heldUntil: null, nowHeld: false },
    { name: 'a switch just inside the window still counts', state: { switches: [s(0), s(40)], heldUntil: null }, now: s(599.999),
      switches: [s(0), s(40), s(599.999)], heldUntil: s(599.999 + 1800), nowHeld: true },
    { name: 'after a hold, an old hold end is kept but no longer blocks', state: { switches: [], heldUntil: s(0) }, now: s(100),
      switches: [s(100)], heldUntil: s(0), nowHeld: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const r = recordSwitch(row.state, row.now, timing);
      assert.deepEqual(r, { state: { switches: row.switches, heldUntil: row.heldUntil }, nowHeld: row.nowHeld });
    });
  }

  it('three switches spaced by the dwell hold the fourth', () => {
    let state = INITIAL_FLAP;
    const log: string[] = [];
    for (const t of [s(0), s(30), s(60), s(90)]) {
      const gate = flapGate(state, t, timing);
      if (!gate.allowed) { log.push(`blocked ${gate.reason}`); continue; }
      const r = recordSwitch(state, t, timing);
      state = r.state;
      log.push(r.nowHeld ? 'switch, now held' : 'switch');
    }
    assert.deepEqual(log.map((l) => l.replace(/:.*/, '')), ['switch', 'switch', 'switch, now held', 'blocked flap limiter']);
    assert.equal(state.heldUntil, s(60 + 1800));
  });
});
