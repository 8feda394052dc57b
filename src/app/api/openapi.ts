/**
 * The OpenAPI 3.1 document of the HTTPS API, generated from the operations table: the same zod
 * schemas the server checks requests with (z.toJSONSchema), so the document cannot drift from
 * the code. Served at /api/openapi.json.
 */
import { z } from 'zod';
import type { AnyOperation } from './server.js';

type Json = Record<string, unknown>;

const ERROR = { type: 'object', properties: { ok: { const: false }, messages: { type: 'array', items: { type: 'string' } } }, required: ['ok', 'messages'] };

function schema(s: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

/** `/firmware/:slot/test` → `/firmware/{slot}/test`. */
const openapiPath = (p: string): string => p.replace(/:([A-Za-z_]+)/g, '{$1}');

function parameters(s: z.ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (s === undefined) return [];
  const js = schema(s, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, p]) => ({
    name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: p,
  }));
}

export interface ExtraPath { readonly path: string; readonly method: string; readonly operation: Json }

export function openapiDocument<A>(operations: readonly AnyOperation<A>[], version: string, extra: readonly ExtraPath[] = []): Json {
  const paths: Record<string, Record<string, Json>> = {};
  const add = (path: string, method: string, op: Json): void => { (paths[path] ??= {})[method] = op; };
  for (const op of operations) {
    const responses: Json = {
      200: op.progress === true
        ? { description: 'progress lines, then the result: {"progress": text} … then {"result": …} or {"error": {status, messages}}', content: { 'application/x-ndjson': { schema: { oneOf: [
          { type: 'object', properties: { progress: { type: 'string' } }, required: ['progress'] },
          { type: 'object', properties: { result: schema(op.reply, 'output') }, required: ['result'] },
          { type: 'object', properties: { error: { type: 'object' } }, required: ['error'] },
        ] } } } }
        : op.download === true ? { description: 'the file, streamed (Content-Disposition names it)', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }
        : { description: 'the result', content: { 'application/json': { schema: schema(op.reply, 'output') } } },
      400: { description: 'refused: the input (the field and why)', content: { 'application/json': { schema: ERROR } } },
      401: { description: 'not signed in', content: { 'application/json': { schema: ERROR } } },
      403: { description: 'not allowed (a viewer, or a change without the CSRF token)', content: { 'application/json': { schema: ERROR } } },
      default: { description: 'refused, with the reasons', content: { 'application/json': { schema: ERROR } } },
    };
    const body = op.upload === true
      ? { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }
      : op.body === undefined ? undefined : { required: true, content: { 'application/json': { schema: schema(op.body, 'input') } } };
    add(`/api${openapiPath(op.path)}`, op.method.toLowerCase(), {
      operationId: op.id,
      summary: op.summary,
      'x-access': op.access,
      parameters: [...parameters(op.params, 'path'), ...parameters(op.query, 'query')],
      ...(body === undefined ? {} : { requestBody: body }),
      responses,
    });
  }
  for (const e of extra) add(e.path, e.method, e.operation);
  return {
    openapi: '3.1.0',
    info: { title: 'Tandem node API', version, description: 'The operations of one Tandem node. Sign in with POST /api/session (a session cookie; send its CSRF token in X-CSRF-Token with every change) or send an API token as Authorization: Bearer.' },
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'tandem_session' },
        token: { type: 'http', scheme: 'bearer' },
      },
    },
    security: [{ session: [] }, { token: [] }],
    paths,
  };
}
