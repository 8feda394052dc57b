/**
 * The secondary's side of a replication session (the replica). It tells the source what it holds
 * (one manifest per root), then applies what arrives, strictly in order: removals, and files
 * written aside, checked (size, sha256), fsynced and renamed into place by the crash-safe
 * receiver (adapters/files/receiver.ts). Up to `MAX_COMMITS` files are committed (fsynced,
 * renamed) at once while the next ones arrive — each commit stands alone, so a crash leaves every
 * file old or new — but a removal, a `plan`, `caught-up` and a `barrier` wait for every commit
 * before them, and a file waits for an earlier commit of the same path. So answering a `barrier`
 * once it is reached means everything before it is stored — or
 * refused: a file whose bytes are not as announced (size, sha256, the prefix of an append), or
 * that cannot be stored here, is answered `committed ok:false` (before any later ack), nothing of
 * it visible, and the session goes on. A malformed frame or a bad path ends the session.
 */
import type { Channel } from '../../adapters/sync/channel.js';
import { canSetOwners, scanTree, SyncIntegrityError, type HashCache, type IncomingFile, type Receiver } from '../../adapters/files/index.js';
import { itemBytes, manifestEntries, type SendItem } from '../../core/sync/manifest.js';
import type { Generations } from '../../core/sync/state.js';
import { MANIFEST_BATCH, parseMessage, ProtocolError, sourceMessage, type SourceMessage, type SyncFeature } from './protocol.js';
import type { Roots } from './roots.js';

export type ReplicaEvent =
  | { readonly kind: 'planned'; readonly bytes: number; readonly files: number }
  | { readonly kind: 'progress'; readonly bytesDone: number; readonly filesDone: number }
  | { readonly kind: 'caught-up'; readonly generations: Generations }
  /** A file of `root` changed (received or removed): e.g. the configuration to apply. */
  | { readonly kind: 'changed'; readonly root: string; readonly path: string };

export interface ReplicaOptions {
  readonly channel: Channel;
  readonly roots: Roots;
  /** One per root, recovered at process start. */
  readonly receivers: ReadonlyMap<string, Receiver>;
  readonly hashCaches: ReadonlyMap<string, HashCache>;
  readonly keepaliveMs: number;
  readonly log: (level: 'info' | 'warn' | 'error' | 'debug', message: string) => void;
  readonly onEvent: (e: ReplicaEvent) => void;
  /** The features the source accepted in its welcome (default none: the protocol of a peer from before features). */
  readonly features?: readonly SyncFeature[];
}

export interface ReplicaStats {
  filesReceived: number;
  bytesReceived: number;
  removed: number;
  /** Files refused on arrival (size or hash not as announced): nothing became visible. */
  refused: number;
}

/**
 * A transfer being received: `file` while it is being written, null once it failed — its
 * remaining chunks are then dropped and `file-end` answered with `problem`.
 */
interface Incoming {
  readonly root: string;
  readonly item: SendItem;
  file: IncomingFile | null;
  problem: string | null;
}

/**
 * Whether a failed transfer is refused (answered, the session goes on): bytes not as announced,
 * or a local condition (ENOSPC, EACCES…). Anything else — a bad path, a bad size — is the
 * source's error and ends the session.
 */
const refusable = (err: unknown): boolean =>
  err instanceof SyncIntegrityError || typeof (err as NodeJS.ErrnoException | undefined)?.code === 'string';

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Commits in flight at once: the fsyncs of small files overlap (the thread pool runs four). */
const MAX_COMMITS = 16;

export class ReplicaSession {
  readonly stats: ReplicaStats = { filesReceived: 0, bytesReceived: 0, removed: 0, refused: 0 };
  readonly done: Promise<string>;
  private readonly keepalive: NodeJS.Timeout;
  private closedReason: string | null = null;
  /** Counting the resync's progress until `caught-up`. */
  private resync: { bytesDone: number; filesDone: number } | null = null;
  /** Commits in flight, by `root/path`. */
  private readonly commits = new Map<string, Promise<void>>();
  /** A commit that failed for a reason that is no refusal: the session ends with it. */
  private failure: Error | null = null;
  private readonly attrs: boolean;
  /** Transfers cut by the end of a session are kept and offered to the next one (feature resume). */
  private readonly resume: boolean;

  constructor(private readonly o: ReplicaOptions) {
    this.resume = (o.features ?? []).includes('resume');
    this.attrs = (o.features ?? []).includes('attrs');
    this.keepalive = setInterval(() => { void o.channel.send({ type: 'ping' }).catch(() => undefined); }, o.keepaliveMs);
    this.done = this.run().then(
      () => this.finish('ended'),
      (err: unknown) => this.finish(err instanceof Error ? err.message : String(err)),
    );
  }

  close(reason: string): void {
    this.o.channel.close(reason);
  }

  private async run(): Promise<void> {
    for (const [name, dir] of this.o.roots) {
      const hashCache = this.o.hashCaches.get(name);
      // Owners are reported only when this node can set them: otherwise they never match.
      const scan = await scanTree(dir, { ...(hashCache === undefined ? {} : { hashCache }), ...(this.attrs ? { attrs: { owners: canSetOwners() } } : {}) });
      const entries = manifestEntries(scan.manifest);
      const partials = this.resume ? await this.receiver(name).partials() : [];
      for (let i = 0; i === 0 || i < entries.length; i += MANIFEST_BATCH) {
        await this.o.channel.send({
          type: 'manifest', root: name, entries: entries.slice(i, i + MANIFEST_BATCH), ...(i === 0 && partials.length > 0 ? { partials } : {}),
        });
      }
    }
    await this.o.channel.send({ type: 'manifests-done' });
    let incoming: Incoming | null = null;
    try {
      for (;;) {
        const frame = await this.o.channel.next();
        if (frame === null) throw new Error(this.o.channel.closeReason ?? 'closed');
        const m: SourceMessage = parseMessage(sourceMessage, frame.header, 'source');
        if (incoming !== null && m.type !== 'chunk' && m.type !== 'file-end' && m.type !== 'file-abort' && m.type !== 'ping') {
          throw new ProtocolError('source', `${m.type} in the middle of ${incoming.item.path}`);
        }
        switch (m.type) {
          case 'plan':
            await this.settle();
            this.resync = { bytesDone: 0, filesDone: 0 };
            this.o.onEvent({ kind: 'planned', bytes: m.bytes, files: m.files });
            break;
          case 'remove':
            await this.settle();
            // With attributes, directories are entries the source removes itself.
            await this.receiver(m.root).remove(m.path, { prune: !this.attrs });
            this.stats.removed++;
            this.o.onEvent({ kind: 'changed', root: m.root, path: m.path });
            this.progress(0, 1);
            break;
          case 'file': {
            const rx = this.receiver(m.root);
            // An earlier version of this file still being stored: after it (an append starts from it).
            await this.commits.get(`${m.root}/${m.item.path}`);
            this.check();
            incoming = { root: m.root, item: m.item, file: null, problem: null };
            try {
              incoming.file = await rx.begin(m.item);
            } catch (err) {
              // e.g. an append whose prefix is not the copy here: refused at file-end.
              if (!refusable(err)) throw err;
              incoming.problem = messageOf(err);
            }
            break;
          }
          case 'entry': {
            const rx = this.receiver(m.root);
            await this.commits.get(`${m.root}/${m.item.path}`);
            this.check();
            try {
              await rx.place(m.item);
            } catch (err) {
              if (!refusable(err)) throw err;
              await this.refuse(m.root, m.item.path, messageOf(err));
              break;
            }
            this.stats.filesReceived++;
            this.o.onEvent({ kind: 'changed', root: m.root, path: m.item.path });
            this.progress(0, 1);
            break;
          }
          case 'chunk':
            if (incoming === null) throw new ProtocolError('source', 'chunk outside a file');
            if (frame.payload === null) throw new ProtocolError('source', 'chunk without bytes');
            if (incoming.file !== null) {
              try {
                await incoming.file.write(frame.payload);
              } catch (err) {
                // e.g. more bytes than announced: the transfer is dropped, the rest skipped.
                if (!refusable(err)) throw err;
                incoming.problem = messageOf(err);
                await incoming.file.abort();
                incoming.file = null;
              }
            }
            this.progress(frame.payload.length, 0);
            break;
          case 'file-end': {
            if (incoming === null) throw new ProtocolError('source', 'file-end outside a file');
            const done = incoming;
            incoming = null;
            if (done.file !== null) await this.startCommit(done.root, done.file);
            else await this.refuse(done.root, done.item.path, done.problem ?? 'dropped');
            break;
          }
          case 'file-abort':
            if (incoming === null) throw new ProtocolError('source', 'file-abort outside a file');
            await incoming.file?.abort();
            incoming = null;
            break;
          case 'caught-up':
            await this.settle();
            // The partials the source did not continue are of versions it no longer sends.
            if (this.resume) for (const rx of this.o.receivers.values()) await rx.dropPartials();
            this.resync = null;
            this.o.onEvent({ kind: 'caught-up', generations: m.generations });
            break;
          case 'barrier':
            await this.settle();
            await this.o.channel.send({ type: 'barrier-ack', id: m.id });
            break;
          case 'ping':
            break;
        }
      }
    } finally {
      // A transfer cut in the middle never becomes visible (with resume, a large one is kept
      // aside for the next session); no commit outlives the session.
      if (incoming?.file) {
        if (this.resume) await incoming.file.suspend().catch(() => false);
        else await incoming.file.abort();
      }
      await Promise.allSettled(this.commits.values());
    }
  }

  /** Stores a file in the background, at most MAX_COMMITS at once. */
  private async startCommit(root: string, file: IncomingFile): Promise<void> {
    const key = `${root}/${file.item.path}`;
    const p = this.commit(root, file).catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
      this.o.channel.close(this.failure.message);
    }).finally(() => { if (this.commits.get(key) === p) this.commits.delete(key); });
    this.commits.set(key, p);
    while (this.commits.size >= MAX_COMMITS) await Promise.race(this.commits.values());
    this.check();
  }

  /** Waits until every commit started so far is done (stored, or refused and said so). */
  private async settle(): Promise<void> {
    await Promise.all(this.commits.values());
    this.check();
  }

  private check(): void {
    if (this.failure !== null) throw this.failure;
  }

  private async commit(root: string, file: IncomingFile): Promise<void> {
    const sent = itemBytes(file.item);
    try {
      await file.commit();
    } catch (err) {
      await file.abort();
      await this.refuse(root, file.item.path, messageOf(err));
      return;
    }
    this.stats.filesReceived++;
    this.stats.bytesReceived += sent;
    this.o.onEvent({ kind: 'changed', root, path: file.item.path });
    this.progress(0, 1);
  }

  /** Nothing of the file became visible: the source learns it and sends the file again. */
  private async refuse(root: string, path: string, problem: string): Promise<void> {
    this.stats.refused++;
    this.o.log('warn', `refused ${root}/${path}: ${problem}`);
    await this.o.channel.send({ type: 'committed', root, path, ok: false, problem: problem.slice(0, 500) });
  }

  /** Bytes count as they arrive, files once they are stored (or removed). */
  private progress(bytes: number, files: number): void {
    if (this.resync === null) return;
    this.resync.bytesDone += bytes;
    this.resync.filesDone += files;
    this.o.onEvent({ kind: 'progress', ...this.resync });
  }

  private receiver(root: string): Receiver {
    const rx = this.o.receivers.get(root);
    if (rx === undefined) throw new ProtocolError('source', `unknown root ${root}`);
    return rx;
  }

  private finish(reason: string): string {
    this.closedReason ??= reason;
    clearInterval(this.keepalive);
    this.o.channel.close(reason);
    return this.closedReason;
  }
}
