import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  configStepFor, FACTORY, freshRecord, healthOf, planBoot, stepBoot,
  type Activation, type BootLimits, type BootRecord, type Decision, type SlotRef,
} from './boot.js';

const LIMITS: BootLimits = { maxAttempts: 3, trialMs: 60_000, minUpMs: 5_000 };
const S1: SlotRef = { slot: 1, install: 'i1' };
const S2: SlotRef = { slot: 2, install: 'i2' };
const everything = (): boolean => true;
const only = (...refs: SlotRef[]) => (r: SlotRef): boolean => r.slot === 0 || refs.some((x) => x.slot === r.slot && x.install === r.install);
const activate = (ref: SlotRef, id: string, at = 0): Activation => ({ ...ref, id, at });

/** A node committed on `good` (a trial of it went through). */
function committedOn(good: SlotRef): BootRecord {
  const started = planBoot(null, activate(good, 'a0'), everything, 0, LIMITS);
  return stepBoot(started.record, { kind: 'health', at: 10_000, healthy: true, detail: '', upMs: 10_000 }, LIMITS).record;
}

describe('planBoot: which slot the launcher starts', () => {
  it('a new node boots the factory firmware, committed', () => {
    const d = planBoot(null, null, everything, 0, LIMITS);
    assert.deepEqual(d.action, { kind: 'start', slot: FACTORY, trial: false, newTrial: false });
    assert.deepEqual(d.record.good, FACTORY);
  });

  it('an activation becomes a trial once, counted before the start', () => {
    const d = planBoot(freshRecord(), activate(S1, 'a1'), everything, 1000, LIMITS);
    assert.deepEqual(d.action, { kind: 'start', slot: S1, trial: true, newTrial: true });
    assert.equal(d.record.trial?.attempts, 1);
    assert.deepEqual(d.record.trial.from, FACTORY);
    assert.equal(d.record.handled, 'a1');
    // The launcher restarts (a power cut): the same activation is not a new trial, it is the next attempt.
    const again = planBoot(d.record, activate(S1, 'a1'), everything, 2000, LIMITS);
    assert.deepEqual(again.action, { kind: 'start', slot: S1, trial: true, newTrial: false });
    assert.equal(again.record.trial?.attempts, 2);
  });

  const table: readonly { name: string; record: BootRecord; activation: Activation | null; installed: (r: SlotRef) => boolean; now: number; expect: Decision['action']['kind']; slot?: SlotRef }[] = [
    { name: 'committed node, no new activation: the committed slot', record: committedOn(S1), activation: activate(S1, 'a0'), installed: everything, now: 99_000, expect: 'start', slot: S1 },
    { name: 'activating the committed slot again: no trial', record: committedOn(S1), activation: activate(S1, 'a9'), installed: everything, now: 99_000, expect: 'start', slot: S1 },
    { name: 'activation of a slot deleted since: the committed slot', record: committedOn(S1), activation: activate(S2, 'a9'), installed: only(S1), now: 99_000, expect: 'start', slot: S1 },
    { name: 'committed slot gone from the disk: factory', record: committedOn(S1), activation: null, installed: only(), now: 99_000, expect: 'start', slot: FACTORY },
    { name: 'trial out of starts at boot: fall back', record: { ...freshRecord(), trial: { target: S2, activation: 'x', attempts: 3, since: 0, from: FACTORY }, handled: 'x' }, activation: activate(S2, 'x'), installed: everything, now: 1000, expect: 'fall-back' },
    { name: 'trial out of time at boot: fall back', record: { ...freshRecord(), trial: { target: S2, activation: 'x', attempts: 1, since: 0, from: FACTORY }, handled: 'x' }, activation: activate(S2, 'x'), installed: everything, now: 60_001, expect: 'fall-back' },
    { name: 'trial slot deleted behind its back: fall back', record: { ...freshRecord(), trial: { target: S2, activation: 'x', attempts: 1, since: 0, from: FACTORY }, handled: 'x' }, activation: activate(S2, 'x'), installed: only(), now: 10, expect: 'fall-back' },
  ];
  for (const row of table) {
    it(row.name, () => {
      const d = planBoot(row.record, row.activation, row.installed, row.now, LIMITS);
      assert.equal(d.action.kind, row.expect);
      if (row.slot !== undefined && d.action.kind === 'start') assert.deepEqual(d.action.slot, row.slot);
    });
  }

  it('a new activation after a failed trial is a new trial of the same slot', () => {
    const started = planBoot(committedOn(S1), activate(S2, 'b1'), everything, 100_000, LIMITS);
    const failed = stepBoot(started.record, { kind: 'tick', at: 100_000 + LIMITS.trialMs + 1, detail: 'peer not back' }, LIMITS);
    assert.equal(failed.action.kind, 'fall-back');
    assert.equal(failed.record.outcomes.i2?.state, 'failed');
    const retried = planBoot(failed.record, activate(S2, 'b2'), everything, 200_000, LIMITS);
    assert.deepEqual(retried.action, { kind: 'start', slot: S2, trial: true, newTrial: true });
  });
});

describe('stepBoot: trial to committed or fallen back', () => {
  const onTrial = planBoot(committedOn(S1), activate(S2, 't'), everything, 100_000, LIMITS).record;

  it('healthy long enough: committed, the old slot becomes the previous one', () => {
    const early = stepBoot(onTrial, { kind: 'health', at: 101_000, healthy: true, detail: '', upMs: 1000 }, LIMITS);
    assert.equal(early.action.kind, 'none', 'a daemon up for 1 s is not yet proven');
    const d = stepBoot(onTrial, { kind: 'health', at: 106_000, healthy: true, detail: '', upMs: 6000 }, LIMITS);
    assert.deepEqual(d.action, { kind: 'committed', slot: S2 });
    assert.deepEqual(d.record.good, S2);
    assert.deepEqual(d.record.previous, S1);
    assert.equal(d.record.trial, null);
  });

  it('a daemon that runs but never becomes healthy: fall back when the time is up, to the committed slot', () => {
    let r = onTrial;
    for (let t = 100_000; t <= 100_000 + LIMITS.trialMs; t += 500) {
      const d = stepBoot(r, { kind: 'health', at: t, healthy: false, detail: 'cluster Degraded', upMs: t - 100_000 }, LIMITS);
      assert.equal(d.action.kind, 'none');
      r = d.record;
    }
    const d = stepBoot(r, { kind: 'health', at: 100_000 + LIMITS.trialMs + 500, healthy: false, detail: 'cluster Degraded', upMs: 0 }, LIMITS);
    assert.deepEqual(d.action, { kind: 'fall-back', from: S1, failed: S2, reason: 'not healthy within 60 s (cluster Degraded)' });
    assert.deepEqual(d.record.good, S1);
    assert.match(d.log[0]?.message ?? '', /failed its trial/);
  });

  it('a daemon that keeps exiting: restarted up to the attempts, then fall back', () => {
    let d = stepBoot(onTrial, { kind: 'exited', at: 100_100, how: 'exited with code 1' }, LIMITS);
    assert.deepEqual(d.action, { kind: 'start', slot: S2, trial: true, newTrial: false });
    d = stepBoot(d.record, { kind: 'exited', at: 100_200, how: 'exited with code 1' }, LIMITS);
    assert.equal(d.action.kind, 'start');
    d = stepBoot(d.record, { kind: 'exited', at: 100_300, how: 'exited with code 1' }, LIMITS);
    assert.equal(d.action.kind, 'fall-back');
    assert.match((d.action as { reason: string }).reason, /after 3 start\(s\) \(last: its daemon exited with code 1\)/);
  });

  it('a committed daemon that exits: the launcher exits (the service manager restarts it)', () => {
    assert.equal(stepBoot(committedOn(S1), { kind: 'exited', at: 1, how: 'was killed by SIGSEGV' }, LIMITS).action.kind, 'exit');
  });

  it('property: whatever happens, a trial ends within its limits and the node is left on a committed slot', () => {
    const inputs = fc.array(fc.oneof(
      fc.record({ kind: fc.constant('health' as const), healthy: fc.boolean(), upMs: fc.nat(20_000), dt: fc.nat(5_000) }),
      fc.record({ kind: fc.constant('tick' as const), dt: fc.nat(5_000) }),
      fc.record({ kind: fc.constant('exited' as const), dt: fc.nat(5_000) }),
      fc.record({ kind: fc.constant('reboot' as const), dt: fc.nat(5_000) }),
    ), { maxLength: 80 });
    fc.assert(fc.property(inputs, (steps) => {
      let now = 100_000;
      let d = planBoot(committedOn(S1), activate(S2, 'p'), everything, now, LIMITS);
      for (const s of steps) {
        if (d.record.trial === null) break;
        now += s.dt;
        d = s.kind === 'reboot'
          ? planBoot(d.record, activate(S2, 'p'), everything, now, LIMITS)
          : stepBoot(d.record, s.kind === 'health' ? { kind: 'health', at: now, healthy: s.healthy, detail: '', upMs: s.upMs } : s.kind === 'tick' ? { kind: 'tick', at: now, detail: '' } : { kind: 'exited', at: now, how: 'died' }, LIMITS);
        const trial = d.record.trial;
        if (trial !== null) {
          assert.ok(trial.attempts <= LIMITS.maxAttempts);
          assert.ok(now - trial.since <= LIMITS.trialMs);
        }
        if (d.action.kind === 'fall-back') assert.deepEqual(d.record.good, S1);
        if (d.action.kind === 'committed') assert.deepEqual(d.record.good, S2);
      }
      assert.ok(d.record.good.install === 'i1' || d.record.good.install === 'i2');
    }));
  });
});

describe('healthOf', () => {
  const rows: readonly [string, Parameters<typeof healthOf>[0], boolean][] = [
    ['no answer', null, false],
    ['standalone answering', { cluster: { status: 'Standalone' } }, true],
    ['degraded (peer missing)', { cluster: { status: 'Degraded' }, other_node: { reachable: false }, sync: { state: 'UpToDate' } }, false],
    ['HA but syncing', { cluster: { status: 'HA' }, other_node: { reachable: true }, sync: { state: 'Syncing' } }, false],
    ['split brain', { cluster: { status: 'SplitBrain' }, other_node: { reachable: true }, sync: { state: 'Diverged' } }, false],
    ['HA and UpToDate', { cluster: { status: 'HA' }, other_node: { reachable: true }, sync: { state: 'UpToDate' } }, true],
  ];
  for (const [name, status, healthy] of rows) it(name, () => { assert.equal(healthOf(status).healthy, healthy); });
});

describe('configStepFor', () => {
  const rows: readonly [number, number, number | null, string][] = [
    [1, 1, null, 'as-is'],
    [1, 2, null, 'migrate'],
    [2, 1, 1, 'restore-snapshot'],
    [3, 2, 1, 'restore-snapshot'],
    [2, 1, null, 'refuse'],
    [3, 1, 2, 'refuse'],
  ];
  for (const [file, slot, snap, kind] of rows) {
    it(`file ${file}, slot reads ${slot}, snapshot ${String(snap)}: ${kind}`, () => { assert.equal(configStepFor(file, slot, snap).kind, kind); });
  }
});
