/**
 * `npm run bench:failover` — failover as a client sees it, on real networking (the namespace lab):
 *
 *   node dist/bench/failover-bench.js [--runs N] [--json] [--only SYSTEM[,SYSTEM]] [--fault FAULT]
 *                                     [--logs DIR] [--save FILE]
 *
 *   --runs N     runs per system × fault (default 10)
 *   --json       print JSON instead of the markdown table
 *   --only S     tandem-default | tandem-fast | keepalived (comma-separated; default all three)
 *   --fault F    next-hop | kill (default both)
 *   --logs DIR   copy each run's node logs into DIR (created)
 *   --save FILE  also write the JSON (every run's figures) to FILE
 *
 *   node dist/bench/failover-bench.js --fault loss [--minutes M] [--loss P] [--loss-path primary|both]
 *                                     [--only SYSTEM] [--logs DIR] [--save FILE] [--json]
 *
 *   --fault loss  no failover: one lab run of M minutes (default 10) in which nftables drop P %
 *                 (default 10) of the echo requests to both next hops at random (`numgen random`),
 *                 on the primary only or on both nodes (default: one run of each); it counts role
 *                 changes and VIP moves (there must be none: false takeovers) and the echoes dropped.
 *                 Tandem only (default tandem-default).
 *
 * Every run builds a fresh lab (`tdmfb<random>-*` namespaces), starts the system, waits for a
 * steady state with a known primary (Tandem: both status views healthy; keepalived: a MASTER,
 * b BACKUP), has the client ping the VIP every 20 ms until the primary has answered 25 times in a
 * row, waits a random 0–1 s (so the fault falls at a random phase of probes, heartbeats, adverts
 * and script runs), then injects the fault on the primary:
 *
 *   next-hop  nftables in the primary's namespace drop IPv4 to and from the ext router 192.0.2.1
 *             (nothing else: the link stays up, heartbeats and VRRP adverts still pass);
 *   kill      SIGKILL of the daemon (Tandem: the node process; keepalived: its parent and VRRP child).
 *
 * Measured from the client's replies: fault → first reply answered by the secondary (told apart by
 * TTL), the longest gap without any reply, echoes lost; the run ends 1 s after that first reply
 * (or 15 s after the fault without it). The lab is removed after every run, also on failure and on
 * Ctrl-C / SIGTERM; no process of it (keepalived included) survives. Needs root.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { isRoot, NEXT_HOPS, NODES, REPO_ROOT, VIP, type NodeName, type VipOwner } from '../lab/lab.js';
import { run, sleep } from '../lab/run.js';
import { ClientProbe, clientView, steadyFrom, type ClientView } from '../lab/client-probe.js';
import { KEEPALIVED, keepalivedVersion } from './failover/keepalived.js';
import { seconds, summarize, type Summary } from './failover/stats.js';
import { FAULT_LABEL, FAULTS, SYSTEM_NAMES, systemOf, type BenchSystem, type Fault, type SystemName } from './failover/systems.js';
import {
  labId, LabSession, log, message, other, PING_INTERVAL_MS, saveLogs, SETUP_ATTEMPTS, STEADY_TIMEOUT_MS, sweep,
  WARMUP_REPLIES, WARMUP_TIMEOUT_MS,
} from './failover/common.js';

/** A run without a reply from the secondary this long after the fault counts as "no takeover". */
const TAKEOVER_TIMEOUT_MS = 15_000;
/** Observation after the first reply from the secondary (a flip back, a second gap). */
const TAIL_MS = 1000;
const FAULT_TABLE = 'tdm_fbench';

interface Options {
  readonly runs: number;
  readonly json: boolean;
  readonly systems: readonly SystemName[];
  readonly faults: readonly Fault[];
  readonly logs: string | null;
  readonly save: string | null;
  /** --fault loss: the loss run's settings (null: the failover runs). */
  readonly loss: LossOptions | null;
}

const LOSS_PATHS = ['primary', 'both'] as const;
type LossPath = (typeof LOSS_PATHS)[number];

interface LossOptions {
  readonly minutes: number;
  readonly percent: number;
  readonly paths: readonly LossPath[];
}

interface RunRecord extends Partial<ClientView> {
  readonly system: SystemName;
  readonly fault: Fault;
  readonly run: number;
  readonly lab: string;
  readonly primary: NodeName | null;
  /** ISO time of the fault. */
  readonly faultAt: string | null;
  /** How long injecting the fault took (the nft command; ~0 for a signal). The fault time is its end. */
  readonly faultApplyMs: number | null;
  /** Steady-state attempts that failed before this run (each on a fresh lab). */
  readonly setupFailures: readonly string[];
  readonly vipOwnerAfter: VipOwner | null;
  /** Daemon processes of the killed node still alive 0.1 s after the SIGKILL (must be 0). */
  readonly survivors: number | null;
  readonly error: string | null;
}

interface Cell {
  readonly system: SystemName;
  readonly fault: Fault;
  readonly target: string;
  readonly targetMs: number | null;
  readonly runs: number;
  readonly takeovers: number;
  readonly takeover: Summary | null;
  readonly outage: Summary | null;
  readonly lost: Summary | null;
  /** Runs whose takeover exceeded the target (or never happened). */
  readonly overTarget: number | null;
}

function usage(): never {
  process.stderr.write('usage: node dist/bench/failover-bench.js [--runs N] [--json] [--only tandem-default|tandem-fast|keepalived[,…]] [--fault next-hop|kill] [--logs DIR] [--save FILE]\n'
    + '       node dist/bench/failover-bench.js --fault loss [--minutes M] [--loss P] [--loss-path primary|both] [--only tandem-default|tandem-fast] [--logs DIR] [--save FILE] [--json]\n');
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  let runs = 10;
  let json = false;
  let systems: SystemName[] = [...SYSTEM_NAMES];
  let faults: Fault[] = [...FAULTS];
  let logs: string | null = null;
  let save: string | null = null;
  let lossRun = false;
  let minutes = 10;
  let percent = 10;
  let paths: LossPath[] = [...LOSS_PATHS];
  let systemsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => { const v = argv[++i]; if (v === undefined) usage(); return v; };
    switch (arg) {
      case '--runs': runs = Number(value()); if (!Number.isInteger(runs) || runs < 1) usage(); break;
      case '--json': json = true; break;
      case '--only': {
        const names = value().split(',');
        if (!names.every((n): n is SystemName => (SYSTEM_NAMES as readonly string[]).includes(n))) usage();
        systems = names;
        systemsGiven = true;
        break;
      }
      case '--fault': {
        const f = value();
        if (f === 'loss') { lossRun = true; break; }
        if (!(FAULTS as readonly string[]).includes(f)) usage();
        faults = [f as Fault];
        break;
      }
      case '--minutes': minutes = Number(value()); if (!(minutes > 0)) usage(); break;
      case '--loss': percent = Number(value()); if (!Number.isInteger(percent) || percent < 1 || percent > 99) usage(); break;
      case '--loss-path': {
        const p = value();
        if (!(LOSS_PATHS as readonly string[]).includes(p)) usage();
        paths = [p as LossPath];
        break;
      }
      case '--logs': logs = resolve(value()); break;
      case '--save': save = resolve(value()); break;
      default: usage();
    }
  }
  if (lossRun && systems.includes('keepalived')) {
    // keepalived has no loss filter to measure; its track script is the reference for failover only.
    if (systemsGiven) usage();
    systems = ['tandem-default'];
  }
  return { runs, json, systems, faults, logs, save, loss: lossRun ? { minutes, percent, paths } : null };
}



/** nftables in the primary's namespace: IPv4 to and from the ext router dropped, nothing else. */
function nextHopDropRules(): string {
  return [
    `table inet ${FAULT_TABLE} {`,
    '  chain out { type filter hook output priority 0; ip daddr 192.0.2.1 drop; }',
    '  chain in { type filter hook input priority 0; ip saddr 192.0.2.1 drop; }',
    '}',
    '',
  ].join('\n');
}

/**
 * nftables dropping `percent` % of the node's echo requests to its next hops at random: loss on
 * the probes' path only (heartbeats, the VIP's traffic and the replies are untouched), counted.
 */
function probeLossRules(percent: number): string {
  return [
    `table inet ${FAULT_TABLE} {`,
    '  chain out {',
    '    type filter hook output priority 0;',
    // The first counter sees every probe, the second the ones dropped.
    `    ip daddr { ${NEXT_HOPS.ext}, ${NEXT_HOPS.int} } icmp type echo-request counter`,
    `    ip daddr { ${NEXT_HOPS.ext}, ${NEXT_HOPS.int} } icmp type echo-request numgen random mod 100 < ${percent} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

// ── clean-up: the lab of the run in progress, also on Ctrl-C ─────────────────────────────────

const session = new LabSession();

// ── one run ─────────────────────────────────────────────────────────────────────────────────

async function oneRun(system: BenchSystem, fault: Fault, index: number, opts: Options): Promise<RunRecord> {
  const setupFailures: string[] = [];
  for (let attempt = 1; attempt <= SETUP_ATTEMPTS && !session.isAborting(); attempt++) {
    const lab = system.newLab(labId('fb'));
    const base = { system: system.name, fault, run: index, lab: lab.id };
    try {
      await session.build(lab);
      const primary = await system.start(lab, STEADY_TIMEOUT_MS);
      const secondary = other(primary);
      const probe = new ClientProbe(lab.ns('client'), VIP, PING_INTERVAL_MS);
      session.observers = [probe];
      if (!await probe.until((r) => steadyFrom(r, primary, WARMUP_REPLIES), WARMUP_TIMEOUT_MS)) {
        throw new Error(`the client did not get ${WARMUP_REPLIES} replies in a row from ${primary} (${probe.replies.length} replies; ${probe.errors})`);
      }
      await sleep(Math.random() * 1000);

      let faultAt: number;
      let faultApplyMs: number;
      if (fault === 'next-hop') {
        const t0 = Date.now();
        const r = await lab.exec(primary, ['nft', '-f', '-'], { input: nextHopDropRules() });
        faultAt = Date.now();
        faultApplyMs = faultAt - t0;
        if (r.code !== 0) throw new Error(`nft failed: ${r.stderr.trim()}`);
      } else {
        const pids = await system.daemonPids(lab, primary);
        if (pids.length === 0) throw new Error(`no daemon process on ${primary} to kill`);
        const t0 = Date.now();
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        faultAt = Date.now();
        faultApplyMs = faultAt - t0;
      }

      await probe.until((r) => r.some((x) => x.at > faultAt && x.node === secondary), TAKEOVER_TIMEOUT_MS);
      await sleep(TAIL_MS);
      const endAt = Date.now();
      await probe.stop();
      session.observers = [];
      let survivors: number | null = null;
      if (fault === 'kill') survivors = (await system.daemonPids(lab, primary)).length;
      const view = clientView(probe.replies, faultAt, primary, endAt);
      const vipOwnerAfter = await lab.vipOwner();
      if (opts.logs !== null) saveLogs(lab, opts.logs, `${system.name}-${fault}-${String(index).padStart(2, '0')}`);
      return {
        ...base, ...view, primary, faultAt: new Date(faultAt).toISOString(), faultApplyMs, setupFailures,
        vipOwnerAfter, survivors, error: view.takeoverMs === null ? `no reply from ${secondary} within ${TAKEOVER_TIMEOUT_MS / 1000} s` : null,
      };
    } catch (err) {
      if (session.isAborting()) break;
      setupFailures.push(`${lab.id}: ${message(err)}`);
      log(`  ${system.name} ${fault} #${index}: attempt ${attempt} failed: ${message(err)}`);
      if (opts.logs !== null) saveLogs(lab, opts.logs, `${system.name}-${fault}-${String(index).padStart(2, '0')}-failed${attempt}`);
    } finally {
      await session.teardown(lab);
    }
  }
  return {
    system: system.name, fault, run: index, lab: '', primary: null, faultAt: null, faultApplyMs: null,
    setupFailures, vipOwnerAfter: null, survivors: null, error: `no steady state in ${SETUP_ATTEMPTS} attempts`,
  };
}


// ── the loss run: no fault, random probe loss for minutes, no role change allowed ──────────────

interface LossRecord {
  readonly system: SystemName;
  readonly path: LossPath;
  readonly percent: number;
  readonly minutes: number;
  readonly lab: string;
  readonly primary: NodeName | null;
  readonly started: string | null;
  /** Role changes logged by either node during the loss (false takeovers and handovers). */
  readonly roleChanges: readonly string[];
  /** Times the VIP owner seen once a second differed from the one before. */
  readonly vipMoves: number;
  /** Client echoes to the VIP answered by the node that was not primary at the start. */
  readonly repliesFromOther: number;
  readonly clientReplies: number;
  /** Echo requests to the next hops sent and dropped by nftables, per lossy node. */
  readonly dropped: Readonly<Partial<Record<NodeName, { readonly sent: number; readonly dropped: number }>>>;
  readonly error: string | null;
}

/** Role changes in a node's log written at or after `from` (ISO times sort as strings). */
function roleChangesSince(lab: Parameters<BenchSystem['start']>[0], from: string): string[] {
  return NODES.flatMap((n) => {
    let text: string;
    try { text = readFileSync(lab.logPath(n), 'utf8'); } catch { return []; }
    return text.split('\n').filter((line) => line.includes('"event":"role-change"')).flatMap((line) => {
      try {
        const entry = JSON.parse(line) as { time?: string; msg?: string };
        return entry.time !== undefined && entry.time >= from ? [`${entry.time} ${n}: ${entry.msg ?? ''}`] : [];
      } catch {
        return [];
      }
    });
  });
}

async function droppedBy(lab: Parameters<BenchSystem['start']>[0], node: NodeName): Promise<{ sent: number; dropped: number }> {
  const r = await lab.exec(node, ['nft', 'list', 'table', 'inet', FAULT_TABLE]);
  const [sent, dropped] = [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  return { sent: sent ?? 0, dropped: dropped ?? 0 };
}

async function lossRun(system: BenchSystem, path: LossPath, loss: LossOptions, opts: Options): Promise<LossRecord> {
  const lab = system.newLab(labId('fl'));
  const base = { system: system.name, path, percent: loss.percent, minutes: loss.minutes, lab: lab.id };
  try {
    await session.build(lab);
    const primary = await system.start(lab, STEADY_TIMEOUT_MS);
    const lossy: NodeName[] = path === 'primary' ? [primary] : [...NODES];
    const started = new Date().toISOString();
    for (const n of lossy) {
      const r = await lab.exec(n, ['nft', '-f', '-'], { input: probeLossRules(loss.percent) });
      if (r.code !== 0) throw new Error(`nft failed on ${n}: ${r.stderr.trim()}`);
    }
    // The client at 10 echoes/s: enough to see a VIP move, light on a shared machine for minutes.
    const probe = new ClientProbe(lab.ns('client'), VIP, 100);
    session.observers = [probe];
    let owner = await lab.vipOwner();
    let vipMoves = 0;
    const end = Date.now() + loss.minutes * 60_000;
    let nextReport = Date.now() + 60_000;
    while (Date.now() < end && !session.isAborting()) {
      await sleep(1000);
      const now = await lab.vipOwner();
      if (now !== owner) { vipMoves++; log(`  VIP ${String(owner)} → ${String(now)}`); owner = now; }
      if (Date.now() >= nextReport) {
        nextReport += 60_000;
        log(`  ${path}: ${Math.round((loss.minutes * 60_000 - (end - Date.now())) / 60_000)} min, ${roleChangesSince(lab, started).length} role change(s), ${vipMoves} VIP move(s)`);
      }
    }
    await probe.stop();
    session.observers = [];
    const dropped: Partial<Record<NodeName, { sent: number; dropped: number }>> = {};
    for (const n of lossy) dropped[n] = await droppedBy(lab, n);
    const roleChanges = roleChangesSince(lab, started);
    if (opts.logs !== null) saveLogs(lab, opts.logs, `${system.name}-loss-${path}`);
    return {
      ...base, primary, started, roleChanges, vipMoves, dropped,
      repliesFromOther: probe.replies.filter((r) => r.node === other(primary)).length, clientReplies: probe.replies.length,
      error: null,
    };
  } catch (err) {
    if (opts.logs !== null) saveLogs(lab, opts.logs, `${system.name}-loss-${path}-failed`);
    return {
      ...base, primary: null, started: null, roleChanges: [], vipMoves: 0, repliesFromOther: 0, clientReplies: 0, dropped: {},
      error: message(err),
    };
  } finally {
    await session.teardown(lab);
  }
}

async function mainLoss(loss: LossOptions, opts: Options): Promise<void> {
  const command = ['node', 'dist/bench/failover-bench.js', ...process.argv.slice(2)].join(' ');
  const started = new Date();
  const records: LossRecord[] = [];
  for (const name of opts.systems) {
    for (const path of loss.paths) {
      if (session.isAborting()) break;
      log(`bench:failover loss: ${name}, ${loss.percent} % of the echo requests dropped on ${path === 'primary' ? "the primary's path" : "both nodes' paths"} for ${loss.minutes} min`);
      const r = await lossRun(systemOf(name), path, loss, opts);
      records.push(r);
      log(`  ${r.error ?? `${r.roleChanges.length} role change(s), ${r.vipMoves} VIP move(s), ${r.repliesFromOther} client replies from the other node`}`);
    }
  }
  sweep(session.dirs);
  const finished = new Date();
  const json = `${JSON.stringify({ command, started: started.toISOString(), finished: finished.toISOString(), runs: records }, null, 2)}\n`;
  if (opts.save !== null) writeFileSync(opts.save, json);
  if (opts.json) { process.stdout.write(json); return; }
  const pct = (r: LossRecord): string => Object.entries(r.dropped)
    .map(([n, d]) => `${n}: ${d.dropped} of ${d.sent} (${d.sent === 0 ? '–' : ((d.dropped / d.sent) * 100).toFixed(1)} %)`).join(', ');
  const out = [
    `Random probe loss on real networking — ${started.toISOString()} (${Math.round((finished.getTime() - started.getTime()) / 1000)} s)`,
    `Command: \`${command}\``,
    '',
    '| system | loss on | loss | minutes | role changes | VIP moves | client replies from the other node | echo requests dropped |',
    '|---|---|---|---|---|---|---|---|',
    ...records.map((r) => `| ${r.system} | ${r.path === 'primary' ? "primary's path" : "both nodes' paths"} | ${r.percent} % | ${r.minutes} | ${r.error === null ? r.roleChanges.length : `error: ${r.error}`} | ${r.vipMoves} | ${r.repliesFromOther} of ${r.clientReplies} | ${pct(r)} |`),
    '',
    ...records.flatMap((r) => r.roleChanges.map((c) => `- ${c}`)),
    '',
  ];
  process.stdout.write(out.join('\n'));
}

// ── results ─────────────────────────────────────────────────────────────────────────────────

function cellOf(system: BenchSystem, fault: Fault, records: readonly RunRecord[]): Cell {
  const mine = records.filter((r) => r.system === system.name && r.fault === fault);
  const ok = mine.filter((r) => typeof r.takeoverMs === 'number');
  const takeovers = ok.map((r) => r.takeoverMs ?? 0);
  const target = system.targetMs[fault];
  return {
    system: system.name,
    fault,
    target: system.targetText[fault],
    targetMs: target,
    runs: mine.length,
    takeovers: ok.length,
    takeover: summarize(takeovers),
    outage: summarize(mine.filter((r) => r.primary !== null).map((r) => r.outageMs ?? 0)),
    lost: summarize(ok.map((r) => r.lost ?? 0)),
    overTarget: target === null ? null : mine.length - takeovers.filter((t) => t <= target).length,
  };
}

function verdict(c: Cell): string {
  if (c.overTarget === null) return '—';
  if (c.runs === 0) return 'no runs';
  return c.overTarget === 0 ? `met (all ${c.runs})` : `**missed**: ${c.overTarget} of ${c.runs} over`;
}

/**
 * The probe-cost figure is another benchmark's (src/bench/probe-cost.ts, not run here): quote the
 * line of its documentation that states it (a "% of one core" line in a section about cost).
 */
function probeCostLine(): { source: string; doc: string | null; docLine: string | null } | null {
  const source = 'src/bench/probe-cost.ts';
  if (!existsSync(join(REPO_ROOT, source))) return null;
  for (const doc of ['docs/benchmarks.md', 'docs/icmp.md']) {
    let lines: string[];
    try { lines = readFileSync(join(REPO_ROOT, doc), 'utf8').split('\n'); } catch { continue; }
    let inCostSection = false;
    for (const [i, line] of lines.entries()) {
      if (line.startsWith('#')) inCostSection = /cost/i.test(line);
      else if (inCostSection && /\d % of one core/.test(line)) return { source, doc: `${doc}:${i + 1}`, docLine: line.trim() };
    }
  }
  return { source, doc: null, docLine: null };
}

function table(cells: readonly Cell[]): string {
  const rows = cells.map((c) => {
    const t = c.takeover;
    const o = c.outage;
    return `| ${c.system} | ${FAULT_LABEL[c.fault]} | ${c.takeovers}/${c.runs} | ${seconds(t?.median)} | ${t?.p90 === null || t === null ? '–' : seconds(t.p90)} | ${seconds(t?.min)} | ${seconds(t?.max)} | ${seconds(o?.median)} / ${seconds(o?.max)} | ${c.target} | ${verdict(c)} |`;
  });
  return [
    '| system | fault | runs with takeover | median | p90 | min | max | longest gap without reply (median / max) | target | |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!isRoot()) {
    log('bench:failover needs root: it builds network namespaces (run it with sudo).');
    process.exit(1);
  }
  let kaVersion: string | null = null;
  if (opts.systems.includes('keepalived')) {
    if (!existsSync(KEEPALIVED)) {
      log(`keepalived is not installed at ${KEEPALIVED} (Debian: apt-get install keepalived), or leave it out with --only.`);
      process.exit(1);
    }
    const v = await run(KEEPALIVED, ['--version']);
    kaVersion = keepalivedVersion(`${v.stdout}\n${v.stderr}`);
  }
  session.removeOnSignals();
  if (opts.loss !== null) {
    await mainLoss(opts.loss, opts);
    return;
  }

  const command = ['node', 'dist/bench/failover-bench.js', ...process.argv.slice(2)].join(' ');
  const started = new Date();
  log(`bench:failover: ${opts.runs} run(s) × ${opts.faults.join(', ')} × ${opts.systems.join(', ')}; a fresh lab per run`);
  const records: RunRecord[] = [];
  for (const name of opts.systems) {
    const system = systemOf(name);
    for (let i = 1; i <= opts.runs && !session.isAborting(); i++) {
      for (const fault of opts.faults) {
        if (session.isAborting()) break;
        const r = await oneRun(system, fault, i, opts);
        if (session.isAborting()) break;
        records.push(r);
        const extra = r.fault === 'kill' && r.survivors !== 0 && r.survivors !== null ? `, ${r.survivors} daemon process(es) survived the SIGKILL` : '';
        log(`  ${name} ${fault} #${i}: ${r.error ?? `takeover ${seconds(r.takeoverMs)}, longest gap ${seconds(r.outageMs)}, ${r.lost ?? 0} lost, ${r.oldPrimaryAfterFault ?? 0} replies from ${r.primary ?? '?'} after the fault, VIP on ${String(r.vipOwnerAfter)} at the end`}${extra}`);
      }
    }
  }
  const leftovers = sweep(session.dirs);
  if (leftovers > 0) log(`killed ${leftovers} process(es) that outlived their lab`);
  const finished = new Date();

  const cells = opts.systems.flatMap((s) => opts.faults.map((f) => cellOf(systemOf(s), f, records)));
  const probeCost = probeCostLine();
  const environment = {
    node: process.version, kernel: release(), cpus: cpus().length,
    keepalived: kaVersion === null ? null : {
      version: kaVersion,
      setup: 'VRRPv2, multicast adverts on ext0 (224.0.0.18), advert_int 1, priorities 100/90, preempt; '
        + 'vrrp_script "ping -c1 -W1 -I ext0 192.0.2.1" interval 1 fall 2 rise 2, no weight (FAULT on failure)',
    },
    client: `iputils ping of ${VIP} from 192.0.2.100 every ${PING_INTERVAL_MS} ms`,
  };
  const json = `${JSON.stringify({
    command, started: started.toISOString(), finished: finished.toISOString(), runsPerCell: opts.runs,
    environment, cells, probeCost, runs: records,
  }, null, 2)}\n`;
  if (opts.save !== null) writeFileSync(opts.save, json);
  if (opts.json) {
    process.stdout.write(json);
    return;
  }
  const out = [
    `Failover on real networking — ${started.toISOString()} (${Math.round((finished.getTime() - started.getTime()) / 1000)} s)`,
    `Command: \`${command}\``,
    `Host: Linux ${environment.kernel}, ${environment.cpus} CPUs, Node.js ${environment.node}${kaVersion === null ? '' : `; ${kaVersion}`}`,
    `Client: ${environment.client}; figure: fault → first reply answered by the secondary (TTL).`,
    ...(environment.keepalived === null ? [] : [`keepalived: ${environment.keepalived.setup}`]),
    '',
    table(cells),
    '',
  ];
  const failed = records.filter((r) => r.error !== null);
  if (failed.length > 0) {
    out.push('Runs without a takeover or without a steady state:');
    for (const r of failed) out.push(`- ${r.system} ${r.fault} #${r.run}: ${r.error ?? ''}${r.setupFailures.length > 0 ? ` (${r.setupFailures.join('; ')})` : ''}`);
    out.push('');
  }
  const retried = records.filter((r) => r.error === null && r.setupFailures.length > 0);
  if (retried.length > 0) out.push(`${retried.length} run(s) needed a second lab to reach a steady state.`, '');
  if (probeCost !== null) {
    out.push(probeCost.docLine === null
      ? `Probe cost (CPU of 256 targets at 10 probes/s): \`node dist/bench/probe-cost.js\` (${probeCost.source}), not run here.`
      : `Probe cost (\`node dist/bench/probe-cost.js\`, not run here; ${probeCost.doc ?? ''}): ${probeCost.docLine}`);
    out.push('');
  }
  process.stdout.write(out.join('\n'));
}

main().catch(async (err: unknown) => {
  log(`bench:failover: ${message(err)}`);
  if (session.lab !== null) await session.teardown(session.lab);
  sweep(session.dirs);
  process.exit(1);
});
