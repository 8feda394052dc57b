/**
 * `tandem core list | get | delete` and `tandem support-bundle`: core files and the support
 * bundle (SPEC §5), through the node's operations (the control socket, or --url). Downloads are
 * streamed into FILE.part and renamed when complete: a cut download never leaves a file that
 * looks whole.
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { call } from '../adapters/control/client.js';
import { callOp, endpointOf, fail, print, withTarget, type Target } from './common.js';

interface CoreRow { readonly name: string; readonly size: number; readonly time: string; readonly program: string | null }

/** Streams a download operation into `out` (FILE.part, then renamed); returns the bytes written. */
export async function download(t: Target, path: string, out: string | null, fallbackName: string): Promise<{ file: string; bytes: number }> {
  const endpoint = await endpointOf(t);
  const target = out ?? fallbackName;
  const part = `${target}.part`;
  const sink = createWriteStream(part, { mode: 0o600 });
  try {
    const r = await call(endpoint, 'GET', path, { download: sink, timeoutMs: 60_000 });
    if (r.status >= 400) {
      const messages = (r.body as { messages?: unknown }).messages;
      throw new Error(Array.isArray(messages) ? messages.join('\n') : `the node answered ${String(r.status)}`);
    }
    renameSync(part, target);
    return { file: target, bytes: (r.body as { bytes: number }).bytes };
  } catch (err) {
    sink.destroy();
    rmSync(part, { force: true });
    throw err;
  }
}

/** The support bundle's default file name: tandem-support-NODE-TIME.tar.gz (UTC, to the second). */
export const bundleName = (node: string): string => `tandem-support-${node}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.tar.gz`;

export function registerSupportCommands(program: Command): void {
  const core = program.command('core').description('core files in the core directory (support.core_dir): list, download, delete');
  withTarget(core.command('list'))
    .description('the core files: name, size, time, the program when known')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & { json?: boolean }) => {
      const r = (await callOp(t, 'GET', '/cores')).body as { directory: string; files: CoreRow[] };
      print(t.json, r, () => (r.files.length === 0 ? `no core files in ${r.directory}`
        : [`${'NAME'.padEnd(40)} ${'SIZE'.padStart(12)}  ${'TIME'.padEnd(24)} PROGRAM`,
          ...r.files.map((f) => `${f.name.padEnd(40)} ${String(f.size).padStart(12)}  ${f.time.padEnd(24)} ${f.program ?? '-'}`)].join('\n')));
    });
  withTarget(core.command('get'))
    .description('download a core file (streamed)')
    .argument('<name>', 'the core file (tandem core list)')
    .option('--out <file>', 'where to write it (default: NAME in the current directory)')
    .action(async (name: string, t: Target & { out?: string }) => {
      try {
        const d = await download(t, `/cores/${encodeURIComponent(name)}`, t.out ?? null, name.replace(/[/\\]/g, '_'));
        console.log(`${d.file}: ${String(d.bytes)} bytes`);
      } catch (err) { fail((err as Error).message); }
    });
  withTarget(core.command('delete'))
    .description('delete a core file')
    .argument('<name>', 'the core file (tandem core list)')
    .action(async (name: string, t: Target) => {
      const r = (await callOp(t, 'DELETE', `/cores/${encodeURIComponent(name)}`)).body as { messages: string[] };
      for (const m of r.messages) console.log(m);
    });
  withTarget(program.command('support-bundle'))
    .description('download the support bundle (.tar.gz): logs, status, configuration, versions, recent alerts — every secret removed')
    .option('--out <file>', 'where to write it (default: tandem-support-NODE-TIME.tar.gz in the current directory)')
    .action(async (t: Target & { out?: string }) => {
      try {
        const d = await download(t, '/support/bundle', t.out ?? null, bundleName(t.node));
        console.log(`${d.file}: ${String(d.bytes)} bytes (secrets removed: see README.txt inside)`);
      } catch (err) { fail((err as Error).message); }
    });
}
