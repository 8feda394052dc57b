/**
 * Observers of bench:sync that run inside the secondary's namespace (`ip netns exec`):
 *
 *   node dist/bench/sync/probe.js watch --root DIR
 *     Reads expectations on stdin, one JSON line each: {id, path, size, sha256}. Answers
 *     {id, armed: true} at once, then {id, seenAt, checks} when `DIR/path` has that size and
 *     content. The file is looked at on every inotify event of its directory (fs.watch) and, as a
 *     fallback, every millisecond; `seenAt` is the time of the stat that found the expected size
 *     (the replica renames a complete, checked file into place, so the right size at the final
 *     path is the new version), taken before the content is hashed to confirm it.
 *
 *   node dist/bench/sync/probe.js rx --iface ha0 --every MS
 *     Prints {t, rx} every MS ms: the interface's received bytes (/proc/net/dev of this
 *     namespace), until stdin closes or a signal.
 *
 * Times are performance.timeOrigin + performance.now(): comparable with the bench process's.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const now = (): number => performance.timeOrigin + performance.now();
const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

function die(message: string): never {
  process.stderr.write(`probe: ${message}\n`);
  process.exit(1);
}

function opt(argv: readonly string[], name: string): string {
  const i = argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : argv[i + 1];
  return v ?? die(`--${name} is required`);
}

interface Expect { readonly id: number; readonly path: string; readonly size: number; readonly sha256: string; checks: number }

function watchMode(argv: readonly string[]): void {
  const root = opt(argv, 'root');
  const pending = new Map<number, Expect>();
  const watchers = new Map<string, FSWatcher>();

  const check = (e: Expect): void => {
    if (!pending.has(e.id)) return;
    e.checks++;
    const abs = join(root, e.path);
    const t = now();
    const st = statSync(abs, { throwIfNoEntry: false });
    if (st?.size !== e.size) return;
    let sha: string;
    try {
      sha = createHash('sha256').update(readFileSync(abs)).digest('hex');
    } catch {
      return;
    }
    if (sha !== e.sha256) return;
    pending.delete(e.id);
    out({ id: e.id, seenAt: t, checks: e.checks });
  };
  const checkAll = (): void => { for (const e of [...pending.values()]) check(e); };

  const watchDir = (dir: string): void => {
    if (watchers.has(dir)) return;
    try {
      const w = watch(dir, () => { checkAll(); });
      w.on('error', () => { watchers.delete(dir); });
      watchers.set(dir, w);
    } catch {
      // Not there yet: the 1 ms poll covers it.
    }
  };

  setInterval(checkAll, 1);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    const m = JSON.parse(line) as Omit<Expect, 'checks'>;
    const e: Expect = { ...m, checks: 0 };
    watchDir(dirname(join(root, e.path)));
    pending.set(e.id, e);
    out({ id: e.id, armed: true });
    check(e);
  });
  rl.on('close', () => { process.exit(0); });
}

function rxBytes(iface: string): number {
  const text = readFileSync('/proc/net/dev', 'utf8');
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(\d+)/.exec(line);
    if (m?.[1] === iface) return Number(m[2]);
  }
  return die(`no interface ${iface} in /proc/net/dev`);
}

function rxMode(argv: readonly string[]): void {
  const iface = opt(argv, 'iface');
  const every = Number(opt(argv, 'every'));
  if (!(every > 0)) die('--every must be a positive number of ms');
  const sample = (): void => { out({ t: now(), rx: rxBytes(iface) }); };
  sample();
  setInterval(sample, every);
  process.stdin.resume();
  process.stdin.on('end', () => { sample(); process.exit(0); });
  process.on('SIGTERM', () => { sample(); process.exit(0); });
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'watch') watchMode(rest);
else if (mode === 'rx') rxMode(rest);
else die('usage: probe.js watch --root DIR | rx --iface IF --every MS');
