/**
 * The sync state machine (engine.ts): one table row per rule of its top comment, then a
 * fast-check property over random input sequences.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Role } from '../ha/report.js';
import {
  CLEAN_DURABLE, deriveState, initSyncEngine, stepSync, wantsSession,
  type SyncDurable, type SyncEffect, type SyncEngine, type SyncFacts, type SyncInput,
} from './engine.js';
import type { Generations, SyncState } from './state.js';

const GRACE = 1200;
const G: Generations = { current: 'a:1.2', history: ['a:1.1', 'genesis'] };

const facts = (role: Role, peerAlive: boolean, peerRole: Role | null, diverged = false): SyncFacts =>
  ({ role, peerAlive, peerRole: peerAlive ? peerRole : null, diverged });
/** A secondary whose primary is alive. */
const FOLLOWING = facts('secondary', true, 'primary');
/** A secondary whose peer is dead. */
const ALONE = facts('secondary', false, null);
const PRIMARY = facts('primary', true, 'secondary');

const DIRTY: SyncDurable = { inconsistent: true, outdated: true };
const OUTDATED: SyncDurable = { inconsistent: false, outdated: true };
const INCONSISTENT: SyncDurable = { inconsistent: true, outdated: false };

// Inputs, by the time they arrive.
const at = {
  facts: (t: number, f: SyncFacts): SyncInput => ({ kind: 'facts', at: t, facts: f }),
  open: (t: number): SyncInput => ({ kind: 'session-open', at: t }),
  planned: (t: number, bytes: number, files: number): SyncInput => ({ kind: 'resync-planned', at: t, bytes, files }),
  progress: (t: number, bytesDone: number, filesDone: number): SyncInput => ({ kind: 'resync-progress', at: t, bytesDone, filesDone }),
  caughtUp: (t: number, generations: Generations = G): SyncInput => ({ kind: 'caught-up', at: t, generations }),
  closed: (t: number, reason = 'connection reset'): SyncInput => ({ kind: 'session-closed', at: t, reason }),
  required: (t: number): SyncInput => ({ kind: 'resync-required', at: t }),
  tick: (t: number): SyncInput => ({ kind: 'tick', at: t }),
};

/** Open, plan and finish a resync from time `t`: the session is live afterwards. */
const catchUp = (t: number, files = 3): SyncInput[] =>
  [at.open(t), at.planned(t + 1, files * 100, files), at.caughtUp(t + 2)];

interface Run { readonly engine: SyncEngine; readonly effects: readonly SyncEffect[]; readonly last: readonly SyncEffect[] }

function run(durable: SyncDurable | null, initial: SyncFacts, inputs: readonly SyncInput[], from: SyncEngine | null = null): Run {
  let engine = from ?? initSyncEngine(durable, initial, GRACE, 0);
  const effects: SyncEffect[] = [];
  let last: readonly SyncEffect[] = [];
  for (const input of inputs) {
    const r = stepSync(engine, input);
    engine = r.engine;
    last = r.effects;
    effects.push(...r.effects);
  }
  return { engine, effects, last };
}

const persisted = (effects: readonly SyncEffect[]): SyncDurable[] =>
  effects.flatMap((e) => (e.kind === 'persist' ? [e.durable] : []));
/** The reports that changed the state or adopted generations (see `ifPeerLost` rows for the rest). */
const reports = (effects: readonly SyncEffect[]): { state: SyncState; adopt: Generations | null }[] => {
  const out: { state: SyncState; adopt: Generations | null }[] = [];
  for (const e of effects) {
    if (e.kind !== 'report') continue;
    if (e.adopt === null && out.at(-1)?.state === e.state) continue;
    out.push({ state: e.state, adopt: e.adopt });
  }
  return out;
};
const ifPeerLostReports = (effects: readonly SyncEffect[]): SyncState[] =>
  effects.flatMap((e) => (e.kind === 'report' ? [e.ifPeerLost] : []));

interface Row {
  readonly name: string;
  readonly durable?: SyncDurable | null;
  readonly initial: SyncFacts;
  readonly inputs: readonly SyncInput[];
  readonly expect: {
    readonly state: SyncState;
    readonly durable?: SyncDurable;
    readonly session?: SyncEngine['session'];
    readonly wants?: boolean;
    /** Every durable the steps persisted, in order. */
    readonly persisted?: readonly SyncDurable[];
    /** Every report the steps emitted, in order. */
    readonly reports?: readonly { state: SyncState; adopt: Generations | null }[];
    readonly check?: (r: Run) => void;
  };
}

const rows: Row[] = [
  // ---- A primary's data are the reference
  {
    name: 'a primary is UpToDate',
    initial: PRIMARY, inputs: [at.tick(10)],
    expect: { state: 'UpToDate', wants: false, persisted: [], reports: [] },
  },
  {
    name: 'a primary is UpToDate even alone',
    initial: facts('primary', false, null), inputs: [at.tick(50_000)],
    expect: { state: 'UpToDate', wants: false, persisted: [] },
  },
  {
    name: 'promotion clears both flags (the operator forced it): persisted clean',
    durable: DIRTY, initial: ALONE, inputs: [at.facts(10, facts('primary', false, null))],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [CLEAN_DURABLE], reports: [{ state: 'UpToDate', adopt: null }] },
  },
  {
    name: 'a restarted primary with flags on disk reports UpToDate and clears them on its first facts',
    durable: INCONSISTENT, initial: PRIMARY, inputs: [at.facts(5, PRIMARY)],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [CLEAN_DURABLE], reports: [] },
  },
  // ---- A secondary following a live primary
  {
    name: 'not connected to a live primary yet: Outdated (the primary may be writing), session wanted',
    initial: FOLLOWING, inputs: [],
    expect: { state: 'Outdated', session: 'closed', wants: true, check: (r) => { assert.equal(r.engine.apartSince, 0); } },
  },
  {
    name: 'resync running: Syncing with the plan as progress; inconsistent persisted from the first file',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 5000, 5)],
    expect: {
      state: 'Syncing', session: 'resync', durable: INCONSISTENT, persisted: [INCONSISTENT],
      reports: [{ state: 'Syncing', adopt: null }],
      check: (r) => { assert.deepEqual(r.engine.progress, { bytesTotal: 5000, filesTotal: 5, bytesLeft: 5000, filesLeft: 5 }); },
    },
  },
  {
    name: 'resync progress counts down bytes and files left',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 5000, 5), at.progress(20, 2000, 2), at.progress(30, 3500, 4)],
    expect: {
      state: 'Syncing', reports: [{ state: 'Syncing', adopt: null }],
      check: (r) => { assert.deepEqual(r.engine.progress, { bytesTotal: 5000, filesTotal: 5, bytesLeft: 1500, filesLeft: 1 }); },
    },
  },
  {
    name: 'progress beyond the plan never counts below zero',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 100, 1), at.progress(20, 900, 9)],
    expect: { state: 'Syncing', check: (r) => { assert.deepEqual(r.engine.progress, { bytesTotal: 100, filesTotal: 1, bytesLeft: 0, filesLeft: 0 }); } },
  },
  {
    name: 'progress without a plan is ignored',
    initial: FOLLOWING, inputs: [at.open(10), at.progress(20, 900, 9)],
    expect: { state: 'Syncing', check: (r) => { assert.equal(r.engine.progress, null); } },
  },
  {
    name: 'an empty plan (nothing differs) leaves the copy consistent',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 0, 0)],
    expect: { state: 'Syncing', durable: CLEAN_DURABLE, persisted: [] },
  },
  {
    name: 'caught up: live, UpToDate, the report carries the generations to adopt',
    initial: FOLLOWING, inputs: catchUp(10),
    expect: {
      state: 'UpToDate', session: 'live', wants: true, durable: CLEAN_DURABLE,
      persisted: [INCONSISTENT, CLEAN_DURABLE],
      reports: [{ state: 'Syncing', adopt: null }, { state: 'UpToDate', adopt: G }],
      check: (r) => { assert.equal(r.engine.apartSince, null); assert.equal(r.engine.progress, null); },
    },
  },
  {
    name: 'caught up clears both persisted flags',
    durable: DIRTY, initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 0, 0), at.caughtUp(12)],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [CLEAN_DURABLE] },
  },
  {
    name: 'caught up on a closed session is stale: ignored',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 100, 1), at.closed(12), at.caughtUp(13)],
    expect: { state: 'Outdated', session: 'closed', durable: INCONSISTENT, check: (r) => { assert.equal(reports(r.effects).some((x) => x.adopt !== null), false); } },
  },
  {
    name: 'caught up again while live (the primary moved on to a new generation): adoption reported, state unchanged',
    initial: FOLLOWING, inputs: [...catchUp(10), at.caughtUp(500, { current: 'a:1.3', history: [G.current, ...G.history] })],
    expect: {
      state: 'UpToDate',
      check: (r) => { assert.deepEqual(reports(r.last), [{ state: 'UpToDate', adopt: { current: 'a:1.3', history: [G.current, ...G.history] } }]); },
    },
  },
  // ---- The session drops
  {
    name: 'session closed while the primary is alive: Outdated, apart from now on',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100)],
    expect: {
      state: 'Outdated', session: 'closed', wants: true, durable: CLEAN_DURABLE,
      check: (r) => { assert.equal(r.engine.apartSince, 100); assert.ok(r.last.some((e) => e.kind === 'log' && e.level === 'warn')); },
    },
  },
  {
    name: 'the primary is declared dead within the grace after the drop: UpToDate again, nothing persisted',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.tick(100 + GRACE), at.facts(100 + GRACE, ALONE)],
    expect: {
      state: 'UpToDate', durable: CLEAN_DURABLE, wants: false,
      check: (r) => { assert.deepEqual(reports(r.last), [{ state: 'UpToDate', adopt: null }]); assert.deepEqual(persisted(r.last), []); },
    },
  },
  {
    name: 'apart from the live primary longer than the grace: outdated persisted',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.tick(100 + GRACE), at.tick(101 + GRACE)],
    expect: { state: 'Outdated', durable: OUTDATED, persisted: [INCONSISTENT, CLEAN_DURABLE, OUTDATED] },
  },
  {
    name: 'outdated is sticky: the primary dies afterwards, still Outdated',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.tick(101 + GRACE), at.facts(2000 + GRACE, ALONE), at.tick(99_000)],
    expect: { state: 'Outdated', durable: OUTDATED, wants: false },
  },
  {
    name: 'outdated is sticky across a restart: re-initialized from disk, alone, still Outdated',
    durable: OUTDATED, initial: ALONE, inputs: [at.tick(10), at.tick(99_000)],
    expect: { state: 'Outdated', durable: OUTDATED, persisted: [] },
  },
  {
    name: 'the grace is judged when the apart time ends too: a peer declared dead long after the drop, with no input between',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.facts(100 + 5 * GRACE, ALONE)],
    expect: { state: 'Outdated', durable: OUTDATED, check: (r) => { assert.deepEqual(persisted(r.last), [OUTDATED]); } },
  },
  {
    name: 'the apart time ends because the primary yields to this node after the grace: outdated',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.facts(200 + GRACE, facts('secondary', true, 'secondary'))],
    expect: { state: 'Outdated', durable: OUTDATED },
  },
  {
    name: 'a resync that reaches live ends the apart time without outdating, however long it took',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 100, 1), at.caughtUp(10 * GRACE)],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [INCONSISTENT, CLEAN_DURABLE] },
  },
  {
    name: 'the grace never runs while the peer is not primary (both secondaries, start-up)',
    initial: facts('secondary', true, 'secondary'), inputs: [at.tick(10 * GRACE)],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, wants: false },
  },
  {
    name: 'apart ends when this node is promoted: no outdated on a primary',
    initial: FOLLOWING, inputs: [at.tick(GRACE - 1), at.facts(2 * GRACE, facts('primary', false, null))],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [] },
  },
  // ---- An interrupted resync
  {
    name: 'resync interrupted: inconsistent stays, Outdated even when the primary then dies',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 500, 5), at.progress(20, 200, 2), at.closed(30), at.facts(40, ALONE)],
    expect: { state: 'Outdated', durable: INCONSISTENT, session: 'closed', check: (r) => { assert.equal(r.engine.progress, null); } },
  },
  {
    name: 'inconsistent is sticky across a restart even with the peer dead',
    durable: INCONSISTENT, initial: ALONE, inputs: [at.tick(10), at.tick(99_000)],
    expect: { state: 'Outdated', durable: INCONSISTENT, persisted: [] },
  },
  {
    name: 'a resumed resync that completes clears inconsistent',
    durable: INCONSISTENT, initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 200, 2), at.caughtUp(20)],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [CLEAN_DURABLE] },
  },
  // ---- resync-required
  {
    name: 'resync required (join, discarded data): inconsistent persisted, Outdated',
    initial: ALONE, inputs: [at.required(10)],
    expect: { state: 'Outdated', durable: INCONSISTENT, persisted: [INCONSISTENT], reports: [{ state: 'Outdated', adopt: null }] },
  },
  {
    name: 'resync required while a session is live: never reported UpToDate until a resync completes',
    initial: FOLLOWING, inputs: [...catchUp(10), at.required(100)],
    expect: {
      state: 'Outdated', durable: INCONSISTENT,
      check: (r) => { assert.deepEqual(reports(r.last), [{ state: 'Outdated', adopt: null }]); },
    },
  },
  {
    name: 'resync required, then a full resync: UpToDate',
    initial: FOLLOWING, inputs: [at.required(5), ...catchUp(10)],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE },
  },
  // ---- Split brain
  {
    name: 'Diverged wins over everything on a secondary; no session',
    durable: DIRTY, initial: FOLLOWING, inputs: [at.facts(10, facts('secondary', true, 'primary', true))],
    expect: { state: 'Diverged', wants: false, reports: [{ state: 'Diverged', adopt: null }] },
  },
  {
    name: 'Diverged wins over a live session',
    initial: FOLLOWING, inputs: [...catchUp(10), at.facts(100, facts('secondary', true, 'primary', true))],
    expect: { state: 'Diverged', wants: false },
  },
  {
    name: 'Diverged wins on a primary too',
    initial: PRIMARY, inputs: [at.facts(10, facts('primary', true, 'secondary', true))],
    expect: { state: 'Diverged', wants: false },
  },
  {
    name: 'a diverged secondary is never outdated however long it stays apart: the operator may keep its data',
    initial: facts('secondary', true, 'primary', true),
    inputs: [at.tick(10 * GRACE), at.facts(10 * GRACE + 1, facts('secondary', true, 'secondary'))],
    expect: { state: 'UpToDate', durable: CLEAN_DURABLE, persisted: [], check: (r) => { assert.equal(r.engine.apartSince, null); } },
  },
  {
    name: 'split brain resolved (facts no longer diverged): back to the ordinary rules',
    initial: facts('secondary', true, 'primary', true), inputs: [at.facts(10, FOLLOWING)],
    expect: { state: 'Outdated', wants: true },
  },
  // ---- Stale session events on a primary
  {
    name: 'caught up arriving after this node was promoted is stale: no adoption of the old primary\'s generations',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 0, 0), at.facts(20, facts('primary', false, null)), at.caughtUp(21)],
    expect: { state: 'UpToDate', check: (r) => { assert.equal(reports(r.effects).some((x) => x.adopt !== null), false); } },
  },
  // ---- Reports
  {
    name: 'no report when nothing changed: ticks, repeated facts',
    initial: FOLLOWING, inputs: [...catchUp(10), at.tick(100), at.facts(110, FOLLOWING), at.tick(120)],
    expect: { state: 'UpToDate', check: (r) => { assert.deepEqual(r.last, []); assert.equal(reports(r.effects).length, 2); } },
  },
  // ---- What the copy would be should the peer be declared dead (the HA core decides on it first)
  {
    name: 'apart from a live primary within the grace: Outdated now, UpToDate if the peer is lost',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100)],
    expect: { state: 'Outdated', check: (r) => { assert.equal(r.engine.ifPeerLost, 'UpToDate'); assert.deepEqual(ifPeerLostReports(r.last), ['UpToDate']); } },
  },
  {
    name: 'apart for longer than the grace: Outdated either way, reported',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.tick(100 + GRACE + 1)],
    expect: { state: 'Outdated', check: (r) => { assert.equal(r.engine.ifPeerLost, 'Outdated'); assert.deepEqual(ifPeerLostReports(r.last), ['Outdated']); } },
  },
  {
    name: 'a resync under way with files to send: Syncing now, Outdated if the peer is lost (no snapshot)',
    initial: FOLLOWING, inputs: [at.open(10), at.planned(11, 5000, 5)],
    expect: { state: 'Syncing', check: (r) => { assert.equal(r.engine.ifPeerLost, 'Outdated'); } },
  },
  {
    name: 'a session closed twice logs once',
    initial: FOLLOWING, inputs: [...catchUp(10), at.closed(100), at.closed(101)],
    expect: { state: 'Outdated', check: (r) => { assert.deepEqual(r.last, []); } },
  },
];

describe('sync engine: the rules', () => {
  for (const row of rows) {
    it(row.name, () => {
      const r = run(row.durable ?? null, row.initial, row.inputs);
      const e = row.expect;
      assert.equal(r.engine.state, e.state, 'state');
      assert.equal(deriveState(r.engine), r.engine.state, 'the state kept is the derived one');
      if (e.durable !== undefined) assert.deepEqual(r.engine.durable, e.durable, 'durable');
      if (e.session !== undefined) assert.equal(r.engine.session, e.session, 'session');
      if (e.wants !== undefined) assert.equal(wantsSession(r.engine), e.wants, 'wantsSession');
      if (e.persisted !== undefined) assert.deepEqual(persisted(r.effects), e.persisted, 'persisted');
      if (e.reports !== undefined) assert.deepEqual(reports(r.effects), e.reports, 'reports');
      e.check?.(r);
    });
  }
});

describe('sync engine: initSyncEngine', () => {
  it('a never-run node is clean; alone it is UpToDate (nobody writes)', () => {
    const e = initSyncEngine(null, ALONE, GRACE, 7);
    assert.deepEqual(e.durable, CLEAN_DURABLE);
    assert.equal(e.state, 'UpToDate');
    assert.equal(e.session, 'closed');
    assert.equal(e.apartSince, null);
    assert.equal(e.graceMs, GRACE);
  });

  it('with a live primary at start, the apart time starts at start', () => {
    const e = initSyncEngine(null, FOLLOWING, GRACE, 7);
    assert.equal(e.apartSince, 7);
    assert.equal(e.state, 'Outdated');
    const later = stepSync(e, at.tick(8 + GRACE));
    assert.deepEqual(later.engine.durable, OUTDATED);
  });

  for (const durable of [OUTDATED, INCONSISTENT, DIRTY]) {
    it(`persisted ${JSON.stringify(durable)} is kept: Outdated whatever the peer`, () => {
      for (const f of [ALONE, FOLLOWING, facts('secondary', true, 'secondary')]) {
        assert.equal(initSyncEngine(durable, f, GRACE, 0).state, 'Outdated');
      }
    });
  }
});

describe('sync engine: wantsSession', () => {
  const roles: readonly Role[] = ['primary', 'secondary', 'standalone'];
  for (const role of roles) {
    for (const peerAlive of [true, false]) {
      for (const peerRole of [...roles, null]) {
        for (const diverged of [false, true]) {
          if (!peerAlive && peerRole !== null) continue;
          const f: SyncFacts = { role, peerAlive, peerRole, diverged };
          const want = role === 'secondary' && peerAlive && peerRole === 'primary' && !diverged;
          it(`${want ? 'wants' : 'no session'}: ${role}, peer ${peerAlive ? `alive ${peerRole ?? '?'}` : 'dead'}${diverged ? ', diverged' : ''}`, () => {
            assert.equal(wantsSession(initSyncEngine(null, f, GRACE, 0)), want);
          });
        }
      }
    }
  }
});

// ---- Property: random input sequences -------------------------------------------------------

const role = fc.constantFrom<Role>('primary', 'secondary', 'secondary', 'standalone');
const factsArb = fc.record({ role, peerAlive: fc.boolean(), peerRole: fc.constantFrom<Role | null>('primary', 'primary', 'secondary', null), diverged: fc.constantFrom(false, false, false, true) })
  .map((f): SyncFacts => ({ ...f, peerRole: f.peerAlive ? f.peerRole : null }));
const generationsArb = fc.constantFrom<Generations>(G, { current: 'b:2.1', history: ['a:1.1'] }, { current: 'genesis', history: [] });
/** An input without its time: the time is added as the sequence advances. */
type Untimed = SyncInput extends infer I ? (I extends SyncInput ? Omit<I, 'at'> : never) : never;
const inputArb: fc.Arbitrary<Untimed> = fc.oneof(
  { weight: 4, arbitrary: factsArb.map((f) => ({ kind: 'facts' as const, facts: f })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'session-open' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resync-planned' as const), bytes: fc.nat(10_000), files: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resync-progress' as const), bytesDone: fc.nat(10_000), filesDone: fc.nat(20) }) },
  { weight: 2, arbitrary: generationsArb.map((g) => ({ kind: 'caught-up' as const, generations: g })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'session-closed' as const, reason: 'test' }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resync-required' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'tick' as const }) },
);
const timedInputs = fc.array(fc.tuple(fc.nat(2 * GRACE), inputArb), { maxLength: 60 }).map((xs) => {
  let t = 0;
  return xs.map(([dt, i]) => { t += dt; return { ...i, at: t }; });
});
const durableArb = fc.option(fc.record({ inconsistent: fc.boolean(), outdated: fc.boolean() }));

describe('sync engine: property over random input sequences', () => {
  it('never UpToDate for a flagged secondary; every durable change persisted; Syncing only in a resync', () => {
    fc.assert(fc.property(durableArb, factsArb, timedInputs, (durable, initial, inputs) => {
      let e = initSyncEngine(durable, initial, GRACE, 0);
      const flagged = (x: SyncEngine): boolean => x.durable.inconsistent || x.durable.outdated;
      const check = (x: SyncEngine, where: string): void => {
        assert.equal(x.state, deriveState(x), `${where}: the kept state is the derived one`);
        // (a) a secondary with a flagged copy is never UpToDate.
        if (x.facts.role === 'secondary' && flagged(x)) assert.notEqual(x.state, 'UpToDate', `${where}: UpToDate while ${JSON.stringify(x.durable)}`);
        // (c) Syncing only while a resync runs.
        if (x.state === 'Syncing') assert.equal(x.session, 'resync', `${where}: Syncing with session ${x.session}`);
      };
      check(e, 'init');
      for (const [k, input] of inputs.entries()) {
        const r = stepSync(e, input);
        const where = `step ${k} (${input.kind})`;
        check(r.engine, where);
        // (b) a persist effect exactly when the durable changed, carrying the new one.
        const changed = r.engine.durable.inconsistent !== e.durable.inconsistent || r.engine.durable.outdated !== e.durable.outdated;
        const p = persisted(r.effects);
        if (changed) assert.deepEqual(p.at(-1), r.engine.durable, `${where}: durable changed, not persisted`);
        else assert.deepEqual(p.filter((d) => d.inconsistent !== e.durable.inconsistent || d.outdated !== e.durable.outdated), [], `${where}: persisted without a change`);
        // Reports: only on a change of state or an adoption, and they tell the new state.
        const rep = reports(r.effects);
        const adopted = rep.some((x) => x.adopt !== null);
        const all = r.effects.filter((x) => x.kind === 'report');
        if (r.engine.state !== e.state || r.engine.ifPeerLost !== e.ifPeerLost || adopted) {
          assert.deepEqual(all.map((x) => [x.state, x.ifPeerLost]), [[r.engine.state, r.engine.ifPeerLost]], `${where}: report`);
        } else {
          assert.deepEqual(all, [], `${where}: report without a change`);
        }
        // Should the peer be lost, a flagged copy is never UpToDate either.
        if (r.engine.facts.role === 'secondary' && (r.engine.durable.inconsistent || r.engine.durable.outdated)) {
          assert.notEqual(r.engine.ifPeerLost, 'UpToDate', `${where}: flagged copy UpToDate if the peer is lost`);
        }
        // Adoption only from a caught-up on an open session of a secondary.
        if (adopted) {
          assert.equal(input.kind, 'caught-up');
          assert.notEqual(e.session, 'closed');
          assert.notEqual(r.engine.facts.role, 'primary');
        }
        e = r.engine;
      }
    }), { numRuns: 2000 });
  });
});
