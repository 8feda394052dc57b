/**
 * An operator operation, declared once: its route, who may call it, the zod schemas of its input
 * and output, and the application-layer call it makes. The control socket (local root), the HTTPS
 * API, the CLI (through either) and the web console all go through this one table
 * (operations.ts), so no action exists twice and the OpenAPI document is generated from the same
 * schemas the server checks.
 *
 * Errors: a handler throws OpError (status + messages); the reply is `{ ok: false, messages }`
 * like every refused action. Long operations stream their progress: one JSON object per line
 * (`application/x-ndjson`), `{ "progress": "…" }` lines then `{ "result": … }` or
 * `{ "error": { status, messages } }` — the same text the node log gets.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { AnyOperation } from './server.js';

/** `read`: any signed-in user (viewer or admin); `change`: admins (and root on the control socket). */
export type Access = 'read' | 'change';

export interface Caller {
  /** `root` on the control socket; the user name or token name over HTTPS. */
  readonly user: string;
  readonly role: 'root' | 'admin' | 'viewer';
  /** Where the request came from (`control socket`, or the client address). */
  readonly from: string;
}

export interface OpInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** The request body as a byte stream, for `upload` operations (never buffered whole). */
  readonly upload: Readable | null;
  /** Its declared length (Content-Length), when the client gave one. */
  readonly size: number | null;
  /** Sends one progress line to the caller (`progress` operations; a no-op otherwise). */
  readonly progress: (line: string) => void;
  readonly caller: Caller;
}

export interface Operation<A, P = undefined, Q = undefined, B = undefined, R = unknown> {
  /** The OpenAPI operationId, and the name the CLI parity test compares. */
  readonly id: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Fastify form: `/firmware/:slot/test`. */
  readonly path: string;
  readonly summary: string;
  readonly access: Access;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** The body is a raw byte stream (application/octet-stream). */
  readonly upload?: boolean;
  /** The reply streams progress lines before the result. */
  readonly progress?: boolean;
  /**
   * The reply is a file (application/octet-stream), streamed: `run` returns a Download (its
   * `reply` schema is not used). A refusal before the first byte is the usual JSON error.
   */
  readonly download?: boolean;
  /** Called by the other node only (the cluster upgrade's steps): no CLI command of its own. */
  readonly internal?: boolean;
  readonly reply: z.ZodType<R>;
  readonly run: (app: A, input: OpInput<P, Q, B>) => R | Promise<R>;
}

/** What a `download` operation returns: the bytes as a stream, never buffered whole. */
export interface Download {
  readonly stream: Readable;
  /** Its length when known (Content-Length); null: chunked. */
  readonly size: number | null;
  /** The file name offered to the caller (Content-Disposition). */
  readonly name: string;
  /** Default application/octet-stream. */
  readonly contentType?: string;
}

/** The reply of an operation that only says how it went (an action, a delete, a confirmation). */
export const ActionReply = z.object({ ok: z.boolean(), messages: z.array(z.string()) });

/** A table of operations of different input and reply types, as the servers mount them. */
export const operationTable = <A>(...ops: readonly unknown[]): AnyOperation<A>[] => ops as AnyOperation<A>[];

/** Declares an operation, inferring its types from the schemas. */
export function operation<A, P = undefined, Q = undefined, B = undefined, R = unknown>(o: Operation<A, P, Q, B, R>): Operation<A, P, Q, B, R> {
  return o;
}

/** A refusal with the HTTP status it maps to and what to tell the operator. */
export class OpError extends Error {
  constructor(readonly status: number, readonly messages: readonly string[]) {
    super(messages.join('; '));
    this.name = 'OpError';
  }
}

export const refuse = (status: number, ...messages: string[]): never => {
  throw new OpError(status, messages);
};

/** The whole upload, refused past `max` bytes (small uploads — a license, a configuration export — held in memory). */
export async function readBounded(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) { stream.destroy(); refuse(413, `the upload is larger than ${String(max)} bytes`); }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
