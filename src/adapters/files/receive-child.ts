/**
 * Test support for receiver.test.ts: a receiver in a child process that the test kills with
 * SIGKILL. `node receive-child.js <root> <mode> [start]`, reporting JSON lines on stdout:
 *
 *   mid-write  begins big.bin (8 MiB), writes half, prints {"event":"partial","tempPath":…},
 *              then waits to be killed.
 *   loop       forever: commits the next version of each VERSIONED file (64 KiB chunks) and
 *              appends one line to the audit log; prints {"event":"round","k":…} after each round.
 *
 * Prints {"event":"ready"} first. Never calls recover(): the test does, to see the leftovers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SendItem } from '../../core/sync/manifest.js';
import { LOG, logContent, sha256, VERSIONED, versionContent } from './crash-content.test-support.js';
import { openReceiver, type Receiver } from './receiver.js';
import { scanFile } from './scan.js';

const emit = (event: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(event)}\n`); };
const CHUNK = 64 * 1024;

async function send(rx: Receiver, item: SendItem, content: Buffer): Promise<void> {
  const f = await rx.begin(item);
  for (let at = item.append?.from ?? 0; at < content.length; at += CHUNK) {
    await f.write(content.subarray(at, Math.min(content.length, at + CHUNK)));
  }
  await f.commit();
}

async function main(): Promise<void> {
  const [root, mode, start] = process.argv.slice(2);
  if (root === undefined || mode === undefined) throw new Error('usage: receive-child.js <root> <mode> [start]');
  const rx = openReceiver(root);
  emit({ event: 'ready' });
  if (mode === 'mid-write') {
    const content = Buffer.alloc(8 * 1024 * 1024, 0x5a);
    const f = await rx.begin({ path: 'big.bin', size: content.length, sha256: sha256(content), mtimeMs: 1_700_000_000_000 });
    await f.write(content.subarray(0, content.length / 2));
    emit({ event: 'partial', tempPath: f.tempPath, received: f.received });
    setInterval(() => undefined, 60_000);
    return;
  }
  for (let k = Number(start ?? 1); ; k++) {
    for (const name of VERSIONED) {
      const content = versionContent(name, k);
      await send(rx, { path: name, size: content.length, sha256: sha256(content), mtimeMs: Date.now() }, content);
    }
    const current = await scanFile(root, LOG);
    const lines = current === undefined ? 0 : (await readFile(join(root, LOG), 'utf8')).split('\n').length - 1;
    const next = logContent(lines + 1);
    const append = current === undefined || current.size === 0 ? undefined : { from: current.size, prefixSha256: current.sha256 };
    await send(rx, { path: LOG, size: next.length, sha256: sha256(next), mtimeMs: Date.now(), ...(append ? { append } : {}) }, next);
    emit({ event: 'round', k });
  }
}

main().catch((err: unknown) => {
  emit({ event: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
