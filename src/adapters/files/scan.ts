/**
 * Scanning a root into its manifest (core/sync/manifest.ts), and hashing file prefixes for
 * append plans. Regular files only: symlinks and special files are refused and reported, never
 * followed; the store's work directory `.tandem-sync/` is skipped. Files are hashed 1 MiB at a
 * time through one reused buffer, so memory does not depend on file sizes.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  comparePaths, EMPTY_SHA256, SYNC_WORK_DIR, validatePath,
  type AppendCandidate, type FileEntry, type Manifest, type PrefixHash, type PrefixHashes,
} from '../../core/sync/manifest.js';
import { CHUNK_BYTES, errnoOf, hashHandle, openIfExists, parentsAreDirs } from './fsutil.js';
import { cacheKey, type HashCache } from './hash-cache.js';

/** Conventional place of a root's hash cache. */
export const hashCachePath = (root: string): string => join(root, SYNC_WORK_DIR, 'hash-cache.json');

export type RefusedKind = 'symlink' | 'fifo' | 'socket' | 'block-device' | 'char-device' | 'other' | 'name-not-utf8';

/** Something under the root that is not replicated, and why. */
export interface Refused {
  /** Relative path (a name that is not UTF-8 is shown with replacement characters). */
  readonly path: string;
  readonly kind: RefusedKind;
}

export interface ScanStats {
  readonly files: number;
  readonly bytes: number;
  /** Files read and hashed (the others came from the cache). */
  readonly hashedFiles: number;
  readonly hashedBytes: number;
  readonly cacheHits: number;
  /**
   * Regular files seen a second time under another name (same device and inode: a hard link).
   * Each name is an entry of its own: the peer gets separate files, not links.
   */
  readonly hardLinks: number;
}

export interface ScanResult {
  readonly manifest: Manifest;
  /** Entries not replicated (symlinks, special files, undecodable names), sorted by path. */
  readonly refused: readonly Refused[];
  /**
   * Files that kept changing while they were hashed (e.g. a log being written). Their entry
   * describes exactly the bytes that were read, which may mix two versions: replicate them again
   * once they settle (the engine's change events do).
   */
  readonly unstable: readonly string[];
  readonly stats: ScanStats;
}

export interface ScanOptions {
  /** Hash cache (see `HashCache.open` and `hashCachePath`); saved at the end of the scan. */
  readonly hashCache?: HashCache;
  /**
   * Record attributes (the `attrs` feature): every entry gets its mode, and its owner when
   * `owners`; directories and symlinks become entries (a symlink is read, never followed).
   * Without it, symlinks are refused and directories are not listed.
   */
  readonly attrs?: { readonly owners: boolean };
}

/** Whether this process can give files any owner (only root can): then owners are replicated. */
export const canSetOwners = (): boolean => process.getuid?.() === 0;

/** The attributes of `st` for an entry, as `options.attrs` asks. */
function attrsOfStat(st: BigIntStats, attrs: ScanOptions['attrs']): Pick<FileEntry, 'mode' | 'uid' | 'gid'> {
  if (attrs === undefined) return {};
  const mode = Number(st.mode) & 0o7777;
  return attrs.owners ? { mode, uid: Number(st.uid), gid: Number(st.gid) } : { mode };
}

/** The entry of a directory (attributes only: its content is what lies under it). */
const dirEntry = (rel: string, st: BigIntStats, attrs: NonNullable<ScanOptions['attrs']>): FileEntry =>
  ({ path: rel, kind: 'dir', size: 0, sha256: EMPTY_SHA256, mtimeMs: msOf(st.mtimeNs), ...attrsOfStat(st, attrs) });

/**
 * The entry of a symlink: its target, read as stored (never resolved, wherever it points);
 * undefined when it vanished, 'name-not-utf8' when the target is no valid UTF-8.
 */
async function symlinkEntry(abs: string, rel: string, st: BigIntStats, attrs: NonNullable<ScanOptions['attrs']>): Promise<FileEntry | 'name-not-utf8' | undefined> {
  let raw: Buffer;
  try {
    raw = await readlink(abs, { encoding: 'buffer' });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EINVAL') return undefined;
    throw err;
  }
  let target: string;
  try { target = decoder.decode(raw); } catch { return 'name-not-utf8'; }
  return {
    path: rel, kind: 'symlink', size: raw.length, sha256: createHash('sha256').update(raw).digest('hex'),
    mtimeMs: msOf(st.mtimeNs), target, ...attrsOfStat(st, attrs),
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function kindOf(st: BigIntStats): RefusedKind | 'file' | 'dir' {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isCharacterDevice()) return 'char-device';
  return 'other';
}

/** Milliseconds as `fs.Stats` computes them (seconds × 1e3 + ns / 1e6), from exact bigint ns. */
const msOf = (ns: bigint): number => Number(ns / 1_000_000_000n) * 1e3 + Number(ns % 1_000_000_000n) / 1e6;

const sameStatus = (a: BigIntStats, b: BigIntStats): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

interface Hashed {
  readonly entry: FileEntry;
  readonly fromCache: boolean;
  readonly stable: boolean;
  readonly key: string | undefined;
}

/** lstat calls in flight at once during a scan (the thread pool runs four by default). */
const STAT_BATCH = 64;

/** Attempts at a stable hash of a file that changes while it is read. */
const HASH_ATTEMPTS = 3;

/**
 * Hashes one regular file (opened without following symlinks), using and feeding the cache.
 * Undefined when the file vanished; throws when it is no longer a regular file.
 */
async function hashEntry(abs: string, rel: string, buffer: Buffer, cache: HashCache | undefined, attrs?: ScanOptions['attrs']): Promise<Hashed | undefined> {
  const fh = await openIfExists(abs);
  if (fh === undefined) return undefined;
  try {
    let before = await fh.stat({ bigint: true });
    if (!before.isFile()) throw new Error(`${rel} is no longer a regular file`);
    const cached = cache?.lookup(before);
    if (cached !== undefined) {
      return { entry: { path: rel, size: Number(before.size), mtimeMs: msOf(before.mtimeNs), sha256: cached, ...attrsOfStat(before, attrs) }, fromCache: true, stable: true, key: cacheKey(before) };
    }
    for (let attempt = 1; ; attempt++) {
      const startedMs = Date.now();
      const hash = createHash('sha256');
      const size = await hashHandle(fh, hash, buffer);
      const after = await fh.stat({ bigint: true });
      const stable = sameStatus(before, after) && BigInt(size) === after.size;
      const sha256 = hash.digest('hex');
      if (stable || attempt === HASH_ATTEMPTS) {
        const recorded = stable && cache !== undefined && cache.record(after, sha256, startedMs);
        return { entry: { path: rel, size, mtimeMs: msOf(after.mtimeNs), sha256, ...attrsOfStat(after, attrs) }, fromCache: false, stable, key: recorded ? cacheKey(after) : undefined };
      }
      before = after;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Scans `root` into its manifest. Throws if `root` is not a directory. A file that vanishes
 * during the scan is simply absent; a directory that cannot be read is an error.
 */
export async function scanTree(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  const rootStat = await lstat(root);
  if (!rootStat.isDirectory()) throw new Error(`cannot scan ${root}: not a directory`);
  const cache = options.hashCache;
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  const manifest = new Map<string, FileEntry>();
  const refused: Refused[] = [];
  const unstable: string[] = [];
  const seenKeys = new Set<string>();
  let hashedFiles = 0;
  let hashedBytes = 0;
  let cacheHits = 0;
  let bytes = 0;
  let hardLinks = 0;
  /** dev:ino of regular files with more than one link, to count the names seen again. */
  const linked = new Set<string>();
  const attrs = options.attrs;

  const stack: string[] = [''];
  for (let rel = stack.pop(); rel !== undefined; rel = stack.pop()) {
    const dirAbs = rel === '' ? root : join(root, rel);
    let names: Buffer[];
    try {
      names = await readdir(dirAbs, { encoding: 'buffer' });
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' && rel !== '') continue; // removed during the scan
      throw err;
    }
    // The names' status in parallel (the thread pool does the lstat calls), in order of the listing.
    const children: { rel: string; st: BigIntStats }[] = [];
    const valid: string[] = [];
    for (const raw of names) {
      let name: string;
      try {
        name = decoder.decode(raw);
      } catch {
        refused.push({ path: rel === '' ? raw.toString('utf8') : `${rel}/${raw.toString('utf8')}`, kind: 'name-not-utf8' });
        continue;
      }
      if (rel === '' && name === SYNC_WORK_DIR) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      validatePath(childRel); // a name from readdir never has "/" or NUL; "." and ".." are not listed
      valid.push(childRel);
    }
    for (let i = 0; i < valid.length; i += STAT_BATCH) {
      const batch = valid.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(batch.map(async (childRel) => {
        try {
          return await lstat(join(root, childRel), { bigint: true });
        } catch (err) {
          if (errnoOf(err) === 'ENOENT') return undefined;
          throw err;
        }
      }));
      batch.forEach((childRel, k) => { const st = stats[k]; if (st !== undefined) children.push({ rel: childRel, st }); });
    }
    for (const { rel: childRel, st } of children) {
      const kind = kindOf(st);
      if (kind === 'dir') {
        stack.push(childRel);
        if (attrs !== undefined) manifest.set(childRel, dirEntry(childRel, st, attrs));
      } else if (kind === 'symlink' && attrs !== undefined) {
        const e = await symlinkEntry(join(root, childRel), childRel, st, attrs);
        if (e === 'name-not-utf8') refused.push({ path: childRel, kind: e });
        else if (e !== undefined) manifest.set(childRel, e);
      } else if (kind === 'file') {
        if (st.nlink > 1n) {
          const id = `${String(st.dev)}:${String(st.ino)}`;
          if (linked.has(id)) hardLinks++;
          else linked.add(id);
        }
        // A file whose status is in the cache is not opened at all: the common case of a pass.
        const cached = cache?.lookup(st);
        const h = cached !== undefined
          ? { entry: { path: childRel, size: Number(st.size), mtimeMs: msOf(st.mtimeNs), sha256: cached, ...attrsOfStat(st, attrs) }, fromCache: true, stable: true, key: cacheKey(st) }
          : await hashEntry(join(root, childRel), childRel, buffer, cache, attrs);
        if (h === undefined) continue;
        manifest.set(childRel, h.entry);
        bytes += h.entry.size;
        if (h.key !== undefined) seenKeys.add(h.key);
        if (h.fromCache) cacheHits++;
        else { hashedFiles++; hashedBytes += h.entry.size; }
        if (!h.stable) unstable.push(childRel);
      } else {
        refused.push({ path: childRel, kind });
      }
    }
  }
  if (cache !== undefined) {
    cache.retain(seenKeys);
    await cache.save();
  }
  refused.sort((a, b) => comparePaths(a.path, b.path));
  unstable.sort(comparePaths);
  return { manifest, refused, unstable, stats: { files: manifest.size, bytes, hashedFiles, hashedBytes, cacheHits, hardLinks } };
}

/**
 * The entry of one file of a root (for replicating a single change): undefined when it does not
 * exist; throws when it is not a regular file (or, with `attrs`, a symlink) or a parent is a
 * symlink. Uses and feeds the cache without saving it (call `hashCache.save()` when convenient).
 */
export async function scanFile(root: string, path: string, options: ScanOptions = {}): Promise<FileEntry | undefined> {
  validatePath(path);
  if (!await parentsAreDirs(root, path)) return undefined;
  let st: BigIntStats;
  try {
    st = await lstat(join(root, path), { bigint: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
  const kind = kindOf(st);
  if (kind === 'symlink' && options.attrs !== undefined) {
    const e = await symlinkEntry(join(root, path), path, st, options.attrs);
    if (e === 'name-not-utf8') throw new Error(`${path}: the symlink's target is not UTF-8`);
    return e;
  }
  if (kind !== 'file') throw new Error(`${path} is not a regular file (${kind})`);
  const h = await hashEntry(join(root, path), path, Buffer.allocUnsafe(CHUNK_BYTES), options.hashCache, options.attrs);
  return h?.entry;
}

/**
 * sha256 of the first `bytes` bytes of `root/path` (for an append plan: `bytes` is the target's
 * size). Undefined when the file is missing or shorter than `bytes`.
 */
export async function prefixSha256(root: string, path: string, bytes: number): Promise<string | undefined> {
  validatePath(path);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes ${String(bytes)} is not a non-negative integer`);
  const fh = await openIfExists(join(root, path));
  if (fh === undefined) return undefined;
  try {
    const hash = createHash('sha256');
    const read = await hashHandle(fh, hash, Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(bytes, 1))), 0, bytes);
    return read === bytes ? hash.digest('hex') : undefined;
  } finally {
    await fh.close();
  }
}

/** The prefix hashes for `appendCandidates(source, target)`, computed on the source's root. */
export async function prefixHashes(root: string, candidates: readonly AppendCandidate[]): Promise<PrefixHashes> {
  const out = new Map<string, PrefixHash>();
  for (const c of candidates) {
    const sha256 = await prefixSha256(root, c.path, c.bytes);
    if (sha256 !== undefined) out.set(c.path, { bytes: c.bytes, sha256 });
  }
  return out;
}

/**
 * For a file that grew past `prefixBytes` (the replica's size): its entry and the sha256 of its
 * first `prefixBytes` bytes, from one read (an append plan needs both; two reads would double
 * the cost for a large log). Undefined when the file does not exist; `prefixSha256` undefined
 * when it is now shorter. Throws when it is not a regular file or a parent is a symlink. A file
 * that keeps changing while it is read is read again (at most three times), like a scan.
 */
export async function scanFileWithPrefix(
  root: string, path: string, prefixBytes: number, attrs?: ScanOptions['attrs'],
): Promise<{ entry: FileEntry; prefixSha256: string | undefined } | undefined> {
  validatePath(path);
  if (!Number.isSafeInteger(prefixBytes) || prefixBytes < 0) throw new RangeError(`prefixBytes ${String(prefixBytes)} is not a non-negative integer`);
  if (!await parentsAreDirs(root, path)) return undefined;
  const fh = await openIfExists(join(root, path));
  if (fh === undefined) return undefined;
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let before = await fh.stat({ bigint: true });
    if (!before.isFile()) throw new Error(`${path} is not a regular file`);
    for (let attempt = 1; ; attempt++) {
      const hash = createHash('sha256');
      const head = await hashHandle(fh, hash, buffer, 0, prefixBytes);
      const prefixSha256 = head === prefixBytes ? hash.copy().digest('hex') : undefined;
      const size = head + (head === prefixBytes ? await hashHandle(fh, hash, buffer, prefixBytes) : 0);
      const after = await fh.stat({ bigint: true });
      if ((sameStatus(before, after) && BigInt(size) === after.size) || attempt === HASH_ATTEMPTS) {
        return { entry: { path, size, mtimeMs: msOf(after.mtimeNs), sha256: hash.digest('hex'), ...attrsOfStat(after, attrs) }, prefixSha256 };
      }
      before = after;
    }
  } finally {
    await fh.close();
  }
}
