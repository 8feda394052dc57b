/**
 * The sync channel over real TCP on 127.0.0.1: round trips, limits, refusals, wrong keys,
 * garbage, tampering and replay (through a small recording proxy), idle timeouts, backpressure
 * and closing. Throughput is printed as a diagnostic, never asserted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  ChannelError, ChannelRefused, connectChannel, listenChannels, MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES,
  type AcceptAnswer, type Channel, type ChannelListener, type ListenOptions,
} from './channel.js';

const HOST = '127.0.0.1';
const KEY = randomBytes(32);
const delay = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms); });

interface TestListener {
  readonly listener: ChannelListener;
  readonly channels: Channel[];
  readonly rejects: { reason: string; remote: string }[];
  readonly hellos: Readonly<Record<string, unknown>>[];
  /** The next channel handed over (waits for it). */
  nextChannel(): Promise<Channel>;
}

async function listen(options: Partial<ListenOptions> & { answer?: AcceptAnswer } = {}): Promise<TestListener> {
  const channels: Channel[] = [];
  const rejects: { reason: string; remote: string }[] = [];
  const hellos: Readonly<Record<string, unknown>>[] = [];
  let taken = 0;
  const waiting: (() => void)[] = [];
  const listener = await listenChannels({
    host: HOST, port: 0, key: KEY,
    accept: (hello) => { hellos.push(hello); return options.answer ?? { ok: true, header: { node: 'a' } }; },
    onChannel: (ch) => { channels.push(ch); for (const wake of waiting.splice(0)) wake(); },
    onReject: (reason, remote) => { rejects.push({ reason, remote }); },
    ...options,
  });
  return {
    listener, channels, rejects, hellos,
    async nextChannel() {
      while (channels.length <= taken) await new Promise<void>((resolve) => { waiting.push(resolve); });
      return channels[taken++]!;
    },
  };
}

const dial = (port: number, extra: { key?: Uint8Array; timeoutMs?: number; idleTimeoutMs?: number } = {}): Promise<Channel> =>
  connectChannel({ host: HOST, port, key: KEY, hello: { node: 'b', generation: 7 }, ...extra });

/** Writes bytes on a plain TCP connection, optionally ends it; resolves with what came back once it closes. */
function rawExchange(port: number, bytes: Uint8Array, end: boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const got: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => { got.push(chunk); });
    socket.on('error', () => undefined);
    socket.on('close', () => { resolve(Buffer.concat(got)); });
    socket.write(bytes);
    if (end) socket.end();
  });
}

/** Waits until a condition holds (polling), failing after a while. */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (condition()) return;
    await delay(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

interface Proxy {
  readonly port: number;
  /** Everything the client sent, in order. */
  readonly recorded: Buffer[];
  /** Drops every connection at once. */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP proxy to `target` that records the client's bytes and can flip one byte of them. */
async function startProxy(target: number, tamperAt?: number): Promise<Proxy> {
  const recorded: Buffer[] = [];
  const sockets = new Set<Socket>();
  let offset = 0;
  const server: Server = createServer((client) => {
    const upstream = connect({ host: HOST, port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.on('data', (chunk: Buffer) => {
      let out = chunk;
      if (tamperAt !== undefined && tamperAt >= offset && tamperAt < offset + chunk.length) {
        out = Buffer.from(chunk);
        out[tamperAt - offset]! ^= 0x01;
      }
      offset += chunk.length;
      recorded.push(Buffer.from(chunk));
      upstream.write(out);
    });
    upstream.on('data', (chunk: Buffer) => { client.write(chunk); });
  });
  await new Promise<void>((resolve) => { server.listen(0, HOST, resolve); });
  return {
    port: (server.address() as AddressInfo).port,
    recorded,
    cut() { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => { resolve(); }); }),
  };
}

/** Bytes of one frame on the wire: 16-byte prefix, header JSON, payload, 32-byte MAC. */
const frameSize = (header: object, payloadBytes: number): number => 16 + Buffer.byteLength(JSON.stringify(header)) + payloadBytes + 32;

/** READY: a prefix and a MAC, nothing else. */
const READY_SIZE = 16 + 32;

const pattern = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
};

describe('sync channel', () => {
  it('carries headers and payloads both ways, in order, after a handshake both sides see', async () => {
    const t = await listen();
    try {
      const client = await dial(t.listener.port);
      const server = await t.nextChannel();
      assert.deepEqual(t.hellos, [{ node: 'b', generation: 7 }]);
      assert.deepEqual(server.peerHeader, { node: 'b', generation: 7 });
      assert.deepEqual(client.peerHeader, { node: 'a' });
      assert.equal(server.remoteAddress, HOST);
      assert.equal(client.remoteAddress, HOST);

      // Not awaited one by one: order must hold anyway; small payloads copied, large ones not.
      const sizes = [0, 1, 100, 65_535, 65_536, 300_000];
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) {
        const payload = i % 7 === 0 ? null : pattern(sizes[i % sizes.length]!, i);
        sends.push(client.send({ type: 'item', i, name: `file-${i}`, nested: { ok: true } }, payload));
      }
      for (let i = 0; i < 60; i++) {
        const frame = await server.next();
        assert.ok(frame !== null);
        assert.deepEqual(frame.header, { type: 'item', i, name: `file-${i}`, nested: { ok: true } });
        if (i % 7 === 0) assert.equal(frame.payload, null);
        else assert.deepEqual(new Uint8Array(frame.payload!), pattern(sizes[i % sizes.length]!, i));
      }
      await Promise.all(sends);

      await server.send({ type: 'ack', upTo: 59 });
      await server.send({ type: 'empty' }, new Uint8Array(0));
      assert.deepEqual(await client.next(), { header: { type: 'ack', upTo: 59 }, payload: null });
      const empty = await client.next();
      assert.equal(empty?.payload?.length, 0, 'an empty payload is not "none"');

      assert.equal(client.stats.framesOut, 60);
      assert.equal(server.stats.framesIn, 60);
      assert.equal(server.stats.framesOut, 2);
      assert.equal(client.stats.framesIn, 2);
      assert.equal(client.stats.bytesOut, server.stats.bytesIn);
      assert.deepEqual(server.stats.rejected, {});
      assert.ok(server.lastReceivedAt > 0 && server.lastReceivedAt <= performance.now());
      client.close();
    } finally {
      await t.listener.close();
    }
  });

  it('carries a payload and a header at their limits, and refuses to send beyond them', async () => {
    const t = await listen();
    try {
      const client = await dial(t.listener.port);
      const server = await t.nextChannel();
      const big = pattern(MAX_PAYLOAD_BYTES, 5);
      const filler = 'x'.repeat(MAX_HEADER_BYTES - 100);
      const sent = Promise.all([
        client.send({ type: 'chunk' }, big),
        client.send({ type: 'manifest', filler }),
      ]);
      const first = await server.next();
      assert.equal(first?.header.type, 'chunk');
      assert.ok(Buffer.from(first.payload!).equals(Buffer.from(big)));
      const second = await server.next();
      assert.equal(second?.header.type, 'manifest');
      assert.equal(second.header.filler, filler);
      await sent;

      await assert.rejects(client.send({ type: 'chunk' }, new Uint8Array(MAX_PAYLOAD_BYTES + 1)), RangeError);
      await assert.rejects(client.send({ type: 'manifest', filler: `${filler}${'y'.repeat(200)}` }), RangeError);
      await client.send({ type: 'still-open' });
      assert.equal((await server.next())?.header.type, 'still-open');
      assert.equal(client.closeReason, null);
      client.close();
    } finally {
      await t.listener.close();
    }
  });

  it('a refusal reaches the client with its reason, and is counted', async () => {
    const t = await listen({ answer: { ok: false, reason: 'not the primary' } });
    try {
      await assert.rejects(dial(t.listener.port), (err: unknown) => {
        assert.ok(err instanceof ChannelRefused);
        assert.equal(err.reason, 'not the primary');
        return true;
      });
      await until('the refusal counted', () => t.listener.rejected.refused === 1);
      assert.deepEqual(t.rejects, [{ reason: 'refused', remote: HOST }]);
      assert.equal(t.channels.length, 0);
    } finally {
      await t.listener.close();
    }
  });

  it('a wrong key fails the handshake on both sides with bad-mac, counted', async () => {
    const t = await listen();
    try {
      await assert.rejects(dial(t.listener.port, { key: randomBytes(32) }), (err: unknown) => {
        assert.ok(err instanceof ChannelError && !(err instanceof ChannelRefused));
        assert.equal(err.reason, 'bad-mac');
        return true;
      });
      await until('the bad MAC counted', () => t.listener.rejected['bad-mac'] === 1);
      assert.equal(t.channels.length, 0);
      await assert.rejects(dial(t.listener.port, { key: KEY.subarray(0, 16) }), /at least 32 bytes/);
    } finally {
      await t.listener.close();
    }
  });

  it('garbage, a truncated or oversized hello, and silence are closed and counted; the listener keeps working', async () => {
    const t = await listen({ timeoutMs: 500 });
    try {
      const prefix = (headerLen: number, payloadLen: number): Buffer => {
        const p = Buffer.alloc(16);
        p.write('TSYN', 0, 'latin1');
        p[4] = 1; p[5] = 1; p[6] = 1;
        p.writeUInt32BE(headerLen, 8);
        p.writeUInt32BE(payloadLen, 12);
        return p;
      };
      const answers = await Promise.all([
        rawExchange(t.listener.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), false),
        rawExchange(t.listener.port, Buffer.concat([prefix(10, 32), Buffer.from('{"a":1}')]), true),
        // An oversized prefix is refused before its body is awaited.
        rawExchange(t.listener.port, prefix(100 * 1024 * 1024, 32), false),
        rawExchange(t.listener.port, prefix(10, 4096), false),
        rawExchange(t.listener.port, new Uint8Array(0), false),
        rawExchange(t.listener.port, new Uint8Array(0), true),
      ]);
      assert.ok(answers.every((a) => a.length === 0), 'nothing is answered to garbage');
      assert.deepEqual({ ...t.listener.rejected }, { malformed: 2, truncated: 1, 'too-large': 1, timeout: 1, eof: 1 });
      assert.equal(t.rejects.length, 6);

      const client = await dial(t.listener.port);
      const server = await t.nextChannel();
      await client.send({ type: 'hello-again' });
      assert.equal((await server.next())?.header.type, 'hello-again');
      client.close();
    } finally {
      await t.listener.close();
    }
  });

  it('a tampered byte after the handshake closes the channel with bad-mac; the frame is not delivered', async () => {
    const t = await listen();
    const hello = { node: 'b', generation: 7 };
    const header = (i: number): object => ({ type: 'chunk', i });
    // HELLO (32-byte nonce), READY, then frames 0 and 1 pass; a payload byte of frame 2 flips.
    const at = frameSize(hello, 32) + READY_SIZE + frameSize(header(0), 100) + frameSize(header(1), 100)
      + 16 + JSON.stringify(header(2)).length + 50;
    const proxy = await startProxy(t.listener.port, at);
    try {
      const client = await dial(proxy.port);
      const server = await t.nextChannel();
      for (let i = 0; i < 4; i++) await client.send(header(i) as { type: string }, new Uint8Array(100).fill(i));
      assert.deepEqual((await server.next())?.header, header(0));
      assert.deepEqual((await server.next())?.header, header(1));
      assert.equal(await server.next(), null);
      assert.equal(server.closeReason, 'bad-mac');
      assert.deepEqual(server.stats.rejected, { 'bad-mac': 1 });
      assert.equal(server.stats.framesIn, 2);
      const reason = await client.closed;
      assert.ok(reason.length > 0);
      assert.equal(await client.next(), null);
    } finally {
      await proxy.close();
      await t.listener.close();
    }
  });

  it('replayed client bytes get a fresh WELCOME, then fail on the READY: counted, never a channel', async () => {
    const t = await listen();
    const proxy = await startProxy(t.listener.port);
    try {
      const client = await dial(proxy.port);
      const server = await t.nextChannel();
      for (let i = 0; i < 3; i++) await client.send({ type: 'write', i }, pattern(1000, i));
      for (let i = 0; i < 3; i++) assert.equal((await server.next())?.header.i, i);
      client.close('done');
      assert.equal(await server.closed, 'peer: done');

      const answer = await rawExchange(t.listener.port, Buffer.concat(proxy.recorded), false);
      assert.equal(answer.subarray(0, 4).toString('latin1'), 'TSYN');
      assert.equal(answer[5], 2, 'a WELCOME, with a nonce the replayed bytes cannot know');
      await until('the replay counted', () => t.listener.rejected['bad-mac'] === 1);
      assert.equal(t.hellos.length, 2, 'accept() saw the replayed hello: it must only decide');
      assert.equal(t.channels.length, 1);
    } finally {
      await proxy.close();
      await t.listener.close();
    }
  });

  it('a channel that hears nothing for idleTimeoutMs closes with idle; keepalives keep it open', async () => {
    const t = await listen({ idleTimeoutMs: 300 });
    try {
      const chatty = await dial(t.listener.port);
      const chattyServer = await t.nextChannel();
      const quiet = await dial(t.listener.port);
      const quietServer = await t.nextChannel();
      for (let i = 0; i < 8; i++) {
        await chatty.send({ type: 'ping' });
        assert.equal((await chattyServer.next())?.header.type, 'ping');
        await delay(50);
      }
      assert.equal(chattyServer.closeReason, null);
      assert.equal(await quietServer.closed, 'idle');
      assert.equal(await quiet.next(), null);
      assert.equal(quiet.closeReason, 'peer: idle');
      chatty.close();
    } finally {
      await t.listener.close();
    }
  });

  it('send waits while the reader does not read: memory stays bounded, nothing is lost, idle does not fire', async () => {
    const t = await listen({ idleTimeoutMs: 300 });
    try {
      const client = await dial(t.listener.port);
      const server = await t.nextChannel();
      const payload = pattern(1024 * 1024, 1);
      let sent = 0;
      let pending: Promise<void> | null = null;
      while (pending === null) {
        const p = client.send({ type: 'blob', n: sent }, payload);
        const outcome = await Promise.race([p.then(() => 'sent'), delay(500).then(() => 'stalled')]);
        if (outcome === 'stalled') pending = p;
        else sent++;
        assert.ok(sent < 64, `send kept resolving (${sent} MiB) although nobody reads`);
      }
      assert.equal(server.closeReason, null, 'a paused reader is not an idle peer');
      for (let n = 0; n <= sent; n++) {
        const frame = await server.next();
        assert.equal(frame?.header.n, n);
        assert.equal(frame.payload?.length, payload.length);
      }
      await pending;
      client.close();
    } finally {
      await t.listener.close();
    }
  });

  it('closing from either side ends next() with null after the frames sent before it', async () => {
    const t = await listen();
    try {
      const client = await dial(t.listener.port);
      const server = await t.nextChannel();
      const waiting = server.next(); // a reader already waiting gets the first frame
      await client.send({ type: 'last-words', n: 1 });
      await client.send({ type: 'last-words', n: 2 });
      client.close('shutting down');
      client.close('again');
      assert.equal(client.closeReason, 'shutting down');
      assert.equal(await client.closed, 'shutting down');
      assert.equal(await client.next(), null);
      await assert.rejects(client.send({ type: 'late' }), (err: unknown) => err instanceof ChannelError && err.reason === 'shutting down');
      assert.equal((await waiting)?.header.n, 1);
      assert.equal((await server.next())?.header.n, 2);
      assert.equal(await server.next(), null);
      assert.equal(server.closeReason, 'peer: shutting down');

      const client2 = await dial(t.listener.port);
      const server2 = await t.nextChannel();
      const pendingRead = client2.next();
      server2.close();
      assert.equal(await pendingRead, null);
      assert.equal(client2.closeReason, 'peer: closed');
      assert.equal(await server2.next(), null);
    } finally {
      await t.listener.close();
    }
  });

  it('a dropped connection closes both channels with a reason; the listener closes its channels', async () => {
    const t = await listen();
    const proxy = await startProxy(t.listener.port);
    try {
      const client = await dial(proxy.port);
      const server = await t.nextChannel();
      proxy.cut();
      const [a, b] = await Promise.all([client.closed, server.closed]);
      assert.match(a, /^(eof|ECONNRESET|socket-closed)$/);
      assert.match(b, /^(eof|ECONNRESET|socket-closed)$/);
      await assert.rejects(client.send({ type: 'x' }), ChannelError);

      const direct = await dial(t.listener.port);
      await t.nextChannel();
      await t.listener.close();
      assert.equal(await direct.closed, 'peer: listener-closed');
    } finally {
      await proxy.close();
      await t.listener.close();
    }
  });

  it('connect fails with a reason: nobody listening, or no answer in time', async () => {
    const silent = createServer((s) => { s.resume(); }); // reads, so it sees the client leave
    await new Promise<void>((resolve) => { silent.listen(0, HOST, resolve); });
    const port = (silent.address() as AddressInfo).port;
    try {
      await assert.rejects(dial(port, { timeoutMs: 150 }), (err: unknown) => err instanceof ChannelError && err.reason === 'timeout');
    } finally {
      await new Promise<void>((resolve) => { silent.close(() => { resolve(); }); });
    }
    await assert.rejects(dial(port), (err: unknown) => err instanceof ChannelError && err.reason === 'ECONNREFUSED');
  });

  it('throughput with 1 MiB payloads (printed, not asserted)', async (ctx) => {
    const t = await listen();
    try {
      const client = await dial(t.listener.port);
      const server = await t.nextChannel();
      const payload = randomBytes(1024 * 1024);
      const frames = 256;
      const started = performance.now();
      const reading = (async () => {
        for (let i = 0; i < frames; i++) assert.ok((await server.next()) !== null);
      })();
      for (let i = 0; i < frames; i++) await client.send({ type: 'chunk', i }, payload);
      await reading;
      const seconds = (performance.now() - started) / 1000;
      ctx.diagnostic(`sync channel: ${frames} MiB in ${seconds.toFixed(2)} s = ${(frames * 1.048576 / seconds).toFixed(0)} MB/s`);
      client.close();
    } finally {
      await t.listener.close();
    }
  });
});
