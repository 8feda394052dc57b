/**
 * A helper process of bench:sync (copy.js, probe.js) run in one of the lab's namespaces
 * (`ip netns exec <ns> node <script> …`, which execs node: the pid is node's), talking JSON
 * lines: what it prints is queued, `next` takes the first line a predicate accepts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Stoppable } from '../failover/common.js';

/** Absolute path of a helper script next to this file (dist/bench/sync/<name>.js). */
export function helperScript(name: 'copy' | 'probe'): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

interface Waiter {
  readonly accept: (m: Record<string, unknown>) => boolean;
  readonly resolve: (m: Record<string, unknown>) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class LineChild implements Stoppable {
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly queue: Record<string, unknown>[] = [];
  private readonly waiters: Waiter[] = [];
  private stdoutRest = '';
  private stderr = '';
  private exitCode: number | null | undefined = undefined;

  constructor(readonly label: string, ns: string, script: string, args: readonly string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => { this.onData(d); });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr = `${this.stderr}${d}`.slice(-4000); });
    this.child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => { this.stderr += err.message; this.onExit(127); resolve(127); });
      this.child.on('close', (code) => { this.onExit(code); resolve(code); });
    });
  }

  /** Writes one JSON line to the helper's stdin. */
  send(o: unknown): void {
    this.child.stdin?.write(`${JSON.stringify(o)}\n`);
  }

  /** The first line (queued or still to come) that `accept` takes; rejects on timeout or exit. */
  next(accept: (m: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const i = this.queue.findIndex(accept);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] ?? {});
    if (this.exitCode !== undefined) return Promise.reject(this.exitError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const k = this.waiters.findIndex((w) => w.timer === timer);
        if (k >= 0) this.waiters.splice(k, 1);
        reject(new Error(`${this.label}: nothing expected within ${timeoutMs} ms${this.stderr === '' ? '' : ` (stderr: ${this.stderr.trim()})`}`));
      }, timeoutMs);
      this.waiters.push({ accept, resolve, reject, timer });
    });
  }

  /** Every line received and not taken yet (and forgets them). */
  drain(): Record<string, unknown>[] {
    return this.queue.splice(0);
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.stdin?.end();
    this.child.kill('SIGTERM');
    const t = setTimeout(() => { this.child.kill('SIGKILL'); }, 2000);
    await this.exited;
    clearTimeout(t);
  }

  private onData(d: string): void {
    const text = this.stdoutRest + d;
    const lines = text.split('\n');
    this.stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const w = this.waiters.findIndex((x) => x.accept(m));
      if (w >= 0) {
        const [waiter] = this.waiters.splice(w, 1);
        if (waiter !== undefined) { clearTimeout(waiter.timer); waiter.resolve(m); }
      } else {
        this.queue.push(m);
      }
    }
  }

  private onExit(code: number | null): void {
    if (this.exitCode !== undefined) return;
    this.exitCode = code;
    for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(this.exitError()); }
  }

  private exitError(): Error {
    return new Error(`${this.label} exited (${String(this.exitCode)})${this.stderr === '' ? '' : `: ${this.stderr.trim()}`}`);
  }
}
