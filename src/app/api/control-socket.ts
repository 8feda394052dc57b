/**
 * The control socket: `<state_dir>/control.sock`, mode 0600, so only root reaches it; every
 * operation of the table, with root as the caller (the HTTPS API is the same table behind a
 * sign-in). A stale socket file from a crash is replaced.
 */
import { chmodSync, rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildServer, type AnyOperation, type ServeOptions } from './server.js';
import type { Caller } from './operation.js';

export const ROOT: Caller = { user: 'root', role: 'root', from: 'control socket' };

export async function startControlSocket<A>(
  socketPath: string, app: A, operations: readonly AnyOperation<A>[], audit?: ServeOptions<A>['audit'],
): Promise<FastifyInstance> {
  rmSync(socketPath, { force: true });
  const server = buildServer({ app, operations, authenticate: () => ROOT, audit });
  await server.listen({ path: socketPath });
  chmodSync(socketPath, 0o600);
  return server;
}
