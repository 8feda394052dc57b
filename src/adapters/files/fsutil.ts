/**
 * Small filesystem helpers shared by the sync store: streamed sha256, directory fsync, safe
 * parent directories inside a root, atomic small-file writes.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Files are hashed and copied 1 MiB at a time: memory stays constant whatever their size. */
export const CHUNK_BYTES = 1024 * 1024;

export const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * Feeds `hash` with the bytes of `fh` from `position`, at most `limit` bytes (to EOF when
 * undefined), reading into `buffer`. Returns the number of bytes read.
 */
export async function hashHandle(fh: FileHandle, hash: Hash, buffer: Buffer, position = 0, limit = Infinity): Promise<number> {
  let total = 0;
  while (total < limit) {
    const want = Math.min(buffer.length, limit - total);
    const { bytesRead } = await fh.read(buffer, 0, want, position + total);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    total += bytesRead;
  }
  return total;
}

/** Opens a regular file for reading without following a symlink in its last component. */
export const openNoFollow = (file: string): Promise<FileHandle> => open(file, constants.O_RDONLY | constants.O_NOFOLLOW);

/** `openNoFollow`, or undefined when the file does not exist. */
export async function openIfExists(file: string): Promise<FileHandle | undefined> {
  try {
    return await openNoFollow(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** sha256 of a whole file (streamed). */
export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const fh = await openNoFollow(file);
  try {
    const hash = createHash('sha256');
    const size = await hashHandle(fh, hash, Buffer.allocUnsafe(CHUNK_BYTES));
    return { sha256: hash.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

/** fsync of a directory: makes the creation, removal or rename of its entries durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}

/**
 * Makes sure every directory between `root` and `rel`'s parent exists and is a real directory
 * (never a symlink: a symlink in the copy must not redirect a write outside the root). Creates
 * the missing ones with `mode`, fsyncing each parent of a created directory so the new entries
 * are durable before anything is renamed into them. Returns the absolute parent directory.
 */
export async function ensureParents(root: string, rel: string, mode: number): Promise<string> {
  const segments = rel.split('/').slice(0, -1);
  let dir = root;
  for (const segment of segments) {
    const next = join(dir, segment);
    let created = false;
    try {
      const st = await lstat(next);
      if (!st.isDirectory()) throw new Error(`cannot place ${rel}: ${next} is not a directory${st.isSymbolicLink() ? ' (a symlink)' : ''}`);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      try {
        await mkdir(next, { mode });
        created = true;
      } catch (mkdirErr) {
        // Made meanwhile by a concurrent commit into the same directory: fine if a directory.
        if (errnoOf(mkdirErr) !== 'EEXIST' || !(await lstat(next)).isDirectory()) throw mkdirErr;
      }
    }
    if (created) await fsyncDir(dir);
    dir = next;
  }
  return dir;
}

/** Checks, without creating anything, that `rel`'s parents are real directories; false if one is missing. */
export async function parentsAreDirs(root: string, rel: string): Promise<boolean> {
  let dir = root;
  for (const segment of rel.split('/').slice(0, -1)) {
    dir = join(dir, segment);
    try {
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new Error(`${rel}: ${dir} is not a directory${st.isSymbolicLink() ? ' (a symlink)' : ''}`);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return false;
      throw err;
    }
  }
  return true;
}

/** Writes a small file atomically: temporary file beside it, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
  await fsyncDir(dirname(file));
}
