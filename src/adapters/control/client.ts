import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ActionReply, ControlAction } from './protocol.js';

/**
 * Where a node's operations are: its control socket (local root), or its HTTPS API (a URL and a
 * token, the remote CLI). Both serve the same operations table.
 */
export type Endpoint =
  | { readonly socketPath: string }
  | {
    readonly url: string; readonly token: string;
    /** The certificate (PEM) to trust; by default the one pinned on first use (pinnedCertificate). */
    readonly ca?: string;
    /** No certificate check at all (a lab, a test). */
    readonly insecure?: boolean;
  };

/** No daemon listens on the control socket (no socket file, or nobody accepting): nothing answered at all. */
export class NodeNotRunning extends Error {}

export interface CallOptions {
  /** JSON body. */
  readonly body?: unknown;
  /** A raw byte stream sent as application/octet-stream (an upload), with its size. */
  readonly upload?: { readonly stream: Readable; readonly size: number };
  /** Progress lines of a streamed operation, as they arrive. */
  readonly onProgress?: (line: string) => void;
  /** Upload bytes handed to the socket so far. */
  readonly onSent?: (bytes: number, total: number) => void;
  /**
   * Where a file reply (not JSON: a download operation) goes, streamed; the call
   * then resolves with `{ bytes, name }` once the sink has it all. A refusal is JSON as usual.
   */
  readonly download?: Writable;
  /** Without a byte from the node for this long, the call fails (default 5 s). */
  readonly timeoutMs?: number;
}

export interface CallResult { readonly status: number; readonly body: unknown }

/** One operation call. A streamed reply (NDJSON) resolves with its result or its error. */
export async function call(endpoint: Endpoint, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: CallOptions = {}): Promise<CallResult> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string | number> = {};
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (opts.upload !== undefined) {
    headers['content-type'] = 'application/octet-stream';
    headers['content-length'] = opts.upload.size;
  }
  const timeoutMs = opts.timeoutMs ?? 5000;
  let req: ReturnType<typeof httpRequest>;
  const where = 'socketPath' in endpoint ? endpoint.socketPath : endpoint.url;
  const done = new Promise<CallResult>((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => { readReply(res, opts).then(resolve, reject); };
    if ('socketPath' in endpoint) {
      req = httpRequest({ socketPath: endpoint.socketPath, method, path, headers }, onResponse);
    } else {
      const base = new URL(endpoint.url);
      const options: RequestOptions & { ca?: string; rejectUnauthorized?: boolean; checkServerIdentity?: () => undefined } = {
        host: base.hostname, port: base.port === '' ? 443 : Number(base.port), method,
        path: `${base.pathname.replace(/\/$/, '')}/api${path}`,
        headers: { ...headers, authorization: `Bearer ${endpoint.token}` },
        rejectUnauthorized: endpoint.insecure !== true,
        // A pinned certificate is the node's identity: the name it is reached by need not be in it.
        ...(endpoint.ca === undefined ? {} : { ca: endpoint.ca, checkServerIdentity: () => undefined }),
      };
      req = (base.protocol === 'http:' ? httpRequest : httpsRequest)(options, onResponse);
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject('socketPath' in endpoint ? new NodeNotRunning(`the node daemon is not running (no control socket at ${where})`) : new Error(`cannot reach ${where}: ${err.code}`));
      } else if ('ca' in endpoint && endpoint.ca !== undefined && /CERT|SELF_SIGNED|SIGNATURE/.test(err.code ?? '')) {
        reject(new Error(`${where} presents another certificate than the one trusted for it (${err.code ?? ''}): if the node was reinstalled, remove its entry from the known nodes file; otherwise someone else answers`));
      } else {
        reject(err);
      }
    });
    req.setTimeout(timeoutMs, () => { req.destroy(new Error(`the node did not answer within ${String(timeoutMs / 1000)} s`)); });
    if (opts.upload !== undefined) {
      const { stream, size } = opts.upload;
      let sent = 0;
      stream.on('data', (c: Buffer) => { sent += c.length; opts.onSent?.(sent, size); });
      stream.on('error', (err) => { req.destroy(err); });
      stream.pipe(req);
    } else {
      if (payload !== undefined) req.write(payload);
      req.end();
    }
  });
  return done;
}

async function readReply(res: IncomingMessage, opts: CallOptions): Promise<CallResult> {
  const status = res.statusCode ?? 0;
  // A file reply is whatever is not JSON: octet-stream, or its own type (the support bundle is application/gzip).
  const type = res.headers['content-type'] ?? '';
  if (opts.download !== undefined && status < 400 && !type.startsWith('application/json') && !type.startsWith('application/x-ndjson')) {
    let bytes = 0;
    res.on('data', (c: Buffer) => { bytes += c.length; });
    await pipeline(res, opts.download);
    const name = /filename="([^"]*)"/.exec(res.headers['content-disposition'] ?? '')?.[1] ?? null;
    const expected = Number(res.headers['content-length']);
    if (Number.isSafeInteger(expected) && expected !== bytes) throw new Error(`the download ended after ${String(bytes)} of ${String(expected)} bytes`);
    return { status, body: { bytes, name } };
  }
  if ((res.headers['content-type'] ?? '').startsWith('application/x-ndjson')) {
    let rest = '';
    let final: CallResult | null = null;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      rest += chunk.toString('utf8');
      for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line === '') continue;
        const msg = JSON.parse(line) as { progress?: string; result?: unknown; error?: { status: number; messages: string[] } };
        if (msg.progress !== undefined) opts.onProgress?.(msg.progress);
        else if (msg.error !== undefined) final = { status: msg.error.status, body: { ok: false, messages: msg.error.messages } };
        else final = { status, body: msg.result };
      }
    }
    return final ?? { status: 502, body: { ok: false, messages: ['the node ended the reply without a result'] } };
  }
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  try { return { status, body: JSON.parse(text) as unknown }; } catch { return { status, body: text }; }
}

/** Talks to a node's daemon through its control socket. */
export async function controlRequest(
  socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 5000,
): Promise<CallResult> {
  return call({ socketPath }, method, path, { body, timeoutMs });
}

export async function sendAction(socketPath: string, action: ControlAction): Promise<ActionReply> {
  // A barrier may wait up to its own timeout; every other action answers at once.
  const timeoutMs = action.type === 'barrier' ? action.timeout_ms + 5000 : 5000;
  const r = await controlRequest(socketPath, 'POST', '/action', action, timeoutMs);
  return r.body as ActionReply;
}
