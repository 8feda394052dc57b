/**
 * The receiving side of the sync store: files arrive into `<root>/.tandem-sync/incoming/`, are
 * checked (size, sha256), fsynced and renamed into place. A transfer that is not committed —
 * aborted, refused, or cut by a crash — is never visible under the root; `recover()` removes its
 * leftovers at start. A small append (a log that grew by at most `IN_PLACE_APPEND_BYTES`) is
 * checked in memory and written onto the file in one write, under a note that lets `recover()`
 * roll a half-made one back: its cost follows the tail, not the file. The crash-safety argument
 * is in docs/sync-store.md.
 *
 *   const rx = openReceiver(root);
 *   await rx.recover();                          // once, before any transfer
 *   for (const path of plan.remove) await rx.remove(path);
 *   for (const item of plan.send) {
 *     const f = await rx.begin(item);            // large appends copy the current file first
 *     for await (const chunk of stream) await f.write(chunk);
 *     await f.commit();                          // or f.abort()
 *   }
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { constants, type BigIntStats } from 'node:fs';
import { copyFile, lchown, lstat, lutimes, mkdir, open, readdir, readFile, rename, rmdir, symlink, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { entryOfItem, pathProblem, SYNC_WORK_DIR, validatePath, type FileEntry, type SendItem } from '../../core/sync/manifest.js';
import { CHUNK_BYTES, ensureParents, errnoOf, fsyncDir, hashHandle, parentsAreDirs, sha256File } from './fsutil.js';
import { cacheKey } from './hash-cache.js';

/**
 * Largest tail appended in place (held in memory, written with one write): larger ones are
 * written onto a copy of the file, as any other transfer.
 */
export const IN_PLACE_APPEND_BYTES = 1024 * 1024;

/**
 * A whole-file transfer cut after at least this many bytes is kept for resuming (smaller ones are
 * cheaper to send again than to describe).
 */
export const RESUME_MIN_BYTES = 1024 * 1024;

/** Partials kept at most per root (the oldest beyond are dropped). */
export const MAX_PARTIALS = 16;

/** A transfer kept when it was cut (`suspend`): what the source needs to continue it. */
export interface PartialTransfer {
  /** Its stem under `incoming/` (a UUID): the source names it in `resume.id`. */
  readonly id: string;
  readonly path: string;
  /** The whole version it is a prefix of. */
  readonly size: number;
  readonly sha256: string;
  /** Bytes held, and their sha256. */
  readonly have: number;
  readonly prefixSha256: string;
}

/** Hash states of recently stored files, so that an append need not read the file again. */
const HASH_STATES = 256;

/** Where transfers in flight live, relative to the root. */
export const INCOMING_DIR = `${SYNC_WORK_DIR}/incoming`;

export type IntegrityProblem = 'size-mismatch' | 'hash-mismatch' | 'prefix-mismatch' | 'too-many-bytes';

/** A transfer refused because its bytes are not what was announced; nothing became visible. */
export class SyncIntegrityError extends Error {
  constructor(readonly path: string, readonly problem: IntegrityProblem, detail: string) {
    super(`refused ${path}: ${detail}`);
    this.name = 'SyncIntegrityError';
  }
}

export interface ReceiverOptions {
  /**
   * Mode of a received file that replaces nothing (a replaced file keeps its mode, an appended
   * one too). The manifest carries no modes: private by default.
   */
  readonly fileMode?: number;
  /** Mode of directories created for received files. */
  readonly dirMode?: number;
}

/** One transfer in flight. Await each `write` before the next, then `commit` or `abort`. */
export interface IncomingFile {
  readonly item: SendItem;
  /** Absolute path of the temporary file under `.tandem-sync/incoming/`. */
  readonly tempPath: string;
  /** Bytes of the file the temporary copy holds so far (the prefix of an append included). */
  readonly received: number;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Checks size and sha256, fsyncs, renames into place (creating parent directories), fsyncs
   * the directory; returns the entry of the file now visible. On a mismatch throws a
   * `SyncIntegrityError` and removes the temporary file: nothing becomes visible.
   */
  commit(): Promise<FileEntry>;
  /** Drops the transfer (idempotent). */
  abort(): Promise<void>;
  /**
   * The transfer was cut (the session ended): a whole file with at least `RESUME_MIN_BYTES`
   * received is kept under `incoming/` (fsynced) for `partials()` and a later `begin` with
   * `resume`; anything else is dropped. Returns whether it was kept.
   */
  suspend(): Promise<boolean>;
}

/** A leftover of an interrupted transfer, found and removed by `recover()`. */
export interface Leftover {
  /** Name of the temporary file under `.tandem-sync/incoming/`. */
  readonly name: string;
  /** The file it was meant to become, when its note survived. */
  readonly path?: string;
  /** Bytes it held. */
  readonly bytes: number;
}

export interface RemoveOptions {
  /**
   * Also remove the parent directories the entry leaves empty (default true: without the
   * `attrs` feature directories are not entries, they follow their files). With attributes the
   * source says which directories go.
   */
  readonly prune?: boolean;
}

export interface Receiver {
  readonly root: string;
  begin(item: SendItem): Promise<IncomingFile>;
  /**
   * Places what has no content to stream: a directory (`kind: 'dir'`, made or given its
   * attributes), a symlink (`kind: 'symlink'`, made aside and renamed into place, never
   * followed), or new attributes of a regular file already here (`meta`). Durable on return.
   */
  place(item: SendItem): Promise<FileEntry>;
  /**
   * Deletes a file or symlink (never what it points at), or an empty directory, and with
   * `prune` the directories it leaves empty; false when it did not exist.
   */
  remove(path: string, options?: RemoveOptions): Promise<boolean>;
  /**
   * Removes leftovers of interrupted transfers; call at start, with no transfer in flight. With
   * `keepPartials`, whole-file transfers cut part-way (by `suspend`, or by a crash) are kept
   * for resuming: still invisible, reported by `partials()`.
   */
  recover(options?: { readonly keepPartials?: boolean }): Promise<Leftover[]>;
  /**
   * The partial transfers kept (not in flight), each read once to hash what it holds (the hash
   * state is kept, so resuming does not read it again).
   */
  partials(): Promise<PartialTransfer[]>;
  /** Removes the kept partials not in flight (those the source did not resume). */
  dropPartials(): Promise<number>;
}

const isSize = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** What `<stem>.json` in the incoming directory says about a transfer. */
interface Note {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** An append in place: the file's length before it, to roll back to if it was cut. */
  readonly appendFrom?: number;
  /** A whole-file transfer: its `.part` may be kept and resumed. */
  readonly resumable?: true;
}

function checkItem(item: SendItem): void {
  validatePath(item.path, 'source');
  if (!isSize(item.size)) throw new RangeError(`${item.path}: size ${String(item.size)} is not a non-negative integer`);
  if (!/^[0-9a-f]{64}$/.test(item.sha256)) throw new RangeError(`${item.path}: sha256 is not 64 lowercase hex digits`);
  if (item.append !== undefined && item.resume !== undefined) throw new RangeError(`${item.path}: both append and resume`);
  const cont = item.append ?? item.resume;
  if (cont !== undefined) {
    const { from, prefixSha256 } = cont;
    if (!isSize(from) || from > item.size) throw new RangeError(`${item.path}: append from ${String(from)} is outside 0..${item.size}`);
    if (!/^[0-9a-f]{64}$/.test(prefixSha256)) throw new RangeError(`${item.path}: prefixSha256 is not 64 lowercase hex digits`);
  }
}

/** Only root can give a file away: owners are applied when this process runs as root. */
const canChown = (): boolean => process.getuid?.() === 0;

/**
 * Gives an open file the item's owner, then its mode (in that order: chown clears set-id bits),
 * as far as the item carries them. Through the descriptor: never through a path a link could
 * redirect.
 */
async function applyAttrs(fh: FileHandle, item: SendItem): Promise<void> {
  if (item.uid !== undefined && item.gid !== undefined && canChown()) await fh.chown(item.uid, item.gid);
  if (item.mode !== undefined) await fh.chmod(item.mode);
}

/** Writes all of `chunk` at `position`. */
async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * An empty directory where a file must go (directories are not in manifests: one may be left by
 * a crash, or by a source whose file replaced a directory) is removed; a non-empty one is an error.
 */
async function clearEmptyDir(dest: string, path: string): Promise<void> {
  try {
    if (!(await lstat(dest)).isDirectory()) return;
    await rmdir(dest);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      throw new Error(`cannot place ${path}: a directory that is not empty is in the way (it holds entries that are not replicated, e.g. symlinks)`);
    }
    throw err;
  }
}

export function openReceiver(root: string, options: ReceiverOptions = {}): Receiver {
  const fileMode = options.fileMode ?? 0o600;
  const dirMode = options.dirMode ?? 0o700;
  const incoming = join(root, INCOMING_DIR);
  const active = new Set<string>();
  /** path → the hash state of the file as last stored here, keyed by its status. */
  const hashStates = new Map<string, { readonly key: string; readonly hash: Hash }>();
  /** Partial id → the hash of the bytes it held when `partials()` read it. */
  const partialStates = new Map<string, { readonly have: number; readonly hash: Hash }>();

  /** Remembers the hash state of a file just stored (its status is the key). */
  const rememberHash = async (path: string, dest: string, hash: Hash): Promise<void> => {
    const st = await lstat(dest, { bigint: true });
    hashStates.delete(path);
    hashStates.set(path, { key: cacheKey(st), hash });
    if (hashStates.size > HASH_STATES) hashStates.delete(hashStates.keys().next().value ?? '');
  };

  /**
   * A hash fed with the first `from` bytes of the file at `dest` (status `st`): from the state
   * remembered when this receiver stored it, or by reading it.
   */
  const prefixHash = async (path: string, dest: string, st: BigIntStats, from: number): Promise<Hash | undefined> => {
    const known = hashStates.get(path);
    if (known !== undefined && known.key === cacheKey(st)) return known.hash.copy();
    const fh = await open(dest, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const hash = createHash('sha256');
      const read = await hashHandle(fh, hash, Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, from))), 0, from);
      return read === from ? hash : undefined;
    } finally {
      await fh.close();
    }
  };

  async function begin(item: SendItem): Promise<IncomingFile> {
    checkItem(item);
    const dest = join(root, item.path);
    await mkdir(incoming, { recursive: true, mode: 0o700 });
    const resume = item.resume;
    if (resume !== undefined && (!/^[0-9a-f-]{36}$/.test(resume.id) || active.has(resume.id))) {
      throw new SyncIntegrityError(item.path, 'prefix-mismatch', `no partial ${resume.id} to resume`);
    }
    const stem = resume?.id ?? randomUUID();
    const tempPath = join(incoming, `${stem}.part`);
    const notePath = join(incoming, `${stem}.json`);
    const inPlace = item.append !== undefined && item.size - item.append.from <= IN_PLACE_APPEND_BYTES;
    // The note names the transfer for recover()'s report; for an append in place it also says
    // where to roll the file back to, should the append be cut (see commitInPlace); a whole
    // file's may be kept and resumed (see suspend).
    const note: Note = {
      path: item.path, size: item.size, sha256: item.sha256,
      ...(inPlace ? { appendFrom: item.append.from } : {}), ...(item.append === undefined ? { resumable: true as const } : {}),
    };
    if (resume !== undefined) {
      const kept = await readNote(stem);
      if (kept?.path !== item.path || kept.size !== item.size || kept.sha256 !== item.sha256 || kept.resumable !== true) {
        throw new SyncIntegrityError(item.path, 'prefix-mismatch', `partial ${stem} is not a prefix of this version`);
      }
    } else {
      await writeFile(notePath, JSON.stringify(note), { mode: 0o600 });
    }
    active.add(stem);
    let hash: Hash = createHash('sha256');
    let fh: FileHandle | undefined;
    let position = 0;
    /** The tail of an append in place, held until it is checked. */
    const tail: Uint8Array[] = [];
    let state: 'open' | 'committed' | 'aborted' | 'suspended' = 'open';

    const drop = async (): Promise<void> => {
      if (state !== 'open') return;
      state = 'aborted';
      active.delete(stem);
      await fh?.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      await unlink(notePath).catch(() => undefined);
    };

    try {
      const existing = await lstat(dest, { bigint: true }).catch((err: unknown) => {
        if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
        throw err;
      });
      if (resume !== undefined) {
        // Continue the kept partial: it must hold at least `from` bytes hashing to the announced
        // prefix (the hash state from partials(), or read once); what lies past `from` goes.
        fh = await open(tempPath, constants.O_RDWR | constants.O_NOFOLLOW);
        const held = (await fh.stat()).size;
        const known = partialStates.get(stem);
        partialStates.delete(stem);
        let h: Hash | undefined = known?.have === resume.from ? known.hash : undefined;
        if (h === undefined && held >= resume.from) {
          h = createHash('sha256');
          if (await hashHandle(fh, h, Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, resume.from))), 0, resume.from) !== resume.from) h = undefined;
        }
        if (h === undefined || h.copy().digest('hex') !== resume.prefixSha256) {
          throw new SyncIntegrityError(item.path, 'prefix-mismatch', `partial ${stem} does not hold the announced ${resume.from} bytes`);
        }
        if (held > resume.from) await fh.truncate(resume.from);
        await applyAttrs(fh, item);
        hash = h;
        position = resume.from;
      } else if (item.append === undefined) {
        fh = await open(tempPath, 'wx', 0o600);
        await fh.chmod(existing?.isFile() === true ? Number(existing.mode) & 0o7777 : fileMode);
        await applyAttrs(fh, item);
      } else {
        // An append: the copy here must be exactly the announced prefix.
        const { from, prefixSha256 } = item.append;
        if (existing?.isFile() !== true || !await parentsAreDirs(root, item.path)) {
          throw new SyncIntegrityError(item.path, 'prefix-mismatch', 'append onto a file that is not there');
        }
        if (existing.size !== BigInt(from)) {
          throw new SyncIntegrityError(item.path, 'prefix-mismatch', `the copy here has ${String(existing.size)} bytes, the append starts at ${from}: it changed since its manifest`);
        }
        if (inPlace) {
          // Checked against the hash state remembered at its last commit, or read once; the
          // file stays untouched until the checked tail is written onto it in commit().
          const h = await prefixHash(item.path, dest, existing, from);
          if (h === undefined || h.copy().digest('hex') !== prefixSha256) {
            throw new SyncIntegrityError(item.path, 'prefix-mismatch', 'the copy here is not the announced prefix: it changed since its manifest');
          }
          hash = h;
        } else {
          // A large tail: the current copy is copied aside (a reflink where the filesystem can),
          // its beginning checked, and the tail written after it. The visible file is untouched
          // until the rename.
          await copyFile(dest, tempPath, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
          fh = await open(tempPath, 'r+');
          const size = (await fh.stat()).size;
          if (size !== from) {
            throw new SyncIntegrityError(item.path, 'prefix-mismatch', `the copy here has ${size} bytes, the append starts at ${from}: it changed since its manifest`);
          }
          // The running hash takes the prefix first; a copy of it tells whether the prefix matches.
          const read = await hashHandle(fh, hash, Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, from))), 0, from);
          if (read !== from || hash.copy().digest('hex') !== prefixSha256) {
            throw new SyncIntegrityError(item.path, 'prefix-mismatch', 'the copy here is not the announced prefix: it changed since its manifest');
          }
        }
        position = from;
      }
    } catch (err) {
      await drop();
      throw err;
    }
    const handle = fh;

    /**
     * The append in place: the note (saying where to roll back to) is made durable first, then
     * the checked tail goes onto the file in one write and is fsynced, then the note goes. A
     * process killed around the write leaves the file old or new (one write); a power loss
     * before the fsync may leave part of the tail, which recover() rolls back (see `Note`).
     */
    const commitInPlace = async (from: number): Promise<void> => {
      const handleNote = await open(notePath, 'r');
      try { await handleNote.sync(); } finally { await handleNote.close(); }
      await fsyncDir(incoming);
      const target = await open(dest, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        await writeAll(target, Buffer.concat(tail), from);
        await applyAttrs(target, item);
        if (Number.isFinite(item.mtimeMs)) await target.utimes(item.mtimeMs / 1000, item.mtimeMs / 1000);
        await target.sync();
      } finally {
        await target.close();
      }
      state = 'committed';
      active.delete(stem);
      await unlink(notePath);
      await fsyncDir(incoming);
    };

    const file: IncomingFile = {
      item,
      tempPath,
      get received() { return position; },

      async write(chunk: Uint8Array): Promise<void> {
        if (state !== 'open') throw new Error(`${item.path}: write after ${state}`);
        if (position + chunk.length > item.size) {
          await drop();
          throw new SyncIntegrityError(item.path, 'too-many-bytes', `more than the announced ${item.size} bytes`);
        }
        const at = position;
        position += chunk.length;
        hash.update(chunk);
        if (handle === undefined) {
          // Kept: the channel may reuse its buffer once this write resolves.
          tail.push(Uint8Array.prototype.slice.call(chunk));
          return;
        }
        try {
          await writeAll(handle, chunk, at);
        } catch (err) {
          await drop();
          throw err;
        }
      },

      async commit(): Promise<FileEntry> {
        if (state !== 'open') throw new Error(`${item.path}: commit after ${state}`);
        const stored = hash.copy();
        try {
          if (position !== item.size) {
            throw new SyncIntegrityError(item.path, 'size-mismatch', `received ${position} of ${item.size} bytes`);
          }
          const digest = hash.digest('hex');
          if (digest !== item.sha256) {
            throw new SyncIntegrityError(item.path, 'hash-mismatch', `sha256 ${digest}, announced ${item.sha256}`);
          }
          if (handle === undefined) {
            await commitInPlace(item.append?.from ?? 0);
          } else {
            if (item.append !== undefined) await applyAttrs(handle, item);
            // Seconds as a double: sub-millisecond precision survives (a Date would truncate to ms).
            if (Number.isFinite(item.mtimeMs)) await handle.utimes(item.mtimeMs / 1000, item.mtimeMs / 1000);
            await handle.sync();
            await handle.close();
            const dir = await ensureParents(root, item.path, dirMode);
            await clearEmptyDir(dest, item.path);
            await rename(tempPath, dest);
            state = 'committed';
            active.delete(stem);
            await fsyncDir(dir);
            await unlink(notePath).catch(() => undefined);
          }
        } catch (err) {
          await drop();
          throw err;
        }
        await rememberHash(item.path, dest, stored);
        const st = await lstat(dest);
        return { ...entryOfItem(item), size: st.size, mtimeMs: st.mtimeMs };
      },

      abort: drop,

      async suspend(): Promise<boolean> {
        if (state !== 'open') return false;
        if (item.append !== undefined || handle === undefined || position < RESUME_MIN_BYTES) {
          await drop();
          return false;
        }
        state = 'suspended';
        active.delete(stem);
        try {
          await handle.sync();
          await handle.close();
        } catch {
          await unlink(tempPath).catch(() => undefined);
          await unlink(notePath).catch(() => undefined);
          return false;
        }
        partialStates.set(stem, { have: position, hash: hash.copy() });
        return true;
      },
    };
    return file;
  }

  async function readNote(stem: string): Promise<Partial<Note> | undefined> {
    try {
      return JSON.parse(await readFile(join(incoming, `${stem}.json`), 'utf8')) as Partial<Note>;
    } catch {
      return undefined;
    }
  }

  /** Stems of kept partials (a resumable note and a part of at least RESUME_MIN_BYTES), not in flight, oldest first. */
  async function partialStems(): Promise<string[]> {
    const names: string[] = await readdir(incoming).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    });
    const out: { stem: string; mtimeMs: number }[] = [];
    for (const n of names) {
      if (!n.endsWith('.part')) continue;
      const stem = n.slice(0, -'.part'.length);
      if (active.has(stem) || !names.includes(`${stem}.json`)) continue;
      const note = await readNote(stem);
      if (note?.resumable !== true || typeof note.path !== 'string' || pathProblem(note.path) !== undefined) continue;
      // A part shorter than RESUME_MIN_BYTES (e.g. left by a crash early in a file) is not worth keeping.
      try {
        const st = await lstat(join(incoming, n));
        if (st.size >= RESUME_MIN_BYTES) out.push({ stem, mtimeMs: st.mtimeMs });
      } catch { /* gone */ }
    }
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs).map((p) => p.stem);
  }

  async function removeStem(stem: string): Promise<void> {
    partialStates.delete(stem);
    await unlink(join(incoming, `${stem}.part`)).catch(() => undefined);
    await unlink(join(incoming, `${stem}.json`)).catch(() => undefined);
  }

  async function partials(): Promise<PartialTransfer[]> {
    const stems = await partialStems();
    for (const stem of stems.splice(0, Math.max(0, stems.length - MAX_PARTIALS))) await removeStem(stem);
    const out: PartialTransfer[] = [];
    for (const stem of stems) {
      const note = await readNote(stem);
      if (typeof note?.path !== 'string' || typeof note.size !== 'number' || typeof note.sha256 !== 'string') continue;
      const fh = await open(join(incoming, `${stem}.part`), constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
      if (fh === undefined) continue;
      try {
        const known = partialStates.get(stem);
        const held = (await fh.stat()).size;
        let have = held;
        let hash: Hash;
        if (known?.have === held) {
          hash = known.hash;
        } else {
          hash = createHash('sha256');
          have = await hashHandle(fh, hash, Buffer.allocUnsafe(CHUNK_BYTES), 0, Math.min(held, note.size));
          partialStates.set(stem, { have, hash });
        }
        if (have === 0 || have >= note.size) continue;
        out.push({ id: stem, path: note.path, size: note.size, sha256: note.sha256, have, prefixSha256: hash.copy().digest('hex') });
      } finally {
        await fh.close();
      }
    }
    return out;
  }

  async function dropPartials(): Promise<number> {
    const stems = await partialStems();
    for (const stem of stems) await removeStem(stem);
    if (stems.length > 0) await fsyncDir(incoming);
    return stems.length;
  }

  async function remove(path: string, options: RemoveOptions = {}): Promise<boolean> {
    validatePath(path, 'source');
    if (!await parentsAreDirs(root, path)) return false;
    const abs = join(root, path);
    try {
      const st = await lstat(abs);
      if (st.isDirectory()) {
        try {
          await rmdir(abs);
        } catch (err) {
          if (errnoOf(err) === 'ENOTEMPTY' || errnoOf(err) === 'EEXIST') {
            throw new Error(`cannot remove directory ${path}: it holds entries that are not replicated`);
          }
          throw err;
        }
      } else {
        // unlink removes a symlink itself, never what it points at.
        if (!st.isFile() && !st.isSymbolicLink()) throw new Error(`cannot remove ${path}: not a regular file, symlink or directory`);
        await unlink(abs);
      }
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return false;
      throw err;
    }
    let dir = dirname(abs);
    await fsyncDir(dir);
    if (options.prune === false) return true;
    // Remove the directories the file leaves empty, up to (never including) the root.
    for (let rel = dirname(path); rel !== '.'; rel = dirname(rel)) {
      try {
        await rmdir(dir);
      } catch (err) {
        if (errnoOf(err) === 'ENOTEMPTY' || errnoOf(err) === 'EEXIST') break;
        throw err;
      }
      dir = dirname(dir);
      await fsyncDir(dir);
    }
    return true;
  }

  async function place(item: SendItem): Promise<FileEntry> {
    checkItem(item);
    const dest = join(root, item.path);
    const mtime = item.mtimeMs / 1000;
    if (item.kind === 'dir') {
      const parent = await ensureParents(root, item.path, dirMode);
      const st = await lstat(dest).catch((err: unknown) => { if (errnoOf(err) === 'ENOENT') return undefined; throw err; });
      if (st === undefined) {
        await mkdir(dest, { mode: item.mode ?? dirMode });
        await fsyncDir(parent);
      } else if (!st.isDirectory()) {
        throw new Error(`cannot make directory ${item.path}: a ${st.isSymbolicLink() ? 'symlink' : 'file'} is in the way`);
      }
      // O_NOFOLLOW | O_DIRECTORY: the attributes go onto this directory, never through a link.
      const fh = await open(dest, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        await applyAttrs(fh, item);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return entryOfItem(item);
    }
    if (item.kind === 'symlink') {
      if (item.target === undefined) throw new RangeError(`${item.path}: a symlink without a target`);
      // Made under incoming/ and renamed into place: the name is the old entry or the new link,
      // never missing; the link is created as given and never resolved here.
      await mkdir(incoming, { recursive: true, mode: 0o700 });
      const temp = join(incoming, `${randomUUID()}.link`);
      try {
        await symlink(item.target, temp);
        if (item.uid !== undefined && item.gid !== undefined && canChown()) await lchown(temp, item.uid, item.gid);
        if (Number.isFinite(mtime)) await lutimes(temp, mtime, mtime);
        const parent = await ensureParents(root, item.path, dirMode);
        await clearEmptyDir(dest, item.path);
        await rename(temp, dest);
        await fsyncDir(parent);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      return entryOfItem(item);
    }
    if (item.meta !== true) throw new RangeError(`${item.path}: a regular file's content comes with begin()`);
    // New attributes of a file whose content is already the announced one.
    if (!await parentsAreDirs(root, item.path)) throw new SyncIntegrityError(item.path, 'size-mismatch', 'attributes for a file that is not there');
    const fh = await open(dest, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ELOOP') throw new SyncIntegrityError(item.path, 'size-mismatch', 'attributes for a file that is not there');
      throw err;
    });
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size !== item.size) {
        throw new SyncIntegrityError(item.path, 'size-mismatch', `attributes for a file of ${item.size} bytes, the copy here has ${st.size}: it changed since its manifest`);
      }
      await applyAttrs(fh, item);
      if (Number.isFinite(mtime)) await fh.utimes(mtime, mtime);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return entryOfItem(item);
  }

  async function recover(options: { readonly keepPartials?: boolean } = {}): Promise<Leftover[]> {
    if (active.size > 0) throw new Error(`recover() with ${active.size} transfer(s) in flight`);
    const names = await readdir(incoming).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    });
    const kept = new Set(options.keepPartials === true ? await partialStems() : []);
    const stems = [...new Set(names.map((n) => n.replace(/\.(part|json|link)$/, '')))].filter((s) => !kept.has(s)).sort();
    const out: Leftover[] = [];
    for (const stem of stems) {
      let path: string | undefined;
      let note: Partial<Note> = {};
      try {
        note = JSON.parse(await readFile(join(incoming, `${stem}.json`), 'utf8')) as Partial<Note>;
        if (typeof note.path === 'string') path = note.path;
      } catch { /* no note, or a torn one: the report just lacks the path */ }
      if (path !== undefined && typeof note.appendFrom === 'number') await rollBack(path, note);
      let bytes = 0;
      try { bytes = (await lstat(join(incoming, `${stem}.part`))).size; } catch { /* no part */ }
      for (const name of names.filter((n) => n === stem || n.startsWith(`${stem}.`))) {
        await unlink(join(incoming, name));
      }
      out.push(path === undefined ? { name: stem, bytes } : { name: stem, path, bytes });
    }
    if (out.length > 0) await fsyncDir(incoming);
    // Temporary files of an interrupted hash-cache save.
    const work = join(root, SYNC_WORK_DIR);
    const workNames = await readdir(work).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    });
    for (const name of workNames) {
      if (name.endsWith('.tmp')) await unlink(join(work, name));
    }
    return out;
  }

  /**
   * An append in place that may have been cut: unless the file is exactly the announced new
   * version, it goes back to its length before the append — the old version, whole.
   */
  async function rollBack(path: string, note: Partial<Note>): Promise<void> {
    const from = note.appendFrom;
    if (from === undefined || pathProblem(path) !== undefined) return;
    const dest = join(root, path);
    let st;
    try {
      st = await lstat(dest);
    } catch {
      return;
    }
    if (!st.isFile() || st.size < from) return;
    if (st.size === note.size && (await sha256File(dest)).sha256 === note.sha256) return;
    await truncate(dest, from);
    const fh = await open(dest, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  }

  return { root, begin, place, remove, recover, partials, dropPartials };
}
