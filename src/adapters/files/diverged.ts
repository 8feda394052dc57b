/**
 * Split-brain recovery keeps the discarded node's data: its root is moved aside whole, by one
 * rename in the same parent directory (same filesystem: no byte is copied, none can be lost),
 * and an empty root takes its place for the full resync. Nothing is ever deleted.
 */
import { chmod, chown, lstat, mkdir, realpath, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf, fsyncDir } from './fsutil.js';

/** `YYYYMMDDTHHMMSS` in UTC. */
export function divergedStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').slice(0, 15);
}

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Moves `root` aside to the sibling `<root>.diverged-<label>-<YYYYMMDDTHHMMSS>` (UTC; `-2`, `-3`…
 * appended if that name is taken), recreates `root` empty with the same mode (and owner, as root), and returns the
 * path the data now live at. A root that is a symlink is resolved first (the real directory
 * moves; the symlink then points at the new empty one). Returns null, after creating an empty
 * root, when there was no root: nothing to preserve. A root that is a mount point cannot be
 * renamed: that is refused with an error saying so.
 */
export async function preserveDiverged(root: string, label: string, at: Date = new Date()): Promise<string | null> {
  if (!LABEL.test(label)) throw new Error(`invalid label ${JSON.stringify(label)}: letters, digits, ".", "_", "-" (at most 64)`);
  let real: string;
  try {
    real = await realpath(root);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
    await mkdir(root, { recursive: true, mode: 0o700 });
    await fsyncDir(dirname(root));
    return null;
  }
  const st = await lstat(real);
  if (!st.isDirectory()) throw new Error(`cannot preserve ${root}: not a directory`);
  const parent = dirname(real);
  const base = `${basename(real)}.diverged-${label}-${divergedStamp(at)}`;
  let aside = join(parent, base);
  for (let n = 2; ; n++) {
    try {
      await lstat(aside);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') break;
      throw err;
    }
    aside = join(parent, `${base}-${n}`);
  }
  try {
    await rename(real, aside);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'EBUSY' || code === 'EXDEV') {
      throw new Error(`cannot move ${real} aside (${code}): it is a mount point; preserve it by copying, or configure the root as a directory inside the mount`);
    }
    throw err;
  }
  await mkdir(real, { mode: 0o700 });
  await chmod(real, st.mode & 0o7777);
  if (process.getuid?.() === 0) await chown(real, st.uid, st.gid);
  await fsyncDir(parent);
  return aside;
}
