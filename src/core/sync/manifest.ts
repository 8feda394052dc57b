/**
 * Manifests of a synchronized root and the plan that makes a target equal to a source.
 *
 * A root (`config`, `firmware`, `license`, `data`) is described by its manifest: every regular
 * file under it, by relative path, with size, mtime and sha256. The primary compares its manifest
 * with the secondary's and sends what differs (`planSync`). Pure: the adapter
 * (`src/adapters/files`) scans trees, hashes prefixes and applies plans; see docs/sync-store.md.
 *
 * Paths are relative, `/`-separated, normalized: no empty, `.` or `..` segment, no leading or
 * trailing `/`, no NUL, and never inside the store's work directory `.tandem-sync/`. A path that
 * breaks these rules is a programming or protocol error: every function here throws a
 * `SyncPathError` naming the path, the side it came from and the rule.
 */

/** The store's own work directory at the top of every root (transfers in flight, hash cache). */
export const SYNC_WORK_DIR = '.tandem-sync';

/** One regular file of a root. */
export interface FileEntry {
  /** Relative path inside the root (see the module comment for the rules). */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time (ms since the epoch, may have a fraction): informational, never decides. */
  readonly mtimeMs: number;
  /** sha256 of the content, 64 lowercase hex digits. */
  readonly sha256: string;
}

/**
 * A root's manifest: relative path → entry, every key equal to its entry's `path`. A map (not a
 * sorted array) so that lookups by path are O(1); the order of the map carries no meaning —
 * everything derived from it is sorted by path (`manifestEntries`, `planSync`). On the wire it
 * travels as `manifestEntries(m)` and comes back through `manifestFromEntries`, which validates.
 */
export type Manifest = ReadonlyMap<string, FileEntry>;

/** "Append from": the target already holds the first `from` bytes, whose sha256 is `prefixSha256`. */
export interface AppendFrom {
  readonly from: number;
  /** sha256 of the target's current copy (its first `from` bytes); the receiver checks it. */
  readonly prefixSha256: string;
}

/** One file to send: the source's entry, and `append` when only the tail past `from` is sent. */
export interface SendItem {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** The source's mtime, for the receiver to set on its copy (informational). */
  readonly mtimeMs: number;
  readonly append?: AppendFrom;
}

/** What the target must do to equal the source: remove first, then receive. */
export interface SyncPlan {
  /** Files to send, sorted by path. */
  readonly send: readonly SendItem[];
  /** Files the target has and the source does not, sorted by path. Apply these before `send`. */
  readonly remove: readonly string[];
  /** Bytes to transfer: whole sizes, and only the tails of appends. */
  readonly bytes: number;
  /** Files to transfer (`send.length`). */
  readonly files: number;
}

/** sha256 of the first `bytes` bytes of one source file. */
export interface PrefixHash {
  readonly bytes: number;
  readonly sha256: string;
}

/** Prefix hashes of source files, by path: the answer to `appendCandidates`. */
export type PrefixHashes = ReadonlyMap<string, PrefixHash>;

/** A prefix hash the planner would use: source file `path`, hashed over its first `bytes` bytes. */
export interface AppendCandidate {
  readonly path: string;
  readonly bytes: number;
}

export type ManifestSide = 'source' | 'target' | 'manifest' | 'prefix';

/** An invalid path or entry: a programming or protocol error, never a runtime condition. */
export class SyncPathError extends Error {
  constructor(readonly path: string, readonly side: ManifestSide, readonly reason: string) {
    super(`invalid path ${JSON.stringify(path)} in the ${side}: ${reason}`);
    this.name = 'SyncPathError';
  }
}

/** Why `path` is not a valid relative path, or undefined when it is. */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'empty';
  if (path.includes('\0')) return 'contains NUL';
  if (path.startsWith('/')) return 'absolute';
  if (path.endsWith('/')) return 'ends with "/"';
  const segments = path.split('/');
  if (segments.includes('')) return 'contains an empty segment ("//")';
  if (segments.includes('..')) return 'contains a ".." segment';
  if (segments.includes('.')) return 'contains a "." segment';
  if (segments[0] === SYNC_WORK_DIR) return `inside the store's work directory ${SYNC_WORK_DIR}/`;
  return undefined;
}

/** Throws a `SyncPathError` unless `path` is a valid relative path. */
export function validatePath(path: string, side: ManifestSide = 'manifest'): void {
  const problem = pathProblem(path);
  if (problem !== undefined) throw new SyncPathError(path, side, problem);
}

const SHA256 = /^[0-9a-f]{64}$/;
const isSize = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

function validateEntry(key: string, entry: FileEntry, side: ManifestSide): void {
  validatePath(key, side);
  if (entry.path !== key) throw new SyncPathError(key, side, `keyed under a different path ${JSON.stringify(entry.path)}`);
  if (!isSize(entry.size)) throw new SyncPathError(key, side, `size ${String(entry.size)} is not a non-negative integer`);
  if (!Number.isFinite(entry.mtimeMs)) throw new SyncPathError(key, side, 'mtimeMs is not a finite number');
  if (!SHA256.test(entry.sha256)) throw new SyncPathError(key, side, 'sha256 is not 64 lowercase hex digits');
}

/**
 * Checks every entry of a manifest, and that no path is both a file and a directory (`a` and
 * `a/b`): a real tree cannot produce that, so it is a protocol error.
 */
export function validateManifest(m: Manifest, side: ManifestSide = 'manifest'): void {
  for (const [key, entry] of m) validateEntry(key, entry, side);
  for (const key of m.keys()) {
    for (let i = key.indexOf('/'); i !== -1; i = key.indexOf('/', i + 1)) {
      const dir = key.slice(0, i);
      if (m.has(dir)) throw new SyncPathError(key, side, `its parent ${JSON.stringify(dir)} is a file`);
    }
  }
}

/** Code-unit order of paths (`<`): the same on every node, whatever the locale. */
export const comparePaths = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Builds a manifest from entries (e.g. received on the wire), validating them; refuses duplicates. */
export function manifestFromEntries(entries: Iterable<FileEntry>, side: ManifestSide = 'manifest'): Manifest {
  const m = new Map<string, FileEntry>();
  for (const e of entries) {
    if (m.has(e.path)) throw new SyncPathError(e.path, side, 'listed twice');
    m.set(e.path, { path: e.path, size: e.size, mtimeMs: e.mtimeMs, sha256: e.sha256 });
  }
  validateManifest(m, side);
  return m;
}

/** The entries of a manifest sorted by path: the canonical (wire) form. */
export function manifestEntries(m: Manifest): FileEntry[] {
  return [...m.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/** Total bytes of a manifest's files. */
export function manifestBytes(m: Manifest): number {
  let total = 0;
  for (const e of m.values()) total += e.size;
  return total;
}

/** Two entries have the same content when size and sha256 match; mtime never decides. */
export const sameContent = (a: FileEntry, b: FileEntry): boolean => a.size === b.size && a.sha256 === b.sha256;

/**
 * The files whose prefix hash would let the planner send only a tail: present on both sides,
 * different, and the target's copy is shorter but not empty. For each, the source side computes
 * the sha256 of its file's first `bytes` bytes (the adapter's `prefixSha256`) and passes the
 * answers to `planSync` as `PrefixHashes`. Sorted by path.
 */
export function appendCandidates(source: Manifest, target: Manifest): AppendCandidate[] {
  validateManifest(source, 'source');
  validateManifest(target, 'target');
  const out: AppendCandidate[] = [];
  for (const s of manifestEntries(source)) {
    const t = target.get(s.path);
    if (t !== undefined && !sameContent(s, t) && t.size > 0 && t.size < s.size) out.push({ path: s.path, bytes: t.size });
  }
  return out;
}

/**
 * What one path needs: nothing (`undefined`), removal, or a send item. A grown file is sent as
 * an append when the source's prefix hash over the target's size equals the target's sha256
 * (the target's copy is exactly the source's beginning); otherwise the whole file is sent.
 * Entries are assumed valid (see `planSync`).
 */
export function planEntry(
  source: FileEntry | undefined,
  target: FileEntry | undefined,
  prefix?: PrefixHash,
): SendItem | 'remove' | undefined {
  if (source === undefined) return target === undefined ? undefined : 'remove';
  if (target !== undefined && sameContent(source, target)) return undefined;
  const item: SendItem = { path: source.path, size: source.size, sha256: source.sha256, mtimeMs: source.mtimeMs };
  if (target !== undefined && prefix !== undefined && target.size > 0 && target.size < source.size
    && prefix.bytes === target.size && prefix.sha256 === target.sha256) {
    return { ...item, append: { from: target.size, prefixSha256: target.sha256 } };
  }
  return item;
}

/**
 * The plan that makes `target` equal to `source`: every source file whose size or sha256
 * differs from the target's (or that the target lacks) is sent — as an append when `prefixes`
 * proves the target's copy is the source's beginning — and every target file the source lacks is
 * removed. Both lists sorted by path, whatever the maps' order. Throws `SyncPathError` for an
 * invalid manifest on either side or an invalid prefix hash.
 *
 * Apply removals first: a path that is a file on one side and a directory on the other then
 * resolves (removing `a/b` empties and removes directory `a` before file `a` arrives, and the
 * other way round).
 */
export function planSync(source: Manifest, target: Manifest, prefixes: PrefixHashes = new Map()): SyncPlan {
  validateManifest(source, 'source');
  validateManifest(target, 'target');
  for (const [path, p] of prefixes) {
    validatePath(path, 'prefix');
    if (!isSize(p.bytes) || !SHA256.test(p.sha256)) throw new SyncPathError(path, 'prefix', 'not a valid prefix hash');
  }
  const send: SendItem[] = [];
  let bytes = 0;
  for (const s of manifestEntries(source)) {
    const item = planEntry(s, target.get(s.path), prefixes.get(s.path));
    if (item === undefined || item === 'remove') continue;
    send.push(item);
    bytes += item.size - (item.append?.from ?? 0);
  }
  const remove = [...target.keys()].filter((p) => !source.has(p)).sort(comparePaths);
  return { send, remove, bytes, files: send.length };
}

/** The manifest the target holds once `plan` is applied (the source's entries for sent files). */
export function applyPlanToManifest(target: Manifest, plan: SyncPlan): Manifest {
  const out = new Map(target);
  for (const path of plan.remove) out.delete(path);
  for (const s of plan.send) out.set(s.path, { path: s.path, size: s.size, mtimeMs: s.mtimeMs, sha256: s.sha256 });
  return out;
}
