/**
 * Test support for the replication session tests (sessions*.test.ts): temporary roots, file
 * trees compared by content, and real sessions over a real channel on 127.0.0.1 (port 0). No
 * mocks: a "raw" peer is a plain channel end driven by the test. Support code, not a test file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { connectChannel, listenChannels, type Channel, type ChannelListener, type Frame } from '../../adapters/sync/channel.js';
import { hashCachePath, HashCache, INCOMING_DIR, openReceiver, type Receiver } from '../../adapters/files/index.js';
import { SYNC_WORK_DIR } from '../../core/sync/manifest.js';
import type { Generations } from '../../core/sync/state.js';
import { ReplicaSession, type ReplicaEvent } from './replica.js';
import type { SyncFeature } from './protocol.js';
import type { Roots } from './roots.js';
import { SourceSession } from './source.js';

export const HOST = '127.0.0.1';
export const KEY = randomBytes(32);
export const KEEPALIVE_MS = 100;
export const IDLE_TIMEOUT_MS = 2000;
export const GENERATIONS: Generations = { current: 'g-test', history: [] };
export const MiB = 1024 * 1024;

export const sha = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
export const delay = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms); });

/** A maker of fresh empty directories under one temporary base, removed after the file's tests. */
export function tempDirs(prefix: string): { base: string; fresh: (name?: string) => string } {
  const base = mkdtempSync(join(tmpdir(), prefix));
  after(() => { rmSync(base, { recursive: true, force: true }); });
  let counter = 0;
  return {
    base,
    fresh: (name = 'd') => {
      const dir = join(base, `${name}${String(++counter)}`);
      mkdirSync(dir);
      return dir;
    },
  };
}

/** Writes `data` at `rel` under `root` (synchronously: one step as the watcher sees it), creating parents. */
export function put(root: string, rel: string, data: string | Uint8Array): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), data);
}

/**
 * A tree by content: relative path → 'dir' or the file's sha256, the store's work directory at
 * the top left out. Anything else (a symlink…) is listed by its kind, so it shows in a comparison.
 */
export function treeOf(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      if (rel === '' && name === SYNC_WORK_DIR) continue;
      const child = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, child));
      if (st.isDirectory()) { out.set(child, 'dir'); walk(child); }
      else if (st.isFile()) out.set(child, sha(readFileSync(join(root, child))));
      else out.set(child, 'special');
    }
  };
  walk('');
  return out;
}

/** Both trees hold the same directories and the same files, byte for byte. */
export function assertSameTree(source: string, replica: string, message = 'the replica equals the source'): void {
  const a = treeOf(source);
  const b = treeOf(replica);
  const diff: string[] = [];
  for (const [p, v] of a) if (b.get(p) !== v) diff.push(`${p}: source ${v.slice(0, 12)}, replica ${b.get(p)?.slice(0, 12) ?? 'missing'}`);
  for (const p of b.keys()) if (!a.has(p)) diff.push(`${p}: only on the replica`);
  assert.deepEqual(diff, [], `${message}:\n${diff.join('\n')}`);
}

/**
 * A tree with its attributes, as `lstat` sees it (never following a link): relative path → kind,
 * permission bits, owner, and for files and symlinks their mtime (µs) and content (a symlink's
 * target). Directory mtimes are left out (they change with every entry made in them).
 */
export function attrTreeOf(root: string): Map<string, string> {
  const out = new Map<string, string>();
  // µs, rounded to 10: utimes() takes double seconds, exact to a fraction of a µs only.
  const timeOf = (ns: bigint): string => `t${String((ns + 5000n) / 10000n)}`;
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      if (rel === '' && name === SYNC_WORK_DIR) continue;
      const child = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, child);
      const st = lstatSync(abs, { bigint: true });
      const owner = `${(st.mode & 0o7777n).toString(8)} ${String(st.uid)}:${String(st.gid)}`;
      const mtime = timeOf(st.mtimeNs);
      if (st.isDirectory()) { out.set(child, `dir ${owner}`); walk(child); }
      else if (st.isSymbolicLink()) out.set(child, `symlink ${owner} ${mtime} -> ${readlinkSync(abs)}`);
      else if (st.isFile()) out.set(child, `file ${owner} ${mtime} ${sha(readFileSync(abs))}`);
      else out.set(child, 'special');
    }
  };
  walk('');
  return out;
}

/** Both trees hold the same entries with the same attributes (see `attrTreeOf`). */
export function assertSameAttrTree(source: string, replica: string, message = 'the replica equals the source, attributes included'): void {
  const a = attrTreeOf(source);
  const b = attrTreeOf(replica);
  const diff: string[] = [];
  for (const [p, v] of a) if (b.get(p) !== v) diff.push(`${p}: source ${v}, replica ${b.get(p) ?? 'missing'}`);
  for (const p of b.keys()) if (!a.has(p)) diff.push(`${p}: only on the replica`);
  assert.deepEqual(diff, [], `${message}:\n${diff.join('\n')}`);
}

/** Transfers in flight (or left over) under a root's work directory. */
export function incomingOf(root: string): string[] {
  const dir = join(root, INCOMING_DIR);
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Every name under a root (work directory included) that looks like a temporary transfer. */
export function partsUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(join(dir, e.name), child);
      else if (e.name.endsWith('.part')) out.push(child);
    }
  };
  walk(root, '');
  return out;
}

/** One side's stores (kept across sessions, as the service keeps them). */
export interface Side {
  readonly roots: Roots;
  readonly receivers: Map<string, Receiver>;
  readonly hashCaches: Map<string, HashCache>;
}

/** Opens the receivers (after `recover()`, keeping partials as the service does) and hash caches of every root. */
export async function openSide(roots: Roots): Promise<Side> {
  const receivers = new Map<string, Receiver>();
  const hashCaches = new Map<string, HashCache>();
  for (const [name, dir] of roots) {
    const rx = openReceiver(dir);
    await rx.recover({ keepPartials: true }); // as the service does at start
    receivers.set(name, rx);
    hashCaches.set(name, await HashCache.open(hashCachePath(dir)));
  }
  return { roots, receivers, hashCaches };
}

export type LogLine = { level: string; message: string };

/** A connected channel pair over TCP: `server` is the source's end, `client` the replica's. */
export interface ChannelPair {
  readonly server: Channel;
  readonly client: Channel;
  readonly listener: ChannelListener;
  /** Closes both ends and the listener, and waits for them. */
  close(): Promise<void>;
}

/**
 * Pairs not closed yet: a test that fails before its own cleanup leaves no socket, timer or
 * session behind (closing the channels ends the sessions on them), so the test process exits.
 */
const openPairs = new Set<ChannelPair>();
after(async () => { for (const p of [...openPairs]) await p.close(); });

export async function channelPair(): Promise<ChannelPair> {
  let handOver: (ch: Channel) => void = () => undefined;
  const accepted = new Promise<Channel>((resolve) => { handOver = resolve; });
  const listener = await listenChannels({
    host: HOST, port: 0, key: KEY, idleTimeoutMs: IDLE_TIMEOUT_MS,
    accept: () => ({ ok: true, header: { generations: GENERATIONS, roots: [] } }),
    onChannel: (ch) => { handOver(ch); },
  });
  try {
    const client = await connectChannel({
      host: HOST, port: listener.port, key: KEY, idleTimeoutMs: IDLE_TIMEOUT_MS,
      hello: { cluster: 'test', node: 'b', uuid: null, generations: GENERATIONS },
    });
    const server = await accepted;
    const pair: ChannelPair = {
      server, client, listener,
      async close() {
        openPairs.delete(pair);
        client.close('test over');
        server.close('test over');
        await Promise.all([client.closed, server.closed]);
        await listener.close();
      },
    };
    openPairs.add(pair);
    return pair;
  } catch (err) {
    await listener.close();
    throw err;
  }
}

/** The events a replica reported, with waits on them. */
export class Events {
  readonly all: ReplicaEvent[] = [];
  private readonly waiters: { pred: (e: ReplicaEvent) => boolean; resolve: (e: ReplicaEvent) => void }[] = [];

  push = (e: ReplicaEvent): void => {
    this.all.push(e);
    for (const w of [...this.waiters]) {
      if (w.pred(e)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  };

  /** The first event (already seen or to come) that matches, or a rejection once `ended` settles. */
  wait<E extends ReplicaEvent>(pred: (e: ReplicaEvent) => e is E, ended: Promise<string>): Promise<E>;
  wait(pred: (e: ReplicaEvent) => boolean, ended: Promise<string>): Promise<ReplicaEvent>;
  wait(pred: (e: ReplicaEvent) => boolean, ended: Promise<string>): Promise<ReplicaEvent> {
    const seen = this.all.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve });
      void ended.then((reason) => { reject(new Error(`the session ended before the event: ${reason}`)); });
    });
  }

  of<K extends ReplicaEvent['kind']>(kind: K): Extract<ReplicaEvent, { kind: K }>[] {
    return this.all.filter((e): e is Extract<ReplicaEvent, { kind: K }> => e.kind === kind);
  }
}

export const isCaughtUp = (e: ReplicaEvent): e is Extract<ReplicaEvent, { kind: 'caught-up' }> => e.kind === 'caught-up';
export const isPlanned = (e: ReplicaEvent): e is Extract<ReplicaEvent, { kind: 'planned' }> => e.kind === 'planned';

export interface SessionOptions {
  readonly rateBytesPerSec?: number;
  /** Replaces the replica's receivers (e.g. one that tampers with a transfer). */
  readonly receivers?: ReadonlyMap<string, Receiver>;
  /** The source's periodic full pass (e.g. an hour: only the watcher can report a change). */
  readonly rescanMs?: number;
  /** The rate limiter's clock and wait (default: performance.now and a timer). */
  readonly clock?: { readonly now: () => number; readonly sleep: (ms: number) => Promise<void> };
  /** Negotiated features (default none: the protocol of peers from before features). */
  readonly features?: readonly SyncFeature[];
  /** Told each time the replica confirmed live changes, with their lag (ms). */
  readonly confirmed?: (lagMs: number) => void;
}

/** A real source and a real replica over a real channel. */
export interface Sessions {
  readonly pair: ChannelPair;
  readonly source: SourceSession;
  readonly replica: ReplicaSession;
  readonly events: Events;
  readonly sourceLog: LogLine[];
  readonly replicaLog: LogLine[];
  /** Resolves with the caught-up event (rejects if the session ends first). */
  caughtUp(): Promise<Extract<ReplicaEvent, { kind: 'caught-up' }>>;
  /** Closes both sessions and the channel; resolves with both close reasons. */
  close(): Promise<{ source: string; replica: string }>;
}

export async function startSessions(src: Side, rep: Side, options: SessionOptions = {}): Promise<Sessions> {
  const pair = await channelPair();
  const events = new Events();
  const sourceLog: LogLine[] = [];
  const replicaLog: LogLine[] = [];
  const source = new SourceSession({
    channel: pair.server, roots: src.roots, hashCaches: src.hashCaches,
    rateBytesPerSec: options.rateBytesPerSec ?? 0,
    generations: () => GENERATIONS,
    keepaliveMs: KEEPALIVE_MS, now: options.clock?.now ?? (() => performance.now()),
    ...(options.clock === undefined ? {} : { sleep: options.clock.sleep }),
    log: (level, message) => { sourceLog.push({ level, message }); },
    ...(options.rescanMs === undefined ? {} : { rescanMs: options.rescanMs }),
    features: options.features ?? [],
    ...(options.confirmed === undefined ? {} : { confirmed: options.confirmed }),
  });
  const replica = new ReplicaSession({
    channel: pair.client, roots: rep.roots, receivers: options.receivers ?? rep.receivers, hashCaches: rep.hashCaches,
    keepaliveMs: KEEPALIVE_MS,
    log: (level, message) => { replicaLog.push({ level, message }); },
    onEvent: events.push,
    features: options.features ?? [],
  });
  return {
    pair, source, replica, events, sourceLog, replicaLog,
    caughtUp: () => events.wait(isCaughtUp, replica.done),
    async close() {
      source.close('test over');
      replica.close('test over');
      const [s, r] = await Promise.all([source.done, replica.done]);
      await pair.close();
      return { source: s, replica: r };
    },
  };
}

/** A side with one root named `data` at `dir`. */
export const dataSide = (dir: string): Promise<Side> => openSide(new Map([['data', dir]]));

/** Visible entries of a root (the work directory left out), sorted. */
export const visibleNames = (root: string): string[] => [...treeOf(root).keys()];

/** The next frame that is not a keepalive; null once the channel closed. */
export async function nextFrame(ch: Channel): Promise<Frame | null> {
  for (;;) {
    const f = await ch.next();
    if (f === null || f.header.type !== 'ping') return f;
  }
}

/** A real source on `channel` (a raw replica on the other end, driven by the test). */
export function sourceOn(channel: Channel, side: Side, rateBytesPerSec = 0): SourceSession {
  return new SourceSession({
    channel, roots: side.roots, hashCaches: side.hashCaches, rateBytesPerSec,
    generations: () => GENERATIONS, keepaliveMs: KEEPALIVE_MS, now: () => performance.now(), log: () => undefined,
  });
}

/** A real replica of one root `data` at `rep`, and a raw source (`ch`) that has taken its manifests. */
export interface RawSource {
  readonly ch: Channel;
  readonly replica: ReplicaSession;
  readonly events: Events;
  readonly log: LogLine[];
  close(): Promise<void>;
}

export async function rawSource(rep: string): Promise<RawSource> {
  const pair = await channelPair();
  const side = await dataSide(rep);
  const events = new Events();
  const log: LogLine[] = [];
  const replica = new ReplicaSession({
    channel: pair.client, roots: side.roots, receivers: side.receivers, hashCaches: side.hashCaches,
    keepaliveMs: KEEPALIVE_MS, log: (level, message) => { log.push({ level, message }); }, onEvent: events.push,
  });
  const close = async (): Promise<void> => {
    replica.close('test over');
    await replica.done;
    await pair.close();
  };
  try {
    for (;;) {
      const f = await nextFrame(pair.server);
      assert.ok(f !== null, 'the replica sends its manifests');
      if (f.header.type === 'manifests-done') break;
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { ch: pair.server, replica, events, log, close };
}
