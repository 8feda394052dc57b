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

/**
 * What an entry is. Absent means a regular file (the only kind a peer without the `attrs`
 * feature knows). Directories and symlinks appear only in manifests with attributes.
 */
export type EntryKind = 'dir' | 'symlink';

/** sha256 of no bytes: the "content" of a directory entry. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Two mtimes closer than this are equal: `utimes()` takes double seconds (sub-µs error at today's epoch). */
export const MTIME_TOLERANCE_MS = 0.002;

/**
 * One entry of a root: a regular file, or (with attributes) a directory or a symlink. A symlink's
 * "content" is its target: `size` its length in bytes, `sha256` its hash; a directory has size 0
 * and `EMPTY_SHA256`. `mode`, `uid` and `gid` are present when the scan records attributes (owners
 * only when the scanning node can set them).
 */
export interface FileEntry {
  /** Relative path inside the root (see the module comment for the rules). */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time (ms since the epoch, may have a fraction): informational, never decides. */
  readonly mtimeMs: number;
  /** sha256 of the content, 64 lowercase hex digits. */
  readonly sha256: string;
  readonly kind?: EntryKind;
  /** Permission bits (`mode & 0o7777`). */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** A symlink's target, as stored (never resolved). */
  readonly target?: string;
}

/** The attributes an entry may carry (copied from entry to send item to entry). */
const ATTR_KEYS = ['kind', 'mode', 'uid', 'gid', 'target'] as const;

/** `e`'s optional attributes only (absent ones stay absent, so old peers' entries keep their shape). */
export function attrsOf(e: Partial<Pick<FileEntry, (typeof ATTR_KEYS)[number]>>): Partial<Pick<FileEntry, (typeof ATTR_KEYS)[number]>> {
  const out: Record<string, unknown> = {};
  for (const k of ATTR_KEYS) if (e[k] !== undefined) out[k] = e[k];
  return out;
}

/** The kind of an entry: `'file'` for a regular file. */
export const kindOf = (e: Pick<FileEntry, 'kind'>): EntryKind | 'file' => e.kind ?? 'file';

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

/**
 * A transfer cut part-way that the receiver kept: it holds the first `from` bytes of the file
 * (whole version `size`/`sha256`), whose sha256 is `prefixSha256`, in its partial `id`.
 */
export interface ResumeFrom {
  readonly from: number;
  readonly prefixSha256: string;
  readonly id: string;
}

/**
 * One entry to send: the source's entry, and `append` when only the tail past `from` is sent,
 * `resume` when the receiver's partial copy is continued, `meta` when only the attributes
 * (mode, owner, mtime) differ and no content is sent.
 */
export interface SendItem {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** The source's mtime, for the receiver to set on its copy. */
  readonly mtimeMs: number;
  readonly append?: AppendFrom;
  readonly resume?: ResumeFrom;
  readonly meta?: true;
  readonly kind?: EntryKind;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly target?: string;
}

/** Bytes of content an item puts on the wire (directories, symlinks and attribute updates: none). */
export function itemBytes(item: SendItem): number {
  if (item.kind !== undefined || item.meta === true) return 0;
  return item.size - (item.append?.from ?? item.resume?.from ?? 0);
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
const isId = (n: number | undefined): boolean => n === undefined || (Number.isSafeInteger(n) && n >= 0 && n <= 0xffffffff);

function validateEntry(key: string, entry: FileEntry, side: ManifestSide): void {
  validatePath(key, side);
  if (entry.path !== key) throw new SyncPathError(key, side, `keyed under a different path ${JSON.stringify(entry.path)}`);
  if (!isSize(entry.size)) throw new SyncPathError(key, side, `size ${String(entry.size)} is not a non-negative integer`);
  if (!Number.isFinite(entry.mtimeMs)) throw new SyncPathError(key, side, 'mtimeMs is not a finite number');
  if (!SHA256.test(entry.sha256)) throw new SyncPathError(key, side, 'sha256 is not 64 lowercase hex digits');
  const kind: string | undefined = entry.kind; // a received entry may hold anything
  if (kind !== undefined && kind !== 'dir' && kind !== 'symlink') throw new SyncPathError(key, side, `unknown kind ${kind}`);
  if (entry.mode !== undefined && !(Number.isSafeInteger(entry.mode) && entry.mode >= 0 && entry.mode <= 0o7777)) throw new SyncPathError(key, side, 'mode is not in 0..0o7777');
  if (!isId(entry.uid) || !isId(entry.gid)) throw new SyncPathError(key, side, 'uid or gid is not a 32-bit id');
  if (entry.kind === 'symlink') {
    if (typeof entry.target !== 'string' || entry.target.length === 0 || entry.target.includes('\0')) throw new SyncPathError(key, side, 'a symlink needs a non-empty target without NUL');
  } else if (entry.target !== undefined) {
    throw new SyncPathError(key, side, 'only a symlink has a target');
  }
  if (entry.kind === 'dir' && (entry.size !== 0 || entry.sha256 !== EMPTY_SHA256)) throw new SyncPathError(key, side, 'a directory has size 0 and the empty hash');
}

/**
 * Checks every entry of a manifest, and that no path lies under a file or a symlink (`a` and
 * `a/b` with `a` not a directory entry): a real tree cannot produce that, so it is a protocol error.
 */
export function validateManifest(m: Manifest, side: ManifestSide = 'manifest'): void {
  for (const [key, entry] of m) validateEntry(key, entry, side);
  for (const key of m.keys()) {
    for (let i = key.indexOf('/'); i !== -1; i = key.indexOf('/', i + 1)) {
      const dir = key.slice(0, i);
      const parent = m.get(dir);
      if (parent !== undefined && parent.kind !== 'dir') throw new SyncPathError(key, side, `its parent ${JSON.stringify(dir)} is a ${parent.kind ?? 'file'}`);
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
    m.set(e.path, { path: e.path, size: e.size, mtimeMs: e.mtimeMs, sha256: e.sha256, ...attrsOf(e) });
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

/** Two entries have the same content when kind, size and sha256 match (a symlink's target is its content). */
export const sameContent = (a: FileEntry, b: FileEntry): boolean => a.size === b.size && a.sha256 === b.sha256 && a.kind === b.kind;

/**
 * Same attributes: each of mode, uid, gid compared when both sides carry it (a peer that cannot
 * set owners does not report them), and the mtime of files and symlinks when both carry modes
 * (attributes replicated). A directory's mtime changes with every entry made in it, on each node:
 * it is not compared. Without attributes, mtime is informational and never decides.
 */
export function sameAttrs(a: FileEntry, b: FileEntry): boolean {
  if (a.mode !== undefined && b.mode !== undefined && a.mode !== b.mode) return false;
  if (a.uid !== undefined && b.uid !== undefined && a.uid !== b.uid) return false;
  if (a.gid !== undefined && b.gid !== undefined && a.gid !== b.gid) return false;
  if (a.mode !== undefined && b.mode !== undefined && a.kind !== 'dir' && Math.abs(a.mtimeMs - b.mtimeMs) > MTIME_TOLERANCE_MS) return false;
  return true;
}

/** Whether the target's entry must be removed before the source's can take its path (a directory ↔ anything else). */
const mustReplace = (s: FileEntry, t: FileEntry): boolean => (s.kind === 'dir') !== (t.kind === 'dir');

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
    if (t !== undefined && s.kind === undefined && t.kind === undefined && !sameContent(s, t) && t.size > 0 && t.size < s.size) out.push({ path: s.path, bytes: t.size });
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
  const item: SendItem = { path: source.path, size: source.size, sha256: source.sha256, mtimeMs: source.mtimeMs, ...attrsOf(source) };
  if (target !== undefined && sameContent(source, target)) {
    if (sameAttrs(source, target)) return undefined;
    return source.kind === undefined ? { ...item, meta: true } : item;
  }
  if (target !== undefined && source.kind === undefined && target.kind === undefined && prefix !== undefined && target.size > 0 && target.size < source.size
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
 * other way round). With attributes, directories are entries too: a target directory the source
 * lacks (or holds as a file or symlink) is removed after everything under it — `remove` lists
 * files and symlinks sorted by path, then directories in reverse order (children first); a source
 * directory is sent before what it holds (sorted by path, a parent comes first). An entry whose
 * content is the same but whose attributes differ is sent with `meta` (no content).
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
  const replaced = new Set<string>();
  for (const s of manifestEntries(source)) {
    const t = target.get(s.path);
    const replace = t !== undefined && mustReplace(s, t);
    if (replace) replaced.add(s.path);
    const item = planEntry(s, replace ? undefined : t, prefixes.get(s.path));
    if (item === undefined || item === 'remove') continue;
    send.push(item);
    bytes += itemBytes(item);
  }
  const gone = [...target.values()].filter((e) => !source.has(e.path) || replaced.has(e.path));
  const remove = [
    ...gone.filter((e) => e.kind !== 'dir').map((e) => e.path).sort(comparePaths),
    ...gone.filter((e) => e.kind === 'dir').map((e) => e.path).sort((a, b) => comparePaths(b, a)),
  ];
  return { send, remove, bytes, files: send.length };
}

/** The manifest the target holds once `plan` is applied (the source's entries for sent files). */
export function applyPlanToManifest(target: Manifest, plan: SyncPlan): Manifest {
  const out = new Map(target);
  for (const path of plan.remove) out.delete(path);
  for (const s of plan.send) out.set(s.path, entryOfItem(s));
  return out;
}

/** The entry a target holds once `item` is applied. */
export function entryOfItem(item: SendItem): FileEntry {
  return { path: item.path, size: item.size, mtimeMs: item.mtimeMs, sha256: item.sha256, ...attrsOf(item) };
}
