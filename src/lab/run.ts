/**
 * Small process helpers for the lab: run a command and collect its output, read a process's
 * state from /proc, wait for a condition. Nothing here knows the topology.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** An error the lab reports to its user as is (no stack trace in the CLI). */
export class LabError extends Error {
  override readonly name = 'LabError';
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, which is then closed. */
  readonly input?: string;
  /** The command is killed (SIGKILL) after this long; its result has code 124. Default 30 s. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion; never rejects for a non-zero exit (see `mustRun`). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...(opts.env ?? process.env), LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 124 : (code ?? 128), stdout, stderr: timedOut ? `${stderr}timed out` : stderr });
    });
    child.stdin.on('error', () => { /* the command did not read its input */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command and returns its stdout; a non-zero exit throws a LabError naming the command. */
export async function mustRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new LabError(`\`${[cmd, ...args].join(' ')}\` failed (exit ${r.code}): ${detail}`);
  }
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

export interface ProcStat {
  /** One letter, as in ps: R running, S sleeping, T stopped, Z zombie, … */
  readonly state: string;
  /** Start time in clock ticks since boot: with the pid, identifies one process for good. */
  readonly startTime: string;
}

/** The state and start time of a process, or null when there is no such process. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19]; // field 22 of proc(5); rest[0] is field 3
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
}
