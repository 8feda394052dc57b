/**
 * The primary's side of a replication session (the source). It learns what the replica holds
 * (its manifests), sends what differs — rate limited: that is the full resynchronization —, says
 * `caught-up`, then replicates every change as it happens, unlimited: a whole file, only the tail
 * of a file that grew, or a removal. Changes are found by watching every directory of the roots
 * (`RootWatcher`) and, as a safety net, by a full pass over every root every `RESCAN_MS`. The
 * plans come from the pure planner (core/sync/manifest.ts).
 *
 * A barrier waits one turn of the event loop, sends every change reported until then, then a
 * `barrier` frame. Why the turn is enough: the kernel queues a change's inotify event inside the
 * write(2) that made it, before the writer can ask for the barrier; so when the request is read,
 * the event is readable too, libuv hands both over in the same poll phase, and by the check
 * phase (setImmediate) the watcher has reported it. The replica processes frames in order
 * and commits every file with fsync before it reads the next, so its `barrier-ack` means: every
 * change made before the barrier was asked for is stored on the secondary — unless a file of the
 * pass could not be sent whole (it changed while read: no `barrier` frame until it went through)
 * or the replica refused one (a `committed ok:false` before the ack: the ack does not count, and
 * the barrier is tried again with a new full pass).
 */
import { lstatSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { Channel } from '../../adapters/sync/channel.js';
import { prefixHashes, prefixSha256, scanFile, scanFileWithPrefix, scanTree, type HashCache, type ScanOptions } from '../../adapters/files/index.js';
import {
  appendCandidates, entryOfItem, itemBytes, manifestFromEntries, planEntry, planSync, SYNC_WORK_DIR,
  type FileEntry, type Manifest, type PrefixHash, type SendItem, type SyncPlan,
} from '../../core/sync/manifest.js';
import { DEFAULT_SYNC_BURST_BYTES, initBucket, take, type Bucket } from '../../core/sync/ratelimit.js';
import type { Generations } from '../../core/sync/state.js';
import { CHUNK_BYTES, parseMessage, ProtocolError, replicaMessage, type PartialTransfer, type ReplicaMessage, type SyncFeature } from './protocol.js';
import type { Roots } from './roots.js';

/** Safety net behind the watcher: a full pass this often even when nothing was reported. */
const RESCAN_MS = 10_000;
/** A file the replica refused is sent again at once this many times, then only by the periodic pass. */
const MAX_IMMEDIATE_RETRIES = 3;
/** Changes reported within this window are handled together. */
const COALESCE_MS = 2;

export interface SourceOptions {
  readonly channel: Channel;
  readonly roots: Roots;
  /** One per root, shared with other sessions of this process. */
  readonly hashCaches: ReadonlyMap<string, HashCache>;
  /** Full-resync rate limit, bytes per second; 0 = unlimited. */
  readonly rateBytesPerSec: number;
  /** The primary's data generations now (sent with `caught-up`). */
  readonly generations: () => Generations;
  readonly keepaliveMs: number;
  /** The clock the rate limiter reads (monotonic ms)… */
  readonly now: () => number;
  /** …and how it waits (default: a timer). Together they let a test run the limiter on virtual time. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log: (level: 'info' | 'warn' | 'error' | 'debug', message: string) => void;
  /** The periodic full pass behind the watcher, ms (default `RESCAN_MS`). */
  readonly rescanMs?: number;
  /** The features negotiated with this replica (default none: the protocol of a peer from before features). */
  readonly features?: readonly SyncFeature[];
  /**
   * Live changes confirmed stored on the replica: `lagMs` from the first report of a change the
   * confirming pass sent (the watcher's, ms after the write) to the replica's acknowledgement.
   */
  readonly confirmed?: (lagMs: number) => void;
}

export type SourcePhase = 'manifests' | 'resync' | 'live' | 'closed';

export interface SourceStats {
  filesSent: number;
  bytesSent: number;
  removed: number;
  refusedByReplica: number;
  /** Names of regular files that are hard links to a file seen under another name (last full scan). */
  hardLinks: number;
  resync: { bytes: number; files: number; bytesDone: number; filesDone: number } | null;
}

interface BarrierWaiter {
  readonly id: number;
  /** Set one event-loop turn after the request: every change made before it has been reported. */
  ready: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** A `barrier` frame sent and not acknowledged yet, with the refusals counted when its pass began. */
interface BarrierInFlight { readonly id: number; readonly refusalsAt: number }

export class SourceSession {
  phase: SourcePhase = 'manifests';
  readonly stats: SourceStats = { filesSent: 0, bytesSent: 0, removed: 0, refusedByReplica: 0, hardLinks: 0, resync: null };
  /** Resolves with the reason once the session is over. */
  readonly done: Promise<string>;

  /** What the replica holds, per root, as far as this session knows. */
  private readonly target = new Map<string, Manifest>();
  /** Transfers the replica kept when an earlier session was cut, per root (feature resume). */
  private readonly partials = new Map<string, PartialTransfer[]>();
  private readonly dirtyPaths = new Map<string, Set<string>>();
  private readonly dirtyRoots = new Set<string>();
  private readonly watchers: RootWatcher[] = [];
  private readonly waiters: BarrierWaiter[] = [];
  /** Refusals per path in this session: a file the replica cannot place is not resent forever. */
  private readonly refusals = new Map<string, number>();
  private barrierId = 0;
  /** Highest barrier id sent in a frame (lowered again when an ack does not count). */
  private sentBarrier = 0;
  private readonly inFlight: BarrierInFlight[] = [];
  /** `refused` when the pass for the next barrier frame began (kept over incomplete passes). */
  private coverFrom: number | null = null;
  /** Every `committed ok:false` of this session. */
  private refusedTotal = 0;
  /** Files not sent whole in this session (they changed, or vanished, while read). */
  private notSentWhole = 0;
  /** Reported paths that needed a pass over their whole root (directories, file ↔ directory). */
  private deferredToRoot = 0;
  /** A barrier whose ack did not count waits for the periodic pass (a file refused again and again). */
  private barrierRetryPaused = false;
  /** When the oldest change not yet taken by a live pass was reported (null: none). */
  private markedSince: number | null = null;
  /** Per live pass that sent something and is not confirmed yet, in order: its `markedSince`. */
  private readonly unconfirmed: number[] = [];
  /** Why the replica's side failed (read by the reader), when it did. */
  private failure: string | null = null;
  /** The generations last sent with `caught-up`: the replica carries them. */
  private sentGenerations: string | null = null;
  private wake: (() => void) | null = null;
  private closedReason: string | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private rescan: NodeJS.Timeout | null = null;
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  /** Scan options: attributes when the replica takes them (the source always reports owners). */
  private readonly scanAttrs: ScanOptions['attrs'];

  constructor(private readonly o: SourceOptions) {
    this.scanAttrs = (o.features ?? []).includes('attrs') ? { owners: true } : undefined;
    for (const [name, dir] of o.roots) {
      this.dirtyPaths.set(name, new Set());
      this.watchers.push(new RootWatcher(dir, {
        path: (rel) => { this.markPath(name, rel); },
        root: () => { this.markRoot(name); },
        cannot: (message) => { this.o.log('warn', `cannot watch all of ${dir}: ${message}; changes there are found by the periodic pass`); },
      }));
    }
    this.keepalive = setInterval(() => {
      void this.o.channel.send({ type: 'ping' }).catch(() => undefined);
      // The primary started a new generation while this session stayed live (it judged the peer
      // lost on heartbeats while the replication kept flowing): its writes from now on may never
      // reach the replica, so the replica may not carry that generation on the strength of this
      // session. The session ends; a new one (a resync) makes the replica adopt it, if the peer
      // is still there — and if it took over meanwhile, the two generations show the split brain.
      if (this.generationMoved()) this.close('the primary started a new data generation');
    }, o.keepaliveMs);
    this.rescan = setInterval(() => {
      if (this.barrierRetryPaused && this.inFlight.length === 0) {
        this.barrierRetryPaused = false;
        this.sentBarrier = 0;
      }
      this.markAll();
    }, o.rescanMs ?? RESCAN_MS);
    this.done = this.run().then(
      () => this.finish('ended'),
      (err: unknown) => this.finish(err instanceof Error ? err.message : String(err)),
    );
  }

  /** Resolves once every change made before the call is stored on the secondary. */
  barrier(): Promise<void> {
    if (this.closedReason !== null) return Promise.reject(new Error(`replication session closed: ${this.closedReason}`));
    return new Promise((resolve, reject) => {
      const waiter: BarrierWaiter = { id: ++this.barrierId, ready: false, resolve, reject };
      this.waiters.push(waiter);
      // Ready once the watcher's events for writes made before this call have been read: the
      // kernel queued them at the write, and a poll phase reads them — the one between the check
      // phase of this turn and the next. Two immediates span it, whatever the loop is doing (a
      // live loop that is busy does not sleep before it looks at the barriers).
      setImmediate(() => { setImmediate(() => { waiter.ready = true; this.wake?.(); }); });
    });
  }

  close(reason: string): void {
    this.o.channel.close(reason);
  }

  /**
   * The replication lag now: how long the oldest change not yet confirmed stored on the replica
   * has waited (0 when the replica holds everything reported).
   */
  lagMs(): number {
    const oldest = Math.min(this.unconfirmed[0] ?? Infinity, this.markedSince ?? Infinity);
    return oldest === Infinity ? 0 : Math.max(0, this.o.now() - oldest);
  }

  // ---- The session ------------------------------------------------------------------------

  private async run(): Promise<void> {
    await this.receiveManifests();
    const reader = this.readReplica();
    // The reader ends only by an error (the channel closed, a protocol error): that ends the
    // session at once, whatever phase — a resync in progress stops at its next frame.
    reader.catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err.message : String(err);
      this.o.channel.close(this.failure);
    });
    this.phase = 'resync';
    await this.resync();
    this.phase = 'live';
    await this.sendCaughtUp();
    this.o.log('info', 'resync sent: replicating live');
    await Promise.race([this.live(), reader]);
  }

  private async receiveManifests(): Promise<void> {
    const entries = new Map<string, FileEntry[]>();
    for (const name of this.o.roots.keys()) entries.set(name, []);
    for (;;) {
      const m = await this.nextMessage();
      if (m.type === 'manifests-done') break;
      // The replica's keepalives run while it scans its roots, which may take long.
      if (m.type === 'ping') continue;
      if (m.type !== 'manifest') throw new ProtocolError('replica', `${m.type} before the manifests were complete`);
      const list = entries.get(m.root);
      if (list === undefined) throw new ProtocolError('replica', `unknown root ${m.root}`);
      for (const e of m.entries) list.push(e);
      if (m.partials !== undefined && (this.o.features ?? []).includes('resume')) this.partials.set(m.root, [...(this.partials.get(m.root) ?? []), ...m.partials]);
    }
    for (const [name, list] of entries) this.target.set(name, manifestFromEntries(list, 'target'));
  }

  /** The full resynchronization: one rate-limited pass over every root. */
  private async resync(): Promise<void> {
    const plans = [];
    for (const [name, dir] of this.o.roots) {
      const target = this.target.get(name) ?? new Map<string, FileEntry>();
      const scan = await scanTree(dir, this.scanOptions(name));
      this.noteHardLinks(name, scan.stats.hardLinks);
      const prefixes = await prefixHashes(dir, appendCandidates(scan.manifest, target));
      plans.push({ name, dir, plan: await this.withResumes(name, dir, planSync(scan.manifest, target, prefixes)) });
    }
    const bytes = plans.reduce((a, p) => a + p.plan.bytes, 0);
    const files = plans.reduce((a, p) => a + p.plan.files + p.plan.remove.length, 0);
    this.stats.resync = { bytes, files, bytesDone: 0, filesDone: 0 };
    await this.o.channel.send({ type: 'plan', bytes, files });
    this.o.log('info', `full resync: ${String(files)} files (${String(bytes)} bytes) to the replica`);
    const bucket: { b: Bucket | null } = {
      b: this.o.rateBytesPerSec > 0 ? initBucket(this.o.rateBytesPerSec, DEFAULT_SYNC_BURST_BYTES, this.o.now()) : null,
    };
    // sendRemove and sendFile keep `target` up to date item by item: a file the replica refuses
    // meanwhile (its entry dropped by the reader) or one not sent whole stays out of it, and is
    // sent again by the live passes.
    for (const { name, dir, plan } of plans) {
      for (const path of plan.remove) {
        await this.sendRemove(name, path);
        this.stats.resync.filesDone++;
      }
      for (const item of plan.send) {
        const sent = await this.sendFile(name, dir, item, bucket);
        this.stats.resync.filesDone++;
        this.stats.resync.bytesDone += sent;
      }
    }
  }

  /** Live replication: wait for changes or barriers, send them, repeat. */
  private async live(): Promise<void> {
    while (this.closedReason === null) {
      if (!this.hasWork()) {
        await new Promise<void>((resolve) => { this.wake = resolve; });
        this.wake = null;
        await new Promise((r) => setTimeout(r, COALESCE_MS));
      }
      const pending = this.readyBarrier();
      // A refusal from here on may concern a file this pass relies on: it voids the barrier.
      if (pending > this.sentBarrier) this.coverFrom ??= this.refusedTotal;
      const notSentWholeBefore = this.notSentWhole;
      const deferredBefore = this.deferredToRoot;
      const since = this.markedSince;
      this.markedSince = null;
      const sentBefore = this.stats.filesSent + this.stats.removed;
      for (const name of [...this.dirtyRoots]) {
        this.dirtyRoots.delete(name);
        this.dirtyPaths.get(name)?.clear();
        await this.passRoot(name);
      }
      for (const [name, paths] of this.dirtyPaths) {
        const list = [...paths];
        paths.clear();
        for (const path of list) await this.passPath(name, path);
      }
      // A file not sent whole was marked again, a path needs its root's pass: the next pass
      // sends them, then the barrier goes.
      if (pending > this.sentBarrier && this.notSentWhole === notSentWholeBefore && this.deferredToRoot === deferredBefore) {
        this.sentBarrier = pending;
        this.inFlight.push({ id: pending, refusalsAt: this.coverFrom ?? this.refusedTotal });
        this.coverFrom = null;
        await this.o.channel.send({ type: 'barrier', id: pending });
      }
      if (since !== null && this.stats.filesSent + this.stats.removed > sentBefore) this.confirmLater(since);
    }
  }

  /**
   * A pass sent changes reported since `since`: a barrier of the session's own (the next loop
   * turn sends it, or a barrier asked meanwhile covers it) says when the replica holds them.
   * One small frame per pass, which coalesces the changes of a few ms.
   */
  private confirmLater(since: number): void {
    this.unconfirmed.push(since);
    this.barrier().then(() => {
      // Waiters resolve in order, so the oldest entry is this pass's.
      this.unconfirmed.shift();
      this.o.confirmed?.(this.o.now() - since);
    }, () => undefined);
  }

  /** The highest barrier whose changes have all been reported (waiters become ready in order). */
  private readyBarrier(): number {
    let id = 0;
    for (const w of this.waiters) if (w.ready) id = w.id;
    return id;
  }

  private generationMoved(): boolean {
    return this.phase === 'live' && this.sentGenerations !== null && this.o.generations().current !== this.sentGenerations;
  }

  private async sendCaughtUp(): Promise<void> {
    const generations = this.o.generations();
    this.sentGenerations = generations.current;
    await this.o.channel.send({ type: 'caught-up', generations });
  }

  private hasWork(): boolean {
    if (this.dirtyRoots.size > 0 || this.readyBarrier() > this.sentBarrier) return true;
    for (const paths of this.dirtyPaths.values()) if (paths.size > 0) return true;
    return false;
  }

  /** A whole root: scan, plan against what the replica holds, send (unlimited). */
  private async passRoot(name: string): Promise<void> {
    const dir = this.o.roots.get(name);
    if (dir === undefined) return;
    const target = this.target.get(name) ?? new Map<string, FileEntry>();
    const scan = await scanTree(dir, this.scanOptions(name));
    this.noteHardLinks(name, scan.stats.hardLinks);
    const prefixes = await prefixHashes(dir, appendCandidates(scan.manifest, target));
    const plan = planSync(scan.manifest, target, prefixes);
    for (const path of plan.remove) await this.sendRemove(name, path);
    for (const item of plan.send) await this.sendFile(name, dir, item, { b: null });
  }

  /**
   * One reported path: a file, a removed file — or, when the path is (or was) a directory, the
   * whole root at the next pass (one pass however many directories were reported).
   */
  private async passPath(name: string, path: string): Promise<void> {
    const dir = this.o.roots.get(name);
    if (dir === undefined) return;
    const target = this.target.get(name) ?? new Map<string, FileEntry>();
    const known = target.get(path);
    let entry: FileEntry | undefined;
    let prefix: PrefixHash | undefined;
    try {
      if (known !== undefined && known.size > 0 && await sizeOf(join(dir, path)) > known.size) {
        // Grown (an appended log, most likely): the entry and the prefix hash from one read.
        const r = await scanFileWithPrefix(dir, path, known.size, this.scanAttrs);
        entry = r?.entry;
        if (r?.prefixSha256 !== undefined) prefix = { bytes: known.size, sha256: r.prefixSha256 };
      } else {
        entry = await scanFile(dir, path, this.scanOptions(name));
      }
    } catch {
      // A directory (created, renamed) or something that is no regular file: look at everything.
      this.deferredToRoot++;
      this.markRoot(name);
      return;
    }
    if ((known === undefined && (hasAncestor(target, path) || hasDescendant(target, path))) || known?.kind === 'dir') {
      // A directory removed or renamed away (its files are gone too), or a file where the replica
      // holds a directory or the other way round: a pass over the root sends the removals first,
      // which the file could not be placed without.
      this.deferredToRoot++;
      this.markRoot(name);
      return;
    }
    if (entry === undefined) {
      if (known !== undefined) await this.sendRemove(name, path);
      return;
    }
    const item = planEntry(entry, known, prefix);
    if (item !== undefined && item !== 'remove') await this.sendFile(name, dir, item, { b: null });
  }

  private async sendRemove(root: string, path: string): Promise<void> {
    await this.o.channel.send({ type: 'remove', root, path });
    const t = new Map(this.target.get(root));
    t.delete(path);
    this.target.set(root, t);
    this.stats.removed++;
  }

  /**
   * Streams one file (or its tail) in chunks, waiting for the rate limiter when one is given.
   * A whole file is hashed as it is read: when the bytes are not the scanned ones (the file
   * changed meanwhile) the transfer is aborted and the path looked at again. Returns the bytes sent.
   */
  private async sendFile(root: string, dir: string, item: SendItem, bucket: { b: Bucket | null }): Promise<number> {
    if (item.kind !== undefined || item.meta === true) {
      // A directory, a symlink, or attributes only: one frame, as scanned (a later change is
      // reported and sent again, like a file's).
      const t = new Map(this.target.get(root));
      t.set(item.path, entryOfItem(item));
      this.target.set(root, t);
      await this.o.channel.send({ type: 'entry', root, item });
      this.stats.filesSent++;
      return 0;
    }
    const from = item.append?.from ?? item.resume?.from ?? 0;
    let fh;
    try {
      fh = await open(join(dir, item.path), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      this.notSentWhole++;
      this.markPath(root, item.path);
      return 0;
    }
    let sent = 0;
    try {
      await this.o.channel.send({ type: 'file', root, item });
      // A tail (append, resume) is checked whole by the replica, which holds the prefix.
      const hash = item.append === undefined && item.resume === undefined ? createHash('sha256') : null;
      for (let at = from; at < item.size;) {
        const want = Math.min(CHUNK_BYTES, item.size - at);
        if (bucket.b !== null) {
          const t = take(bucket.b, want, this.o.now());
          bucket.b = t.bucket;
          if (t.waitMs > 0) await (this.o.sleep ?? timer)(t.waitMs);
        }
        const { bytesRead } = await fh.read(this.buffer, 0, want, at);
        if (bytesRead === 0) break;
        const chunk = this.buffer.subarray(0, bytesRead);
        hash?.update(chunk);
        await this.o.channel.send({ type: 'chunk' }, chunk);
        at += bytesRead;
        sent += bytesRead;
      }
      if (sent !== item.size - from || (hash !== null && hash.digest('hex') !== item.sha256)) {
        await this.o.channel.send({ type: 'file-abort', reason: 'the file changed while it was sent' });
        this.notSentWhole++;
        this.markPath(root, item.path);
        return sent;
      }
      // The replica holds it from file-end on — unless it refuses it, and the reader may see that
      // refusal at any await from here on: record the file first, so the refusal removes it.
      const t = new Map(this.target.get(root));
      t.set(item.path, entryOfItem(item));
      this.target.set(root, t);
      await this.o.channel.send({ type: 'file-end' });
    } finally {
      await fh.close();
    }
    this.stats.filesSent++;
    this.stats.bytesSent += sent;
    return sent;
  }

  /**
   * Whole files of the plan the replica holds a kept partial of (same version: size and sha256)
   * continue from where the partial ends, once the prefix hash of this side's file over the
   * partial's length equals the partial's: only the rest goes on the wire. The replica checks
   * the prefix again before writing, and the whole file's sha256 at commit.
   */
  private async withResumes(name: string, dir: string, plan: SyncPlan): Promise<SyncPlan> {
    const partials = this.partials.get(name) ?? [];
    if (partials.length === 0) return plan;
    const send: SendItem[] = [];
    for (const item of plan.send) {
      const p = item.kind === undefined && item.meta !== true && item.append === undefined
        ? partials.find((x) => x.path === item.path && x.size === item.size && x.sha256 === item.sha256 && x.have > 0 && x.have < x.size)
        : undefined;
      if (p !== undefined && await prefixSha256(dir, item.path, p.have).catch(() => undefined) === p.prefixSha256) {
        this.o.log('info', `resuming ${name}/${item.path} at ${String(p.have)} of ${String(item.size)} bytes`);
        send.push({ ...item, resume: { from: p.have, prefixSha256: p.prefixSha256, id: p.id } });
      } else {
        send.push(item);
      }
    }
    return { ...plan, send, bytes: send.reduce((n, i) => n + itemBytes(i), 0) };
  }

  private scanOptions(name: string): ScanOptions {
    const hashCache = this.o.hashCaches.get(name);
    return { ...(hashCache === undefined ? {} : { hashCache }), ...(this.scanAttrs === undefined ? {} : { attrs: this.scanAttrs }) };
  }

  /** Hard links are replicated as separate files: said when their count changes. */
  private noteHardLinks(name: string, count: number): void {
    if (count > 0 && count !== this.stats.hardLinks) {
      this.o.log('warn', `root ${name}: ${String(count)} hard link(s) (a file seen under a second name); the replica gets them as separate files`);
    }
    this.stats.hardLinks = count;
  }

  // ---- What the replica says -------------------------------------------------------------------

  private async nextMessage(): Promise<ReplicaMessage> {
    const frame = await this.o.channel.next();
    if (frame === null) throw new Error(this.o.channel.closeReason ?? 'closed');
    return parseMessage(replicaMessage, frame.header, 'replica');
  }

  /** After the manifests: commit results, barrier acks and keepalives, until the channel ends. */
  private async readReplica(): Promise<void> {
    for (;;) {
      const m = await this.nextMessage();
      switch (m.type) {
        case 'committed':
          if (!this.o.roots.has(m.root)) throw new ProtocolError('replica', `committed for unknown root ${m.root}`);
          if (!m.ok) {
            this.stats.refusedByReplica++;
            this.refusedTotal++;
            this.o.log('warn', `replica refused ${m.root}/${m.path}: ${m.problem ?? 'unknown'}; sending it again`);
            const t = new Map(this.target.get(m.root));
            t.delete(m.path);
            this.target.set(m.root, t);
            const key = `${m.root}/${m.path}`;
            const count = (this.refusals.get(key) ?? 0) + 1;
            this.refusals.set(key, count);
            // Again at once a few times (a file that changed while sent); then only with the periodic pass.
            if (count <= MAX_IMMEDIATE_RETRIES) this.markPath(m.root, m.path);
          }
          break;
        case 'barrier-ack':
          this.barrierAcked(m.id);
          break;
        case 'ping':
          break;
        case 'manifest': case 'manifests-done':
          throw new ProtocolError('replica', `${m.type} after the manifests were complete`);
      }
    }
  }

  /**
   * The replica reached barrier `id`: everything sent before it is stored, unless it refused a
   * file since the barrier's pass began — then the waiters stay, and a new full pass and barrier
   * follow (at once, or with the periodic pass for a file refused again and again).
   */
  private barrierAcked(id: number): void {
    const at = this.inFlight.findIndex((b) => b.id === id);
    if (at === -1) return; // a duplicate, or an id this session never sent
    const acked = this.inFlight[at];
    this.inFlight.splice(0, at + 1);
    if (acked !== undefined && this.refusedTotal === acked.refusalsAt) {
      while (this.waiters.length > 0 && (this.waiters[0]?.id ?? Infinity) <= id) this.waiters.shift()?.resolve();
      this.refusals.clear();
      this.barrierRetryPaused = false;
      return;
    }
    this.o.log('debug', `barrier ${String(id)} reached, but a file sent before it was refused: trying again`);
    // A later barrier in flight covers these waiters too, and is judged by its own ack.
    if (this.inFlight.length > 0) return;
    if ([...this.refusals.values()].some((n) => n > MAX_IMMEDIATE_RETRIES)) {
      this.barrierRetryPaused = true;
      return;
    }
    this.sentBarrier = 0;
    this.markAll();
  }

  // ---- Change detection -------------------------------------------------------------------------

  private markPath(root: string, path: string): void {
    this.dirtyPaths.get(root)?.add(path);
    this.marked();
  }

  private markRoot(root: string): void {
    this.dirtyRoots.add(root);
    this.marked();
  }

  private markAll(): void {
    for (const name of this.o.roots.keys()) this.dirtyRoots.add(name);
    this.marked();
  }

  private marked(): void {
    // Only live changes count for the lag: the resync has its own progress.
    if (this.phase === 'live') this.markedSince ??= this.o.now();
    this.wake?.();
  }

  private finish(reason: string): string {
    this.closedReason ??= this.failure ?? reason;
    this.phase = 'closed';
    this.o.channel.close(this.closedReason);
    for (const w of this.watchers) w.close();
    if (this.keepalive !== null) clearInterval(this.keepalive);
    if (this.rescan !== null) clearInterval(this.rescan);
    for (const w of this.waiters.splice(0)) w.reject(new Error(`replication session closed: ${this.closedReason}`));
    this.wake?.();
    return this.closedReason;
  }
}

/** Size of a path (no symlink followed); -1 when it cannot be had (gone, a parent not a directory…). */
async function sizeOf(abs: string): Promise<number> {
  try {
    return (await lstat(abs)).size;
  } catch {
    return -1;
  }
}

const timer = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a manifest holds a file (or symlink) at a parent directory of `path`. */
function hasAncestor(m: Manifest, path: string): boolean {
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const e = m.get(path.slice(0, i));
    if (e !== undefined && e.kind !== 'dir') return true;
  }
  return false;
}

/** Whether a manifest holds a file under `path/`. */
function hasDescendant(m: Manifest, path: string): boolean {
  const prefix = `${path}/`;
  for (const p of m.keys()) if (p.startsWith(prefix)) return true;
  return false;
}

export interface RootWatcherReports {
  /** Something happened to `rel` (a file, a directory, or a name gone): look at it. */
  readonly path: (rel: string) => void;
  /** Look at the whole root (a new directory, whose files may predate its watch; a lost watch). */
  readonly root: () => void;
  /** A directory could not be watched (e.g. out of inotify watches), said once. */
  readonly cannot: (message: string) => void;
}

/**
 * Watches a root: one plain (non-recursive) fs.watch per directory, added as directories appear
 * and dropped as they go. A directory's watch reports its entries by name whatever inode they
 * point at, so a file replaced by a rename (an atomic save, as the configuration is published)
 * is reported every time. Node 20's recursive watch on Linux watches each file's inode instead:
 * from the second atomic save of a file on, nothing was reported until the periodic pass; and it
 * used one inotify watch per file, where this uses one per directory. Reports are hints: a path
 * reported for nothing is looked at and found unchanged; whatever is missed is found by the
 * periodic pass and the barrier's pass. The store's work directory is not watched.
 */
export class RootWatcher {
  /** Watched directories: relative path ('' for the root) → watch and inode. */
  private readonly dirs = new Map<string, { readonly w: FSWatcher; readonly ino: number }>();
  private closed = false;
  private complained = false;

  constructor(private readonly dir: string, private readonly report: RootWatcherReports) {
    this.add('');
  }

  close(): void {
    this.closed = true;
    for (const { w } of this.dirs.values()) w.close();
    this.dirs.clear();
  }

  /** Watches directory `rel` and every directory under it. */
  private add(rel: string): void {
    if (this.closed || this.dirs.has(rel)) return;
    const abs = rel === '' ? this.dir : join(this.dir, rel);
    let w: FSWatcher;
    let ino: number;
    try {
      w = watch(abs, (_event, name) => { this.onEvent(rel, name); });
      ino = lstatSync(abs).ino;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Gone (or no directory any more) before it could be watched: its parent reports it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && !this.complained) {
        this.complained = true;
        this.report.cannot(`${abs}: ${(err as Error).message}`);
      }
      return;
    }
    w.on('error', () => {
      this.drop(rel);
      this.report.root();
    });
    this.dirs.set(rel, { w, ino });
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return; // removed meanwhile: its parent reports it
    }
    for (const e of entries) {
      if (rel === '' && e.name === SYNC_WORK_DIR) continue;
      if (e.isDirectory()) this.add(rel === '' ? e.name : `${rel}/${e.name}`);
    }
  }

  private onEvent(rel: string, name: string | null): void {
    if (this.closed) return;
    if (name === null) { this.report.root(); return; }
    if (rel === '' && name === SYNC_WORK_DIR) return;
    const child = rel === '' ? name : `${rel}/${name}`;
    let st;
    try {
      st = lstatSync(join(this.dir, child));
    } catch {
      st = null;
    }
    const watched = this.dirs.get(child);
    if (st?.isDirectory() === true) {
      if (watched?.ino === st.ino) return; // its own watch reports what happens inside
      // A new directory (or another one renamed into place): watch it; files written into it
      // before its watch began are found by a pass over the root.
      if (watched !== undefined) this.drop(child);
      this.add(child);
      this.report.root();
      return;
    }
    // A file, or nothing any more: a directory that was there is gone (removed, renamed away).
    if (watched !== undefined) this.drop(child);
    this.report.path(child);
  }

  /** Stops watching `rel` and everything under it. */
  private drop(rel: string): void {
    for (const [key, { w }] of this.dirs) {
      if (key === rel || key.startsWith(`${rel}/`)) {
        w.close();
        this.dirs.delete(key);
      }
    }
  }
}
