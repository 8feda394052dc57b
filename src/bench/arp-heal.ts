/**
 * After a partition heals, how long until the neighbours' ARP caches point at the primary
 * (ANCHORS.md: within 1 s) — measured on real networking, in the namespace lab:
 *
 *   node dist/bench/arp-heal.js [--runs N] [--timing default|fast] [--client as-left|on-loser|both]
 *                               [--json] [--save FILE] [--logs DIR]
 *
 *   --runs N      runs per scenario (default 10)
 *   --timing T    the cluster's timing profile (default: default)
 *   --client C    where the client's ARP cache points when the partition heals (default both, alternating):
 *                   as-left   wherever the partition left it (the node that promoted during the
 *                             partition sent gratuitous ARP, so normally the node that will stay primary);
 *                   on-loser  moved during the partition to the node that will yield, by one
 *                             gratuitous ARP sent from that node's namespace (`arping -U`): the case
 *                             Tandem's re-announcement on heal exists for — neighbours that followed
 *                             the other side.
 *   --json        print every run's figures as JSON instead of the markdown table
 *   --save FILE   also write that JSON to FILE
 *   --logs DIR    copy each run's node logs (a.log, b.log, hooks.log) into DIR
 *
 * Every run builds a fresh lab (`tdmah<random>-*`), starts both daemons, waits for a steady cluster
 * (as bench:failover does) and 25 replies in a row from the primary to the client's pings (iputils
 * `ping -D -i 0.02` of the VIP; the reply's TTL says which node answered). Then every heartbeat
 * path is cut and nothing else: nftables in the primary's namespace drop UDP to port 5405 in and
 * out (the service path, ARP and ICMP still pass). Both nodes serve (split brain); once both own
 * the VIP the partition is held 3 s, then healed by deleting the table: an `nft -f -` started
 * beforehand gets the command, so no process start-up delays it; the heal time is when its stdin
 * is closed, so the figures include the few ms nft takes to commit (it exits `healApplyMs` later).
 * From the heal:
 *
 *   (1) heal → only one node holds the VIP   (`ip -ts monitor address` in both node namespaces:
 *                                               the yielding node's VIP deleted);
 *   (2) heal → the client's ARP cache holds the survivor's MAC for good
 *                                             (`ip -ts monitor neigh` in the client namespace, checked
 *                                               against `ip neigh show` polled every 20 ms; 0 when it
 *                                               already did at the heal and never left it);
 *   (3) is every echo sent after (2) answered by the survivor (none by the yielded node, none lost)?
 *
 * beside the order of events: the survivor's gratuitous ARPs as the client receives them
 * (`tcpdump -e -tt arp` in the client namespace) and the nodes' log lines (peer found, role change).
 * The observation lasts 3 s after the heal (the VIP adapter's last gratuitous ARP is at 1.1 s).
 * Timestamps are the tools' own (ping -D, tcpdump -tt, ip -ts; the daemons' log times, to the ms),
 * all wall clock, not the time a line arrives here; a poll sample is stamped mid-command.
 * The lab is removed after every run, also on failure and on Ctrl-C / SIGTERM. Needs root.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { controlRequest } from '../adapters/control/client.js';
import { CONTROL_SOCKET } from '../adapters/control/protocol.js';
import { DEFAULTS } from '../config/schema.js';
import type { NodeStatus } from '../core/ha/status.js';
import type { TimingProfileName } from '../core/timing.js';
import { stateDir } from '../lab/files.js';
import { HOST_IFACE, isRoot, isTiming, NODES, VIP, type Lab, type NodeName, type VipOwner } from '../lab/lab.js';
import { run, sleep } from '../lab/run.js';
import { ClientProbe, steadyFrom, type ClientReply } from '../lab/client-probe.js';
import { summarize, type Summary } from './failover/stats.js';
import { systemOf, type BenchSystem } from './failover/systems.js';
import {
  labId, LabSession, log, message, other, PING_INTERVAL_MS, saveLogs, SETUP_ATTEMPTS, STEADY_TIMEOUT_MS, sweep,
  WARMUP_REPLIES, WARMUP_TIMEOUT_MS,
} from './failover/common.js';

/** Partition → both nodes own the VIP (the secondary's peer-death detection plus the VIP). */
const SPLIT_TIMEOUT_MS = 10_000;
/** The partition is held this long after both nodes own the VIP. */
const HOLD_MS = 3000;
/**
 * on-loser: the yielding node's gratuitous ARP goes out this long after both own the VIP — after
 * the promoted node's own burst (its last at 1.1 s), which would otherwise take the client back.
 */
const LOSER_GARP_AFTER_MS = 1500;
/** Observation after the heal. */
const OBSERVE_MS = 3000;
const POLL_MS = 20;
const TABLE = 'tdm_arpheal';
/** ANCHORS.md: neighbours' ARP caches point at the primary within 1 s of the heal. */
const TARGET_MS = 1000;

const SCENARIOS = ['as-left', 'on-loser'] as const;
type Scenario = (typeof SCENARIOS)[number];
const SCENARIO_LABEL: Readonly<Record<Scenario, string>> = {
  'as-left': 'as the partition left it',
  'on-loser': 'moved to the yielding node during the partition',
};

interface Options {
  readonly runs: number;
  readonly timing: TimingProfileName;
  readonly scenarios: readonly Scenario[];
  readonly json: boolean;
  readonly logs: string | null;
  readonly save: string | null;
}

function usage(): never {
  process.stderr.write('usage: node dist/bench/arp-heal.js [--runs N] [--timing default|fast] [--client as-left|on-loser|both] [--json] [--save FILE] [--logs DIR]\n');
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  let runs = 10;
  let timing: TimingProfileName = 'default';
  let scenarios: Scenario[] = [...SCENARIOS];
  let json = false;
  let logs: string | null = null;
  let save: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => { const v = argv[++i]; if (v === undefined) usage(); return v; };
    switch (arg) {
      case '--runs': runs = Number(value()); if (!Number.isInteger(runs) || runs < 1) usage(); break;
      case '--timing': { const t = value(); if (!isTiming(t)) usage(); timing = t; break; }
      case '--client': {
        const c = value();
        if (c === 'both') scenarios = [...SCENARIOS];
        else if ((SCENARIOS as readonly string[]).includes(c)) scenarios = [c as Scenario];
        else usage();
        break;
      }
      case '--json': json = true; break;
      case '--logs': logs = resolve(value()); break;
      case '--save': save = resolve(value()); break;
      default: usage();
    }
  }
  return { runs, timing, scenarios, json, logs, save };
}



/** Every heartbeat path cut, nothing else: UDP to the heartbeat port dropped in and out. */
function partitionRules(): string {
  const port = DEFAULTS.port;
  return [
    `table inet ${TABLE} {`,
    `  chain in { type filter hook input priority 0; udp dport ${port} drop; }`,
    `  chain out { type filter hook output priority 0; udp dport ${port} drop; }`,
    '}',
    '',
  ].join('\n');
}

async function statusOf(lab: Lab, node: NodeName): Promise<NodeStatus | null> {
  try {
    const r = await controlRequest(join(stateDir(lab.dir, node), CONTROL_SOCKET), 'GET', '/status');
    return r.status === 200 ? r.body as NodeStatus : null;
  } catch {
    return null;
  }
}

// ── recorders: long-running observers in a namespace, one line per event ───────────────────

interface Line { readonly text: string; readonly arrivedAt: number }

/** A command running in one of the lab's namespaces, its stdout lines kept with their arrival time. */
class Recorder {
  readonly lines: Line[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly closed: Promise<void>;
  private stderr = '';

  constructor(readonly name: string, ns: string, argv: readonly string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
    this.child.stdin.end();
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-2000); });
    createInterface({ input: this.child.stdout }).on('line', (text) => { this.lines.push({ text, arrivedAt: Date.now() }); });
    this.closed = new Promise((res) => { this.child.once('close', () => { res(); }); });
  }

  get errors(): string { return this.stderr.trim(); }

  /** Waits until stderr says `pattern` (tcpdump's "listening on"), false after `timeoutMs`. */
  async ready(pattern: RegExp, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      if (Date.now() > deadline || this.child.exitCode !== null) return false;
      await sleep(20);
    }
    return true;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => { this.child.kill('SIGKILL'); }, 1000);
    await this.closed;
    clearTimeout(killer);
  }
}

/** `[2026-11-27T22:16:41.130123] …` (ip -ts: local time — the recorders run with TZ=UTC —, microseconds) → epoch ms. */
function ipTimestamp(text: string): number | null {
  const m = /^\[(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})\]/.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s, us] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s) + us / 1000;
}

interface NeighEvent { readonly at: number; readonly mac: string | null; readonly state: string }
interface AddrEvent { readonly at: number; readonly node: NodeName; readonly deleted: boolean }
interface ArpPacket { readonly at: number; readonly from: string; readonly garp: boolean; readonly text: string }

function neighEvents(lines: readonly Line[]): NeighEvent[] {
  const out: NeighEvent[] = [];
  const vip = VIP.replaceAll('.', '\\.');
  const re = new RegExp(`^\\[[^\\]]+\\] (Deleted |miss )?${vip} dev ${HOST_IFACE}(?: lladdr ([0-9a-f:]{17}))?(.*)$`);
  for (const l of lines) {
    const m = re.exec(l.text);
    if (m === null) continue;
    const deleted = m[1] === 'Deleted ';
    const state = (m[3] ?? '').trim().split(/\s+/).filter((w) => /^[A-Z]+$/.test(w)).join(',');
    out.push({ at: ipTimestamp(l.text) ?? l.arrivedAt, mac: deleted ? null : (m[2] ?? null), state: deleted ? 'DELETED' : state });
  }
  return out;
}

function addrEvents(lines: readonly Line[], node: NodeName): AddrEvent[] {
  const out: AddrEvent[] = [];
  for (const l of lines) {
    if (!l.text.includes(` inet ${VIP}/`)) continue;
    out.push({ at: ipTimestamp(l.text) ?? l.arrivedAt, node, deleted: /^\[[^\]]+\] Deleted /.test(l.text) });
  }
  return out;
}

/** tcpdump -l -n -e -tt: `<epoch s.us> <src mac> > <dst mac>, ethertype ARP (0x0806), length 42: <what>`. */
function arpPackets(lines: readonly Line[]): ArpPacket[] {
  const out: ArpPacket[] = [];
  const garp = new RegExp(`Request who-has ${VIP.replaceAll('.', '\\.')} (?:\\([0-9a-f:]+\\) )?tell ${VIP.replaceAll('.', '\\.')},`);
  for (const l of lines) {
    const m = /^(\d+\.\d+) ([0-9a-f:]{17}) > [0-9a-f:]{17}, ethertype ARP \(0x0806\), length \d+: (.*)$/.exec(l.text);
    if (m === null) continue;
    out.push({ at: Number(m[1]) * 1000, from: m[2] ?? '', garp: garp.test(m[3] ?? ''), text: m[3] ?? '' });
  }
  return out;
}

interface LogEvent { readonly at: number; readonly node: NodeName; readonly event: string; readonly msg: string }

function logEvents(lab: Lab, since: number): LogEvent[] {
  const out: LogEvent[] = [];
  for (const node of NODES) {
    let text: string;
    try { text = readFileSync(lab.logPath(node), 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const j = JSON.parse(line) as { time?: string; event?: string; msg?: string };
        const at = Date.parse(j.time ?? '');
        if (Number.isFinite(at) && at >= since) out.push({ at, node, event: j.event ?? '', msg: j.msg ?? '' });
      } catch { /* not a log line */ }
    }
  }
  return out.sort((x, y) => x.at - y.at);
}

/**
 * When a MAC history settled on `want` for good: `from` if it already held `want` then and never
 * left it, else the time of the last change to `want` (null if it does not end on `want`).
 */
function settledAt(initial: string | null, events: readonly { at: number; mac: string | null }[], want: string, from: number): number | null {
  let current = initial;
  let since: number | null = current === want ? from : null;
  for (const e of events) {
    if (e.at <= from) continue;
    if (e.mac === want) { if (current !== want) since = e.at; } else since = null;
    current = e.mac;
  }
  return since;
}

// ── clean-up: the lab of the run in progress, also on Ctrl-C ─────────────────────────────────

const session = new LabSession();

// ── one run ─────────────────────────────────────────────────────────────────────────────────

interface RunRecord {
  readonly scenario: Scenario;
  readonly run: number;
  readonly lab: string;
  /** Primary before the partition (the heartbeats were cut in its namespace). */
  readonly primary: NodeName | null;
  readonly survivor: NodeName | null;
  readonly loser: NodeName | null;
  /** Terms during the partition (status `this_node.term`). */
  readonly terms: Readonly<Record<NodeName, number>> | null;
  /** Cut → both nodes own the VIP (ms). */
  readonly splitMs: number | null;
  /** on-loser: the client's ARP cache was on the yielding node after its gratuitous ARP. */
  readonly movedToLoser: boolean | null;
  /** ISO time of the heal (the table's deletion handed to a waiting `nft`), and how long until that `nft` exited (the deletion is in between). */
  readonly healAt: string | null;
  readonly healApplyMs: number | null;
  /** Which node the client's ARP cache named at the heal, and which node answered the last echo before it. */
  readonly arpAtHeal: NodeName | null;
  readonly lastReplyBeforeHeal: NodeName | null;
  /** (1) heal → the yielding node's VIP deleted. */
  readonly vipOneMs: number | null;
  /** (2) heal → the client's ARP cache on the survivor for good (monitor; poll as a cross-check). */
  readonly arpSettledMs: number | null;
  readonly arpSettledPollMs: number | null;
  /** Changes of the client's entry for the VIP after the heal: [ms, node or MAC or null, state]. */
  readonly neighAfterHeal: readonly (readonly [number, string | null, string])[];
  /** Gratuitous ARPs for the VIP the client received after the heal, by sender (ms). */
  readonly garpsAfterHeal: Readonly<Record<NodeName, readonly number[]>>;
  /** (3) echoes answered after (2): by the survivor, by the yielded node, lost. */
  readonly afterSettled: { readonly survivor: number; readonly loser: number; readonly lost: number } | null;
  /** Echoes lost after the heal (whole observation), longest time without a reply after the heal (ms). */
  readonly lostAfterHeal: number | null;
  readonly gapAfterHealMs: number | null;
  /** Node log lines after the heal, ms from the heal. */
  readonly logAfterHeal: readonly (readonly [number, NodeName, string, string])[];
  readonly vipOwnerAfter: VipOwner | null;
  readonly arpNodeAfter: NodeName | null;
  readonly setupFailures: readonly string[];
  readonly error: string | null;
}

/**
 * Echoes sent after `t` that got no reply. A lost echo's send time is interpolated between the
 * replies around it (in the lab a reply arrives well under a millisecond after its request);
 * echoes after the last reply (still in flight when the observation ended) are not counted.
 */
function lostSentAfter(replies: readonly ClientReply[], t: number): number {
  const bySeq = [...replies].sort((x, y) => x.seq - y.seq);
  let lost = 0;
  for (let i = 1; i < bySeq.length; i++) {
    const p = bySeq[i - 1];
    const q = bySeq[i];
    if (p === undefined || q === undefined) continue;
    for (let s = p.seq + 1; s < q.seq; s++) {
      if (p.at + ((s - p.seq) / (q.seq - p.seq)) * (q.at - p.at) > t) lost++;
    }
  }
  return lost;
}

async function oneRun(system: BenchSystem, scenario: Scenario, index: number, opts: Options): Promise<RunRecord> {
  const setupFailures: string[] = [];
  for (let attempt = 1; attempt <= SETUP_ATTEMPTS && !session.isAborting(); attempt++) {
    const lab = system.newLab(labId('ah'));
    let stage = 'setup';
    let healer: ChildProcess | null = null;
    try {
      await session.build(lab);
      const primary = await system.start(lab, STEADY_TIMEOUT_MS);
      const macs = await lab.nodeMacs();
      const nodeOfMac = (mac: string | null): NodeName | null => NODES.find((n) => macs[n] === mac) ?? null;
      const probe = new ClientProbe(lab.ns('client'), VIP, PING_INTERVAL_MS);
      session.observers = [probe];
      const tcpdump = new Recorder('tcpdump', lab.ns('client'), ['tcpdump', '-l', '-n', '-e', '-tt', '-i', HOST_IFACE, 'arp']);
      const neigh = new Recorder('neigh', lab.ns('client'), ['ip', '-ts', 'monitor', 'neigh']);
      const addr = { a: new Recorder('addr-a', lab.ns('a'), ['ip', '-ts', 'monitor', 'address']), b: new Recorder('addr-b', lab.ns('b'), ['ip', '-ts', 'monitor', 'address']) };
      session.observers = [probe, tcpdump, neigh, addr.a, addr.b];
      if (!await tcpdump.ready(/listening on/, 5000)) throw new Error(`tcpdump did not start: ${tcpdump.errors}`);
      if (!await probe.until((r) => steadyFrom(r, primary, WARMUP_REPLIES), WARMUP_TIMEOUT_MS)) {
        throw new Error(`the client did not get ${WARMUP_REPLIES} replies in a row from ${primary} (${probe.replies.length} replies; ${probe.errors})`);
      }

      stage = 'partition';
      const cutAt = Date.now();
      const cut = await lab.exec(primary, ['nft', '-f', '-'], { input: partitionRules() });
      if (cut.code !== 0) throw new Error(`nft failed: ${cut.stderr.trim()}`);
      let bothAt: number | null = null;
      while (bothAt === null) {
        if (await lab.vipOwner() === 'both') bothAt = Date.now();
        else if (Date.now() - cutAt > SPLIT_TIMEOUT_MS) throw new Error(`the VIP not on both nodes ${SPLIT_TIMEOUT_MS / 1000} s after the cut (${String(await lab.vipOwner())})`);
        else await sleep(50);
      }
      // The node that will yield: the older term (equal terms: the higher HA address yields).
      const [sa, sb] = await Promise.all([statusOf(lab, 'a'), statusOf(lab, 'b')]);
      const terms = sa !== null && sb !== null ? { a: sa.this_node.term, b: sb.this_node.term } : null;
      let movedToLoser: boolean | null = null;
      if (scenario === 'on-loser') {
        if (terms === null) throw new Error('no status during the partition');
        const predicted: NodeName = terms.a < terms.b ? 'a' : 'b';
        await sleep(Math.max(0, bothAt + LOSER_GARP_AFTER_MS - Date.now()));
        const g = await lab.exec(predicted, ['arping', '-q', '-U', '-c', '1', '-I', 'ext0', VIP]);
        if (g.code !== 0) throw new Error(`arping from ${predicted}: ${g.stderr.trim()}`);
        await sleep(200);
        movedToLoser = (await lab.clientArpMac()).node === predicted;
      }
      // The heal: an `nft -f -` started now, waiting for its input, deletes the table as soon as
      // its stdin closes — without the process start-up (10–30 ms on this busy host) in between,
      // so the heal time is known to within a few milliseconds.
      const nft = spawn('ip', ['netns', 'exec', lab.ns(primary), 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      healer = nft;
      let healErr = '';
      nft.stderr.setEncoding('utf8').on('data', (d: string) => { healErr += d; });
      const healed = new Promise<number | null>((res) => { nft.once('close', (code) => { res(code); }); });
      await sleep(Math.max(0, bothAt + HOLD_MS - Date.now()));

      stage = 'heal';
      const atHeal = await lab.clientArpMac();
      const healAt = Date.now();
      nft.stdin.end(`delete table inet ${TABLE}\n`);
      const healCode = await healed;
      const healDoneAt = Date.now();
      if (healCode !== 0) throw new Error(`nft delete failed (exit ${String(healCode)}): ${healErr.trim()}`);
      const samples: { at: number; mac: string | null }[] = [];
      while (Date.now() < healAt + OBSERVE_MS) {
        const t0 = Date.now();
        const r = await run('ip', ['-n', lab.ns('client'), '-j', 'neigh', 'show', 'to', VIP, 'dev', HOST_IFACE]);
        const t1 = Date.now();
        let mac: string | null = null;
        try { mac = (JSON.parse(r.stdout || '[]') as { lladdr?: string }[])[0]?.lladdr ?? null; } catch { /* empty */ }
        samples.push({ at: (t0 + t1) / 2, mac });
        await sleep(Math.max(0, POLL_MS - (Date.now() - t0)));
      }
      const endAt = Date.now();
      await sleep(200); // the monitors' last lines
      await session.stopObservers();

      const [fa, fb] = await Promise.all([statusOf(lab, 'a'), statusOf(lab, 'b')]);
      const survivor: NodeName | null = fa?.this_node.role === 'primary' && fb?.this_node.role !== 'primary' ? 'a'
        : fb?.this_node.role === 'primary' && fa?.this_node.role !== 'primary' ? 'b' : null;
      const loser = survivor === null ? null : other(survivor);
      const vipOwnerAfter = await lab.vipOwner();
      const arpAfter = await lab.clientArpMac();

      const neighs = neighEvents(neigh.lines);
      const lastBefore = neighs.filter((e) => e.at <= healAt).pop();
      const initialMac = lastBefore === undefined ? atHeal.mac : lastBefore.mac;
      const addrs = [...addrEvents(addr.a.lines, 'a'), ...addrEvents(addr.b.lines, 'b')].sort((x, y) => x.at - y.at);
      const firstDelete = addrs.find((e) => e.at > healAt && e.deleted);
      const packets = arpPackets(tcpdump.lines).filter((p) => p.at > healAt && p.garp);
      const rel = (t: number): number => Math.round((t - healAt) * 10) / 10;
      const replies = probe.replies.filter((r) => r.at <= endAt);
      let settled: number | null = null;
      let settledPoll: number | null = null;
      let afterSettled: RunRecord['afterSettled'] = null;
      if (survivor !== null) {
        settled = settledAt(initialMac, neighs, macs[survivor], healAt);
        settledPoll = settledAt(atHeal.mac, samples, macs[survivor], healAt);
        if (settled !== null) {
          const s = settled;
          const later = replies.filter((r) => r.at > s);
          afterSettled = {
            survivor: later.filter((r) => r.node === survivor).length,
            loser: later.filter((r) => r.node === other(survivor)).length,
            lost: lostSentAfter(replies, s),
          };
        }
      }
      let gap = 0;
      let prev = replies.filter((r) => r.at <= healAt).pop()?.at ?? healAt;
      for (const r of replies.filter((x) => x.at > healAt)) { gap = Math.max(gap, r.at - prev); prev = r.at; }
      gap = Math.max(gap, endAt - prev);

      if (opts.logs !== null) saveLogs(lab, opts.logs, `${opts.timing}-${scenario}-${String(index).padStart(2, '0')}`);
      const record: RunRecord = {
        scenario, run: index, lab: lab.id, primary, survivor, loser, terms,
        splitMs: bothAt - cutAt, movedToLoser,
        healAt: new Date(healAt).toISOString(), healApplyMs: healDoneAt - healAt,
        arpAtHeal: nodeOfMac(initialMac),
        lastReplyBeforeHeal: replies.filter((r) => r.at <= healAt).pop()?.node ?? null,
        vipOneMs: firstDelete === undefined ? null : rel(firstDelete.at),
        arpSettledMs: settled === null ? null : rel(settled),
        arpSettledPollMs: settledPoll === null ? null : rel(settledPoll),
        neighAfterHeal: neighs.filter((e) => e.at > healAt).map((e) => [rel(e.at), nodeOfMac(e.mac) ?? e.mac, e.state] as const),
        garpsAfterHeal: { a: packets.filter((p) => p.from === macs.a).map((p) => rel(p.at)), b: packets.filter((p) => p.from === macs.b).map((p) => rel(p.at)) },
        afterSettled,
        lostAfterHeal: lostSentAfter(replies, healAt),
        gapAfterHealMs: Math.round(gap),
        logAfterHeal: logEvents(lab, healAt - 50)
          .filter((e) => !['next-hop', 'hook'].includes(e.event))
          .map((e) => [rel(e.at), e.node, e.event, e.msg] as const),
        vipOwnerAfter, arpNodeAfter: arpAfter.node, setupFailures,
        error: null,
      };
      const problems: string[] = [];
      if (survivor === null) problems.push(`no single primary after the heal (a ${fa?.this_node.role ?? '?'}, b ${fb?.this_node.role ?? '?'})`);
      if (firstDelete !== undefined && firstDelete.node !== loser) problems.push(`the VIP was deleted on ${firstDelete.node}, the survivor`);
      if (vipOwnerAfter !== survivor) problems.push(`VIP on ${String(vipOwnerAfter)} at the end`);
      if (survivor !== null && arpAfter.node !== survivor) problems.push(`the client's ARP on ${String(arpAfter.node)} at the end`);
      if (scenario === 'on-loser' && movedToLoser !== true) problems.push('the client did not follow the yielding node\'s gratuitous ARP');
      if (scenario === 'on-loser' && survivor !== null && terms !== null && (terms.a < terms.b ? 'a' : 'b') !== loser) problems.push('another node yielded than predicted from the terms');
      return { ...record, error: problems.length === 0 ? null : problems.join('; ') };
    } catch (err) {
      if (session.isAborting()) break;
      if (opts.logs !== null) saveLogs(lab, opts.logs, `${opts.timing}-${scenario}-${String(index).padStart(2, '0')}-failed${attempt}`);
      setupFailures.push(`${lab.id}: ${stage}: ${message(err)}`);
      log(`  ${scenario} #${index}: attempt ${attempt} failed (${stage}): ${message(err)}`);
      // Only a failed set-up is retried; a failure once the partition is made is the run's result.
      if (stage !== 'setup') return emptyRecord(scenario, index, lab.id, setupFailures, `${stage}: ${message(err)}`);
    } finally {
      if (healer !== null && healer.exitCode === null && healer.signalCode === null) healer.kill('SIGKILL');
      await session.teardown(lab);
    }
  }
  return emptyRecord(scenario, index, '', setupFailures, `no steady state in ${SETUP_ATTEMPTS} attempts`);
}

function emptyRecord(scenario: Scenario, run: number, lab: string, setupFailures: readonly string[], error: string): RunRecord {
  return {
    scenario, run, lab, primary: null, survivor: null, loser: null, terms: null, splitMs: null, movedToLoser: null,
    healAt: null, healApplyMs: null, arpAtHeal: null, lastReplyBeforeHeal: null, vipOneMs: null, arpSettledMs: null,
    arpSettledPollMs: null, neighAfterHeal: [], garpsAfterHeal: { a: [], b: [] }, afterSettled: null, lostAfterHeal: null,
    gapAfterHealMs: null, logAfterHeal: [], vipOwnerAfter: null, arpNodeAfter: null, setupFailures, error,
  };
}


// ── results ─────────────────────────────────────────────────────────────────────────────────

const ms = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${Math.round(v)} ms`);

interface Row { readonly measure: string; readonly n: number; readonly of: number; readonly summary: Summary | null; readonly target: string }

function rowsOf(scenario: Scenario, records: readonly RunRecord[]): Row[] {
  const mine = records.filter((r) => r.scenario === scenario);
  const measured = mine.filter((r) => r.healAt !== null);
  const numbers = (f: (r: RunRecord) => number | null | undefined): number[] =>
    measured.map(f).filter((v): v is number => typeof v === 'number');
  const row = (measure: string, values: number[], target = ''): Row =>
    ({ measure, n: values.length, of: mine.length, summary: summarize(values), target });
  const settled = numbers((r) => r.arpSettledMs);
  const over = mine.length - settled.filter((v) => v <= TARGET_MS).length;
  const firstGarp = (r: RunRecord): number | null => (r.survivor === null ? null : r.garpsAfterHeal[r.survivor][0] ?? null);
  const yieldAt = (r: RunRecord): number | null =>
    r.logAfterHeal.find(([, node, event]) => node === r.loser && event === 'role-change')?.[0] ?? null;
  const heardAt = (r: RunRecord): number | null =>
    r.logAfterHeal.find(([, node, event]) => node === r.survivor && event === 'peer-found')?.[0] ?? null;
  return [
    row('heal → the survivor logs `peer-found`', numbers(heardAt)),
    row('heal → the yielding node logs its role change', numbers(yieldAt)),
    row('(1) heal → only one node holds the VIP', numbers((r) => r.vipOneMs)),
    row('heal → first gratuitous ARP from the survivor at the client', numbers(firstGarp)),
    row('(2) heal → client\'s ARP on the survivor for good', settled,
      `≤ 1 s: ${over === 0 ? `met (all ${mine.length})` : `**missed** in ${over} of ${mine.length}`}`),
    row('(2) the same from `ip neigh` polled every 20 ms', numbers((r) => r.arpSettledPollMs)),
    row('longest time without a reply after the heal', numbers((r) => r.gapAfterHealMs)),
  ];
}

function table(opts: Options, records: readonly RunRecord[]): string {
  const lines = [
    '| client\'s ARP at the heal | measure | runs | median | min | max | target |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const scenario of opts.scenarios) {
    const mine = records.filter((r) => r.scenario === scenario);
    const onSurvivor = mine.filter((r) => r.arpAtHeal !== null && r.arpAtHeal === r.survivor).length;
    const onLoser = mine.filter((r) => r.arpAtHeal !== null && r.arpAtHeal === r.loser).length;
    const label = `${SCENARIO_LABEL[scenario]} (on the survivor in ${onSurvivor}, on the yielding node in ${onLoser} of ${mine.length})`;
    for (const [i, r] of rowsOf(scenario, records).entries()) {
      const s = r.summary;
      lines.push(`| ${i === 0 ? label : ''} | ${r.measure} | ${r.n}/${r.of} | ${ms(s?.median)} | ${ms(s?.min)} | ${ms(s?.max)} | ${r.target} |`);
    }
    const served = mine.filter((r) => r.afterSettled !== null && r.afterSettled.loser === 0 && r.afterSettled.lost === 0 && r.afterSettled.survivor > 0).length;
    const fromLoser = mine.reduce((n, r) => n + (r.afterSettled?.loser ?? 0), 0);
    const lost = mine.reduce((n, r) => n + (r.afterSettled?.lost ?? 0), 0);
    const lostAfterHeal = summarize(mine.flatMap((r) => (r.lostAfterHeal === null ? [] : [r.lostAfterHeal])));
    lines.push(`| | echoes lost after the heal (count) | ${lostAfterHeal?.n ?? 0}/${mine.length} | ${lostAfterHeal?.median ?? '–'} | ${lostAfterHeal?.min ?? '–'} | ${lostAfterHeal?.max ?? '–'} | |`);
    lines.push(`| | (3) every echo sent after (2) answered by the survivor | ${served}/${mine.length} | yes in ${served} of ${mine.length} runs (replies from the yielded node: ${fromLoser}, echoes lost: ${lost}, all runs together) | | | |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!isRoot()) {
    log('arp-heal needs root: it builds network namespaces (run it with sudo).');
    process.exit(1);
  }
  session.removeOnSignals();
  const system = systemOf(opts.timing === 'default' ? 'tandem-default' : 'tandem-fast');
  const command = ['node', 'dist/bench/arp-heal.js', ...process.argv.slice(2)].join(' ');
  const started = new Date();
  log(`arp-heal: ${opts.runs} run(s) × ${opts.scenarios.join(', ')}, timing ${opts.timing}; a fresh lab per run`);
  const records: RunRecord[] = [];
  for (let i = 1; i <= opts.runs && !session.isAborting(); i++) {
    for (const scenario of opts.scenarios) {
      if (session.isAborting()) break;
      const r = await oneRun(system, scenario, i, opts);
      if (session.isAborting()) break;
      records.push(r);
      const garps = r.survivor === null ? '' : r.garpsAfterHeal[r.survivor].map((t) => Math.round(t)).join('/');
      log(`  ${scenario} #${i} (${r.lab}): ${r.healAt === null ? '' : `primary ${r.primary ?? '?'} → survivor ${r.survivor ?? '?'}; ARP at heal ${String(r.arpAtHeal)}; one VIP ${ms(r.vipOneMs)}, ARP settled ${ms(r.arpSettledMs)} (poll ${ms(r.arpSettledPollMs)}), survivor GARPs at ${garps} ms, lost ${r.lostAfterHeal ?? '–'}, after settled ${JSON.stringify(r.afterSettled)}`}${r.error === null ? '' : ` — ${r.error}`}`);
    }
  }
  const leftovers = sweep(session.dirs);
  if (leftovers > 0) log(`killed ${leftovers} process(es) that outlived their lab`);
  const finished = new Date();
  const environment = { node: process.version, kernel: release(), cpus: cpus().length, client: `iputils ping of ${VIP} from 192.0.2.100 every ${PING_INTERVAL_MS} ms` };
  const json = `${JSON.stringify({
    command, started: started.toISOString(), finished: finished.toISOString(), timing: opts.timing, runsPerScenario: opts.runs,
    environment, targetMs: TARGET_MS, rows: Object.fromEntries(opts.scenarios.map((s) => [s, rowsOf(s, records)])), runs: records,
  }, null, 2)}\n`;
  if (opts.save !== null) writeFileSync(opts.save, json);
  if (opts.json) {
    process.stdout.write(json);
    return;
  }
  const out = [
    `ARP caches after a partition heals — timing ${opts.timing}, ${started.toISOString()} (${Math.round((finished.getTime() - started.getTime()) / 1000)} s)`,
    `Command: \`${command}\``,
    `Host: Linux ${environment.kernel}, ${environment.cpus} CPUs, Node.js ${environment.node}; client: ${environment.client}`,
    '',
    table(opts, records),
    '',
  ];
  const failed = records.filter((r) => r.error !== null);
  if (failed.length > 0) {
    out.push('Runs with a problem:');
    for (const r of failed) out.push(`- ${r.scenario} #${r.run} (${r.lab}): ${r.error ?? ''}${r.setupFailures.length > 0 ? ` (${r.setupFailures.join('; ')})` : ''}`);
    out.push('');
  }
  const retried = records.filter((r) => r.error === null && r.setupFailures.length > 0);
  if (retried.length > 0) out.push(`${retried.length} run(s) needed another lab to reach a steady state.`, '');
  process.stdout.write(out.join('\n'));
}

main().catch(async (err: unknown) => {
  log(`arp-heal: ${message(err)}`);
  await session.stopObservers();
  if (session.lab !== null) await session.teardown(session.lab);
  sweep(session.dirs);
  process.exit(1);
});
