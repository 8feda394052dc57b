/**
 * `npm run bench:api` — the HTTPS API of a real node in the namespace lab (issue 9):
 *
 *   - status read latency: sequential GET /api/status over one keep-alive HTTPS connection,
 *     from the client namespace, with an API token (median, p99); the control socket beside it;
 *   - requests per second for GET /api/status with 16 concurrent keep-alive connections;
 *   - the live-update delay: the node's own log line saying it became primary → the status event
 *     saying so arriving at a client subscribed to /api/events (median, p99), over takeovers back
 *     and forth.
 *
 *   node dist/bench/api-bench.js [--requests N] [--seconds S] [--concurrency C] [--takeovers K] [--json]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { controlRequest, sendAction } from '../adapters/control/client.js';
import { Lab, REPO_ROOT, type NodeName } from '../lab/lab.js';
import { summarize, type Summary } from './failover/stats.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const REQUESTS = opt('--requests', 1000);
const SECONDS = opt('--seconds', 10);
const CONCURRENCY = opt('--concurrency', 16);
const TAKEOVERS = opt('--takeovers', 10);
const JSON_OUT = args.includes('--json');
const CLIENT = join(REPO_ROOT, 'dist', 'bench', 'api', 'client.js');
const CLI = join(REPO_ROOT, 'dist', 'cli', 'tandem.js');
const ADDRESS: Record<NodeName, string> = { a: '192.0.2.11', b: '192.0.2.12' };

const log = (l: string): void => { process.stderr.write(`${l}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function inClient(lab: Lab, argv: readonly string[]): Promise<unknown> {
  const r = await lab.exec('client', [process.execPath, CLIENT, ...argv], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`client ${argv[0] ?? ''}: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

async function role(lab: Lab, node: NodeName): Promise<string> {
  const r = await controlRequest(join(lab.dir, node, 'control.sock'), 'GET', '/status');
  return (r.body as { this_node: { role: string } }).this_node.role;
}

/** Wall-clock ms of the node's last "role secondary → primary" log line after `since`. */
function promotedAt(lab: Lab, node: NodeName, since: number): number | null {
  for (const line of readFileSync(lab.logPath(node), 'utf8').split('\n').reverse()) {
    if (!line.includes('"event":"role-change"') || !line.includes('→ primary')) continue;
    const t = Date.parse((JSON.parse(line) as { time: string }).time);
    return t >= since ? t : null;
  }
  return null;
}

const ms = (s: Summary | null): string => (s === null ? '–' : `${s.median.toFixed(2)} ms`);
const p99 = (xs: readonly number[]): number => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.ceil(0.99 * xs.length) - 1)] ?? Number.NaN;

async function main(): Promise<void> {
  const lab = new Lab({ timing: 'default' });
  try {
    await lab.up({ start: true });
    let primary: NodeName = 'a';
    for (let i = 0; i < 100; i++) {
      if (await role(lab, 'a').catch(() => '') === 'primary') { primary = 'a'; break; }
      if (await role(lab, 'b').catch(() => '') === 'primary') { primary = 'b'; break; }
      await sleep(200);
    }
    const pw = join(lab.dir, 'bench-password');
    writeFileSync(pw, 'benchmark password\n', { mode: 0o600 });
    const cli = (node: NodeName, argv: readonly string[]) => lab.exec(node, [process.execPath, CLI, ...argv, '--config', lab.configPath, '--node', node]);
    await cli(primary, ['user', 'add', 'bench', '--role', 'admin', '--password-file', pw]);
    const token = (await cli(primary, ['user', 'token', 'bench'])).stdout.trim();
    await sleep(2000); // the users file reaches the secondary
    const url = `https://${ADDRESS[primary]}:8443`;

    log('latency: GET /api/status');
    const https = (await inClient(lab, ['latency', url, token, String(REQUESTS)]) as { ms: number[] }).ms;
    const socket: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      await controlRequest(join(lab.dir, primary, 'control.sock'), 'GET', '/status');
      socket.push(performance.now() - t);
    }
    log(`throughput: ${String(CONCURRENCY)} connections, ${String(SECONDS)} s`);
    const tp = await inClient(lab, ['throughput', url, token, String(CONCURRENCY), String(SECONDS)]) as { requests: number; errors: number; seconds: number };

    log(`live updates: ${String(TAKEOVERS)} takeovers`);
    const delays: number[] = [];
    for (let k = 0; k < TAKEOVERS; k++) {
      const target: NodeName = primary === 'a' ? 'b' : 'a';
      const child = spawn('ip', ['netns', 'exec', lab.ns('client'), process.execPath, CLIENT, 'events', `https://${ADDRESS[target]}:8443`, token], { stdio: ['ignore', 'pipe', 'inherit'] });
      const events: { at: number; role: string | null }[] = [];
      createInterface({ input: child.stdout }).on('line', (l) => { events.push(JSON.parse(l) as { at: number; role: string | null }); });
      for (let i = 0; i < 50 && events.length === 0; i++) await sleep(100);
      await sleep(500);
      const since = Date.now();
      await sendAction(join(lab.dir, target, 'control.sock'), { type: 'takeover', force: false });
      for (let i = 0; i < 100 && !events.some((e) => e.role === 'primary'); i++) await sleep(50);
      child.kill();
      const seen = events.find((e) => e.role === 'primary');
      const at = promotedAt(lab, target, since);
      if (seen !== undefined && at !== null) delays.push(seen.at - at);
      log(`  takeover by ${target}: event ${seen === undefined || at === null ? 'not seen' : `${(seen.at - at).toFixed(1)} ms after the role change`}`);
      primary = target;
      await sleep(3000); // the old primary settles as secondary (flap limiter dwell is for automatic switches only)
    }

    const result = {
      date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '', node: process.version },
      latency: { https: summarize(https), httpsP99: p99(https), socket: summarize(socket), socketP99: p99(socket) },
      throughput: { ...tp, perSecond: tp.requests / tp.seconds, concurrency: CONCURRENCY },
      events: { delays: summarize(delays), p99: p99(delays), n: delays.length, of: TAKEOVERS },
    };
    if (JSON_OUT) { console.log(JSON.stringify(result, null, 2)); return; }
    console.log([
      `node dist/bench/api-bench.js — ${result.date}, ${String(result.machine.cpus)} × ${result.machine.cpu}, Node.js ${result.machine.node}`,
      '',
      '| measure | median | p99 | note |',
      '|---|---|---|---|',
      `| GET /api/status over HTTPS (token, keep-alive), from the client namespace | **${ms(result.latency.https)}** | ${result.latency.httpsP99.toFixed(2)} ms | ${String(REQUESTS)} sequential requests |`,
      `| GET /status on the control socket (unix socket, new connection each) | ${ms(result.latency.socket)} | ${result.latency.socketP99.toFixed(2)} ms | ${String(REQUESTS)} sequential requests |`,
      `| GET /api/status, ${String(CONCURRENCY)} concurrent keep-alive connections | **${result.throughput.perSecond.toFixed(0)} requests/s** | – | ${String(tp.requests)} in ${tp.seconds.toFixed(1)} s, ${String(tp.errors)} errors |`,
      `| role change (node log) → status event at an /api/events subscriber | **${ms(result.events.delays)}** | ${result.events.p99.toFixed(1)} ms | ${String(result.events.n)} of ${String(TAKEOVERS)} takeovers seen |`,
    ].join('\n'));
  } finally {
    await lab.down();
  }
}

await main();
