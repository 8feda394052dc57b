/**
 * The data-sync channel: an authenticated, framed message stream over TCP on the HA link. Each
 * frame is a JSON header (an object with a string `type`) and an optional binary payload. Both
 * ends prove they hold the cluster key and agree on fresh nonces before anything is delivered;
 * every later frame is bound to its session, direction and position, so a forged, replayed,
 * reordered, reflected or spliced frame closes the channel instead of being delivered.
 *
 * Wire format (integers big-endian). Every frame:
 *
 *   offset    size  field
 *   0         4     magic "TSYN"
 *   4         1     version, 1
 *   5         1     kind: 1 HELLO, 2 WELCOME, 3 REFUSE, 4 READY, 5 DATA, 6 BYE
 *   6         1     flags: bit 0 = a payload follows (an empty payload is not "none"); others 0
 *   7         1     reserved, 0
 *   8         4     H, header length: UTF-8 JSON object (0 only for READY)
 *   12        4     P, payload length (0 without a payload)
 *   16        H     header
 *   16+H      P     payload
 *   16+H+P    32    MAC: HMAC-SHA256 over a context (below) ‖ bytes [0, 16+H+P)
 *
 * Handshake (K = the cluster key, ‖ = concatenation, "…" = ASCII bytes):
 *   client → HELLO    header = the caller's hello, payload = nonceC (32 random bytes)
 *                     MAC key K, context "tandem-sync hello"
 *   server → WELCOME  header = accept()'s header, payload = nonceS (32 random bytes)
 *                     MAC key K, context "tandem-sync welcome" ‖ nonceC   (a replayed one fails)
 *       or → REFUSE   header = { reason }, no payload, then the server ends the stream
 *                     MAC key K, context "tandem-sync refuse" ‖ nonceC
 *   both:  session key S = HMAC(K, "tandem-sync session" ‖ nonceC ‖ nonceS)
 *   client → READY    no header, no payload: the client's first session frame. The server hands
 *                     the channel over only once READY checks: a replayed HELLO gets a fresh
 *                     nonceS, so the replayed READY fails and never becomes a channel.
 * Session frames (READY, DATA, BYE): MAC key S, context direction ‖ u64 sequence, direction
 *   'C' (0x43) client→server or 'S' (0x53) server→client, the sequence counted per direction
 *   from 0 (the client's READY is its 0). DATA carries the caller's frames; BYE { reason } says
 *   the sender closes, then it ends the stream.
 *
 * Limits: DATA header 8 MiB, payload 4 MiB; handshake and BYE headers 64 KiB. A frame's prefix
 * is checked before its body is buffered; anything too large, malformed, unexpected, or with a
 * bad MAC closes the channel with that reason, counted in `stats.rejected`, and is not delivered.
 * A server answers a HELLO with a bad MAC with REFUSE { reason: 'bad-mac' } under its own key, so
 * a peer with the wrong key fails with 'bad-mac' too rather than a bare disconnect.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** Largest DATA header (JSON, UTF-8 bytes) and payload. */
export const MAX_HEADER_BYTES = 8 * 1024 * 1024;
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
/** Largest hello / welcome / refusal / goodbye header. */
export const MAX_HANDSHAKE_HEADER_BYTES = 64 * 1024;
export const MIN_KEY_BYTES = 32;
const DEFAULT_TIMEOUT_MS = 5000;

const PREFIX = 16;
const MAC_LEN = 32;
const NONCE_LEN = 32;
const VERSION = 1;
const MAGIC = Buffer.from('TSYN', 'latin1');
const MAGIC_U32 = MAGIC.readUInt32BE(0);
const FLAG_PAYLOAD = 1;
const Kind = { hello: 1, welcome: 2, refuse: 3, ready: 4, data: 5, bye: 6 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];
const CLIENT_TO_SERVER = 0x43;
const SERVER_TO_CLIENT = 0x53;
const LABEL = {
  hello: Buffer.from('tandem-sync hello'),
  welcome: Buffer.from('tandem-sync welcome'),
  refuse: Buffer.from('tandem-sync refuse'),
  session: Buffer.from('tandem-sync session'),
};
/** Frames decoded ahead of the consumer before the socket is paused. */
const MAX_QUEUED = 4;
/** Payloads below this are copied into the frame's one buffer; larger ones are written as is. */
const COPY_BELOW = 64 * 1024;
/** After a graceful close, how long the peer has to end its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

export type FrameHeader = { readonly type: string; readonly [key: string]: unknown };

export interface Frame {
  readonly header: FrameHeader;
  /** null when the frame had none (an empty payload arrives as an empty array). */
  readonly payload: Uint8Array | null;
}

export interface ChannelStats {
  /** DATA frames delivered / sent. */
  framesIn: number;
  framesOut: number;
  /** Bytes on the wire, handshake included. */
  bytesIn: number;
  bytesOut: number;
  /** Rejected frames by reason: 'malformed', 'too-large', 'bad-mac', 'truncated', 'timeout'… */
  rejected: Record<string, number>;
}

export interface Channel {
  /**
   * Sends one frame. Resolves once it is handed to the socket and the socket's buffer is below
   * its high-water mark (so awaiting each send bounds memory); rejects with a ChannelError once
   * the channel is closed. A payload of 64 KiB or more is written without a copy: do not modify
   * it until the promise settles.
   */
  send(header: FrameHeader, payload?: Uint8Array | null): Promise<void>;
  /**
   * The next frame, in order; null once the channel is closed and every frame received before
   * the close (a goodbye, an error, EOF) has been taken — then `closeReason` says why. After a
   * local close() it is null at once. At most a few frames are read ahead of the caller.
   */
  next(): Promise<Frame | null>;
  /** Closes (idempotent): sends a goodbye carrying `reason` (default 'closed') if it can. */
  close(reason?: string): void;
  /** Resolves with the close reason when the channel closes (it never rejects). */
  readonly closed: Promise<string>;
  /**
   * null while open; then 'closed' or the reason given to close(), 'peer: <reason>' after the
   * peer's goodbye, 'idle', 'eof' (the peer ended the stream without a goodbye), a rejection
   * reason, or a socket error code ('ECONNRESET'…).
   */
  readonly closeReason: string | null;
  /** The peer's handshake header: the server's welcome header, or the client's hello. */
  readonly peerHeader: Readonly<Record<string, unknown>>;
  readonly stats: Readonly<ChannelStats>;
  /** performance.now() when bytes last arrived from the peer. */
  readonly lastReceivedAt: number;
  /** The peer's IP address (the host as given, on the client side). */
  readonly remoteAddress: string;
}

/** A failed handshake or a use of a closed channel; `reason` as in Channel.closeReason. */
export class ChannelError extends Error {
  constructor(readonly reason: string, message = `sync channel: ${reason}`) {
    super(message);
    this.name = 'ChannelError';
  }
}

/** The server refused the hello; `reason` is the one its accept callback gave. */
export class ChannelRefused extends ChannelError {
  constructor(reason: string) {
    super(reason, `sync channel refused by the peer: ${reason}`);
    this.name = 'ChannelRefused';
  }
}

export type AcceptAnswer =
  | { readonly ok: true; readonly header: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: string };

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  /** The cluster key, raw bytes (at least 32). */
  readonly key: Uint8Array;
  readonly hello: Readonly<Record<string, unknown>>;
  /** Connect and handshake within this (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Close with 'idle' when nothing arrives for this long (default: never). */
  readonly idleTimeoutMs?: number;
}

export interface ListenOptions {
  readonly host: string;
  /** 0 picks a free port (see ChannelListener.port). */
  readonly port: number;
  readonly key: Uint8Array;
  /**
   * Decides on an authenticated hello. Decide only: a replayed hello reaches it too (and then
   * fails), so act on a new peer in onChannel.
   */
  readonly accept: (hello: Readonly<Record<string, unknown>>, remote: string) => AcceptAnswer;
  /** A channel whose handshake completed. */
  readonly onChannel: (channel: Channel) => void;
  /** A handshake that failed (also counted in ChannelListener.rejected). */
  readonly onReject?: (reason: string, remote: string) => void;
  readonly timeoutMs?: number;
  readonly idleTimeoutMs?: number;
}

export interface ChannelListener {
  readonly port: number;
  /** Failed handshakes by reason ('bad-mac', 'malformed', 'timeout', 'refused', 'eof'…). */
  readonly rejected: Readonly<Record<string, number>>;
  /** Stops listening, aborts handshakes, closes the channels it accepted, and waits for them. */
  close(): Promise<void>;
}

/** Connects and completes the handshake; rejects with ChannelRefused or ChannelError. */
export async function connectChannel(opts: ConnectOptions): Promise<Channel> {
  const key = secretOf(opts.key);
  const hello = encodeJson(opts.hello, MAX_HANDSHAKE_HEADER_BYTES, 'hello');
  const socket = connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
  const conn = new Conn(socket, opts.host, key, {
    role: 'client', hello, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, idleTimeoutMs: opts.idleTimeoutMs ?? 0,
  });
  await conn.established;
  return conn;
}

/** Listens for channels; never throws on what a connection sends, counts it instead. */
export async function listenChannels(opts: ListenOptions): Promise<ChannelListener> {
  const key = secretOf(opts.key);
  const rejected: Record<string, number> = {};
  const conns = new Set<Conn>();
  let closing = false;
  const server = createServer((socket) => {
    const conn = new Conn(socket, socket.remoteAddress ?? '', key, {
      role: 'server', accept: opts.accept,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, idleTimeoutMs: opts.idleTimeoutMs ?? 0,
    });
    conns.add(conn);
    void conn.closed.then(() => { conns.delete(conn); });
    if (closing) conn.close('listener-closed');
    void conn.established.then(() => { opts.onChannel(conn); }, (err: unknown) => {
      const reason = err instanceof ChannelError ? err.reason : String(err);
      if (reason === 'listener-closed') return;
      rejected[reason] = (rejected[reason] ?? 0) + 1;
      opts.onReject?.(reason, conn.remoteAddress);
    }).catch((err: unknown) => {
      // onChannel or onReject threw: a bug in the caller, surfaced as an uncaught exception.
      setImmediate(() => { throw err; });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  // A failed accept() (EMFILE…) must not crash the daemon; the peer retries.
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    rejected,
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
      const open = [...conns];
      for (const conn of open) conn.close('listener-closed');
      await Promise.all(open.map((c) => c.closed));
      await stopped;
    },
  };
}

type Role =
  | { readonly role: 'client'; readonly hello: Buffer; readonly timeoutMs: number; readonly idleTimeoutMs: number }
  | { readonly role: 'server'; readonly accept: ListenOptions['accept']; readonly timeoutMs: number; readonly idleTimeoutMs: number };

/** Server: hello → ready → open. Client: welcome → open. */
type Phase = 'hello' | 'welcome' | 'ready' | 'open' | 'closed';

class Conn implements Channel {
  readonly stats: ChannelStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, rejected: {} };
  readonly closed: Promise<string>;
  /** Resolves when the handshake completes; rejects with why it did not. */
  readonly established: Promise<void>;
  peerHeader: Readonly<Record<string, unknown>> = {};
  closeReason: string | null = null;
  lastReceivedAt = performance.now();

  private phase: Phase;
  private readonly input = new ByteQueue();
  /** Length of the frame whose prefix passed its checks; 0 before a prefix. */
  private need = 0;
  private eof = false;
  private paused = false;
  /** When reading resumed after a pause: the peer could not send while we did not read. */
  private resumedAt = 0;
  private readonly queue: Frame[] = [];
  private readonly readers: ((frame: Frame | null) => void)[] = [];
  private readonly senders = new Set<(err: Error) => void>();
  private readonly drainWaiters: (() => void)[] = [];
  private nonceC: Buffer;
  private session: KeyObject | null = null;
  private sendSeq = 0;
  private recvSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private handshake: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private resolveClosed: (reason: string) => void = () => undefined;

  constructor(private readonly socket: Socket, readonly remoteAddress: string, private readonly key: KeyObject, private readonly role: Role) {
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    this.established = new Promise((resolve, reject) => { this.handshake = { resolve, reject }; });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => { this.onData(chunk); });
    socket.on('end', () => { this.eof = true; this.pump(); });
    socket.on('error', (err: NodeJS.ErrnoException) => { this.finish(err.code ?? err.message, 'destroy'); });
    socket.on('close', () => { this.finish('socket-closed', 'destroy'); });
    socket.on('drain', () => { for (const done of this.drainWaiters.splice(0)) done(); });
    this.timer = setTimeout(() => { this.reject('timeout'); }, role.timeoutMs);
    if (role.role === 'client') {
      this.phase = 'welcome';
      this.nonceC = randomBytes(NONCE_LEN);
      void this.emit(Kind.hello, role.hello, this.nonceC, this.handshakeMac(LABEL.hello)).catch(() => undefined);
    } else {
      this.phase = 'hello';
      this.nonceC = Buffer.alloc(0);
    }
  }

  async send(header: FrameHeader, payload: Uint8Array | null = null): Promise<void> {
    if (this.closeReason !== null) throw new ChannelError(this.closeReason, `sync channel closed: ${this.closeReason}`);
    if (typeof (header as { type?: unknown }).type !== 'string') throw new TypeError('sync channel: a header needs a string type');
    if (payload !== null && payload.length > MAX_PAYLOAD_BYTES) {
      throw new RangeError(`sync channel: payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
    }
    const json = encodeJson(header, MAX_HEADER_BYTES, 'header');
    this.stats.framesOut++;
    await this.emit(Kind.data, json, payload, this.sessionMac('send'));
  }

  next(): Promise<Frame | null> {
    const frame = this.queue.shift();
    if (frame !== undefined) {
      if (this.paused) this.pump();
      return Promise.resolve(frame);
    }
    if (this.closeReason !== null) return Promise.resolve(null);
    return new Promise((resolve) => { this.readers.push(resolve); });
  }

  close(reason = 'closed'): void {
    if (this.closeReason !== null) return;
    this.queue.length = 0;
    this.finish(reason, 'bye');
  }

  // --- receiving ------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    this.stats.bytesIn += chunk.length;
    this.lastReceivedAt = performance.now();
    this.input.push(chunk);
    this.pump();
  }

  /** Decodes what is buffered, frame by frame, until it runs out or the queue is full. */
  private pump(): void {
    for (;;) {
      if (this.phase === 'closed') return;
      if (this.queue.length >= MAX_QUEUED) { this.setPaused(true); return; }
      if (this.need === 0) {
        if (this.input.length < PREFIX) break;
        const problem = this.checkPrefix(this.input.peek(PREFIX));
        if (problem !== null) { this.reject(problem); return; }
      }
      if (this.input.length < this.need) break;
      const frame = this.input.take(this.need);
      this.need = 0;
      this.onFrame(frame);
    }
    this.setPaused(false);
    if (this.eof) {
      if (this.input.length > 0) this.reject('truncated');
      else this.finish('eof', 'end');
    }
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) { this.socket.pause(); return; }
    this.resumedAt = performance.now();
    this.socket.resume();
  }

  /** Checks a frame's prefix against what this phase expects; sets `need`, or returns why not. */
  private checkPrefix(p: Buffer): string | null {
    if (p.readUInt32BE(0) !== MAGIC_U32 || p[4] !== VERSION || p[7] !== 0) return 'malformed';
    const flags = p[6] ?? 0;
    const kind = p[5];
    const headerLen = p.readUInt32BE(8);
    const payloadLen = p.readUInt32BE(12);
    const hasPayload = flags === FLAG_PAYLOAD;
    if ((flags & ~FLAG_PAYLOAD) !== 0 || (!hasPayload && payloadLen !== 0)) return 'malformed';
    let maxHeader = MAX_HANDSHAKE_HEADER_BYTES;
    let ok: boolean;
    switch (this.phase) {
      case 'hello':
        ok = kind === Kind.hello && hasPayload && payloadLen === NONCE_LEN;
        break;
      case 'welcome':
        ok = (kind === Kind.welcome && hasPayload && payloadLen === NONCE_LEN) || (kind === Kind.refuse && !hasPayload);
        break;
      case 'ready':
        ok = kind === Kind.ready && !hasPayload && headerLen === 0;
        break;
      case 'open':
        if (kind === Kind.data) maxHeader = MAX_HEADER_BYTES;
        ok = kind === Kind.data || (kind === Kind.bye && !hasPayload);
        break;
      case 'closed':
        ok = false;
        break;
    }
    if (!ok) return 'malformed';
    if (headerLen > maxHeader || payloadLen > MAX_PAYLOAD_BYTES) return 'too-large';
    this.need = PREFIX + headerLen + payloadLen + MAC_LEN;
    return null;
  }

  private onFrame(frame: Buffer): void {
    const kind = frame[5];
    const headerLen = frame.readUInt32BE(8);
    const body = frame.subarray(0, frame.length - MAC_LEN);
    const tag = frame.subarray(frame.length - MAC_LEN);
    const headerBytes = frame.subarray(PREFIX, PREFIX + headerLen);
    const payload = frame[6] === FLAG_PAYLOAD ? frame.subarray(PREFIX + headerLen, frame.length - MAC_LEN) : null;
    switch (this.phase) {
      case 'hello': this.onHello(body, tag, headerBytes, payload); return;
      case 'welcome': this.onWelcome(kind === Kind.refuse, body, tag, headerBytes, payload); return;
      case 'ready':
        if (!this.verifySession(body, tag)) { this.reject('bad-mac'); return; }
        this.open();
        return;
      case 'open': {
        if (!this.verifySession(body, tag)) { this.reject('bad-mac'); return; }
        const header = parseObject(headerBytes);
        if (kind === Kind.bye) {
          const reason = header?.reason;
          this.finish(`peer: ${typeof reason === 'string' ? reason : 'closed'}`, 'end');
          return;
        }
        if (header === null || typeof header.type !== 'string') { this.reject('malformed'); return; }
        this.stats.framesIn++;
        const delivered: Frame = { header: header as FrameHeader, payload };
        const reader = this.readers.shift();
        if (reader === undefined) this.queue.push(delivered);
        else reader(delivered);
        return;
      }
      case 'closed':
        return;
    }
  }

  private onHello(body: Buffer, tag: Buffer, headerBytes: Buffer, nonce: Buffer | null): void {
    if (this.role.role !== 'server' || nonce === null) return;
    this.nonceC = Buffer.from(nonce);
    if (!verify(tag, this.handshakeMac(LABEL.hello)([body]))) {
      // Answer under our key: a peer with another key learns it failed, not why the link dropped.
      this.refuse('bad-mac', 'bad-mac');
      return;
    }
    const hello = parseObject(headerBytes);
    if (hello === null) { this.reject('malformed'); return; }
    let answer: AcceptAnswer;
    try {
      answer = this.role.accept(hello, this.remoteAddress);
    } catch {
      answer = { ok: false, reason: 'accept-failed' };
    }
    if (!answer.ok) { this.refuse(answer.reason, 'refused'); return; }
    let welcome: Buffer;
    try {
      welcome = encodeJson(answer.header, MAX_HANDSHAKE_HEADER_BYTES, 'welcome header');
    } catch {
      this.refuse('accept-failed', 'refused');
      return;
    }
    const nonceS = randomBytes(NONCE_LEN);
    this.peerHeader = hello;
    void this.emit(Kind.welcome, welcome, nonceS, this.handshakeMac(LABEL.welcome, this.nonceC)).catch(() => undefined);
    this.session = deriveSession(this.key, this.nonceC, nonceS);
    this.phase = 'ready';
  }

  private onWelcome(refused: boolean, body: Buffer, tag: Buffer, headerBytes: Buffer, nonceS: Buffer | null): void {
    if (!verify(tag, this.handshakeMac(refused ? LABEL.refuse : LABEL.welcome, this.nonceC)([body]))) {
      this.reject('bad-mac');
      return;
    }
    const header = parseObject(headerBytes);
    if (header === null) { this.reject('malformed'); return; }
    if (refused) {
      const reason = typeof header.reason === 'string' ? header.reason : 'refused';
      this.fail('refused', new ChannelRefused(reason), 'destroy');
      return;
    }
    if (nonceS === null) return;
    this.peerHeader = header;
    this.session = deriveSession(this.key, this.nonceC, nonceS);
    void this.emit(Kind.ready, Buffer.alloc(0), null, this.sessionMac('send')).catch(() => undefined);
    this.open();
  }

  private open(): void {
    this.phase = 'open';
    clearTimeout(this.timer);
    if (this.role.idleTimeoutMs > 0) this.armIdle(this.role.idleTimeoutMs);
    this.handshake?.resolve();
    this.handshake = null;
  }

  private armIdle(delay: number): void {
    this.timer = setTimeout(() => {
      if (this.phase !== 'open') return;
      const idle = this.role.idleTimeoutMs;
      // While our reader is slow the peer cannot send: that is not the peer being idle.
      if (this.paused) { this.armIdle(idle); return; }
      const quiet = performance.now() - Math.max(this.lastReceivedAt, this.resumedAt);
      if (quiet >= idle) this.finish('idle', 'bye');
      else this.armIdle(idle - quiet);
    }, delay);
    this.timer.unref();
  }

  // --- sending --------------------------------------------------------------------------------

  /**
   * Writes one frame (one write, or one corked writev for a large payload) and resolves once
   * the bytes are handed over and the socket is below its high-water mark.
   */
  private emit(kind: Kind, header: Buffer, payload: Uint8Array | null, mac: (parts: readonly Uint8Array[]) => Buffer): Promise<void> {
    const payloadLen = payload?.length ?? 0;
    const bodyLen = PREFIX + header.length + payloadLen;
    const copy = payload === null || payload.length < COPY_BELOW;
    const head = Buffer.allocUnsafe(copy ? bodyLen + MAC_LEN : PREFIX + header.length);
    MAGIC.copy(head, 0);
    head[4] = VERSION;
    head[5] = kind;
    head[6] = payload === null ? 0 : FLAG_PAYLOAD;
    head[7] = 0;
    head.writeUInt32BE(header.length, 8);
    head.writeUInt32BE(payloadLen, 12);
    header.copy(head, PREFIX);
    this.stats.bytesOut += bodyLen + MAC_LEN;
    return new Promise<void>((resolve, reject) => {
      this.senders.add(reject);
      const done = (): void => { this.senders.delete(reject); resolve(); };
      const writable = (): void => {
        if (this.socket.writableNeedDrain) this.drainWaiters.push(done);
        else done();
      };
      if (copy) {
        if (payload !== null) head.set(payload, PREFIX + header.length);
        mac([head.subarray(0, bodyLen)]).copy(head, bodyLen);
        if (this.socket.write(head)) done();
        else this.drainWaiters.push(done);
        return;
      }
      // The payload is not copied: settle only once the kernel has it (the last write's callback).
      const tag = mac([head, payload]);
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(payload);
      this.socket.write(tag, (err) => { if (err === undefined || err === null) writable(); });
      this.socket.uncork();
    });
  }

  /** Sends an authenticated refusal, then ends the stream. */
  private refuse(told: string, counted: string): void {
    void this.emit(Kind.refuse, encodeJson({ reason: told }, MAX_HANDSHAKE_HEADER_BYTES, 'reason'), null,
      this.handshakeMac(LABEL.refuse, this.nonceC)).catch(() => undefined);
    this.fail(counted, new ChannelError(counted, `sync channel handshake refused: ${counted}`), 'end');
  }

  private handshakeMac(label: Buffer, nonce?: Buffer): (parts: readonly Uint8Array[]) => Buffer {
    return (parts) => tagOf(this.key, nonce === undefined ? [label] : [label, nonce], parts);
  }

  /** The MAC of the next frame in this direction (send) or the expected one from the peer. */
  private sessionMac(way: 'send' | 'recv'): (parts: readonly Uint8Array[]) => Buffer {
    const session = this.session;
    if (session === null) throw new Error('sync channel: no session key yet');
    const client = this.role.role === 'client';
    const dir = (way === 'send') === client ? CLIENT_TO_SERVER : SERVER_TO_CLIENT;
    const seq = way === 'send' ? this.sendSeq++ : this.recvSeq++;
    const context = Buffer.allocUnsafe(9);
    context[0] = dir;
    context.writeUInt32BE(Math.floor(seq / 2 ** 32), 1);
    context.writeUInt32BE(seq >>> 0, 5);
    return (parts) => tagOf(session, [context], parts);
  }

  private verifySession(body: Buffer, tag: Buffer): boolean {
    return verify(tag, this.sessionMac('recv')([body]));
  }

  // --- closing --------------------------------------------------------------------------------

  /** Rejects what arrived: counted, the channel closed at once, nothing delivered. */
  private reject(reason: string): void {
    this.fail(reason, new ChannelError(reason, `sync channel handshake failed: ${reason}`), 'destroy');
  }

  private fail(reason: string, handshakeError: ChannelError, mode: 'destroy' | 'end'): void {
    if (this.closeReason !== null) return;
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.handshake?.reject(handshakeError);
    this.handshake = null;
    this.finish(reason, mode);
  }

  /**
   * Closes once: 'bye' says goodbye first (if open), 'end' ends our side and lets the peer end
   * its own (destroyed after a grace period), 'destroy' drops the connection.
   */
  private finish(reason: string, mode: 'bye' | 'end' | 'destroy'): void {
    if (this.closeReason !== null) return;
    const wasOpen = this.phase === 'open';
    this.closeReason = reason;
    clearTimeout(this.timer);
    if (mode === 'bye' && wasOpen && this.socket.writable) {
      void this.emit(Kind.bye, encodeJson({ reason }, MAX_HANDSHAKE_HEADER_BYTES, 'reason'), null, this.sessionMac('send'))
        .catch(() => undefined);
    }
    this.phase = 'closed';
    this.input.clear();
    if (mode === 'destroy' || !this.socket.writable) {
      this.socket.destroy();
    } else {
      this.socket.end();
      this.socket.resume(); // read (and drop) until the peer's FIN
      setTimeout(() => { this.socket.destroy(); }, CLOSE_GRACE_MS).unref();
    }
    const err = new ChannelError(reason, `sync channel closed: ${reason}`);
    for (const rejectSend of [...this.senders]) rejectSend(err);
    this.senders.clear();
    this.drainWaiters.length = 0;
    for (const reader of this.readers.splice(0)) reader(null);
    this.handshake?.reject(new ChannelError(reason, `sync channel handshake failed: ${reason}`));
    this.handshake = null;
    this.resolveClosed(reason);
  }
}

/** Received bytes, in the chunks the socket delivered: a frame is copied out once, whole. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first n bytes (n ≤ length), left in place. */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let at = this.offset;
    for (const chunk of this.chunks) {
      if (filled === n) break;
      filled += chunk.copy(out, filled, at, Math.min(chunk.length, at + n - filled));
      at = 0;
    }
    return out;
  }

  /** Removes and returns the first n bytes (n ≤ length): a view when one chunk holds them. */
  take(n: number): Buffer {
    this.length -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(first, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new Error('ByteQueue: not enough bytes');
      const k = chunk.copy(out, filled, this.offset, Math.min(chunk.length, this.offset + n - filled));
      filled += k;
      this.advance(chunk, k);
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.length = 0;
  }

  private advance(chunk: Buffer, k: number): void {
    this.offset += k;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

function secretOf(key: Uint8Array): KeyObject {
  if (key.length < MIN_KEY_BYTES) throw new Error(`sync channel: the cluster key must have at least ${MIN_KEY_BYTES} bytes`);
  return createSecretKey(key);
}

function deriveSession(key: KeyObject, nonceC: Buffer, nonceS: Buffer): KeyObject {
  return createSecretKey(tagOf(key, [LABEL.session, nonceC, nonceS], []));
}

function tagOf(key: KeyObject, context: readonly Uint8Array[], parts: readonly Uint8Array[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const c of context) hmac.update(c);
  for (const p of parts) hmac.update(p);
  return hmac.digest();
}

function verify(tag: Buffer, expected: Buffer): boolean {
  return tag.length === expected.length && timingSafeEqual(tag, expected);
}

function encodeJson(value: unknown, max: number, what: string): Buffer {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  if (bytes.length > max) throw new RangeError(`sync channel: ${what} of ${bytes.length} bytes exceeds ${max}`);
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON object (not an array), or null. */
function parseObject(bytes: Uint8Array): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
