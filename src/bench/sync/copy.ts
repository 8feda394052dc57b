/**
 * The plain-copy baseline of bench:sync: a tree streamed over one TCP connection, run with
 * `ip netns exec` in the primary's (send) and the secondary's (recv) namespace, so that it crosses
 * the same HA link as Tandem's replication.
 *
 *   node dist/bench/sync/copy.js recv --listen ADDR:PORT --dir DIR [--sync none|file|durable]
 *   node dist/bench/sync/copy.js send --to ADDR:PORT --dir DIR
 *
 * Wire format, per file: u32 length of the path, the path (UTF-8, relative, `/`), u64 size, the
 * bytes; a path length of 0 ends the stream. The sender lists the tree first (paths sorted in
 * code-unit order, as Tandem's plan sends them), then streams each file in 256 KiB reads. The
 * receiver makes parents as needed and, per file, no hashing in any mode:
 *   --sync file (default)  creates the file at its final path, writes, fsyncs, closes: the least a
 *                          copier that wants every file on disk has to do;
 *   --sync durable         writes `<path>.part` beside it, fsyncs, closes, renames it into place
 *                          and fsyncs the directory: the textbook crash-safe replacement (a crash
 *                          leaves the old or the new file), as Tandem's receiver does;
 *   --sync none            creates, writes, closes: the link and the page cache only.
 *
 * Each side prints one JSON line when done (times: performance.timeOrigin + performance.now(),
 * comparable between the two processes): send {startAt, endAt, files, bytes}; recv {ready} once
 * listening, then {firstByteAt, doneAt, files, bytes, classes: {<top dir>: {firstAt, doneAt, files, bytes}}}.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { listTree } from './tree.js';

const CHUNK = 256 * 1024;
const now = (): number => performance.timeOrigin + performance.now();
const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

function die(message: string): never {
  process.stderr.write(`copy: ${message}\n`);
  process.exit(1);
}

function args(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a.startsWith('--')) m.set(a.slice(2), argv[++i] ?? die(`${a} needs a value`));
    else die(`unexpected ${a}`);
  }
  return m;
}

function hostPort(s: string | undefined): { host: string; port: number } {
  const m = /^([\d.]+):(\d+)$/.exec(s ?? '');
  if (m === null) die(`not ADDR:PORT: ${String(s)}`);
  return { host: m[1] ?? '', port: Number(m[2]) };
}

async function send(o: Map<string, string>): Promise<void> {
  const { host, port } = hostPort(o.get('to'));
  const dir = o.get('dir') ?? die('--dir');
  const files = listTree(dir);
  const startAt = now();
  const sock: Socket = await new Promise((resolve, reject) => {
    const s = createConnection({ host, port }, () => { resolve(s); });
    s.once('error', reject);
  });
  sock.setNoDelay(true);
  const write = async (b: Buffer): Promise<void> => {
    if (!sock.write(b)) await new Promise((r) => sock.once('drain', r));
  };
  let bytes = 0;
  for (const path of files) {
    const fd = openSync(join(dir, path), 'r');
    try {
      const name = Buffer.from(path, 'utf8');
      const size = fstatSync(fd).size;
      const header = Buffer.alloc(4 + name.length + 8);
      header.writeUInt32BE(name.length, 0);
      name.copy(header, 4);
      header.writeBigUInt64BE(BigInt(size), 4 + name.length);
      await write(header);
      // A fresh buffer per chunk: the socket keeps a reference until the bytes are out.
      for (let at = 0; at < size;) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - at));
        const n = readSync(fd, buf, 0, buf.length, at);
        if (n === 0) die(`${path} shrank while sent`);
        await write(n === buf.length ? buf : buf.subarray(0, n));
        at += n;
      }
      bytes += size;
    } finally {
      closeSync(fd);
    }
  }
  await write(Buffer.alloc(4));
  await new Promise<void>((r) => { sock.end(r); });
  out({ startAt, endAt: now(), files: files.length, bytes });
}

interface ClassStats { firstAt: number; doneAt: number; files: number; bytes: number }

async function recv(o: Map<string, string>): Promise<void> {
  const { host, port } = hostPort(o.get('listen'));
  const dir = o.get('dir') ?? die('--dir');
  const mode = o.get('sync') ?? 'file';
  if (mode !== 'none' && mode !== 'file' && mode !== 'durable') die(`--sync ${mode}: none, file or durable`);
  mkdirSync(dir, { recursive: true });
  const made = new Set<string>([dir]);
  const classes: Record<string, ClassStats> = {};
  let firstByteAt = 0;
  let files = 0;
  let bytes = 0;

  // Parser state: a header being assembled, or the bytes of a file.
  let pending = Buffer.alloc(0);
  let file: { fd: number; left: number; cls: ClassStats; size: number; abs: string; temp: string } | null = null;
  let done = false;

  const openFile = (path: string, size: number): void => {
    if (path.startsWith('/') || path.split('/').includes('..')) die(`bad path ${path}`);
    const abs = join(dir, path);
    const parent = dirname(abs);
    if (!made.has(parent)) { mkdirSync(parent, { recursive: true }); made.add(parent); }
    const top = path.split('/')[0] ?? '';
    const t = now();
    const cls = classes[top] ??= { firstAt: t, doneAt: t, files: 0, bytes: 0 };
    const temp = mode === 'durable' ? `${abs}.part` : abs;
    file = { fd: openSync(temp, 'w'), left: size, cls, size, abs, temp };
    if (size === 0) closeFile();
  };
  const closeFile = (): void => {
    if (file === null) return;
    if (mode !== 'none') fsyncSync(file.fd);
    closeSync(file.fd);
    if (mode === 'durable') {
      renameSync(file.temp, file.abs);
      const d = openSync(dirname(file.abs), 'r');
      fsyncSync(d);
      closeSync(d);
    }
    files++;
    bytes += file.size;
    file.cls.files++;
    file.cls.bytes += file.size;
    file.cls.doneAt = now();
    file = null;
  };

  const consume = (chunk: Buffer): void => {
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    while (data.length > 0 && !done) {
      if (file !== null) {
        const n = Math.min(file.left, data.length);
        let w = 0;
        while (w < n) w += writeSync(file.fd, data, w, n - w);
        file.left -= n;
        data = data.subarray(n);
        if (file.left === 0) closeFile();
        continue;
      }
      if (data.length < 4) break;
      const len = data.readUInt32BE(0);
      if (len === 0) { done = true; break; }
      if (data.length < 4 + len + 8) break;
      const path = data.toString('utf8', 4, 4 + len);
      const size = Number(data.readBigUInt64BE(4 + len));
      data = data.subarray(4 + len + 8);
      openFile(path, size);
    }
    if (data.length > 0 && !done) pending = Buffer.from(data);
  };

  const server = createServer((sock) => {
    server.close();
    sock.on('data', (chunk: Buffer) => {
      if (firstByteAt === 0) firstByteAt = now();
      consume(chunk);
    });
    sock.on('end', () => {
      if (!done || file !== null) die('stream ended early');
      out({ firstByteAt, doneAt: now(), files, bytes, mode, classes });
      process.exit(0);
    });
    sock.on('error', (err) => { die(err.message); });
  });
  server.on('error', (err) => { die(err.message); });
  await new Promise<void>((r) => { server.listen(port, host, r); });
  out({ ready: true });
}

const [mode, ...rest] = process.argv.slice(2);
const opts = args(rest);
if (mode === 'send') await send(opts);
else if (mode === 'recv') await recv(opts);
else die('usage: copy.js send --to ADDR:PORT --dir DIR | recv --listen ADDR:PORT --dir DIR [--sync none|file|durable]');
