/**
 * Operations on the other node, over the HA link: one call per authenticated channel
 * (adapters/sync/channel.ts, the data-sync port), so only a node holding the cluster key, from the
 * peer's HA address, can make one. The callee runs it through the same operations table as its
 * control socket and API (api/operations.ts), as the peer: the Other node pages of the console,
 * `tandem version`, and the cluster upgrade's steps on the other node are these calls.
 *
 *   caller → callee   hello { purpose: 'peer-call', cluster, node }      (handshake)
 *   caller → callee   call { method, path, body }, then ping … every PING_MS while it waits
 *   callee → caller   progress { line } …, then reply { status, body }
 *
 * The listener closes a channel on which nothing arrives for the heartbeat dead interval (a cut
 * cable), so the caller pings while a long operation (a Test) runs.
 */
import { z } from 'zod';
import { connectChannel, type AcceptAnswer, type Channel } from '../../adapters/sync/channel.js';
import { OpError, type Caller } from '../api/operation.js';
import { findOperation, runOperation, type AnyOperation } from '../api/server.js';

export const PEER_CALL = 'peer-call';
/** Well inside the shortest dead interval a listener uses (the fast profile's 200 ms). */
const PING_MS = 50;

const helloSchema = z.object({ purpose: z.literal(PEER_CALL), cluster: z.string(), node: z.string() });
const callSchema = z.object({
  type: z.literal('call'),
  method: z.enum(['GET', 'POST', 'PUT', 'DELETE']),
  path: z.string().min(1).max(1024),
  body: z.unknown().optional(),
});
const answerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), line: z.string() }),
  z.object({ type: z.literal('reply'), status: z.number().int(), body: z.unknown() }),
]);

export interface PeerCallServerOptions<A> {
  readonly cluster: string;
  readonly peer: string | null;
  readonly peerAddress: string | null;
  /** The application layer (asked for at each call: the daemon builds it after the listener). */
  readonly app: () => A;
  readonly operations: readonly AnyOperation<A>[];
  readonly log: (message: string) => void;
}

export interface PeerCallServer {
  /** Whether a hello is a peer call (the sync listener hands those here). */
  isPeerCall(hello: Readonly<Record<string, unknown>>): boolean;
  accept(hello: Readonly<Record<string, unknown>>, remote: string): AcceptAnswer;
  serve(channel: Channel): void;
}

export function peerCallServer<A>(o: PeerCallServerOptions<A>): PeerCallServer {
  return {
    isPeerCall: (hello) => hello.purpose === PEER_CALL,
    accept(raw, remote) {
      const h = helloSchema.safeParse(raw);
      if (!h.success) return { ok: false, reason: 'malformed peer call' };
      if (h.data.cluster !== o.cluster) return { ok: false, reason: `another cluster (${h.data.cluster})` };
      if (o.peer === null || h.data.node !== o.peer) return { ok: false, reason: `unknown node ${h.data.node}` };
      if (remote !== o.peerAddress) return { ok: false, reason: `node ${h.data.node} must call from its HA link address` };
      return { ok: true, header: {} };
    },
    serve(ch) { void serve(o, ch); },
  };
}

async function serve<A>(o: PeerCallServerOptions<A>, ch: Channel): Promise<void> {
  try {
    const frame = await ch.next();
    const call = callSchema.safeParse(frame?.header);
    if (!call.success) { ch.close('malformed call'); return; }
    const { method, path, body } = call.data;
    // The caller's pings: read (and dropped) so that the channel stays alive and unblocked.
    void (async () => { while (await ch.next() !== null) { /* ping */ } })();
    const caller: Caller = { user: `node ${o.peer ?? '?'}`, role: 'root', from: `HA link ${ch.remoteAddress}` };
    let status = 200;
    let reply: unknown;
    const found = findOperation(o.operations, method, path);
    try {
      if (found === null) throw new OpError(404, [`no such operation on this node: ${method} ${path}`]);
      if (found.op.upload === true) throw new OpError(400, ['uploads do not go over peer calls: the firmware store replicates bundles']);
      reply = await runOperation({ app: o.app() }, found.op, caller, { params: found.params, query: {}, body, upload: null, size: null }, (line) => {
        void ch.send({ type: 'progress', line }).catch(() => undefined);
      });
    } catch (err) {
      const e = err instanceof OpError ? err : new OpError(500, [(err as Error).message]);
      status = e.status;
      reply = { ok: false, messages: e.messages };
    }
    await ch.send({ type: 'reply', status, body: reply });
  } catch (err) {
    o.log(`peer call failed: ${(err as Error).message}`);
  } finally {
    ch.close('done');
  }
}

export interface PeerLink {
  readonly host: string;
  readonly port: number;
  readonly localAddress: string;
  readonly key: Uint8Array;
  readonly cluster: string;
  readonly node: string;
}

/** Calls an operation on the other node; rejects when it cannot be reached or does not answer in time. */
export async function peerCall(
  link: PeerLink, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string,
  opts: { readonly body?: unknown; readonly timeoutMs?: number; readonly onProgress?: (line: string) => void } = {},
): Promise<{ readonly status: number; readonly body: unknown }> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const ch = await connectChannel({
    host: link.host, port: link.port, localAddress: link.localAddress, key: link.key,
    hello: { purpose: PEER_CALL, cluster: link.cluster, node: link.node }, timeoutMs: Math.min(timeoutMs, 5000),
  });
  const timer = setTimeout(() => { ch.close('timeout'); }, timeoutMs);
  const pings = setInterval(() => { void ch.send({ type: 'ping' }).catch(() => undefined); }, PING_MS);
  try {
    await ch.send({ type: 'call', method, path, body: opts.body });
    for (;;) {
      const frame = await ch.next();
      if (frame === null) throw new Error(`the other node did not answer ${method} ${path}: ${ch.closeReason ?? 'closed'}`);
      const a = answerSchema.safeParse(frame.header);
      if (!a.success) throw new Error('the other node answered a peer call with a malformed frame');
      if (a.data.type === 'progress') opts.onProgress?.(a.data.line);
      else return { status: a.data.status, body: a.data.body };
    }
  } finally {
    clearTimeout(timer);
    clearInterval(pings);
    ch.close('done');
  }
}
