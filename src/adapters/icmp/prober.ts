/**
 * Next-hop probes: ICMP echo requests sent in this process through the native addon
 * (`native/icmp/`), one raw socket per interface bound with SO_BINDTODEVICE, replies read on the
 * Node.js event loop. No process is forked per probe. See docs/icmp.md.
 *
 * Requires root (or CAP_NET_RAW) and the addon built by `npm install` (node-gyp).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ECHO_BYTES, parseEchoReply, parseIpv4, writeEchoRequest } from './packet.js';

export interface IcmpReply { readonly interface: string; readonly address: string; readonly seq: number }

export interface IcmpProber {
  /** Sends one echo request to `address` out of interface `iface`, with this sequence number. */
  send(iface: string, address: string, seq: number): void;
  close(): void;
}

export interface IcmpProberOptions {
  readonly onReply: (reply: IcmpReply) => void;
  /** Send and socket errors (never thrown); without it they are dropped. */
  readonly onError?: (err: Error) => void;
}

/** An error of the prober: `code` is the errno name when the system refused (ENODEV, ENETUNREACH, EPERM, ...). */
export class IcmpError extends Error {
  override readonly name = 'IcmpError';
  readonly code: string;
  readonly interface: string;
  readonly address: string | undefined;
  constructor(message: string, fields: { code: string; interface: string; address?: string; cause?: unknown }) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = fields.code;
    this.interface = fields.interface;
    this.address = fields.address;
  }
}

/** The addon's surface (native/icmp/src/icmp.c). */
interface NativeSocket { readonly __nativeIcmpSocket: unique symbol }
type OnPackets = (error: (Error & { code?: string }) | null, count: number, fatal: boolean) => void;
interface NativeIcmp {
  /** Datagrams are read into `slots` (SLOT_BYTES each: a big-endian u16 length, then the datagram); onPackets says how many. */
  open(ifname: string, identifier: number, slots: Buffer, onPackets: OnPackets): NativeSocket;
  send(socket: NativeSocket, destination: number, packet: Buffer): void;
  close(socket: NativeSocket): void;
  readonly SLOT_BYTES: number;
}

/** Datagrams read per recvmmsg() call. At 2,560 replies/s over 20 ms ticks about 51 arrive at once. */
const SLOTS = 64;

const ADDON = fileURLToPath(new URL('../../../native/icmp/build/Release/tandem_icmp.node', import.meta.url));
let native: NativeIcmp | undefined;

function loadNative(): NativeIcmp {
  if (native) return native;
  if (!existsSync(ADDON)) {
    throw new Error(`the ICMP addon is not built (${ADDON}); run npm install, or node-gyp rebuild --directory native/icmp`);
  }
  native = createRequire(import.meta.url)(ADDON) as NativeIcmp;
  return native;
}

// Echo identifiers in use by probers of this process, so two probers never share one.
const identifiersInUse = new Set<number>();

function pickIdentifier(): number {
  for (;;) {
    const id = randomBytes(2).readUInt16BE(0);
    if (!identifiersInUse.has(id)) {
      identifiersInUse.add(id);
      return id;
    }
  }
}

// Linux interface names: 1..15 bytes, no '/', no whitespace, not "." or "..".
function validInterfaceName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) < 16 && !/[/\s\0:]/.test(name) && name !== '.' && name !== '..';
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Errors after which the interface's socket is reopened on the next send (the device went away or was replaced). */
const REOPEN_ON = new Set(['ENODEV', 'ENXIO', 'EBADF']);

export function openIcmpProber(opts: IcmpProberOptions): IcmpProber {
  const addon = loadNative();
  const identifier = pickIdentifier();
  const token = randomBytes(4).readUInt32BE(0);
  const sockets = new Map<string, NativeSocket>();
  const packet = Buffer.alloc(ECHO_BYTES);
  let closed = false;

  const report = (err: Error): void => {
    try {
      opts.onError?.(err);
    } catch {
      // The error handler's own failure must not reach the event loop.
    }
  };

  const drop = (iface: string): void => {
    const socket = sockets.get(iface);
    if (socket === undefined) return;
    sockets.delete(iface);
    try {
      addon.close(socket);
    } catch {
      // Already closed.
    }
  };

  const received = (iface: string, slots: Buffer, error: (Error & { code?: string }) | null, count: number, fatal: boolean): void => {
    try {
      if (error !== null) {
        report(new IcmpError(`icmp receive on ${iface}: ${error.message}`, { code: codeOf(error), interface: iface, cause: error }));
        if (fatal) drop(iface);
      }
      const slotBytes = addon.SLOT_BYTES;
      for (let i = 0; i < count && !closed; i++) {
        const at = i * slotBytes;
        const length = slots.readUInt16BE(at);
        if (length > slotBytes - 2) continue; // did not fit: not one of ours
        const reply = parseEchoReply(slots, identifier, token, at + 2, at + 2 + length);
        if (reply === undefined) continue;
        try {
          opts.onReply({ interface: iface, address: reply.address, seq: reply.seq });
        } catch (err) {
          report(new IcmpError(`icmp onReply threw: ${messageOf(err)}`, { code: 'ECALLBACK', interface: iface, address: reply.address, cause: err }));
        }
      }
    } catch (err) {
      report(new IcmpError(`icmp receive on ${iface}: ${messageOf(err)}`, { code: codeOf(err), interface: iface, cause: err }));
    }
  };

  const socketFor = (iface: string): NativeSocket => {
    let socket = sockets.get(iface);
    if (socket === undefined) {
      if (!validInterfaceName(iface)) throw new IcmpError('invalid interface name', { code: 'EINVAL', interface: iface });
      // Buffer.alloc (never the shared pool): the addon writes into this memory between calls.
      const slots = Buffer.alloc(SLOTS * addon.SLOT_BYTES);
      socket = addon.open(iface, identifier, slots, (error, count, fatal) => { received(iface, slots, error, count, fatal); });
      sockets.set(iface, socket);
    }
    return socket;
  };

  return {
    send(iface, address, seq) {
      const fail = (code: string, message: string, cause?: unknown): void => {
        report(new IcmpError(`icmp send to ${address} via ${iface}: ${message}`, { code, interface: iface, address, cause }));
      };
      if (closed) { fail('ECLOSED', 'the prober is closed'); return; }
      const destination = parseIpv4(address);
      if (destination === undefined) { fail('EINVAL', 'not an IPv4 address'); return; }
      if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) { fail('EINVAL', 'seq must be an integer in 0..65535'); return; }
      try {
        const socket = socketFor(iface);
        addon.send(socket, destination, writeEchoRequest(packet, { identifier, token, seq, destination }));
      } catch (err) {
        const code = codeOf(err);
        if (REOPEN_ON.has(code)) drop(iface);
        fail(code, messageOf(err), err);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const iface of [...sockets.keys()]) drop(iface);
      identifiersInUse.delete(identifier);
    },
  };
}
