/**
 * `node dist/bench/probe-cost.js [--targets 256] [--rate 10] [--seconds 20] [--tick 20] [--json]`:
 * the CPU cost of next-hop probing with the in-process ICMP prober (src/adapters/icmp/prober.ts).
 *
 * Builds two network namespaces joined by two veth pairs (needs root and iproute2):
 *
 *   P (prober)  tdmicmpXXXXa 192.0.2.1/24     <->  tdmicmpXXXXb 192.0.2.10, .11, ...     T (responders)
 *               tdmicmpXXXXc 198.51.100.1/24  <->  tdmicmpXXXXd 198.51.100.10, .11, ...
 *
 * and runs the prober in P (`ip netns exec P node probe-cost.js --child ...`), sending `rate`
 * probes per second to each of `targets` addresses, spread evenly over ticks of `tick` ms
 * (default 20: the default timing profile's tickMs, the period at which the daemon steps the core
 * and sends the probes due). It reports the prober process's CPU time (process.cpuUsage: user +
 * system) in % of one core, the same process idling with the same timer as a baseline, and the
 * ratio of replies to probes sent. The namespaces are removed at the end, also on failure.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { openIcmpProber } from '../adapters/icmp/prober.js';

const MAX_PER_SUBNET = 240; // .10 .. .249

interface Target { readonly iface: string; readonly address: string }
interface ChildConfig { readonly targets: readonly Target[]; readonly rate: number; readonly seconds: number; readonly tickMs: number }
interface Result {
  readonly targets: number;
  readonly rate: number;
  readonly seconds: number;
  readonly tickMs: number;
  readonly sent: number;
  readonly replies: number;
  readonly sendErrors: number;
  readonly cpuPercent: number;
  readonly userPercent: number;
  readonly systemPercent: number;
  readonly idleCpuPercent: number;
}

function option(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`);
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time of this process between two process.cpuUsage() readings, in % of one core over `ms`. */
function cpuPercent(from: NodeJS.CpuUsage, ms: number): { total: number; user: number; system: number } {
  const used = process.cpuUsage(from);
  const pct = (us: number): number => (us / 1000 / ms) * 100;
  return { total: pct(used.user + used.system), user: pct(used.user), system: pct(used.system) };
}

/** Runs a `tickMs` timer for `ms`; calls `each` with the number of probes due on that tick. */
async function paced(ms: number, tickMs: number, perSecond: number, each: (count: number) => void): Promise<void> {
  let credit = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    credit += ((now - last) / 1000) * perSecond;
    last = now;
    const count = Math.floor(credit);
    credit -= count;
    each(count);
  }, tickMs);
  await sleep(ms);
  clearInterval(timer);
}

/** The prober side, inside namespace P. */
async function child(config: ChildConfig): Promise<Result> {
  let replies = 0;
  let sendErrors = 0;
  let firstError: Error | undefined;
  const prober = openIcmpProber({
    onReply: () => { replies++; },
    onError: (err) => { sendErrors++; firstError ??= err; },
  });
  const { targets, rate, seconds, tickMs } = config;
  let seq = 0;
  let next = 0;
  const sendSome = (count: number): number => {
    for (let i = 0; i < count; i++) {
      const target = targets[next];
      next = (next + 1) % targets.length;
      seq = (seq + 1) & 0xffff;
      if (target) prober.send(target.iface, target.address, seq);
    }
    return count;
  };

  // Warm-up: open the sockets and resolve every neighbour (ARP) before measuring.
  for (let round = 0; round < 3; round++) { sendSome(targets.length); await sleep(500); }
  if (replies === 0) throw new Error(`no reply during warm-up${firstError ? `: ${firstError.message}` : ''}`);

  // Baseline: the same process and timer, no probes.
  const idleMs = Math.min(5, seconds) * 1000;
  const idleFrom = process.cpuUsage();
  const idleStart = performance.now();
  await paced(idleMs, tickMs, 0, () => undefined);
  const idle = cpuPercent(idleFrom, performance.now() - idleStart);

  replies = 0;
  sendErrors = 0;
  let sent = 0;
  const from = process.cpuUsage();
  const start = performance.now();
  await paced(seconds * 1000, tickMs, targets.length * rate, (count) => { sent += sendSome(count); });
  const busy = cpuPercent(from, performance.now() - start);
  await sleep(500); // the last replies
  prober.close();
  return {
    targets: targets.length, rate, seconds, tickMs, sent, replies, sendErrors,
    cpuPercent: busy.total, userPercent: busy.user, systemPercent: busy.system, idleCpuPercent: idle.total,
  };
}

const run = (cmd: string, args: readonly string[], input?: string): void => {
  execFileSync(cmd, args, { input, stdio: ['pipe', 'ignore', 'inherit'] });
};

/** Sets up the namespaces, runs the child in P, removes the namespaces. */
async function main(args: readonly string[]): Promise<void> {
  const targetCount = Math.floor(option(args, 'targets', 256));
  const rate = option(args, 'rate', 10);
  const seconds = option(args, 'seconds', 20);
  const tickMs = option(args, 'tick', 20);
  const json = args.includes('--json');
  if (targetCount > 2 * MAX_PER_SUBNET) throw new Error(`--targets at most ${2 * MAX_PER_SUBNET}`);
  if (process.getuid?.() !== 0) throw new Error('probe-cost needs root (network namespaces, raw sockets)');

  const tag = `tdmicmp${randomBytes(2).toString('hex')}`;
  const P = `${tag}p`, T = `${tag}t`;
  const links = [
    { here: `${tag}a`, there: `${tag}b`, prefix: '192.0.2', count: Math.ceil(targetCount / 2) },
    { here: `${tag}c`, there: `${tag}d`, prefix: '198.51.100', count: Math.floor(targetCount / 2) },
  ];
  const created: string[] = [];
  const cleanup = (): void => {
    for (const ns of created.splice(0)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    for (const ns of [P, T]) { run('ip', ['netns', 'add', ns]); created.push(ns); }
    const targets: Target[] = [];
    for (const link of links) {
      run('ip', ['link', 'add', link.here, 'netns', P, 'type', 'veth', 'peer', 'name', link.there, 'netns', T]);
      run('ip', ['-n', P, 'addr', 'add', `${link.prefix}.1/24`, 'dev', link.here]);
      const batch: string[] = [];
      for (let i = 0; i < link.count; i++) {
        const address = `${link.prefix}.${10 + i}`;
        batch.push(`addr add ${address}/24 dev ${link.there}`);
        targets.push({ iface: link.here, address });
      }
      run('ip', ['-n', T, '-batch', '-'], `${batch.join('\n')}\n`);
      run('ip', ['-n', P, 'link', 'set', link.here, 'up']);
      run('ip', ['-n', T, 'link', 'set', link.there, 'up']);
    }
    const config: ChildConfig = { targets, rate, seconds, tickMs };
    const result = await new Promise<Result>((resolve, reject) => {
      const proc = spawn('ip', ['netns', 'exec', P, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), '--child', JSON.stringify(config)],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      proc.on('error', reject);
      proc.on('exit', (code) => {
        if (code === 0) resolve(JSON.parse(out) as Result);
        else reject(new Error(`the prober process exited with ${code}`));
      });
    });
    if (json) {
      console.log(JSON.stringify(result));
    } else {
      const perSecond = result.targets * result.rate;
      console.log(`probe-cost: ${result.targets} targets x ${result.rate}/s = ${perSecond} probes/s for ${result.seconds} s, sent every ${result.tickMs} ms (Node.js ${process.version})`);
      console.log(`prober process CPU: ${result.cpuPercent.toFixed(2)} % of one core (user ${result.userPercent.toFixed(2)} %, system ${result.systemPercent.toFixed(2)} %)`);
      console.log(`same process idle (timer only): ${result.idleCpuPercent.toFixed(2)} %`);
      console.log(`replies: ${result.replies}/${result.sent} (${((result.replies / Math.max(1, result.sent)) * 100).toFixed(2)} %), send errors: ${result.sendErrors}`);
      console.log(result.cpuPercent < 5 ? 'target < 5 %: met' : 'target < 5 %: NOT met');
    }
  } finally {
    cleanup();
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  child(JSON.parse(args[1] ?? '{}') as ChildConfig).then(
    (result) => { process.stdout.write(`${JSON.stringify(result)}\n`); },
    (err: unknown) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
  );
} else {
  main(args).catch((err: unknown) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; });
}
