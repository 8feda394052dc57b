/**
 * The protocol against a raw peer (a plain channel end driven by the test) over the real channel
 * on 127.0.0.1: the replica refuses bytes that are not as announced and goes on; frames that do
 * not fit close the session with a clear reason, and a bad path never touches anything outside
 * the root; a barrier the replica never acknowledges is rejected when the channel closes.
 */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Channel } from '../../adapters/sync/channel.js';
import {
  channelPair, dataSide, incomingOf, MiB, nextFrame, put, rawSource, sha, sourceOn, tempDirs, visibleNames,
} from './sessions.test-support.js';

const dirs = tempDirs('tandem-sessions-protocol-');
const TIMEOUT = { timeout: 60_000 };

describe('the replica refuses bytes that are not as announced, and goes on', () => {
  async function sendFile(ch: Channel, path: string, announced: { size: number; sha256: string; append?: { from: number; prefixSha256: string } }, chunks: Buffer[]): Promise<void> {
    await ch.send({ type: 'file', root: 'data', item: { path, mtimeMs: 1_700_000_000_000, ...announced } });
    for (const c of chunks) await ch.send({ type: 'chunk' }, c);
    await ch.send({ type: 'file-end' });
  }

  it('a wrong hash, a wrong size, too many bytes, a wrong append prefix: refused, nothing visible, the session goes on', TIMEOUT, async () => {
    const rep = dirs.fresh('rep');
    put(rep, 'existing.txt', 'old content\n');
    const r = await rawSource(rep);
    try {
      const good = Buffer.from('hello world\n');
      const cases: { path: string; announced: Parameters<typeof sendFile>[2]; chunks: Buffer[]; problem: RegExp }[] = [
        { path: 'bad-hash.txt', announced: { size: good.length, sha256: sha('something else') }, chunks: [good], problem: /sha256/ },
        { path: 'short.txt', announced: { size: good.length + 5, sha256: sha(good) }, chunks: [good], problem: /received 12 of 17/ },
        { path: 'long.txt', announced: { size: 3, sha256: sha(good) }, chunks: [good], problem: /more than the announced 3 bytes/ },
        { path: 'existing.txt', announced: { size: good.length, sha256: sha('x') }, chunks: [good], problem: /sha256/ },
        {
          path: 'existing.txt',
          announced: { size: 12 + good.length, sha256: sha(Buffer.concat([Buffer.from('OLD content\n'), good])), append: { from: 12, prefixSha256: sha('OLD content\n') } },
          chunks: [good], problem: /prefix/,
        },
        {
          path: 'absent.txt',
          announced: { size: 12 + good.length, sha256: sha('whatever'), append: { from: 12, prefixSha256: sha('old content\n') } },
          chunks: [good], problem: /not there/,
        },
      ];
      for (const c of cases) {
        await sendFile(r.ch, c.path, c.announced, c.chunks);
        const answer = await nextFrame(r.ch);
        assert.ok(answer !== null, `${c.path}: an answer`);
        assert.equal(answer.header.type, 'committed');
        assert.equal(answer.header.root, 'data');
        assert.equal(answer.header.path, c.path);
        assert.equal(answer.header.ok, false);
        assert.match(String(answer.header.problem), c.problem);
        assert.deepEqual(visibleNames(rep), ['existing.txt'], `${c.path}: nothing new is visible`);
        assert.equal(readFileSync(join(rep, 'existing.txt'), 'utf8'), 'old content\n', `${c.path}: the old file is untouched`);
        assert.deepEqual(incomingOf(rep), [], `${c.path}: the temporary file is gone`);
      }
      assert.equal(r.replica.stats.refused, cases.length);
      // The session goes on: the right bytes are stored, and a barrier is acknowledged after them.
      await sendFile(r.ch, 'bad-hash.txt', { size: good.length, sha256: sha(good) }, [good]);
      await sendFile(r.ch, 'existing.txt', { size: 12 + good.length, sha256: sha(Buffer.concat([Buffer.from('old content\n'), good])), append: { from: 12, prefixSha256: sha('old content\n') } }, [good]);
      await r.ch.send({ type: 'barrier', id: 7 });
      const ack = await nextFrame(r.ch);
      assert.deepEqual(ack?.header, { type: 'barrier-ack', id: 7 }, 'a stored file is not answered: the next frame is the ack');
      assert.equal(readFileSync(join(rep, 'bad-hash.txt'), 'utf8'), 'hello world\n');
      assert.equal(readFileSync(join(rep, 'existing.txt'), 'utf8'), 'old content\nhello world\n');
      assert.equal(r.replica.stats.filesReceived, 2);
    } finally {
      await r.close();
    }
  });

  it('a file-abort drops the transfer: nothing visible', TIMEOUT, async () => {
    const rep = dirs.fresh('rep');
    const r = await rawSource(rep);
    try {
      await r.ch.send({ type: 'file', root: 'data', item: { path: 'half.bin', size: 10, sha256: sha('0123456789'), mtimeMs: 0 } });
      await r.ch.send({ type: 'chunk' }, Buffer.from('01234'));
      await r.ch.send({ type: 'file-abort', reason: 'changed' });
      await r.ch.send({ type: 'barrier', id: 1 });
      assert.deepEqual((await nextFrame(r.ch))?.header, { type: 'barrier-ack', id: 1 });
      assert.deepEqual(visibleNames(rep), []);
      assert.deepEqual(incomingOf(rep), []);
    } finally {
      await r.close();
    }
  });

});

describe('protocol errors from the replica close the session with a clear reason', () => {
  it('a replica sending a manifest for an unknown root', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    put(src, 'f', 'data');
    const pair = await channelPair();
    const side = await dataSide(src);
    const source = sourceOn(pair.server, side);
    try {
      await pair.client.send({ type: 'manifest', root: 'nope', entries: [] });
      assert.match(await source.done, /protocol error from the replica: unknown root nope/);
      assert.equal(source.phase, 'closed');
      assert.match(await pair.client.closed, /^peer: protocol error from the replica: unknown root nope/);
    } finally {
      await pair.close();
    }
  });

  it('keepalives before and between the manifests are fine (a replica scanning a big root keeps pinging)', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    put(src, 'f', 'data');
    const pair = await channelPair();
    const side = await dataSide(src);
    const source = sourceOn(pair.server, side);
    try {
      await pair.client.send({ type: 'ping' });
      await pair.client.send({ type: 'manifest', root: 'data', entries: [] });
      await pair.client.send({ type: 'ping' });
      await pair.client.send({ type: 'manifests-done' });
      assert.deepEqual((await nextFrame(pair.client))?.header, { type: 'plan', bytes: 4, files: 1 });
      assert.equal(source.phase === 'resync' || source.phase === 'live', true);
    } finally {
      await pair.close();
      await source.done;
    }
  });

  it('a replica sending a manifest with a ".." path, or a frame that does not parse', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const side = await dataSide(src);
    for (const [frame, reason] of [
      [{ type: 'manifest', root: 'data', entries: [{ path: '../etc/passwd', size: 1, mtimeMs: 0, sha256: sha('x') }] }, /invalid path "..\/etc\/passwd" in the target: contains a ".." segment/],
      [{ type: 'manifest', root: 'data', entries: 'all of them' }, /protocol error from the replica: entries/],
      [{ type: 'hello-there' }, /protocol error from the replica/],
    ] as const) {
      const pair = await channelPair();
      const source = sourceOn(pair.server, side);
      try {
        await pair.client.send(frame);
        await pair.client.send({ type: 'manifests-done' }).catch(() => undefined);
        assert.match(await source.done, reason);
      } finally {
        await pair.close();
      }
    }
  });

  it('a replica breaking the protocol in the middle of a slow resync ends it at once, not after the resync', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    put(src, 'big.bin', Buffer.alloc(16 * MiB, 'b'));
    const pair = await channelPair();
    const side = await dataSide(src);
    const source = sourceOn(pair.server, side, 1 * MiB);
    try {
      await pair.client.send({ type: 'manifest', root: 'data', entries: [] });
      await pair.client.send({ type: 'manifests-done' });
      assert.equal((await nextFrame(pair.client))?.header.type, 'plan');
      await pair.client.send({ type: 'manifests-done' });
      // The client keeps reading (as a replica would), so the source is never held up by it.
      void (async () => { while (await pair.client.next() !== null) { /* drain */ } })();
      assert.match(await source.done, /^protocol error from the replica: manifests-done after the manifests were complete$/);
      const resync = source.stats.resync;
      assert.ok(resync !== null && resync.bytesDone < resync.bytes, 'the 16 s resync was cut short');
      assert.match(await pair.client.closed, /manifests-done after the manifests were complete/);
    } finally {
      await pair.close();
    }
  });

  it('a replica acknowledging a commit for a root it was never sent', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const pair = await channelPair();
    const side = await dataSide(src);
    const source = sourceOn(pair.server, side);
    try {
      await pair.client.send({ type: 'manifest', root: 'data', entries: [] });
      await pair.client.send({ type: 'manifests-done' });
      await pair.client.send({ type: 'committed', root: 'other', path: 'x', ok: false });
      assert.match(await source.done, /protocol error from the replica: committed for unknown root other/);
    } finally {
      await pair.close();
    }
  });

  it('a replica that never acknowledges: the barrier is rejected when the channel closes', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    put(src, 'f.txt', 'data\n');
    const pair = await channelPair();
    const side = await dataSide(src);
    const source = sourceOn(pair.server, side);
    try {
      await pair.client.send({ type: 'manifest', root: 'data', entries: [] });
      await pair.client.send({ type: 'manifests-done' });
      for (;;) {
        const f = await nextFrame(pair.client);
        assert.ok(f !== null);
        if (f.header.type === 'caught-up') break;
      }
      const barrier = source.barrier();
      for (;;) {
        const f = await nextFrame(pair.client);
        assert.ok(f !== null);
        if (f.header.type === 'barrier') break;
      }
      pair.client.close('no ack for you');
      await assert.rejects(barrier, /replication session closed: .*no ack for you/);
      assert.match(await source.done, /no ack for you/);
    } finally {
      await pair.close();
    }
  });
});

describe('protocol errors from the source close the session with a clear reason', () => {
  it('a source sending a chunk outside a file', TIMEOUT, async () => {
    const rep = dirs.fresh('rep');
    put(rep, 'keep', 'kept\n');
    const r = await rawSource(rep);
    try {
      await r.ch.send({ type: 'chunk' }, Buffer.from('stray bytes'));
      assert.match(await r.replica.done, /protocol error from the source: chunk outside a file/);
      assert.match(await r.ch.closed, /^peer: protocol error from the source: chunk outside a file/);
      assert.deepEqual(visibleNames(rep), ['keep']);
      assert.deepEqual(incomingOf(rep), []);
    } finally {
      await r.close();
    }
  });

  it('a source sending another file in the middle of a file, or a file for an unknown root', TIMEOUT, async () => {
    const rep = dirs.fresh('rep');
    const r = await rawSource(rep);
    try {
      await r.ch.send({ type: 'file', root: 'data', item: { path: 'one', size: 4, sha256: sha('1234'), mtimeMs: 0 } });
      await r.ch.send({ type: 'chunk' }, Buffer.from('12'));
      await r.ch.send({ type: 'remove', root: 'data', path: 'x' });
      assert.match(await r.replica.done, /protocol error from the source: remove in the middle of one/);
      assert.deepEqual(visibleNames(rep), []);
      assert.deepEqual(incomingOf(rep), [], 'the transfer cut by the error was dropped');
    } finally {
      await r.close();
    }
    const r2 = await rawSource(rep);
    try {
      await r2.ch.send({ type: 'file', root: 'firmware', item: { path: 'one', size: 4, sha256: sha('1234'), mtimeMs: 0 } });
      assert.match(await r2.replica.done, /protocol error from the source: unknown root firmware/);
    } finally {
      await r2.close();
    }
  });

  for (const path of ['../outside.txt', 'sub/../../outside.txt', '/abs/outside.txt', '.tandem-sync/hash-cache.json']) {
    it(`a source removing ${JSON.stringify(path)}: the session ends, nothing outside the root is touched`, TIMEOUT, async () => {
      const base = dirs.fresh('case');
      const rep = join(base, 'rep');
      put(base, 'outside.txt', 'outside the root\n');
      put(rep, 'sub/inside.txt', 'inside\n');
      const r = await rawSource(rep);
      try {
        await r.ch.send({ type: 'remove', root: 'data', path });
        assert.match(await r.replica.done, /invalid path .* in the source: /);
        assert.equal(readFileSync(join(base, 'outside.txt'), 'utf8'), 'outside the root\n');
        assert.equal(readFileSync(join(rep, 'sub/inside.txt'), 'utf8'), 'inside\n');
      } finally {
        await r.close();
      }
    });
  }

  it('a source sending a file with a ".." path: the session ends, nothing is written outside the root', TIMEOUT, async () => {
    const base = dirs.fresh('case');
    const rep = join(base, 'rep');
    put(rep, 'keep', 'kept\n');
    const r = await rawSource(rep);
    try {
      await r.ch.send({ type: 'file', root: 'data', item: { path: '../escaped.txt', size: 3, sha256: sha('bad'), mtimeMs: 0 } });
      await r.ch.send({ type: 'chunk' }, Buffer.from('bad'));
      await r.ch.send({ type: 'file-end' });
      assert.match(await r.replica.done, /invalid path "..\/escaped.txt" in the source: contains a ".." segment/);
      assert.equal(existsSync(join(base, 'escaped.txt')), false);
      assert.deepEqual(visibleNames(rep), ['keep']);
      assert.deepEqual(incomingOf(rep), []);
    } finally {
      await r.close();
    }
  });
});
