/**
 * What a client sees: iputils `ping` running continuously in the lab's client namespace against
 * the VIP, its replies read line by line as they arrive (ping writes each reply line at once, also
 * into a pipe). `-D` stamps every reply with the wall-clock time it was received, the same clock
 * as the benchmark's Date.now(); the reply's TTL tells which node answered (a 65, b 66: the lab's
 * `NODE_TTL`). One `ping` process for the whole observation, nothing forked per echo.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { NODE_TTL, NODES, type NodeName } from './topology.js';

export interface ClientReply {
  readonly seq: number;
  /** Wall-clock ms (fractional) at which the client received the reply. */
  readonly at: number;
  readonly ttl: number;
  readonly node: NodeName | null;
}

const REPLY = /^\[(\d+\.\d+)\] \d+ bytes from [\d.]+: icmp_seq=(\d+) ttl=(\d+) time=[\d.]+ ms( \(DUP!\))?/;

export class ClientProbe {
  readonly replies: ClientReply[] = [];
  duplicates = 0;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly closed: Promise<void>;
  private stderr = '';

  /** Starts pinging `address` from namespace `ns` every `intervalMs` (root: below 200 ms is allowed). */
  constructor(ns: string, address: string, intervalMs: number) {
    this.child = spawn('ip', ['netns', 'exec', ns, 'ping', '-n', '-D', '-i', (intervalMs / 1000).toFixed(3), address], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    this.child.stdin.end();
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-2000); });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const m = REPLY.exec(line);
      if (m === null) return;
      if (m[4] !== undefined) { this.duplicates++; return; }
      const ttl = Number(m[3]);
      this.replies.push({
        seq: Number(m[2]), at: Number(m[1]) * 1000, ttl, node: NODES.find((n) => NODE_TTL[n] === ttl) ?? null,
      });
    });
    this.closed = new Promise((resolve) => { this.child.once('close', () => { resolve(); }); });
  }

  get pid(): number | undefined { return this.child.pid; }

  get errors(): string { return this.stderr.trim(); }

  /** Polls until `cond` holds (true) or `timeoutMs` passes (false). */
  async until(cond: (replies: readonly ClientReply[]) => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (cond(this.replies)) return true;
      if (Date.now() >= deadline || this.child.exitCode !== null) return false;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** SIGINT (ping prints its summary and exits); SIGKILL if it has not exited within a second. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const killer = setTimeout(() => { this.child.kill('SIGKILL'); }, 1000);
    await this.closed;
    clearTimeout(killer);
  }
}

/** `count` replies in a row, the last ones received, all answered by `node`. */
export function steadyFrom(replies: readonly ClientReply[], node: NodeName, count: number): boolean {
  if (replies.length < count) return false;
  return replies.slice(-count).every((r) => r.node === node);
}

export interface ClientView {
  /** Fault → first reply answered by the secondary (ms); null if it never answered. */
  readonly takeoverMs: number | null;
  /**
   * Longest time without any reply (ms), from the last reply before the fault to the end of the
   * observation; for an observation that never got a reply after the fault, a lower bound.
   */
  readonly outageMs: number;
  /** Echo requests without reply between the last reply before the fault and the first from the secondary. */
  readonly lost: number;
  /** Replies from the old primary after the fault (its kernel may keep the VIP after a SIGKILL). */
  readonly oldPrimaryAfterFault: number;
  /** Replies from the old primary after the secondary had answered (the client flipped back). */
  readonly oldPrimaryAfterTakeover: number;
}

export function clientView(replies: readonly ClientReply[], faultAt: number, primary: NodeName, endAt: number): ClientView {
  const secondary: NodeName = primary === 'a' ? 'b' : 'a';
  const before = replies.filter((r) => r.at <= faultAt);
  const after = replies.filter((r) => r.at > faultAt && r.at <= endAt);
  const last = before[before.length - 1];
  const first = after.find((r) => r.node === secondary);
  let outage = 0;
  let prev = last?.at ?? faultAt;
  for (const r of after) { outage = Math.max(outage, r.at - prev); prev = r.at; }
  outage = Math.max(outage, endAt - prev);
  let lost = 0;
  if (last !== undefined && first !== undefined) {
    const seen = new Set(replies.map((r) => r.seq));
    for (let s = last.seq + 1; s < first.seq; s++) if (!seen.has(s)) lost++;
  }
  return {
    takeoverMs: first === undefined ? null : first.at - faultAt,
    outageMs: outage,
    lost,
    oldPrimaryAfterFault: after.filter((r) => r.node === primary).length,
    oldPrimaryAfterTakeover: first === undefined ? 0 : after.filter((r) => r.node === primary && r.at > first.at).length,
  };
}
