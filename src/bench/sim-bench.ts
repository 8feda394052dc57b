/**
 * `npm run bench:sim`: decision latencies and false takeovers of the HA core, per timing profile,
 * on the simulated network (virtual clock, real core, real codec and HMAC).
 *
 *   --hours N         simulated hours per false-takeover run (default 24; 0 skips them)
 *   --loss LIST       ICMP loss percentages, comma-separated (default 5,10,30)
 *   --runs N          latency samples per measurement (default 40)
 *   --profile NAME    only this profile (default: all)
 *   --json            print JSON instead of the table
 *
 * The long runs go to worker threads, one per core.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { TIMING_PROFILE_NAMES, TIMING_PROFILES, type TimingProfileName } from '../core/timing.js';
import { nextHopTakeoverBound, peerDeathTakeoverBound } from '../sim/bounds.js';
import { servingSwitches } from '../sim/invariants.js';
import { mulberry32 } from '../sim/random.js';
import { NODE_NAMES, Simulation } from '../sim/simulation.js';

const STEADY_AT = 10_000;

interface LossJob { readonly profile: TimingProfileName; readonly where: 'primary' | 'both'; readonly lossPct: number; readonly hours: number }
interface LossResult extends LossJob { readonly falseTakeovers: number; readonly seconds: number }

/** One 24-hour run: random ICMP loss on the primary's probes (or both nodes'), nothing else. */
function lossRun(job: LossJob): LossResult {
  const started = performance.now();
  const sim = new Simulation({ profile: job.profile, seed: 1000 + job.lossPct, keepLogs: false });
  sim.runUntil(STEADY_AT);
  const primary = sim.servingNodes()[0] ?? 'a';
  for (const n of NODE_NAMES) {
    if (job.where === 'both' || n === primary) for (const i of sim.interfaces) sim.setProbeLoss(n, i, job.lossPct);
  }
  sim.runUntil(STEADY_AT + job.hours * 3_600_000);
  return { ...job, falseTakeovers: servingSwitches(sim, STEADY_AT).length, seconds: (performance.now() - started) / 1000 };
}

interface Latency { readonly median: number; readonly p99: number; readonly max: number; readonly bound: number; readonly runs: number }

function latency(profile: TimingProfileName, runs: number, fault: 'next-hop' | 'peer-death'): Latency {
  const t = TIMING_PROFILES[profile];
  const rnd = mulberry32(profile === 'default' ? 11 : 13);
  const samples: number[] = [];
  for (let k = 0; k < runs; k++) {
    const sim = new Simulation({ profile, seed: k + 1, keepLogs: false });
    sim.runUntil(STEADY_AT + rnd() * 1000);
    const t0 = sim.now;
    if (fault === 'next-hop') sim.setNextHop('a', 'ext0', false);
    else sim.crash('a');
    sim.runFor(10_000);
    const at = sim.servingSince('b', t0);
    samples.push(at === null ? Infinity : at - t0);
  }
  samples.sort((x, y) => x - y);
  const pick = (q: number) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)] ?? Infinity;
  return {
    median: pick(0.5), p99: pick(0.99), max: samples.at(-1) ?? Infinity, runs,
    bound: fault === 'next-hop' ? nextHopTakeoverBound(t) : peerDeathTakeoverBound(t),
  };
}

async function runPool(jobs: LossJob[]): Promise<LossResult[]> {
  const results: LossResult[] = [];
  const queue = [...jobs];
  const self = fileURLToPath(import.meta.url);
  const workers = Array.from({ length: Math.min(availableParallelism(), jobs.length) }, async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const current = job;
      const result = await new Promise<LossResult>((resolve, reject) => {
        const w = new Worker(self, { workerData: current });
        w.once('message', (r: LossResult) => { resolve(r); });
        w.once('error', reject);
      });
      process.stderr.write(`  ${result.profile} ${result.where} ${result.lossPct}%: ${result.falseTakeovers} false takeovers (${result.seconds.toFixed(0)} s)\n`);
      results.push(result);
    }
  });
  await Promise.all(workers);
  return results;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const hours = Number(arg('hours') ?? 24);
  const runs = Number(arg('runs') ?? 40);
  const only = arg('profile');
  const profiles = TIMING_PROFILE_NAMES.filter((p) => only === undefined || p === only);
  const json = process.argv.includes('--json');
  const lossRates = (arg('loss') ?? '5,10,30').split(',').map(Number);

  process.stderr.write(`latency: ${runs} runs per measurement\n`);
  const latencies = profiles.map((p) => ({
    profile: p,
    nextHop: latency(p, runs, 'next-hop'),
    peerDeath: latency(p, runs, 'peer-death'),
  }));
  process.stderr.write(`false takeovers: ${hours} simulated hours per run, ${availableParallelism()} workers\n`);
  const jobs: LossJob[] = hours <= 0 ? [] : profiles.flatMap((profile) =>
    (['primary', 'both'] as const).flatMap((where) => lossRates.map((lossPct) => ({ profile, where, lossPct, hours }))));
  const losses = await runPool(jobs);

  if (json) {
    console.log(JSON.stringify({ hours, runs, latencies, losses }, null, 2));
    return;
  }
  const ms = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : 'never');
  console.log(`\nDecision latency (virtual time, ${runs} runs each, random phase)\n`);
  console.log('| profile | fault | median | p99 | max | bound | target |');
  console.log('|---|---|---|---|---|---|---|');
  for (const l of latencies) {
    const targetNh = l.profile === 'default' ? '≤ 1 s' : '≤ 0.4 s';
    const targetPd = l.profile === 'default' ? '≤ 2 s' : '≤ 0.5 s';
    console.log(`| ${l.profile} | next hop lost on the primary | ${ms(l.nextHop.median)} | ${ms(l.nextHop.p99)} | ${ms(l.nextHop.max)} | ${ms(l.nextHop.bound)} | ${targetNh} |`);
    console.log(`| ${l.profile} | primary dead | ${ms(l.peerDeath.median)} | ${ms(l.peerDeath.p99)} | ${ms(l.peerDeath.max)} | ${ms(l.peerDeath.bound)} | ${targetPd} |`);
  }
  if (losses.length === 0) return;
  console.log(`\nFalse takeovers over ${hours} simulated hours of random ICMP loss (target: 0 at 10 %)\n`);
  console.log(`| profile | loss on | ${lossRates.map((p) => `${p} %`).join(' | ')} |`);
  console.log(`|---|---|${lossRates.map(() => '---|').join('')}`);
  for (const profile of profiles) {
    for (const where of ['primary', 'both'] as const) {
      const cell = (pct: number) => String(losses.find((r) => r.profile === profile && r.where === where && r.lossPct === pct)?.falseTakeovers ?? '-');
      console.log(`| ${profile} | ${where === 'primary' ? "primary's probes" : "both nodes' probes"} | ${lossRates.map(cell).join(' | ')} |`);
    }
  }
}

if (isMainThread) {
  await main();
} else {
  parentPort?.postMessage(lossRun(workerData as LossJob));
}
