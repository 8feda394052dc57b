/**
 * What every operator command shares: which node it talks to (the local node's control socket,
 * found through --config/--node, or a remote node's HTTPS API through --url/--token), one
 * operation call, and how a failure is reported (exit 1, the node's own messages).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { call, type CallOptions, type CallResult, type Endpoint } from '../adapters/control/client.js';
import { CONTROL_SOCKET } from '../adapters/control/protocol.js';
import { formatConfigError, loadConfig } from '../config/load.js';

export interface Target {
  readonly config: string;
  readonly node: string;
  readonly url?: string;
  readonly token?: string;
  readonly insecure?: boolean;
}

export const withTarget = (cmd: Command): Command => cmd
  .addOption(new Option('--config <file>', 'cluster configuration file').env('TANDEM_CONFIG').default('/etc/tandem/tandem.yaml'))
  .addOption(new Option('--node <name>', 'which node of the configuration this is').env('TANDEM_NODE').default(hostname()));

export function fail(message: string): never {
  process.stderr.write(`tandem: ${message}\n`);
  process.exit(1);
}

export function socketOf(t: Target): string {
  const loaded = loadConfig(t.config);
  if (!loaded.ok) fail(loaded.errors.map(formatConfigError).join('\n'));
  const node = loaded.config.nodes[t.node];
  if (node === undefined) fail(`node ${t.node} is not in ${t.config} (known: ${Object.keys(loaded.config.nodes).join(', ')})`);
  return join(node.stateDir, CONTROL_SOCKET);
}

export function endpointOf(t: Target): Endpoint {
  if (t.url !== undefined) {
    if (t.token === undefined) fail('--url needs --token (or TANDEM_TOKEN): create one with tandem user token');
    return { url: t.url, token: t.token, insecure: t.insecure === true };
  }
  return { socketPath: socketOf(t) };
}

/** One operation call; a refusal (HTTP status ≥ 400) prints the node's messages and exits 1. */
export async function callOp(t: Target, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: CallOptions = {}): Promise<CallResult> {
  let r: CallResult;
  try {
    r = await call(endpointOf(t), method, path, opts);
  } catch (err) {
    fail((err as Error).message);
  }
  if (r.status >= 400) {
    const messages = (r.body as { messages?: unknown }).messages;
    fail(Array.isArray(messages) ? messages.join('\n') : `the node answered ${String(r.status)}`);
  }
  return r;
}

export const print = (json: boolean | undefined, value: unknown, text: () => string): void => {
  console.log(json === true ? JSON.stringify(value, null, 2) : text());
};
