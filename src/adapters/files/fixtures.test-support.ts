/** Test support for the file store tests: fresh temporary roots, file writing, hashing. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Returns a maker of empty directories under one temporary base, removed after the file's tests. */
export function tempRoots(prefix: string): () => string {
  const base = mkdtempSync(join(tmpdir(), prefix));
  after(() => { rmSync(base, { recursive: true, force: true }); });
  let counter = 0;
  return () => {
    const dir = join(base, `r${String(++counter)}`);
    mkdirSync(dir);
    return dir;
  };
}

export const sha = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Writes `data` at `rel` under `root`, creating the parent directories. */
export function put(root: string, rel: string, data: string | Uint8Array): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), data);
}
