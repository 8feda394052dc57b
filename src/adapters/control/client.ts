import { request } from 'node:http';
import type { ActionReply, ControlAction } from './protocol.js';

/** Talks to a node's daemon through its control socket. */
export async function controlRequest(
  socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 5000,
): Promise<{ status: number; body: unknown }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }); } catch { resolve({ status: res.statusCode ?? 0, body: text }); }
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
        ? new Error(`the node daemon is not running (no control socket at ${socketPath})`)
        : err);
    });
    req.setTimeout(timeoutMs, () => { req.destroy(new Error(`the node daemon did not answer within ${String(timeoutMs / 1000)} s`)); });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function sendAction(socketPath: string, action: ControlAction): Promise<ActionReply> {
  // A barrier may wait up to its own timeout; every other action answers at once.
  const timeoutMs = action.type === 'barrier' ? action.timeout_ms + 5000 : 5000;
  const r = await controlRequest(socketPath, 'POST', '/action', action, timeoutMs);
  return r.body as ActionReply;
}
