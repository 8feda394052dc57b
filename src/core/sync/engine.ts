/**
 * The sync state machine of one node (SPEC §3): from what the HA core knows (role, peer alive,
 * the peer's role, split brain) and what the replication session reports (open, resync planned,
 * progress, caught up, closed), it derives the node's `SyncState` — the state the HA core vetoes
 * on — and whether this node should run a receiving session. Pure: time is passed in.
 *
 * The rules, as DRBD's disk states inspire them:
 * - A primary's data are the reference: `UpToDate`.
 * - A secondary is `UpToDate` while its session with the primary is live (caught up, replicating
 *   every change), `Syncing` while a resync runs, `Outdated` while it is not connected to a live
 *   primary (the HA link is cut, the session is not up yet): the primary may be writing.
 * - When the session drops because the primary died (the HA core declares the peer dead within
 *   `graceMs` of the drop), the secondary's data are as whole as they were: `UpToDate` again,
 *   and it may be promoted. When the live primary stays apart longer than `graceMs`, the
 *   secondary has missed writes for sure: it is outdated until a resync, even if the primary then
 *   dies or this node restarts (persisted) — an outdated copy is never promoted automatically.
 * - A resync that has started and not finished leaves a copy that is no snapshot of anything
 *   (some files new, some old): `inconsistent` is persisted until the resync completes.
 * - `Diverged` while the HA core sees a split brain: no session in either direction.
 */
import type { Role } from '../ha/report.js';
import type { Millis } from '../time.js';
import type { Generations, SyncState } from './state.js';

/** What the HA core knows, handed over after every HA step. */
export interface SyncFacts {
  readonly role: Role;
  readonly peerAlive: boolean;
  /** The peer's role from its last heartbeat, while it is alive; null otherwise. */
  readonly peerRole: Role | null;
  /** Both nodes wrote data while apart and nobody resolved it yet. */
  readonly diverged: boolean;
}

/** What survives a restart (the sync state file). */
export interface SyncDurable {
  /** A resync started and has not finished: the copy mixes old and new files. */
  readonly inconsistent: boolean;
  /** This copy missed writes of a live primary; only a resync clears it. */
  readonly outdated: boolean;
}

export const CLEAN_DURABLE: SyncDurable = { inconsistent: false, outdated: false };

/** Progress of a resync: totals from the plan, counted down as files arrive. */
export interface SyncProgress {
  readonly bytesTotal: number;
  readonly filesTotal: number;
  readonly bytesLeft: number;
  readonly filesLeft: number;
}

export type SessionPhase = 'closed' | 'resync' | 'live';

export interface SyncEngine {
  readonly durable: SyncDurable;
  readonly facts: SyncFacts;
  /** This node's receiving session with the primary. */
  readonly session: SessionPhase;
  readonly progress: SyncProgress | null;
  /** Since when a live primary peer is apart from this secondary (session not live), or null. */
  readonly apartSince: Millis | null;
  /** How long the peer may stay alive after the session dropped before this copy is outdated. */
  readonly graceMs: Millis;
  /** The state last reported to the HA core. */
  readonly state: SyncState;
  /** The state this copy would have if the peer were declared dead now (last reported). */
  readonly ifPeerLost: SyncState;
}

export type SyncInput =
  | { readonly kind: 'facts'; readonly at: Millis; readonly facts: SyncFacts }
  /** The receiving session is authenticated and accepted; the resync plan follows. */
  | { readonly kind: 'session-open'; readonly at: Millis }
  /** The primary's resync plan: what must arrive before this copy equals the primary's. */
  | { readonly kind: 'resync-planned'; readonly at: Millis; readonly bytes: number; readonly files: number }
  /** One file of the resync arrived (or was removed): bytes and files done so far. */
  | { readonly kind: 'resync-progress'; readonly at: Millis; readonly bytesDone: number; readonly filesDone: number }
  /** The resync is complete and stored: this copy equals the primary's data of `generations`. */
  | { readonly kind: 'caught-up'; readonly at: Millis; readonly generations: Generations }
  | { readonly kind: 'session-closed'; readonly at: Millis; readonly reason: string }
  /** The HA core asked for a full resync (join, or this node's data discarded after a split brain). */
  | { readonly kind: 'resync-required'; readonly at: Millis }
  | { readonly kind: 'tick'; readonly at: Millis };

export type SyncEffect =
  /**
   * Hand the HA core the new state; `ifPeerLost` = the state should the peer be declared dead
   * (the HA core decides on that before the engine hears of it); `adopt` = the generations this
   * copy now carries.
   */
  | { readonly kind: 'report'; readonly state: SyncState; readonly ifPeerLost: SyncState; readonly adopt: Generations | null }
  | { readonly kind: 'persist'; readonly durable: SyncDurable }
  | { readonly kind: 'log'; readonly level: 'info' | 'warn'; readonly event: string; readonly message: string };

export interface SyncStep {
  readonly engine: SyncEngine;
  readonly effects: readonly SyncEffect[];
}

export function initSyncEngine(durable: SyncDurable | null, facts: SyncFacts, graceMs: Millis, now: Millis): SyncEngine {
  const engine: SyncEngine = {
    durable: durable ?? CLEAN_DURABLE, facts, session: 'closed', progress: null,
    apartSince: null, graceMs, state: 'Outdated', ifPeerLost: 'Outdated',
  };
  const withApart = { ...engine, apartSince: apartFrom(engine, now) };
  return { ...withApart, state: deriveState(withApart), ifPeerLost: deriveIfPeerLost(withApart) };
}

/** True when this node should hold a receiving session: a secondary with a live, undiverged primary. */
export function wantsSession(e: SyncEngine): boolean {
  return e.facts.role === 'secondary' && e.facts.peerAlive && e.facts.peerRole === 'primary' && !e.facts.diverged;
}

export function stepSync(engine: SyncEngine, input: SyncInput): SyncStep {
  const effects: SyncEffect[] = [];
  let adopt: Generations | null = null;
  let e = engine;
  const apartBefore = engine.apartSince;
  const setDurable = (d: SyncDurable): void => {
    if (d.inconsistent === e.durable.inconsistent && d.outdated === e.durable.outdated) return;
    e = { ...e, durable: d };
    effects.push({ kind: 'persist', durable: d });
  };

  switch (input.kind) {
    case 'facts':
      e = { ...e, facts: input.facts };
      // The reference copy is whatever the primary holds, flags or not: an operator forced it.
      if (input.facts.role === 'primary') setDurable(CLEAN_DURABLE);
      break;
    case 'session-open':
      e = { ...e, session: 'resync', progress: null };
      break;
    case 'resync-planned':
      e = { ...e, progress: { bytesTotal: input.bytes, filesTotal: input.files, bytesLeft: input.bytes, filesLeft: input.files } };
      // From the first byte on, this copy is no snapshot until the resync ends.
      if (input.files > 0) setDurable({ ...e.durable, inconsistent: true });
      break;
    case 'resync-progress': {
      const p = e.progress;
      if (p !== null) {
        e = { ...e, progress: {
          ...p,
          bytesLeft: Math.max(0, p.bytesTotal - input.bytesDone),
          filesLeft: Math.max(0, p.filesTotal - input.filesDone),
        } };
      }
      break;
    }
    case 'caught-up':
      // Stale when the session is gone, or when this node was promoted meanwhile: adopting the
      // old primary's generations would roll a new primary's generation back (and hide a split brain).
      if (e.session === 'closed' || e.facts.role !== 'secondary') break;
      e = { ...e, session: 'live', progress: null, apartSince: null };
      setDurable(CLEAN_DURABLE);
      adopt = input.generations;
      effects.push({ kind: 'log', level: 'info', event: 'sync', message: `caught up with the primary (generation ${input.generations.current}); replicating live` });
      break;
    case 'session-closed':
      if (e.session !== 'closed') {
        effects.push({ kind: 'log', level: 'warn', event: 'sync', message: `replication session closed: ${input.reason}` });
      }
      e = { ...e, session: 'closed', progress: null };
      break;
    case 'resync-required':
      setDurable({ ...e.durable, inconsistent: true });
      break;
    case 'tick':
      break;
  }

  e = { ...e, apartSince: apartFrom(e, input.at) };
  // A live primary apart for longer than the grace: writes were missed for sure. The apart time
  // is judged on its whole length also when it ends with this input (the peer declared dead, its
  // role changed) — unless it ended by catching up — so that the verdict does not depend on a
  // tick arriving between the end of the grace and the end of the apart time.
  const apartFor = e.apartSince ?? (adopt === null ? apartBefore : null);
  if (apartFor !== null && e.facts.role === 'secondary' && input.at - apartFor > e.graceMs && !e.durable.outdated) {
    setDurable({ ...e.durable, outdated: true });
    effects.push({ kind: 'log', level: 'warn', event: 'sync', message: `apart from the live primary for more than ${String(e.graceMs)} ms: this copy is outdated until a resync` });
  }
  const state = deriveState(e);
  const ifPeerLost = deriveIfPeerLost(e);
  if (state !== e.state || ifPeerLost !== e.ifPeerLost || adopt !== null) {
    effects.push({ kind: 'report', state, ifPeerLost, adopt });
    e = { ...e, state, ifPeerLost };
  }
  return { engine: e, effects };
}

/**
 * Keeps the start of the current time apart from a live primary, or ends it. A diverged copy
 * follows no primary (no session either way): it is not apart, and its fate is the operator's —
 * set aside, or kept as the reference, which an outdated flag would forbid to be promoted.
 */
function apartFrom(e: SyncEngine, now: Millis): Millis | null {
  if (!wantsSession(e) || e.session === 'live') return null;
  return e.apartSince ?? now;
}

/**
 * The state should the peer be declared dead now: a copy apart from a live primary for less than
 * the grace is whole as of the moment the primary fell silent (its writes since could not be
 * replicated, and none of them passed a barrier) — unless it is flagged.
 */
export function deriveIfPeerLost(e: SyncEngine): SyncState {
  if (e.facts.diverged) return 'Diverged';
  if (e.facts.role === 'primary') return 'UpToDate';
  return e.durable.inconsistent || e.durable.outdated ? 'Outdated' : 'UpToDate';
}

export function deriveState(e: SyncEngine): SyncState {
  if (e.facts.diverged) return 'Diverged';
  if (e.facts.role === 'primary') return 'UpToDate';
  if (e.session === 'resync') return 'Syncing';
  // A flagged copy is never UpToDate, even on a live session (a full resync was required meanwhile).
  if (e.durable.inconsistent || e.durable.outdated) return 'Outdated';
  if (e.session === 'live') return 'UpToDate';
  // Not connected: outdated while a live primary may be writing; whole when nobody writes.
  return e.apartSince !== null ? 'Outdated' : 'UpToDate';
}
