/**
 * The persistent hash cache: sha256 of files by (dev, ino, size, mtimeNs, ctimeNs), in a JSON
 * file, so that a scan does not re-read files that did not change.
 *
 * Why these keys: a write changes size or mtime; `touch -d`, `cp -p` or rsync can set mtime back
 * but not ctime (the kernel sets it on every content or metadata change), so a file rewritten with
 * its old size and mtime is still detected. A replaced file (rename over it) has another inode.
 *
 * "Racily clean" files (git's term): a file written again within the same timestamp tick just
 * after it was hashed would keep size, mtime and ctime while its content changed. So a hash is
 * cached only when the file's mtime and ctime are at least `racyWindowMs` older than the moment
 * its hashing started; a fresher file is hashed again by the next scan (and cached then).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BigIntStats } from 'node:fs';
import { errnoOf, writeFileAtomic } from './fsutil.js';

/** Timestamps are coarse-clock ticks (≤ 10 ms on Linux); one second is a wide margin. */
export const DEFAULT_RACY_WINDOW_MS = 1000;

interface CacheFile {
  readonly version: 1;
  readonly entries: Record<string, string>;
}

export interface HashCacheOptions {
  /** Files changed less than this long before their hashing started are not cached. */
  readonly racyWindowMs?: number;
}

/** The cache key of a file's status (bigint stats: inode numbers and ns times exceed 2^53). */
export const cacheKey = (st: BigIntStats): string =>
  `${String(st.dev)}:${String(st.ino)}:${String(st.size)}:${String(st.mtimeNs)}:${String(st.ctimeNs)}`;

export class HashCache {
  private entries: Map<string, string>;
  private dirty = false;
  readonly racyWindowMs: number;

  private constructor(readonly file: string, entries: Map<string, string>, options: HashCacheOptions) {
    this.entries = entries;
    this.racyWindowMs = options.racyWindowMs ?? DEFAULT_RACY_WINDOW_MS;
  }

  /**
   * Loads the cache from `file` (conventionally `<root>/.tandem-sync/hash-cache.json`). A missing
   * or unreadable file is an empty cache: the cache only saves work, it never decides.
   */
  static async open(file: string, options: HashCacheOptions = {}): Promise<HashCache> {
    let entries = new Map<string, string>();
    try {
      const doc = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheFile> | null;
      if (doc?.version === 1 && typeof doc.entries === 'object') {
        entries = new Map(Object.entries(doc.entries).filter(([, v]) => /^[0-9a-f]{64}$/.test(v)));
      }
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    }
    return new HashCache(file, entries, options);
  }

  get size(): number { return this.entries.size; }

  lookup(st: BigIntStats): string | undefined {
    return this.entries.get(cacheKey(st));
  }

  /**
   * Records `sha256` for a file with status `st` whose hashing started at wall-clock `startedMs`.
   * Returns false (and records nothing) when the file is too fresh to be trusted later.
   */
  record(st: BigIntStats, sha256: string, startedMs: number): boolean {
    const changedMs = Number((st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) / 1_000_000n);
    if (changedMs > startedMs - this.racyWindowMs) return false;
    const key = cacheKey(st);
    if (this.entries.get(key) !== sha256) {
      this.entries.set(key, sha256);
      this.dirty = true;
    }
    return true;
  }

  /** Keeps only the given keys (those a complete scan saw): drops files that changed or left. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.entries.keys()) {
      if (!keys.has(key)) {
        this.entries.delete(key);
        this.dirty = true;
      }
    }
  }

  /** Writes the cache atomically if it changed. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const doc: CacheFile = { version: 1, entries: Object.fromEntries(this.entries) };
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(doc));
    this.dirty = false;
  }
}
