/**
 * Test trees of bench:sync: random (incompressible) files in size classes, each class in its own
 * top-level directory named so that the classes are sent in order (a plan sends by path), and a
 * comparison of two trees by content.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Every regular file under `dir`, relative, sorted in code-unit order. */
export function listTree(dir: string): string[] {
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk('');
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface SizeClass {
  /** Top-level directory, e.g. `1-small`: also the class's name in the tables. */
  readonly dir: string;
  readonly count: number;
  readonly size: number;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/**
 * A tree of about `totalMiB`: 5 % in 4 KiB files (100 per directory), 45 % in 1 MiB files, and
 * one file of the remaining half.
 */
export function mixedTree(totalMiB: number): SizeClass[] {
  const small = Math.max(1, Math.round((totalMiB * 0.05 * MiB) / (4 * KiB)));
  const medium = Math.max(1, Math.round(totalMiB * 0.45));
  const large = Math.max(1, Math.round(totalMiB * 0.5));
  return [
    { dir: '1-small', count: small, size: 4 * KiB },
    { dir: '2-medium', count: medium, size: MiB },
    { dir: '3-large', count: 1, size: large * MiB },
  ];
}

/**
 * The rate-limit tree: two thirds in 1 MiB files, one file of the rest. No small files: the
 * replica stores those slower than 10 Mbit/s (an fsync or two each), and a replica that cannot
 * keep up makes TCP release what the source sent earlier in bursts, which would blur what the
 * limiter does.
 */
export function rateTree(totalMiB: number): SizeClass[] {
  const medium = Math.max(1, Math.round((totalMiB * 2) / 3));
  return [
    { dir: '2-medium', count: medium, size: MiB },
    { dir: '3-large', count: 1, size: Math.max(1, totalMiB - medium) * MiB },
  ];
}

export const treeBytes = (classes: readonly SizeClass[]): number => classes.reduce((a, c) => a + c.count * c.size, 0);
export const treeFiles = (classes: readonly SizeClass[]): number => classes.reduce((a, c) => a + c.count, 0);

/** Relative path of file `i` of a class: small files 100 to a directory. */
export function classPath(c: SizeClass, i: number): string {
  const n = String(i).padStart(6, '0');
  return c.count > 200 ? `${c.dir}/d${String(Math.floor(i / 100)).padStart(4, '0')}/f${n}` : `${c.dir}/f${n}`;
}

/** Writes the tree under `dir` (created); returns its bytes. */
export function writeTree(dir: string, classes: readonly SizeClass[]): number {
  const buf = Buffer.allocUnsafe(MiB);
  let bytes = 0;
  for (const c of classes) {
    for (let i = 0; i < c.count; i++) {
      const path = join(dir, classPath(c, i));
      mkdirSync(join(path, '..'), { recursive: true });
      const fd = openSync(path, 'wx', 0o600);
      try {
        for (let left = c.size; left > 0;) {
          const n = Math.min(left, buf.length);
          randomFillSync(buf, 0, n);
          let w = 0;
          while (w < n) w += writeSync(fd, buf, w, n - w);
          left -= n;
        }
      } finally {
        closeSync(fd);
      }
      bytes += c.size;
    }
  }
  return bytes;
}

/** Paths whose content differs between the two trees (missing on either side included), at most `limit`. */
export function diffTrees(a: string, b: string, limit = 5): { files: number; differences: string[] } {
  const la = listTree(a);
  const lb = new Set(listTree(b));
  const differences: string[] = [];
  const hash = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
  for (const p of la) {
    if (differences.length >= limit) break;
    if (!lb.has(p)) { differences.push(`${p}: missing`); continue; }
    lb.delete(p);
    if (hash(join(a, p)) !== hash(join(b, p))) differences.push(`${p}: content differs`);
  }
  for (const p of lb) {
    if (differences.length >= limit) break;
    differences.push(`${p}: extra`);
  }
  return { files: la.length, differences };
}
