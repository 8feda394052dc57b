/**
 * The receiver on real files: a commit makes a file visible at once and whole; a wrong size or
 * hash leaves nothing; appends; removals; a receiver killed with SIGKILL (in a child process) at
 * any point leaves only complete files, and recover() cleans up. Also a whole plan end to end:
 * scan both roots, plan, apply through the receiver, scan again.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { appendCandidates, manifestEntries, planSync, SyncPathError, type SendItem } from '../../core/sync/manifest.js';
import { isCompleteLog, isVersionOf, LOG, VERSIONED } from './crash-content.test-support.js';
import { IN_PLACE_APPEND_BYTES, INCOMING_DIR, openReceiver, SyncIntegrityError, type Receiver } from './receiver.js';
import { prefixHashes, scanTree } from './scan.js';
import { put, sha, tempRoots } from './fixtures.test-support.js';

const CHILD = fileURLToPath(new URL('./receive-child.js', import.meta.url));
const freshRoot = tempRoots('tandem-receiver-');
const itemOf = (path: string, content: string | Uint8Array, extra: Partial<SendItem> = {}): SendItem => ({
  path, size: Buffer.byteLength(content), sha256: sha(content), mtimeMs: 1_700_000_000_123, ...extra,
});
/** mtimes pass through utimes() as double seconds: preserved to the microsecond, not the ns. */
const assertNear = (actual: number, expected: number): void => {
  assert.ok(Math.abs(actual - expected) < 0.001, `mtime ${actual} ≠ ${expected}`);
};
const incomingOf = (root: string): string[] => (existsSync(join(root, INCOMING_DIR)) ? readdirSync(join(root, INCOMING_DIR)) : []);
const read = (root: string, rel: string): string | undefined => (existsSync(join(root, rel)) ? readFileSync(join(root, rel), 'utf8') : undefined);

async function receive(rx: Receiver, item: SendItem, content: Uint8Array, chunk = 3): Promise<void> {
  const f = await rx.begin(item);
  for (let at = item.append?.from ?? 0; at < content.length; at += chunk) await f.write(content.subarray(at, at + chunk));
  await f.commit();
}

describe('receiving a file', () => {
  it('is invisible until commit, then visible whole, with its mtime; new files are private', async () => {
    const root = freshRoot();
    const rx = openReceiver(root);
    const content = Buffer.from('the new configuration\n');
    const f = await rx.begin(itemOf('etc/cluster.yaml', content));
    await f.write(content.subarray(0, 10));
    assert.equal(existsSync(join(root, 'etc')), false, 'not even the parent directory yet');
    assert.equal(f.received, 10);
    await f.write(content.subarray(10));
    assert.equal(existsSync(join(root, 'etc/cluster.yaml')), false);
    assert.equal(incomingOf(root).length, 2, 'the temporary file and its note');
    const entry = await f.commit();
    assert.equal(read(root, 'etc/cluster.yaml'), content.toString());
    assert.deepEqual({ ...entry, mtimeMs: 0 }, { path: 'etc/cluster.yaml', size: content.length, mtimeMs: 0, sha256: sha(content) });
    assert.equal(entry.mtimeMs, statSync(join(root, 'etc/cluster.yaml')).mtimeMs);
    assertNear(entry.mtimeMs, 1_700_000_000_123);
    assert.equal(statSync(join(root, 'etc/cluster.yaml')).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'etc')).mode & 0o777, 0o700);
    assert.deepEqual(incomingOf(root), []);
    await assert.rejects(f.write(Buffer.from('x')), /after committed/);
  });

  it('replaces an existing file atomically, keeping its mode', async () => {
    const root = freshRoot();
    put(root, 'license', 'old license');
    chmodSync(join(root, 'license'), 0o640);
    const rx = openReceiver(root);
    const f = await rx.begin(itemOf('license', 'new license!'));
    await f.write(Buffer.from('new license!'));
    assert.equal(read(root, 'license'), 'old license', 'the old file stays until the commit');
    await f.commit();
    assert.equal(read(root, 'license'), 'new license!');
    assert.equal(statSync(join(root, 'license')).mode & 0o777, 0o640);
  });

  const refusals: readonly { name: string; content: string; announced: SendItem; problem: string }[] = [
    { name: 'a wrong hash', content: 'tampered', announced: itemOf('f', 'original'), problem: 'hash-mismatch' },
    { name: 'too few bytes', content: 'short', announced: itemOf('f', 'short and long'), problem: 'size-mismatch' },
    { name: 'too many bytes', content: 'longer than announced', announced: itemOf('f', 'longer'), problem: 'too-many-bytes' },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}: a clear error, nothing visible, old file intact, nothing left behind`, async () => {
      const root = freshRoot();
      put(root, 'f', 'the old content');
      const rx = openReceiver(root);
      await assert.rejects(receive(rx, r.announced, Buffer.from(r.content), 100), (e: unknown) =>
        e instanceof SyncIntegrityError && e.problem === r.problem && e.message.startsWith('refused f:'));
      assert.equal(read(root, 'f'), 'the old content');
      assert.deepEqual(incomingOf(root), []);
      const fresh = freshRoot();
      await assert.rejects(receive(openReceiver(fresh), r.announced, Buffer.from(r.content), 100), SyncIntegrityError);
      assert.deepEqual(readdirSync(fresh).filter((n) => n !== '.tandem-sync'), [], 'a new file does not appear');
    });
  }

  it('replaces an empty directory standing where the file goes; refuses a non-empty one', async () => {
    const root = freshRoot();
    mkdirSync(join(root, 'a', 'empty'), { recursive: true });
    const rx = openReceiver(root);
    await receive(rx, itemOf('a/empty', 'now a file'), Buffer.from('now a file'));
    assert.equal(read(root, 'a/empty'), 'now a file');
    mkdirSync(join(root, 'b'));
    symlinkSync('/nowhere', join(root, 'b', 'link'));
    await assert.rejects(receive(rx, itemOf('b', 'x'), Buffer.from('x')), /directory that is not empty is in the way/);
    assert.equal(statSync(join(root, 'b')).isDirectory(), true);
    assert.deepEqual(incomingOf(root), []);
  });

  it('abort drops the transfer', async () => {
    const root = freshRoot();
    const rx = openReceiver(root);
    const f = await rx.begin(itemOf('x', 'abc'));
    await f.write(Buffer.from('abc'));
    await f.abort();
    await f.abort();
    assert.equal(existsSync(join(root, 'x')), false);
    assert.deepEqual(incomingOf(root), []);
    await assert.rejects(f.commit(), /after aborted/);
  });

  it('refuses invalid paths and never writes through a symlinked directory', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    symlinkSync(outside, join(root, 'escape'));
    const rx = openReceiver(root);
    for (const path of ['../x', '/etc/x', 'a/../b', '.tandem-sync/incoming/x']) {
      await assert.rejects(rx.begin(itemOf(path, 'x')), SyncPathError, path);
    }
    await assert.rejects(receive(rx, itemOf('escape/x', 'x'), Buffer.from('x')), /is not a directory \(a symlink\)/);
    assert.deepEqual(readdirSync(outside), []);
    assert.deepEqual(incomingOf(root), []);
  });
});

describe('appending', () => {
  it('a small tail is checked in memory and written onto the file itself: same inode, only the tail written', async () => {
    const root = freshRoot();
    put(root, 'audit/log', 'line 1\n');
    chmodSync(join(root, 'audit/log'), 0o644);
    const ino = statSync(join(root, 'audit/log')).ino;
    const rx = openReceiver(root);
    const full = Buffer.from('line 1\nline 2\nline 3\n');
    const f = await rx.begin(itemOf('audit/log', full, { append: { from: 7, prefixSha256: sha('line 1\n') } }));
    assert.equal(f.received, 7);
    await f.write(full.subarray(7));
    assert.equal(read(root, 'audit/log'), 'line 1\n', 'the visible file is untouched until the commit');
    await f.commit();
    assert.equal(read(root, 'audit/log'), full.toString());
    assert.equal(statSync(join(root, 'audit/log')).ino, ino, 'no copy: the same file grew');
    assert.equal(statSync(join(root, 'audit/log')).mode & 0o777, 0o644);
    assertNear(statSync(join(root, 'audit/log')).mtimeMs, 1_700_000_000_123);
    assert.deepEqual(incomingOf(root), []);
    // The next append is checked against the state remembered at this commit.
    const more = Buffer.concat([full, Buffer.from('line 4\n')]);
    await receive(rx, itemOf('audit/log', more, { append: { from: full.length, prefixSha256: sha(full) } }), more);
    assert.equal(read(root, 'audit/log'), more.toString());
  });

  it('a tail larger than IN_PLACE_APPEND_BYTES is written onto a copy, renamed into place', async () => {
    const root = freshRoot();
    put(root, 'big.log', 'head\n');
    const ino = statSync(join(root, 'big.log')).ino;
    const rx = openReceiver(root);
    const full = Buffer.concat([Buffer.from('head\n'), Buffer.alloc(IN_PLACE_APPEND_BYTES + 1, 'x')]);
    await receive(rx, itemOf('big.log', full, { append: { from: 5, prefixSha256: sha('head\n') } }), full, 256 * 1024);
    assert.ok(readFileSync(join(root, 'big.log')).equals(full));
    assert.notEqual(statSync(join(root, 'big.log')).ino, ino);
    assert.deepEqual(incomingOf(root), []);
  });

  it('a copy changed behind the receiver\'s back after a commit is not trusted from memory: refused', async () => {
    const root = freshRoot();
    put(root, 'log', 'a\n');
    const rx = openReceiver(root);
    await receive(rx, itemOf('log', 'a\nb\n', { append: { from: 2, prefixSha256: sha('a\n') } }), Buffer.from('a\nb\n'));
    writeFileSync(join(root, 'log'), 'A\nB\n');
    await assert.rejects(
      rx.begin(itemOf('log', 'a\nb\nc\n', { append: { from: 4, prefixSha256: sha('a\nb\n') } })),
      (e: unknown) => e instanceof SyncIntegrityError && e.problem === 'prefix-mismatch');
    assert.equal(read(root, 'log'), 'A\nB\n');
  });

  it('recover() rolls a cut append in place back to the old version, and keeps a complete one', async () => {
    const root = freshRoot();
    const note = (stem: string, path: string, from: number, content: string): void => {
      mkdirSync(join(root, INCOMING_DIR), { recursive: true });
      writeFileSync(join(root, INCOMING_DIR, `${stem}.json`), JSON.stringify({ path, size: Buffer.byteLength(content), sha256: sha(content), appendFrom: from }));
    };
    put(root, 'cut.log', 'old\nhalf of the ne');
    note('s1', 'cut.log', 4, 'old\nhalf of the new tail\n');
    put(root, 'done.log', 'old\nnew\n');
    note('s2', 'done.log', 4, 'old\nnew\n');
    put(root, 'before.log', 'old\n');
    note('s3', 'before.log', 4, 'old\nnot written yet\n');
    const report = await openReceiver(root).recover();
    assert.deepEqual(report.map((l) => l.path).sort(), ['before.log', 'cut.log', 'done.log']);
    assert.equal(read(root, 'cut.log'), 'old\n', 'cut: rolled back');
    assert.equal(read(root, 'done.log'), 'old\nnew\n', 'complete: kept');
    assert.equal(read(root, 'before.log'), 'old\n', 'not begun: untouched');
    assert.deepEqual(incomingOf(root), []);
  });

  it('refuses an append onto a copy that changed since its manifest, or is missing', async () => {
    const root = freshRoot();
    put(root, 'log', 'LINE 1\n');
    const rx = openReceiver(root);
    const full = 'line 1\nline 2\n';
    const announced = itemOf('log', full, { append: { from: 7, prefixSha256: sha('line 1\n') } });
    await assert.rejects(rx.begin(announced), (e: unknown) => e instanceof SyncIntegrityError && e.problem === 'prefix-mismatch');
    put(root, 'log', 'line 1\nextra');
    await assert.rejects(rx.begin(announced), /has 12 bytes, the append starts at 7/);
    await assert.rejects(rx.begin({ ...announced, path: 'nothing' }), /not there/);
    assert.equal(read(root, 'log'), 'line 1\nextra');
    assert.deepEqual(incomingOf(root), []);
  });
});

describe('removing', () => {
  it('deletes the file and the directories it leaves empty, never the root', async () => {
    const root = freshRoot();
    put(root, 'a/b/c/file', '1');
    put(root, 'a/keep', '2');
    put(root, 'top', '3');
    const rx = openReceiver(root);
    assert.equal(await rx.remove('a/b/c/file'), true);
    assert.deepEqual(readdirSync(join(root, 'a')), ['keep']);
    assert.equal(await rx.remove('a/keep'), true);
    assert.equal(await rx.remove('top'), true);
    assert.deepEqual(readdirSync(root), []);
    assert.equal(await rx.remove('top'), false, 'already gone');
    assert.equal(await rx.remove('no/such/dir/file'), false);
    await assert.rejects(rx.remove('../top'), SyncPathError);
    // A directory is removed only when empty (with attributes, directories are entries).
    put(root, 'dir/x', '4');
    await assert.rejects(rx.remove('dir'), /holds entries that are not replicated/);
    assert.equal(await rx.remove('dir/x', { prune: false }), true);
    assert.deepEqual(readdirSync(join(root, 'dir')), [], 'without prune the emptied directory stays');
    assert.equal(await rx.remove('dir'), true);
  });
});

describe('a whole plan, end to end', () => {
  it('scan both roots, plan (with appends), apply through the receiver: the target equals the source', async () => {
    const source = freshRoot();
    const target = freshRoot();
    put(source, 'config/cluster.yaml', 'nodes: [alpha, beta]\n');
    put(source, 'firmware/bundle-2.bin', Buffer.alloc(300_000, 7));
    put(source, 'data/audit.log', 'event 1\nevent 2\nevent 3\n');
    put(source, 'data/x', 'x is a file now');
    put(source, 'same', 'identical on both sides');
    put(target, 'config/cluster.yaml', 'nodes: [alpha]\n');
    put(target, 'firmware/bundle-1.bin', Buffer.alloc(1000, 1));
    put(target, 'data/audit.log', 'event 1\n');
    put(target, 'data/x/was-a-dir', 'gone');
    put(target, 'same', 'identical on both sides');

    const s = (await scanTree(source)).manifest;
    const t = (await scanTree(target)).manifest;
    const plan = planSync(s, t, await prefixHashes(source, appendCandidates(s, t)));
    assert.deepEqual(plan.send.map((i) => [i.path, i.append?.from]), [
      ['config/cluster.yaml', undefined], ['data/audit.log', 8], ['data/x', undefined], ['firmware/bundle-2.bin', undefined],
    ]);
    assert.deepEqual(plan.remove, ['data/x/was-a-dir', 'firmware/bundle-1.bin']);

    const rx = openReceiver(target);
    assert.deepEqual(await rx.recover(), []);
    for (const path of plan.remove) await rx.remove(path);
    for (const item of plan.send) await receive(rx, item, await readFile(join(source, item.path)), 64 * 1024);

    const after = (await scanTree(target)).manifest;
    const withoutMtime = (m: typeof s): unknown[] => manifestEntries(m).map(({ mtimeMs: _, ...rest }) => rest);
    assert.deepEqual(withoutMtime(after), withoutMtime(s), 'same paths, sizes and hashes');
    for (const item of plan.send) assertNear(after.get(item.path)!.mtimeMs, item.mtimeMs); // sent files carry the source's mtime
    assert.equal(planSync(s, after).files + planSync(s, after).remove.length, 0);
  });
});

// ---- crashes: a receiver in a child process, killed with SIGKILL ----

interface Child { proc: ChildProcess; lines: AsyncIterator<string> }

function startChild(root: string, mode: string, start = 1): Child {
  const proc = spawn(process.execPath, [CHILD, root, mode, String(start)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  return { proc, lines };
}

async function nextEvent(child: Child): Promise<Record<string, unknown>> {
  const r = await child.lines.next();
  assert.ok(r.done !== true, 'the child ended early');
  const event = JSON.parse(r.value) as Record<string, unknown>;
  assert.notEqual(event.event, 'error', JSON.stringify(event));
  return event;
}

async function kill(child: Child): Promise<void> {
  const exited = new Promise((resolve) => child.proc.once('exit', resolve));
  child.proc.kill('SIGKILL');
  await exited;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('crash safety (SIGKILL of the receiving process)', () => {
  it('killed mid-write: no partial file is visible, the old one stays, recover() removes and reports the leftover', async () => {
    const root = freshRoot();
    put(root, 'big.bin', 'the previous version');
    const child = startChild(root, 'mid-write');
    assert.equal((await nextEvent(child)).event, 'ready');
    const partial = await nextEvent(child);
    assert.equal(partial.event, 'partial');
    await kill(child);

    assert.equal(read(root, 'big.bin'), 'the previous version');
    assert.ok(existsSync(partial.tempPath as string), 'the partial transfer is left in the work directory');
    const report = await openReceiver(root).recover();
    assert.deepEqual(report.map((l) => [l.path, l.bytes]), [['big.bin', 4 * 1024 * 1024]]);
    assert.deepEqual(incomingOf(root), []);
    assert.deepEqual((await scanTree(root)).manifest.get('big.bin')?.sha256, sha('the previous version'));
  });

  it('killed mid-write, recovered keeping partials: the partial is reported, resumed from its end, checked whole', async () => {
    const root = freshRoot();
    put(root, 'big.bin', 'the previous version');
    const child = startChild(root, 'mid-write');
    assert.equal((await nextEvent(child)).event, 'ready');
    assert.equal((await nextEvent(child)).event, 'partial');
    await kill(child);

    const rx = openReceiver(root);
    assert.deepEqual(await rx.recover({ keepPartials: true }), [], 'nothing removed');
    assert.equal(read(root, 'big.bin'), 'the previous version', 'still invisible');
    const content = Buffer.alloc(8 * 1024 * 1024, 0x5a); // what the child was sending
    const half = content.length / 2;
    const [p] = await rx.partials();
    assert.ok(p !== undefined);
    assert.deepEqual({ path: p.path, size: p.size, have: p.have, prefixSha256: p.prefixSha256 },
      { path: 'big.bin', size: content.length, have: half, prefixSha256: sha(content.subarray(0, half)) });
    const item = { path: 'big.bin', size: content.length, sha256: sha(content), mtimeMs: 1_700_000_000_000 };
    const f = await rx.begin({ ...item, resume: { from: half, prefixSha256: p.prefixSha256, id: p.id } });
    assert.equal(f.received, half);
    await f.write(content.subarray(half));
    await f.commit();
    assert.equal(sha(readFileSync(join(root, 'big.bin'))), sha(content));
    assert.deepEqual(incomingOf(root), []);
  });

  it('suspend keeps a large cut transfer (recover() without keepPartials still removes it); a resumed one with a bad rest is refused', async () => {
    const root = freshRoot();
    const rx = openReceiver(root);
    const content = Buffer.alloc(3 * 1024 * 1024, 7);
    const item = { path: 'f.bin', size: content.length, sha256: sha(content), mtimeMs: 1_700_000_000_000 };
    const small = await rx.begin(item);
    await small.write(content.subarray(0, 1000));
    assert.equal(await small.suspend(), false, 'too little to keep');
    const f = await rx.begin(item);
    await f.write(content.subarray(0, 2 * 1024 * 1024));
    assert.equal(await f.suspend(), true);
    const [p] = await rx.partials();
    assert.equal(p?.have, 2 * 1024 * 1024);
    const g = await rx.begin({ ...item, resume: { from: p.have, prefixSha256: p.prefixSha256, id: p.id } });
    await g.write(Buffer.alloc(1024 * 1024, 8));
    await assert.rejects(g.commit(), (e: unknown) => e instanceof SyncIntegrityError && e.problem === 'hash-mismatch');
    assert.equal(existsSync(join(root, 'f.bin')), false);
    const h = await rx.begin(item);
    await h.write(content.subarray(0, 2 * 1024 * 1024));
    await h.suspend();
    assert.equal(await rx.dropPartials(), 1);
    assert.deepEqual(incomingOf(root), []);
    const k = await rx.begin(item);
    await k.write(content.subarray(0, 2 * 1024 * 1024));
    await k.suspend();
    const [q] = await rx.partials();
    assert.ok(q !== undefined);
    // A prefix that is not what the partial holds: refused, and the useless partial goes.
    await assert.rejects(rx.begin({ ...item, resume: { from: q.have, prefixSha256: sha('other'), id: q.id } }),
      (e: unknown) => e instanceof SyncIntegrityError && e.problem === 'prefix-mismatch');
    assert.deepEqual(await rx.partials(), []);
    const m = await rx.begin(item);
    await m.write(content.subarray(0, 2 * 1024 * 1024));
    await m.suspend();
    assert.equal((await rx.recover()).length, 1, 'recover() without keepPartials removes it');
  });

  it('killed at random moments of a stream of commits and appends: every visible file is one complete version', async () => {
    const root = freshRoot();
    let leftovers = 0;
    let start = 1;
    for (let round = 0; round < 8; round++) {
      const child = startChild(root, 'loop', start);
      assert.equal((await nextEvent(child)).event, 'ready');
      await sleep(20 + ((round * 53) % 120));
      await kill(child);
      start += 1000; // the next run writes recognisably newer versions

      for (const name of VERSIONED) {
        if (existsSync(join(root, name))) assert.ok(isVersionOf(name, readFileSync(join(root, name))), `${name} is torn after round ${round}`);
      }
      if (existsSync(join(root, LOG))) assert.ok(isCompleteLog(readFileSync(join(root, LOG))), `the log is torn after round ${round}`);
      const report = await openReceiver(root).recover();
      leftovers += report.length;
      for (const l of report) assert.ok(l.path === undefined || [...VERSIONED, LOG].includes(l.path), l.path);
      assert.deepEqual(incomingOf(root), []);
      const { manifest, refused } = await scanTree(root);
      assert.deepEqual(refused, []);
      assert.ok([...manifest.keys()].every((p) => [...VERSIONED, LOG].includes(p as never)), [...manifest.keys()].join());
    }
    assert.ok(leftovers > 0, 'at least one kill landed mid-transfer');
    assert.ok(existsSync(join(root, LOG)), 'the loop made progress');
  });
});
