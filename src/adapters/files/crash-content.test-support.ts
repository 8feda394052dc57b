/**
 * Contents written by receive-child.ts and checked by receiver.test.ts after a SIGKILL: every
 * version is recognisable from its first line, so a visible file can be checked to be exactly
 * one complete version (never a torn mix). Support code for tests, not a test file itself.
 */
import { createHash } from 'node:crypto';

export const VERSIONED = ['a.bin', 'dir/b.bin', 'dir/sub/c.bin'] as const;
export const LOG = 'audit/log';

/** Version `k` of file `name`: a header line, then 100–400 KB of a pattern that depends on k. */
export function versionContent(name: string, k: number): Buffer {
  const header = Buffer.from(`${name} v${k}\n`);
  const body = Buffer.alloc(100_000 + (k % 7) * 50_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + k * 7) & 0xff;
  return Buffer.concat([header, body]);
}

/** The audit log after `n` appended lines. */
export function logContent(n: number): Buffer {
  let text = '';
  for (let i = 1; i <= n; i++) text += `line ${i} ${'x'.repeat((i * 37) % 3000)}\n`;
  return Buffer.from(text);
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Whether `content` is exactly one complete version of `name`. */
export function isVersionOf(name: string, content: Buffer): boolean {
  const m = /^(.*) v(\d+)\n/.exec(content.subarray(0, 200).toString('latin1'));
  return m !== null && m[1] === name && versionContent(name, Number(m[2])).equals(content);
}

/** Whether `content` is exactly the log after some number of complete appends. */
export function isCompleteLog(content: Buffer): boolean {
  const lines = content.toString('utf8').split('\n').length - 1;
  return logContent(lines).equals(content);
}
