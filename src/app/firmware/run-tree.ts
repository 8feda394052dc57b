/**
 * Runs a firmware tree's own CLI (`<tree>/dist/cli/tandem.js …`): how a new firmware's code
 * migrates or checks the running configuration before it ever runs as the daemon.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface TreeRun { readonly code: number | null; readonly stdout: string; readonly stderr: string }

export function runTree(tree: string, args: readonly string[], timeoutMs: number): Promise<TreeRun> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [join(tree, 'dist', 'cli', 'tandem.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => { c.kill('SIGKILL'); stderr += `\nno answer within ${String(timeoutMs / 1000)} s`; }, timeoutMs);
    c.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
    c.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    c.once('error', (err) => { clearTimeout(timer); done({ code: null, stdout, stderr: err.message }); });
    c.once('exit', (code) => { clearTimeout(timer); done({ code, stdout, stderr }); });
  });
}
