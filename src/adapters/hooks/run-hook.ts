/**
 * Runs an operator hook (on_primary / on_secondary) with a timeout; its output goes to the log.
 * A hook never blocks a role change: the VIPs move first, the hook runs beside.
 */
import { spawn } from 'node:child_process';

export function runHook(
  script: string,
  args: readonly string[],
  timeoutMs: number,
  log: (level: 'info' | 'warn', msg: string) => void,
  /** Once it has ended: whether it succeeded, and how it ended. */
  done?: (ok: boolean, detail: string) => void,
): void {
  const started = Date.now();
  const child = spawn(script, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
  let output = '';
  let ended = false;
  const end = (ok: boolean, detail: string): void => { if (!ended) { ended = true; done?.(ok, detail); } };
  const keep = (chunk: Buffer): void => { if (output.length < 4096) output += chunk.toString(); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (err) => { log('warn', `hook ${script} could not run: ${err.message}`); end(false, `could not run: ${err.message}`); });
  child.on('close', (code, signal) => {
    const took = Date.now() - started;
    const text = output.trim();
    const how = signal === null ? `exit ${String(code)}` : `killed by ${signal}${signal === 'SIGKILL' ? ' after the timeout' : ''}`;
    if (code === 0) log('info', `hook ${script} done in ${String(took)} ms${text === '' ? '' : `: ${text}`}`);
    else log('warn', `hook ${script} failed (${how}) in ${String(took)} ms${text === '' ? '' : `: ${text}`}`);
    // 'close' may follow 'error' when the program could not start: `end` reports once.
    end(code === 0, code === 0 ? `done in ${String(took)} ms` : `${how} after ${String(took)} ms`);
  });
}
