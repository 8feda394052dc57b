/**
 * Data synchronization in the daemon: the shell around the pure sync engine
 * (core/sync/engine.ts). It listens for a replica on the HA link while this node is primary,
 * connects to the primary while the engine wants a session, feeds session events to the engine
 * and the engine's reports to the HA core, carries out the HA core's `full-resync` and
 * `preserve-diverged-data`, and serves `tandem data barrier`.
 */
import { join } from 'node:path';
import { connectChannel, listenChannels, type Channel, type ChannelListener } from '../../adapters/sync/channel.js';
import {
  hashCachePath, HashCache, openReceiver, preserveDiverged, type Receiver,
} from '../../adapters/files/index.js';
import { readJson, writeJsonAtomic } from '../../adapters/state/store.js';
import { unreplicatedWriteMatters } from '../../core/ha/node.js';
import { syncFactsOf } from '../../core/ha/status.js';
import type { NodeState } from '../../core/ha/types.js';
import {
  initSyncEngine, stepSync, wantsSession, type SyncDurable, type SyncEffect, type SyncEngine, type SyncInput,
} from '../../core/sync/engine.js';
import { compareGenerations } from '../../core/sync/generations.js';
import type { Generations, SyncState } from '../../core/sync/state.js';
import { commonFeatures, helloSchema, parseMessage, SYNC_FEATURES, welcomeSchema, type SyncFeature } from './protocol.js';
import type { PeerCallServer } from '../peer/calls.js';
import { ReplicaSession } from './replica.js';
import { ensureRoots, type Roots } from './roots.js';
import { RootWatcher, SourceSession } from './source.js';

const SYNC_STATE_FILE = 'sync-state.json';
/** Between two attempts to reach the primary. */
const RETRY_MS = 500;

export interface SyncServiceOptions {
  readonly cluster: string;
  readonly node: string;
  readonly peer: string | null;
  readonly stateDir: string;
  readonly roots: Roots;
  readonly key: Uint8Array;
  readonly selfAddress: string;
  readonly peerAddress: string | null;
  readonly port: number;
  readonly rateBytesPerSec: number;
  readonly keepaliveMs: number;
  /** A silent session is dead after this long (the heartbeat dead interval). */
  readonly deadAfterMs: number;
  /** How long a live primary may stay apart after the session dropped before this copy is outdated. */
  readonly graceMs: number;
  readonly now: () => number;
  readonly log: (level: 'info' | 'warn' | 'error' | 'debug', event: string, message: string) => void;
  /** The engine's state for the HA core (a `sync` input), `adopt` after a completed resync. */
  readonly report: (state: SyncState, ifPeerLost: SyncState, adopt: Generations | null) => void;
  /**
   * The service wrote into a root of this primary and the write cannot be replicated now (no
   * live session, or the replica silent for more than half the dead interval): step the HA core
   * with it at once (its `unreplicated-write`), before any tick or heartbeat pending.
   */
  readonly unreplicatedWrite?: () => void;
  /** A replicated file of `root` changed on this (secondary) node. */
  readonly onReplicated?: (root: string, path: string) => void;
  /** This primary's live changes were confirmed stored on the replica, `lagMs` after they were reported. */
  readonly replicationConfirmed?: (lagMs: number) => void;
  /** Operations the other node calls over the same listener (app/peer/calls.ts). */
  readonly peerCalls?: PeerCallServer;
}

/** `tandem status`: the replication part of `sync`. */
export interface ReplicationStatus {
  readonly session: 'closed' | 'connecting' | 'resync' | 'live';
  readonly direction: 'receiving' | 'sending' | null;
  readonly progress: { readonly bytes_left: number; readonly files_left: number; readonly bytes_total: number; readonly files_total: number } | null;
  readonly outdated: boolean;
  readonly inconsistent: boolean;
  /** Why this node receives nothing (a diverged root that could not be set aside), or null. */
  readonly refusing: string | null;
  /**
   * While this primary replicates live: how long the oldest change not yet confirmed stored on
   * the replica has waited, ms (0: the replica holds every change reported). Null otherwise.
   */
  readonly lag_ms: number | null;
  readonly roots: Readonly<Record<string, string>>;
  readonly counters: {
    readonly files_sent: number; readonly bytes_sent: number;
    readonly files_received: number; readonly bytes_received: number;
    readonly refused_on_arrival: number; readonly refused_by_replica: number;
    readonly handshakes_rejected: Readonly<Record<string, number>>;
  };
}

export class SyncService {
  private engine: SyncEngine;
  private listener: ChannelListener | null = null;
  private source: SourceSession | null = null;
  private replica: ReplicaSession | null = null;
  private connecting = false;
  private nextAttemptAt = 0;
  private ha: NodeState | null = null;
  /** While primary: watches every root for writes, replicable or not (DRBD's rule, see observe). */
  private writeGuard: RootWatcher[] | null = null;
  /** The channel of `source`: when the replica was last heard. */
  private sourceChannel: Channel | null = null;
  private receivers = new Map<string, Receiver>();
  private hashCaches = new Map<string, HashCache>();
  private readonly totals = { filesSent: 0, bytesSent: 0, filesReceived: 0, bytesReceived: 0, refusedOnArrival: 0, refusedByReplica: 0 };
  private closed = false;
  /**
   * Why this node must not receive anything: a diverged root could not be set aside, and a resync
   * would overwrite what it holds. Only the operator clears it (moving the data, restarting).
   */
  private refusing: string | null = null;
  /** Changes of the roots that must not run concurrently with a session (preserve, reopen). */
  private maintenance: Promise<void> = Promise.resolve();

  private constructor(private readonly o: SyncServiceOptions) {
    this.rate = o.rateBytesPerSec;
    const durable = (readJson(join(o.stateDir, SYNC_STATE_FILE)) as SyncDurable | undefined) ?? null;
    this.engine = initSyncEngine(durable, { role: 'secondary', peerAlive: false, peerRole: null, diverged: false }, o.graceMs, o.now());
  }

  /** Creates the roots, removes leftovers of interrupted transfers, and listens on the HA link. */
  static async start(o: SyncServiceOptions): Promise<SyncService> {
    const s = new SyncService(o);
    ensureRoots(o.roots);
    await s.openStores();
    s.listener = await listenChannels({
      host: o.selfAddress, port: o.port, key: o.key,
      idleTimeoutMs: o.deadAfterMs,
      accept: (hello, remote) => (o.peerCalls?.isPeerCall(hello) === true ? o.peerCalls.accept(hello, remote) : s.accept(hello, remote)),
      onChannel: (ch) => {
        if (o.peerCalls?.isPeerCall(ch.peerHeader) === true) o.peerCalls.serve(ch);
        else s.onSourceChannel(ch);
      },
      onReject: (reason, remote) => { o.log('warn', 'sync', `replication handshake from ${remote} rejected: ${reason}`); },
    });
    return s;
  }

  /** The full-resync rate limit of the sessions started from now on (a reload changes it). */
  private rate: number;

  setResyncRate(bytesPerSec: number): void { this.rate = bytesPerSec; }

  /** The state the HA core starts with. */
  get state(): SyncState { return this.engine.state; }

  /** After every HA step: hand the engine the HA facts, and open or close sessions to match. */
  observe(ha: NodeState): void {
    if (this.closed) return;
    this.ha = ha;
    const facts = syncFactsOf(ha);
    const f = this.engine.facts;
    const changed = f.role !== facts.role || f.peerAlive !== facts.peerAlive || f.peerRole !== facts.peerRole || f.diverged !== facts.diverged;
    this.input(changed ? { kind: 'facts', at: this.o.now(), facts } : { kind: 'tick', at: this.o.now() });
    this.reconcile();
    this.guardWrites(ha.role === 'primary' && this.o.peer !== null);
  }

  /**
   * DRBD's rule needs every write of the primary seen, also when no session is there to see it:
   * a watch per directory of every root, for as long as this node is primary (beside the
   * session's own, which sends the changes). A write found while it cannot be replicated is
   * handed to the HA core, which starts a new generation at the first one. The kernel queues the
   * inotify event inside the write(2), so the write is known by the next poll of the event loop;
   * the daemon defers ticks and heartbeats to the check phase of that turn, after it.
   */
  private guardWrites(on: boolean): void {
    if (!on) {
      for (const w of this.writeGuard ?? []) w.close();
      this.writeGuard = null;
      return;
    }
    if (this.writeGuard !== null) return;
    const seen = (): void => { this.onWrite(); };
    this.writeGuard = [...this.o.roots.values()].map((dir) => new RootWatcher(dir, {
      path: seen, root: seen,
      cannot: (message) => { this.o.log('warn', 'sync', `cannot watch all of ${dir} for unreplicated writes: ${message}`); },
    }));
  }

  private onWrite(): void {
    const ha = this.ha;
    // Not a primary, or already writing a generation the peer does not hold: nothing new to tell.
    if (ha === null || this.closed || !unreplicatedWriteMatters(ha)) return;
    if (this.replicable()) return;
    this.o.unreplicatedWrite?.();
  }

  /**
   * A write is replicable while a live session carries it and the replica was heard within half
   * the dead interval (it pings every keepalive). Half: the peer takes over a dead interval after
   * it last heard this node, so a write made once the replica fell silent, and before that, is
   * counted in time, also when a heartbeat of this node reached the peer later than the replica's
   * last frame reached this node.
   */
  private replicable(): boolean {
    const ch = this.sourceChannel;
    return this.source?.phase === 'live' && ch !== null && this.o.now() - ch.lastReceivedAt <= this.o.deadAfterMs / 2;
  }

  /** The HA core asked for a full resync: mark the copy, restart any session with fresh manifests. */
  fullResync(): void {
    this.input({ kind: 'resync-required', at: this.o.now() });
    this.replica?.close('full resync requested');
  }

  /** Split-brain recovery on the discarded node: move every root aside (never deleted). */
  preserveDiverged(generation: string): void {
    const sessions = [this.replica, this.source].filter((x) => x !== null);
    for (const x of sessions) x.close('diverged data being preserved');
    const label = `gen-${generation.replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 64);
    this.maintenance = this.maintenance.then(async () => {
      // No session may still be writing into (or scanning) a root while it moves.
      await Promise.all(sessions.map((x) => x.done));
      for (const [name, dir] of this.o.roots) {
        try {
          const kept = await preserveDiverged(dir, label);
          if (kept !== null) this.o.log('warn', 'split-brain', `diverged data of root ${name} preserved at ${kept}`);
        } catch (err) {
          this.refusing = `the diverged data of root ${name} (${dir}) could not be set aside (${(err as Error).message}); `
            + 'move them away yourself, then restart this node: until then it receives nothing, so nothing is overwritten';
          this.o.log('error', 'split-brain', this.refusing);
        }
      }
      await this.openStores();
    });
  }

  /** Resolves once every change made before the call is stored on the secondary. */
  async barrier(timeoutMs: number): Promise<{ ok: boolean; message: string }> {
    const started = this.o.now();
    if (this.ha?.role !== 'primary') return { ok: false, message: 'this node is not the primary: call the barrier where the service writes' };
    if (this.o.peer === null) return { ok: false, message: 'standalone node: there is no secondary to store the data on' };
    for (;;) {
      const left = timeoutMs - (this.o.now() - started);
      if (left <= 0) break;
      const s = this.source;
      if (s?.phase === 'live') {
        try {
          await withTimeout(s.barrier(), left);
          return { ok: true, message: `stored on ${this.o.peer} (${(this.o.now() - started).toFixed(1)} ms)` };
        } catch (err) {
          if (err instanceof TimeoutError) break;
          // The session ended under the barrier: wait for the next one.
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const why = this.source === null ? 'no replication session with the secondary' : `replication session ${this.source.phase}`;
    return { ok: false, message: `barrier not reached within ${String(timeoutMs)} ms: ${why} (peer sync ${this.ha.peer?.report.sync ?? 'unknown'})` };
  }

  status(): ReplicationStatus {
    const p = this.engine.progress ?? (this.source?.phase === 'resync' && this.source.stats.resync !== null ? {
      bytesTotal: this.source.stats.resync.bytes, filesTotal: this.source.stats.resync.files,
      bytesLeft: this.source.stats.resync.bytes - this.source.stats.resync.bytesDone,
      filesLeft: this.source.stats.resync.files - this.source.stats.resync.filesDone,
    } : null);
    const t = this.totalsNow();
    return {
      session: this.replica !== null ? (this.engine.session === 'closed' ? 'connecting' : this.engine.session)
        : this.source !== null ? (this.source.phase === 'live' ? 'live' : this.source.phase === 'closed' ? 'closed' : 'resync')
          : this.connecting ? 'connecting' : 'closed',
      direction: this.replica !== null ? 'receiving' : this.source !== null ? 'sending' : null,
      progress: p === null ? null : { bytes_left: p.bytesLeft, files_left: p.filesLeft, bytes_total: p.bytesTotal, files_total: p.filesTotal },
      outdated: this.engine.durable.outdated,
      inconsistent: this.engine.durable.inconsistent,
      refusing: this.refusing,
      lag_ms: this.source?.phase === 'live' ? Math.round(this.source.lagMs() * 10) / 10 : null,
      roots: Object.fromEntries(this.o.roots),
      counters: {
        files_sent: t.filesSent, bytes_sent: t.bytesSent, files_received: t.filesReceived, bytes_received: t.bytesReceived,
        refused_on_arrival: t.refusedOnArrival, refused_by_replica: t.refusedByReplica,
        handshakes_rejected: this.listener?.rejected ?? {},
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.guardWrites(false);
    const sessions = [this.replica, this.source].filter((x) => x !== null);
    for (const x of sessions) x.close('stopping');
    await this.listener?.close();
    await Promise.all(sessions.map((x) => x.done));
    for (const c of this.hashCaches.values()) await c.save().catch(() => undefined);
  }

  // ---- Engine -------------------------------------------------------------------------------

  private input(input: SyncInput): void {
    const r = stepSync(this.engine, input);
    this.engine = r.engine;
    this.execute(r.effects);
  }

  private execute(effects: readonly SyncEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'report': this.o.report(e.state, e.ifPeerLost, e.adopt); break;
        case 'persist': writeJsonAtomic(join(this.o.stateDir, SYNC_STATE_FILE), e.durable); break;
        case 'log': this.o.log(e.level, e.event, e.message); break;
      }
    }
  }

  /** Opens or closes sessions so that they match the engine and the HA role. */
  private reconcile(): void {
    if (this.ha?.role !== 'primary' && this.source !== null) this.source.close('this node is no longer the primary');
    const want = wantsSession(this.engine);
    if (!want && this.replica !== null) this.replica.close('the peer is not a live primary any more');
    if (want && this.refusing === null && this.replica === null && !this.connecting && this.o.now() >= this.nextAttemptAt) void this.connect();
  }

  // ---- Replica side (this node is the secondary) ------------------------------------------------

  private async connect(): Promise<void> {
    const ha = this.ha;
    if (ha === null || this.o.peerAddress === null) return;
    this.connecting = true;
    let ch: Channel | null = null;
    try {
      await this.maintenance;
      ch = await connectChannel({
        host: this.o.peerAddress, port: this.o.port, localAddress: this.o.selfAddress, key: this.o.key,
        hello: { cluster: this.o.cluster, node: this.o.node, uuid: ha.persisted.uuid, generations: ha.persisted.generations, features: [...SYNC_FEATURES] },
        timeoutMs: Math.max(1000, this.o.deadAfterMs), idleTimeoutMs: this.o.deadAfterMs,
      });
      const welcome = parseMessage(welcomeSchema, ch.peerHeader, 'source');
      if (!wantsSession(this.engine) || this.closed) { ch.close('no longer wanted'); return; }
      // What the source accepted (a source from before features answers none).
      this.startReplica(ch, commonFeatures(welcome.features));
    } catch (err) {
      // A welcome that does not parse comes on an open channel: close it rather than leave it to the idle timer.
      ch?.close((err as Error).message);
      this.nextAttemptAt = this.o.now() + RETRY_MS;
      this.o.log('debug', 'sync', `cannot reach the primary's replication port: ${(err as Error).message}`);
    } finally {
      this.connecting = false;
    }
  }

  private startReplica(ch: Channel, features: readonly SyncFeature[]): void {
    this.input({ kind: 'session-open', at: this.o.now() });
    this.o.log('info', 'sync', `replication session with ${this.o.peer ?? 'the primary'} open: comparing manifests`);
    const session = new ReplicaSession({
      channel: ch, roots: this.o.roots, receivers: this.receivers, hashCaches: this.hashCaches,
      keepaliveMs: this.o.keepaliveMs, features,
      log: (level, message) => { this.o.log(level, 'sync', message); },
      onEvent: (e) => {
        if (this.replica !== session) return;
        const at = this.o.now();
        switch (e.kind) {
          case 'planned': this.input({ kind: 'resync-planned', at, bytes: e.bytes, files: e.files }); break;
          case 'progress': this.input({ kind: 'resync-progress', at, bytesDone: e.bytesDone, filesDone: e.filesDone }); break;
          case 'caught-up': this.input({ kind: 'caught-up', at, generations: e.generations }); break;
          case 'changed': this.o.onReplicated?.(e.root, e.path); break;
        }
      },
    });
    this.replica = session;
    void session.done.then((reason) => {
      this.addTotals({ filesReceived: session.stats.filesReceived, bytesReceived: session.stats.bytesReceived, refusedOnArrival: session.stats.refused });
      if (this.replica === session) this.replica = null;
      this.nextAttemptAt = this.o.now() + RETRY_MS;
      this.input({ kind: 'session-closed', at: this.o.now(), reason });
    });
  }

  // ---- Source side (this node is the primary) ---------------------------------------------------

  private accept(raw: Readonly<Record<string, unknown>>, remote: string): { ok: true; header: Record<string, unknown> } | { ok: false; reason: string } {
    const hello = helloSchema.safeParse(raw);
    if (!hello.success) return { ok: false, reason: 'malformed hello' };
    const h = hello.data;
    const ha = this.ha;
    if (h.cluster !== this.o.cluster) return { ok: false, reason: `another cluster (${h.cluster})` };
    if (h.node !== this.o.peer) return { ok: false, reason: `unknown node ${h.node}` };
    if (remote !== this.o.peerAddress) return { ok: false, reason: `node ${h.node} must connect from its HA link address` };
    if (ha?.role !== 'primary') return { ok: false, reason: 'not the primary' };
    if (h.uuid !== null && ha.persisted.uuid !== null && h.uuid !== ha.persisted.uuid) return { ok: false, reason: 'another cluster UUID' };
    if (compareGenerations(ha.persisted.generations, h.generations) === 'diverged') return { ok: false, reason: 'split brain: the data diverged' };
    return { ok: true, header: { generations: ha.persisted.generations, roots: [...this.o.roots.keys()], features: commonFeatures(h.features) } };
  }

  private onSourceChannel(ch: Channel): void {
    // The hello was accepted by `accept`: its features list parses.
    const features = commonFeatures(helloSchema.safeParse(ch.peerHeader).data?.features);
    if (this.ha?.role !== 'primary' || this.closed) { ch.close('not the primary'); return; }
    this.source?.close('replaced by a new session');
    this.o.log('info', 'sync', `replica ${this.o.peer ?? ''} connected: full resync check`);
    const session = new SourceSession({
      channel: ch, roots: this.o.roots, hashCaches: this.hashCaches, rateBytesPerSec: this.rate,
      generations: () => this.ha?.persisted.generations ?? { current: 'genesis', history: [] },
      keepaliveMs: this.o.keepaliveMs, now: this.o.now, features,
      log: (level, message) => { this.o.log(level, 'sync', message); },
      ...(this.o.replicationConfirmed === undefined ? {} : { confirmed: this.o.replicationConfirmed }),
    });
    this.source = session;
    this.sourceChannel = ch;
    void session.done.then((reason) => {
      this.addTotals({ filesSent: session.stats.filesSent, bytesSent: session.stats.bytesSent, refusedByReplica: session.stats.refusedByReplica });
      if (this.source === session) { this.source = null; this.sourceChannel = null; }
      this.o.log('info', 'sync', `replication session with ${this.o.peer ?? 'the replica'} closed: ${reason}`);
    });
  }

  // ---- Stores -------------------------------------------------------------------------------------

  private async openStores(): Promise<void> {
    ensureRoots(this.o.roots);
    for (const [name, dir] of this.o.roots) {
      const rx = openReceiver(dir);
      // Transfers cut part-way stay for the next session to continue (feature resume).
      const leftovers = await rx.recover({ keepPartials: true });
      if (leftovers.length > 0) {
        this.o.log('info', 'sync', `root ${name}: removed ${String(leftovers.length)} interrupted transfer(s) (${leftovers.map((l) => l.path ?? l.name).join(', ')})`);
      }
      this.receivers.set(name, rx);
      this.hashCaches.set(name, await HashCache.open(hashCachePath(dir)));
    }
  }

  private totalsNow(): typeof this.totals {
    const t = { ...this.totals };
    if (this.source !== null) {
      t.filesSent += this.source.stats.filesSent; t.bytesSent += this.source.stats.bytesSent; t.refusedByReplica += this.source.stats.refusedByReplica;
    }
    if (this.replica !== null) {
      t.filesReceived += this.replica.stats.filesReceived; t.bytesReceived += this.replica.stats.bytesReceived; t.refusedOnArrival += this.replica.stats.refused;
    }
    return t;
  }

  private addTotals(d: Partial<typeof this.totals>): void {
    for (const [k, v] of Object.entries(d) as [keyof typeof this.totals, number][]) this.totals[k] += v;
  }
}

class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { reject(new TimeoutError('timeout')); }, ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (err: unknown) => { clearTimeout(t); reject(err instanceof Error ? err : new Error(String(err))); });
  });
}
