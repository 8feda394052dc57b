/**
 * Firmware for the lab (system tests, the benchmark, the demo): signing keys and bundles built from this
 * checkout with the real `tandem firmware keygen | build` commands, and fixture firmwares built
 * from a copy of the checkout with one module replaced (a daemon that never becomes healthy).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lab.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'tandem.js');

export interface Keys { readonly key: string; readonly pub: string }

export function keygen(dir: string): Keys {
  execFileSync(process.execPath, [CLI, 'firmware', 'keygen', '--out', dir], { stdio: 'pipe' });
  return { key: join(dir, 'signing.key'), pub: join(dir, 'signing.pub') };
}

export interface BuildOptions {
  readonly keys: Keys;
  readonly version: string;
  readonly type: 'lts' | 'feature';
  readonly out: string;
  readonly from?: string;
  readonly notes?: string;
}

/** `tandem firmware build`, as a release engineer runs it. */
export function build(o: BuildOptions): string {
  const args = [CLI, 'firmware', 'build', '--key', o.keys.key, '--version', o.version, '--type', o.type, '--out', o.out];
  if (o.from !== undefined) args.push('--from', o.from);
  if (o.notes !== undefined) {
    const notes = `${o.out}.notes`;
    writeFileSync(notes, o.notes);
    args.push('--notes', notes);
  }
  execFileSync(process.execPath, args, { stdio: 'pipe' });
  return o.out;
}

/**
 * A copy of this checkout (hard links: instant, and the originals are never written: the one
 * replaced file is unlinked first) whose daemon starts, logs, and never opens its control socket:
 * the launcher's health gate must fail its trial.
 */
export function neverHealthyTree(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const part of ['package.json', 'bin', 'dist', 'native', 'node_modules']) {
    execFileSync('cp', ['-al', join(REPO_ROOT, part), join(dir, part)]);
  }
  const daemon = join(dir, 'dist', 'app', 'node-daemon.js');
  rmSync(daemon);
  writeFileSync(daemon, [
    '// Fixture firmware: a daemon that runs but never becomes healthy (no control socket, no heartbeats).',
    'export class ConfigRefused extends Error {}',
    'export async function runNodeDaemon(opts) {',
    "  console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', node: opts.nodeName, event: 'ready', msg: 'fixture firmware: running, never healthy' }));",
    '  setInterval(() => {}, 60_000);',
    '  await new Promise(() => {});',
    '}',
    '',
  ].join('\n'));
  return dir;
}
