/**
 * The receiving side of the sync store: files arrive into `<root>/.tandem-sync/incoming/`, are
 * checked (size, sha256), fsynced and renamed into place. A transfer that is not committed —
 * aborted, refused, or cut by a crash — is never visible under the root; `recover()` removes its
 * leftovers at start. The crash-safety argument is in docs/sync-store.md.
 *
 *   const rx = openReceiver(root);
 *   await rx.recover();                          // once, before any transfer
 *   for (const path of plan.remove) await rx.remove(path);
 *   for (const item of plan.send) {
 *     const f = await rx.begin(item);            // append items copy the current file first
 *     for await (const chunk of stream) await f.write(chunk);
 *     await f.commit();                          // or f.abort()
 *   }
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, readFile, rename, rmdir, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SYNC_WORK_DIR, validatePath, type FileEntry, type SendItem } from '../../core/sync/manifest.js';
import { CHUNK_BYTES, ensureParents, errnoOf, fsyncDir, hashHandle, parentsAreDirs } from './fsutil.js';

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

export interface Receiver {
  readonly root: string;
  begin(item: SendItem): Promise<IncomingFile>;
  /** Deletes a file and the directories it leaves empty; false when it did not exist. */
  remove(path: string): Promise<boolean>;
  /** Removes leftovers of interrupted transfers; call at start, with no transfer in flight. */
  recover(): Promise<Leftover[]>;
}

const isSize = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

function checkItem(item: SendItem): void {
  validatePath(item.path, 'source');
  if (!isSize(item.size)) throw new RangeError(`${item.path}: size ${String(item.size)} is not a non-negative integer`);
  if (!/^[0-9a-f]{64}$/.test(item.sha256)) throw new RangeError(`${item.path}: sha256 is not 64 lowercase hex digits`);
  if (item.append !== undefined) {
    const { from, prefixSha256 } = item.append;
    if (!isSize(from) || from > item.size) throw new RangeError(`${item.path}: append from ${String(from)} is outside 0..${item.size}`);
    if (!/^[0-9a-f]{64}$/.test(prefixSha256)) throw new RangeError(`${item.path}: prefixSha256 is not 64 lowercase hex digits`);
  }
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

  async function begin(item: SendItem): Promise<IncomingFile> {
    checkItem(item);
    const dest = join(root, item.path);
    await mkdir(incoming, { recursive: true, mode: 0o700 });
    const stem = randomUUID();
    const tempPath = join(incoming, `${stem}.part`);
    const notePath = join(incoming, `${stem}.json`);
    // The note only names the transfer for recover()'s report; it is not needed for safety.
    await writeFile(notePath, JSON.stringify({ path: item.path, size: item.size, sha256: item.sha256 }), { mode: 0o600 });
    active.add(stem);
    const hash: Hash = createHash('sha256');
    let fh: FileHandle | undefined;
    let position = 0;
    let state: 'open' | 'committed' | 'aborted' = 'open';

    const drop = async (): Promise<void> => {
      if (state !== 'open') return;
      state = 'aborted';
      active.delete(stem);
      await fh?.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      await unlink(notePath).catch(() => undefined);
    };

    try {
      const existing = await lstat(dest).catch((err: unknown) => {
        if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
        throw err;
      });
      if (item.append === undefined) {
        fh = await open(tempPath, 'wx', 0o600);
        await fh.chmod(existing?.isFile() === true ? existing.mode & 0o7777 : fileMode);
      } else {
        // Append: the current copy is copied aside (a reflink where the filesystem can), its
        // beginning checked against the announced prefix, and only the tail is written after
        // it. The visible file is untouched until the rename.
        const { from, prefixSha256 } = item.append;
        if (existing?.isFile() !== true || !await parentsAreDirs(root, item.path)) {
          throw new SyncIntegrityError(item.path, 'prefix-mismatch', 'append onto a file that is not there');
        }
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
        position = from;
      }
    } catch (err) {
      await drop();
      throw err;
    }
    const handle = fh;

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
        try {
          await writeAll(handle, chunk, at);
        } catch (err) {
          await drop();
          throw err;
        }
      },

      async commit(): Promise<FileEntry> {
        if (state !== 'open') throw new Error(`${item.path}: commit after ${state}`);
        try {
          if (position !== item.size) {
            throw new SyncIntegrityError(item.path, 'size-mismatch', `received ${position} of ${item.size} bytes`);
          }
          const digest = hash.digest('hex');
          if (digest !== item.sha256) {
            throw new SyncIntegrityError(item.path, 'hash-mismatch', `sha256 ${digest}, announced ${item.sha256}`);
          }
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
        } catch (err) {
          await drop();
          throw err;
        }
        await unlink(notePath).catch(() => undefined);
        const st = await lstat(dest);
        return { path: item.path, size: st.size, mtimeMs: st.mtimeMs, sha256: item.sha256 };
      },

      abort: drop,
    };
    return file;
  }

  async function remove(path: string): Promise<boolean> {
    validatePath(path, 'source');
    if (!await parentsAreDirs(root, path)) return false;
    const abs = join(root, path);
    try {
      const st = await lstat(abs);
      if (!st.isFile()) throw new Error(`cannot remove ${path}: not a regular file`);
      await unlink(abs);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return false;
      throw err;
    }
    let dir = dirname(abs);
    await fsyncDir(dir);
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

  async function recover(): Promise<Leftover[]> {
    if (active.size > 0) throw new Error(`recover() with ${active.size} transfer(s) in flight`);
    const names = await readdir(incoming).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    });
    const stems = [...new Set(names.map((n) => n.replace(/\.(part|json)$/, '')))].sort();
    const out: Leftover[] = [];
    for (const stem of stems) {
      let path: string | undefined;
      try {
        const note = JSON.parse(await readFile(join(incoming, `${stem}.json`), 'utf8')) as { path?: unknown };
        if (typeof note.path === 'string') path = note.path;
      } catch { /* no note, or a torn one: the report just lacks the path */ }
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

  return { root, begin, remove, recover };
}
