/**
 * Test support: tiny firmware trees whose `dist/cli/tandem.js` is a node script standing in for
 * a whole Tandem, so the firmware service and the launcher run a target's own CLI for real
 * (`config check`, `config migrate`, `daemon`) in milliseconds:
 *
 * - `config check --json …` prints `{"ok":true,"summary":"fixture"}`, or a refusal with exit 1;
 * - `config migrate --config F …` rewrites F at the tree's schema (atomically, as the real one);
 * - `daemon --config F --node N` appends `{pid, name, slot, at}` to `<state_dir>/starts.jsonl`
 *   (how a test finds the daemon's pid and counts its starts), then is `healthy` (answers GET
 *   /status on `<state_dir>/control.sock`), `never-healthy` (stays up, never listens) or
 *   `crashes` (exits 1 at once). The state directory is read from the `state_dir:` line of F,
 *   which the tests write themselves (absolute).
 *
 * The fixture daemon has no launcher check of its own (the real daemon's TANDEM_LAUNCHER_PID
 * backstop): a daemon surviving its launcher's SIGKILL proves setpriv's PR_SET_PDEATHSIG failed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleFile } from '../../adapters/firmware/writer.js';
import { put } from '../../adapters/firmware/fixtures.test-support.js';
import type { ProtocolRange } from '../../core/firmware/types.js';

export type DaemonBehaviour = 'healthy' | 'never-healthy' | 'crashes';

export interface FirmwareFixture {
  /** Shown in starts.jsonl and in the migration comment. */
  readonly name: string;
  readonly version?: string;
  readonly daemon?: DaemonBehaviour;
  /** Whether the tree's `config check` accepts the configuration. */
  readonly configCheck?: 'ok' | 'refuses';
  /** CONFIG_SCHEMA of the tree's compat module (what its `config migrate` writes). */
  readonly configSchema?: number;
  readonly haProtocol?: ProtocolRange;
  /** More payload files (e.g. a large one, to make a bundle stream in several chunks). */
  readonly extra?: readonly { readonly path: string; readonly data: string | Uint8Array }[];
}

/** The message the refusing fixture's `config check` gives (Test shows it). */
export const REFUSED_BY_TARGET = 'nodes.a.x: refused by the target';

/** One starts.jsonl line. */
export interface DaemonStart { readonly pid: number; readonly name: string; readonly slot: string; readonly at: number }

const cli = (f: FirmwareFixture): string => `#!/usr/bin/env node
// Fixture firmware ${JSON.stringify(f.name)} (test support, see fixture-firmware.test-support.ts).
import { appendFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
const NAME = ${JSON.stringify(f.name)};
const DAEMON = ${JSON.stringify(f.daemon ?? 'healthy')};
const CHECK = ${JSON.stringify(f.configCheck ?? 'ok')};
const SCHEMA = ${String(f.configSchema ?? 1)};
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
const configFile = opt('--config');
if (args[0] === 'config' && args[1] === 'check') {
  if (CHECK === 'ok') { console.log(JSON.stringify({ ok: true, summary: 'fixture' })); process.exit(0); }
  console.log(JSON.stringify({ ok: false, errors: [${JSON.stringify(REFUSED_BY_TARGET)}] }));
  process.exit(1);
} else if (args[0] === 'config' && args[1] === 'migrate') {
  const text = readFileSync(configFile, 'utf8').replace(/^schema:.*\\n/m, '');
  writeFileSync(configFile + '.fixture-tmp', 'schema: ' + SCHEMA + '\\n' + text + '# migrated by ' + NAME + '\\n');
  renameSync(configFile + '.fixture-tmp', configFile);
  console.log('migrated to schema ' + SCHEMA);
} else if (args[0] === 'daemon') {
  const stateDir = /^\\s*state_dir:\\s*(\\S+)\\s*$/m.exec(readFileSync(configFile, 'utf8'))[1];
  appendFileSync(join(stateDir, 'starts.jsonl'), JSON.stringify({ pid: process.pid, name: NAME, slot: process.env.TANDEM_FIRMWARE_SLOT ?? '', at: Date.now() }) + '\\n');
  if (DAEMON === 'crashes') process.exit(1);
  const keep = setInterval(() => undefined, 1 << 30);
  let server = null;
  if (DAEMON === 'healthy') {
    const socket = join(stateDir, 'control.sock');
    // A predecessor killed with SIGKILL leaves its socket file behind.
    rmSync(socket, { force: true });
    server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ cluster: { status: 'Standalone' }, firmware: {} }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    server.listen(socket);
  }
  process.on('SIGTERM', () => { clearInterval(keep); if (server === null) process.exit(0); server.close(() => process.exit(0)); });
} else {
  console.error('fixture firmware: unknown command ' + args.join(' '));
  process.exit(2);
}
`;

/**
 * Writes the fixture tree at `root`; returns its files in payload order (what writeBundle
 * takes): package.json, the CLI, the compat module the build reads, and `extra`.
 */
export function writeFirmwareTree(root: string, f: FirmwareFixture): BundleFile[] {
  const files: { path: string; data: string | Uint8Array; mode: number }[] = [
    { path: 'package.json', data: `${JSON.stringify({ name: 'tandem', version: f.version ?? '1.0.0', type: 'module' })}\n`, mode: 0o644 },
    { path: 'dist/cli/tandem.js', data: cli(f), mode: 0o755 },
    {
      path: 'dist/core/compat.js',
      data: [
        `export const CONFIG_SCHEMA = ${String(f.configSchema ?? 1)};`,
        'export const CONFIG_MIGRATIONS = [];',
        `export const HA_PROTOCOL = ${JSON.stringify(f.haProtocol ?? { min: 1, max: 1 })};`,
        '',
      ].join('\n'),
      mode: 0o644,
    },
    ...(f.extra ?? []).map((e) => ({ ...e, mode: 0o644 })),
  ];
  for (const file of files) put(root, file.path, file.data, file.mode);
  return files.map((x) => ({ path: x.path, mode: x.mode })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The daemon starts recorded in `<stateDir>/starts.jsonl`, oldest first. */
export function daemonStarts(stateDir: string): DaemonStart[] {
  let text: string;
  try {
    text = readFileSync(join(stateDir, 'starts.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as DaemonStart);
}
