/**
 * The configuration loader: one YAML file, identical on both nodes. This module reads files; the
 * validation itself is pure (parse.ts). Nothing here throws on bad input.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from './parse.js';
import type { ConfigError, ConfigResult, TandemConfig } from './types.js';

export { parseConfig } from './parse.js';
export { nodeNames, peerName, resolveNode, toCoreConfig } from './core.js';
export { formatConfigError } from './types.js';
export type {
  ClusterConfig, CommandsConfig, ConfigError, ConfigResult, InterfaceConfig, NextHopConfig, NodeConfig, ServiceConfig,
  TandemConfig, VipConfig,
} from './types.js';

/** The shortest accepted heartbeat key, in bytes (HMAC-SHA256's own size). */
export const MIN_KEY_BYTES = 32;

/** Reads and validates a configuration file; every problem is returned, none thrown. */
export function loadConfig(file: string): ConfigResult {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, errors: [{ file: path, field: '', reason: `cannot read the configuration: ${ioReason(e)}` }] };
  }
  return parseConfig(text, path);
}

/**
 * Reads the cluster's heartbeat key. Refused: a missing or unreadable file, one that is not a
 * regular file, one that group or others may access (mode & 0o077), one shorter than 32 bytes.
 * The key is the file's bytes exactly: a key is random bytes (`head -c 32 /dev/urandom`), and
 * one that happens to end in a CR or LF byte must keep it. Copy the file to the other node; do
 * not paste it.
 */
export function readClusterKey(
  config: TandemConfig,
): { readonly ok: true; readonly key: Uint8Array } | { readonly ok: false; readonly error: ConfigError } {
  const path = config.cluster.keyFile;
  const fail = (reason: string) => ({ ok: false as const, error: { file: config.file, field: 'cluster.key_file', reason } });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') {
      return fail(`key file ${path} does not exist; create it once (head -c 32 /dev/urandom > ${path}; chmod 600 ${path}) and copy it to both nodes`);
    }
    return fail(`cannot read key file ${path}: ${ioReason(e)}`);
  }
  try {
    // fstat on the open descriptor: the file checked is the file read.
    const stat = fstatSync(fd);
    if (!stat.isFile()) return fail(`key file ${path} is not a regular file`);
    const loose = stat.mode & 0o077;
    if (loose !== 0) {
      const what = [(loose & 0o044) !== 0 ? 'readable' : '', (loose & 0o022) !== 0 ? 'writable' : '', (loose & 0o011) !== 0 && (loose & 0o066) === 0 ? 'accessible' : '']
        .filter((w) => w !== '').join(' and ');
      const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
      return fail(`key file ${path} is ${what} by group or others (mode ${mode}); run chmod 600 ${path}`);
    }
    const key = new Uint8Array(readFileSync(fd));
    if (key.length < MIN_KEY_BYTES) {
      return fail(`key file ${path} holds ${key.length} bytes; a key needs at least ${MIN_KEY_BYTES} (head -c 32 /dev/urandom > ${path})`);
    }
    return { ok: true, key };
  } catch (e) {
    return fail(`cannot read key file ${path}: ${ioReason(e)}`);
  } finally {
    closeSync(fd);
  }
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function ioReason(e: unknown): string {
  switch (errorCode(e)) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'it is a directory';
    case undefined:
    default: return e instanceof Error ? e.message : String(e);
  }
}
