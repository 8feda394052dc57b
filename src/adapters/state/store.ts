/**
 * Small JSON documents in the node's state directory, written atomically: a temporary file in
 * the same directory, fsync, rename, fsync of the directory. A crash at any point leaves either
 * the old or the new document, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeTextAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Replaces `file` with `text` atomically (see the module comment). */
export function writeTextAtomic(file: string, text: string, mode = 0o600): void {
  writeFileAtomic(file, Buffer.from(text), mode);
}

/** Replaces `file` with `bytes` atomically (see the module comment). */
export function writeFileAtomic(file: string, bytes: Uint8Array, mode = 0o600): void {
  const tmp = join(dirname(file), `.${String(process.pid)}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    // A write may take fewer bytes than given.
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try { fsyncSync(dir); } finally { closeSync(dir); }
}
