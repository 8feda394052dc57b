/**
 * Serves the operations table (operation.ts) with Fastify, on any transport: the control socket
 * (a unix socket, root only) and the HTTPS API differ only in how the caller is authenticated.
 * Input is checked with the operation's zod schemas before the handler runs; a refusal changes
 * nothing and says which field and why.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { OpError, type Caller, type Download, type Operation } from './operation.js';

// The table holds operations of many input and output types; each is checked by its own schemas.
export type AnyOperation<A> = Operation<A, unknown, unknown, unknown>;

export interface ServeOptions<A> {
  readonly app: A;
  readonly operations: readonly AnyOperation<A>[];
  /** The caller of a request, or an OpError (401: not signed in, 403: not allowed). */
  readonly authenticate: (req: FastifyRequest) => Caller | Promise<Caller>;
  /** Largest JSON body; uploads stream and are bounded by what they carry. */
  readonly bodyLimit?: number;
  /** Prefix of every operation's path (the HTTPS API serves them under /api). */
  readonly prefix?: string;
  /** Extra Fastify options (e.g. https). */
  readonly fastify?: FastifyServerOptions & Record<string, unknown>;
  /** Called after each change operation (the audit log): who, from where, what, and how it ended. */
  readonly audit?: (entry: { readonly caller: Caller; readonly op: string; readonly ok: boolean; readonly detail: string }) => void;
}

const DEFAULT_BODY_LIMIT = 64 * 1024;

export function buildServer<A>(opts: ServeOptions<A>): FastifyInstance {
  const server = Fastify({ bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT, logger: false, ...opts.fastify });
  // Uploads reach their handler as the request stream itself: never buffered, never parsed.
  server.addContentTypeParser('application/octet-stream', (_req, payload, done) => { done(null, payload); });
  server.setErrorHandler((err: { statusCode?: number; message: string; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    const message = err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
      ? `the request body is not valid JSON: ${err.message}`
      : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the request body is larger than ${String(opts.bodyLimit ?? DEFAULT_BODY_LIMIT)} bytes` : err.message;
    void reply.code(status).send({ ok: false, messages: [message] });
  });
  server.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ ok: false, messages: [`no such endpoint: ${req.method} ${req.url}`] });
  });
  const callers = new WeakMap<FastifyRequest, Caller>();
  for (const op of opts.operations) {
    server.route({
      method: op.method,
      url: `${opts.prefix ?? ''}${op.path}`,
      // Who calls, and whether they may, is settled before a byte of the body is read: an
      // unauthenticated upload is never received, a malformed body from a stranger is a 401.
      onRequest: async (req, reply) => {
        try {
          const caller = await opts.authenticate(req);
          mayCall(op, caller);
          callers.set(req, caller);
        } catch (err) {
          const e = err instanceof OpError ? err : new OpError(500, [(err as Error).message]);
          await reply.code(e.status).send({ ok: false, messages: e.messages });
        }
      },
      handler: (req, reply) => handle(opts, op, callers.get(req), req, reply),
    });
  }
  return server;
}

/** A viewer reads; only admins and root change anything. */
function mayCall<A>(op: AnyOperation<A>, caller: Caller): void {
  if (op.access === 'change' && caller.role === 'viewer') throw new OpError(403, [`${caller.user} is a viewer: ${op.summary.toLowerCase()} needs an admin`]);
}

/** A request as any transport hands it over, before checks. */
export interface RawRequest {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
  /** The body stream of an upload; null for every other request. */
  readonly upload: Readable | null;
  readonly size: number | null;
}

/**
 * Checks and runs one operation for a caller: the access rule, then the input against the
 * operation's schemas (a refusal names the field), then the application-layer call. Every
 * transport goes through here (Fastify routes, the peer channel), and so does the audit log.
 */
export async function runOperation<A>(
  opts: Pick<ServeOptions<A>, 'app' | 'audit'>, op: AnyOperation<A>, caller: Caller, raw: RawRequest, progress: (line: string) => void,
): Promise<unknown> {
  try {
    mayCall(op, caller);
    if (op.upload === true && raw.upload === null) throw new OpError(415, ['send the file as application/octet-stream']);
    const params = check(op.params, raw.params, 'path');
    const query = check(op.query, raw.query, 'query');
    const body = op.upload === true ? undefined : check(op.body, raw.body ?? {}, 'body');
    const result = await op.run(opts.app, { params, query, body, upload: raw.upload, size: raw.size, caller, progress });
    audit(opts, op, caller, true, '');
    return result;
  } catch (err) {
    const e = err instanceof OpError ? err : new OpError(500, [(err as Error).message]);
    audit(opts, op, caller, false, e.messages.join('; '));
    throw e;
  }
}

/** The operation a method and path name, with the path's parameters (`/firmware/:slot` ← `/firmware/2`). */
export function findOperation<A>(operations: readonly AnyOperation<A>[], method: string, path: string): { op: AnyOperation<A>; params: Record<string, string> } | null {
  const parts = path.split('?')[0]?.split('/') ?? [];
  for (const op of operations) {
    if (op.method !== method) continue;
    const pattern = op.path.split('/');
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    if (pattern.every((seg, i) => {
      const part = parts[i] ?? '';
      if (seg.startsWith(':')) { params[seg.slice(1)] = decodeURIComponent(part); return part !== ''; }
      return seg === part;
    })) return { op, params };
  }
  return null;
}

async function handle<A>(opts: ServeOptions<A>, op: AnyOperation<A>, caller: Caller | undefined, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  if (caller === undefined) return reply.code(401).send({ ok: false, messages: ['not signed in'] });
  const isUpload = op.upload === true && req.headers['content-type'] === 'application/octet-stream';
  const length = Number(req.headers['content-length']);
  const raw: RawRequest = {
    params: req.params, query: req.query, body: isUpload ? undefined : req.body,
    upload: isUpload ? req.body as Readable : null,
    size: Number.isSafeInteger(length) && length >= 0 ? length : null,
  };
  if (op.progress === true) { await streamed(opts, op, reply, caller, raw); return; }
  try {
    if (op.download === true) {
      const d = await runOperation(opts, op, caller, raw, () => { /* not streamed */ }) as Download;
      void reply.header('content-type', d.contentType ?? 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${d.name.replace(/[^A-Za-z0-9._@+-]/g, '_')}"`)
        .header('cache-control', 'no-store');
      if (d.size !== null) void reply.header('content-length', d.size);
      return await reply.send(d.stream);
    }
    return await reply.send(await runOperation(opts, op, caller, raw, () => { /* not streamed */ }));
  } catch (err) {
    const e = err as OpError;
    return reply.code(e.status).send({ ok: false, messages: e.messages });
  }
}

/** Progress lines as they happen, then the result: one JSON object per line. */
async function streamed<A>(opts: ServeOptions<A>, op: AnyOperation<A>, reply: FastifyReply, caller: Caller, raw: RawRequest): Promise<void> {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const line = (v: unknown): void => { if (!out.writableEnded) out.write(`${JSON.stringify(v)}\n`); };
  try {
    line({ result: await runOperation(opts, op, caller, raw, (text) => { line({ progress: text }); }) });
  } catch (err) {
    const e = err as OpError;
    line({ error: { status: e.status, messages: e.messages } });
  }
  out.end();
}

function audit<A>(opts: Pick<ServeOptions<A>, 'audit'>, op: AnyOperation<A>, caller: Caller, ok: boolean, detail: string): void {
  if (op.access === 'change') opts.audit?.({ caller, op: op.id, ok, detail });
}

function check(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (schema === undefined) return undefined;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new OpError(400, r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : where}: ${i.message}`));
}
