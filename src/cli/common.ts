/**
 * What every operator command shares: which node it talks to (the local node's control socket,
 * found through --config/--node, or a remote node's HTTPS API through --url/--token), one
 * operation call, and how a failure is reported (exit 1, the node's own messages).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { call, type CallOptions, type CallResult, type Endpoint } from '../adapters/control/client.js';
import { pinnedCertificate } from '../adapters/control/pinning.js';
import { CONTROL_SOCKET } from '../adapters/control/protocol.js';
import { formatConfigError, loadConfig } from '../config/load.js';

export interface Target {
  readonly config: string;
  readonly node: string;
}

/** `tandem --url https://HOST:8443 --token … COMMAND`: the remote node every command then talks to. */
export interface Remote { readonly url?: string; readonly token?: string; readonly insecure?: boolean; readonly ca?: string }

let remote: () => Remote = () => ({});

/** The program's global options (set once by tandem.ts). */
export function useRemote(options: () => Remote): void { remote = options; }

export function addRemoteOptions(program: Command): Command {
  return program
    .addOption(new Option('--url <url>', "a remote node's HTTPS API (https://HOST:8443): every command then talks to it").env('TANDEM_URL'))
    .addOption(new Option('--token <token>', 'the API token for --url (tandem user token NAME)').env('TANDEM_TOKEN'))
    .addOption(new Option('--ca <file>', "the node's certificate to trust (default: pinned on first use)"))
    .addOption(new Option('--insecure', 'do not check the certificate at all'));
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

export async function endpointOf(t: Target): Promise<Endpoint> {
  const r = remote();
  if (r.url !== undefined) {
    if (r.token === undefined) fail('--url needs --token (or TANDEM_TOKEN): make one with tandem user token NAME');
    if (r.insecure === true) return { url: r.url, token: r.token, insecure: true };
    const ca = r.ca !== undefined ? readFileSync(r.ca, 'utf8') : await pinnedCertificate(r.url, (m) => { process.stderr.write(`tandem: ${m}\n`); });
    return { url: r.url, token: r.token, ca };
  }
  return { socketPath: socketOf(t) };
}

/** One operation call; a refusal (HTTP status ≥ 400) prints the node's messages and exits 1. */
export async function callOp(t: Target, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: CallOptions = {}): Promise<CallResult> {
  let r: CallResult;
  try {
    r = await call(await endpointOf(t), method, path, opts);
  } catch (err) {
    fail((err as Error).message);
  }
  const refused = refusalOf(r, '\n');
  if (refused !== null) fail(refused);
  return r;
}

/** A refused call's messages (joined by `sep`), or null when the node answered with success. */
export function refusalOf(r: CallResult, sep: string): string | null {
  if (r.status < 400) return null;
  const messages = (r.body as { messages?: unknown }).messages;
  return Array.isArray(messages) ? messages.join(sep) : `the node answered ${String(r.status)}`;
}

export const print = (json: boolean | undefined, value: unknown, text: () => string): void => {
  console.log(json === true ? JSON.stringify(value, null, 2) : text());
};
