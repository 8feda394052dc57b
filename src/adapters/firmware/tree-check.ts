/**
 * Whether a firmware tree on disk is what its manifest says: every payload file present with
 * its size and SHA-256, and nothing else. Test uses it on the target slot (integrity) and on the
 * running firmware ("tainted": files changed locally since it was installed).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { PayloadFile } from '../../core/firmware/types.js';

export interface TreeCheck {
  readonly ok: boolean;
  readonly files: number;
  /** At most MAX_PROBLEMS, the first ones in payload order, then extras. */
  readonly problems: readonly string[];
  /** How many problems there were in all. */
  readonly count: number;
}

const MAX_PROBLEMS = 5;
const CHUNK = 1024 * 1024;

export async function checkTree(tree: string, files: readonly PayloadFile[]): Promise<TreeCheck> {
  const problems: string[] = [];
  let count = 0;
  const problem = (p: string): void => { count += 1; if (problems.length < MAX_PROBLEMS) problems.push(p); };
  for (const f of files) {
    const path = join(tree, f.path);
    let size: number;
    try {
      const st = await lstat(path);
      if (!st.isFile()) { problem(`${f.path}: not a regular file`); continue; }
      size = st.size;
    } catch {
      problem(`${f.path}: missing`);
      continue;
    }
    if (size !== f.size) { problem(`${f.path}: ${String(size)} bytes, the manifest says ${String(f.size)}`); continue; }
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer);
    if (hash.digest('hex') !== f.sha256) problem(`${f.path}: content changed (sha256 differs from the manifest)`);
  }
  const expected = new Set(files.map((f) => f.path));
  for (const extra of await walk(tree, tree)) if (!expected.has(extra)) problem(`${extra}: not part of the firmware`);
  return { ok: count === 0, files: files.length, problems, count };
}

async function walk(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...await walk(root, full));
    else out.push(relative(root, full).split(sep).join('/'));
  }
  return out;
}
