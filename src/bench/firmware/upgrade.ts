/**
 * bench:firmware, part `upgrade`: what a client sees while both nodes of a cluster move from
 * Tandem 1.0.0 (LTS) to 1.1.0 (Feature Release), in the namespace lab with the real daemons —
 * `tandem cluster upgrade` beside the appliance's manual order (shut the secondary down, reboot
 * the primary into the new firmware, start the secondary), in the same run, on fresh labs.
 *
 * The client pings the VIP every 10 ms (one iputils ping, replies read as they arrive); the
 * figures are the longest time without a reply, the echoes lost, the changes of the answering
 * node, and how long the whole upgrade took.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientProbe, type ClientReply } from '../../lab/client-probe.js';
import { build, keygen, type Keys } from '../../lab/firmware.js';
import { Lab, REPO_ROOT, VIP, type NodeName } from '../../lab/lab.js';
import { installedVersion } from '../../app/firmware/installation.js';
import { summarize, type Summary } from '../failover/stats.js';

export type Method = 'rolling' | 'manual';

export interface UpgradeRun {
  readonly method: Method;
  readonly ok: boolean;
  /** Longest time without any reply while the upgrade ran, ms. */
  readonly gapMs: number;
  readonly lost: number;
  /** Changes of the node answering the client. */
  readonly switches: number;
  readonly durationMs: number;
  readonly error: string | null;
}

export interface UpgradeResult {
  readonly runs: readonly UpgradeRun[];
  readonly summary: Readonly<Record<Method, { readonly gap: Summary | null; readonly duration: Summary | null; readonly lost: Summary | null; readonly maxSwitches: number }>>;
}

const CLI = join(REPO_ROOT, 'dist', 'cli', 'tandem.js');
const TRIAL_TIMEOUT_S = 120;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function tandem(lab: Lab, node: NodeName, args: readonly string[], timeoutMs = 600_000): Promise<string> {
  const r = await lab.exec(node, [process.execPath, CLI, ...args, '--config', lab.configPath, '--node', node], { timeoutMs });
  if (r.code !== 0) throw new Error(`tandem ${args.join(' ')} on ${node}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

async function json<T>(lab: Lab, node: NodeName, args: readonly string[]): Promise<T> {
  return JSON.parse(await tandem(lab, node, [...args, '--json'])) as T;
}

interface Status { readonly this_node: { readonly role: string; readonly firmware: { readonly version: string } | null }; readonly cluster: { readonly status: string }; readonly sync: { readonly state: string }; readonly firmware: { readonly trial: unknown } }

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await probe()) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Both nodes in the cluster, on `version`, committed, the secondary UpToDate; returns the primary. */
async function settled(lab: Lab, version: string): Promise<NodeName> {
  let primary: NodeName = 'a';
  await waitFor(`both nodes on ${version}, settled`, 300_000, async () => {
    const [a, b] = [await json<Status>(lab, 'a', ['status']), await json<Status>(lab, 'b', ['status'])];
    primary = a.this_node.role === 'primary' ? 'a' : 'b';
    return [a, b].every((s) => s.cluster.status === 'HA' && s.sync.state === 'UpToDate' && s.this_node.firmware?.version === version && s.firmware.trial === null)
      && (a.this_node.role === 'primary') !== (b.this_node.role === 'primary');
  });
  return primary;
}

async function uploadTo(lab: Lab, node: NodeName, bundle: string): Promise<number> {
  return (await json<{ slot: number }>(lab, node, ['firmware', 'upload', bundle])).slot;
}

/** The slot of `node` that holds the bundle `sha` (it arrives through data sync). */
async function slotWith(lab: Lab, node: NodeName, version: string): Promise<number> {
  let slot = -1;
  await waitFor(`${version} on ${node}`, 120_000, async () => {
    const l = await json<{ slots: { slot: number; version: string | null }[] }>(lab, node, ['firmware', 'list']);
    slot = l.slots.find((s) => s.slot > 0 && s.version === version)?.slot ?? -1;
    return slot > 0;
  });
  return slot;
}

function observe(replies: readonly ClientReply[], from: number, to: number): { gapMs: number; lost: number; switches: number } {
  const inside = replies.filter((r) => r.at >= from && r.at <= to);
  let gap = 0;
  let switches = 0;
  let lost = 0;
  for (let i = 1; i < inside.length; i++) {
    const [p, c] = [inside[i - 1], inside[i]];
    if (p === undefined || c === undefined) continue;
    gap = Math.max(gap, c.at - p.at);
    if (c.node !== p.node) switches++;
    lost += Math.max(0, c.seq - p.seq - 1);
  }
  return { gapMs: gap, lost, switches };
}

async function oneRun(method: Method, keys: Keys, bundles: { v100: string; v110: string }, log: (l: string) => void): Promise<UpgradeRun> {
  const lab = new Lab({ timing: 'default', firmware: { trustedKeys: [keys.pub], trialTimeoutS: TRIAL_TIMEOUT_S } });
  let probe: ClientProbe | null = null;
  const started = Date.now();
  try {
    await lab.up({ start: true });
    let primary = await settled(lab, installedVersion());
    // Unmeasured: both nodes onto 1.0.0.
    const s100 = await uploadTo(lab, primary, bundles.v100);
    await tandem(lab, primary, ['cluster', 'upgrade', String(s100), '--ack', 'all']);
    primary = await settled(lab, '1.0.0');
    const secondary: NodeName = primary === 'a' ? 'b' : 'a';
    const s110 = await uploadTo(lab, primary, bundles.v110);
    const theirs = await slotWith(lab, secondary, '1.1.0');
    probe = new ClientProbe(lab.ns('client'), VIP, 10);
    await probe.until((r) => r.length >= 50, 10_000);
    const from = Date.now();
    if (method === 'rolling') {
      await tandem(lab, primary, ['cluster', 'upgrade', String(s110), '--ack', 'all']);
    } else {
      await tandem(lab, secondary, ['firmware', 'activate', String(theirs)]);
      await tandem(lab, secondary, ['shutdown']);
      await waitFor(`${secondary} down`, 30_000, () => Promise.resolve(lab.processState(secondary) === 'stopped'));
      await tandem(lab, primary, ['firmware', 'activate', String(s110)]);
      await tandem(lab, primary, ['reboot']);
      await waitFor(`${primary} back on 1.1.0 and serving`, 120_000, async () => {
        const s = await json<Status>(lab, primary, ['status']);
        return s.this_node.firmware?.version === '1.1.0' && s.this_node.role === 'primary';
      });
      await lab.start(secondary);
    }
    await settled(lab, '1.1.0');
    await probe.until(() => false, 1000);
    const to = Date.now();
    const seen = observe(probe.replies, from, to);
    log(`upgrade: ${method}: gap ${seen.gapMs.toFixed(0)} ms, ${String(seen.lost)} lost, ${String(seen.switches)} switch(es), ${((to - from) / 1000).toFixed(1)} s`);
    return { method, ok: true, ...seen, durationMs: to - from, error: null };
  } catch (err) {
    log(`upgrade: ${method}: FAILED: ${(err as Error).message}`);
    return { method, ok: false, gapMs: Number.NaN, lost: 0, switches: 0, durationMs: Date.now() - started, error: (err as Error).message };
  } finally {
    await probe?.stop();
    await lab.down();
  }
}

export async function upgradePart(rounds: number, log: (l: string) => void): Promise<UpgradeResult> {
  const work = mkdtempSync(join(tmpdir(), 'tandem-fw-upgrade-'));
  try {
    log('upgrade: building 1.0.0 (lts) and 1.1.0 (feature) from this checkout');
    const keys = keygen(join(work, 'keys'));
    const bundles = {
      v100: build({ keys, version: '1.0.0', type: 'lts', out: join(work, 'tandem-1.0.0.tfw') }),
      v110: build({ keys, version: '1.1.0', type: 'feature', out: join(work, 'tandem-1.1.0.tfw') }),
    };
    const runs: UpgradeRun[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const method of (round % 2 === 1 ? ['rolling', 'manual'] : ['manual', 'rolling']) as Method[]) runs.push(await oneRun(method, keys, bundles, log));
    }
    const of = (m: Method) => {
      const ok = runs.filter((r) => r.method === m && r.ok);
      return {
        gap: summarize(ok.map((r) => r.gapMs)), duration: summarize(ok.map((r) => r.durationMs)), lost: summarize(ok.map((r) => r.lost)),
        maxSwitches: Math.max(0, ...ok.map((r) => r.switches)),
      };
    };
    return { runs, summary: { rolling: of('rolling'), manual: of('manual') } };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function upgradeTable(r: UpgradeResult): string[] {
  const ms = (s: Summary | null): string => (s === null ? '–' : `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`);
  const sec = (s: Summary | null): string => (s === null ? '–' : `${(s.median / 1000).toFixed(1)} s`);
  const row = (m: Method, name: string): string => {
    const s = r.summary[m];
    const n = r.runs.filter((x) => x.method === m);
    return `| ${name} | ${String(n.filter((x) => x.ok).length)}/${String(n.length)} | **${ms(s.gap)}** | ${s.lost === null ? '–' : s.lost.median.toFixed(0)} | ${String(s.maxSwitches)} | ${sec(s.duration)} |`;
  };
  return [
    '**Cluster upgrade 1.0.0 → 1.1.0 seen by a client pinging the VIP every 10 ms** (median, range)',
    '',
    '| method | runs ok | longest gap without reply | echoes lost (median) | answering-node changes (max) | whole upgrade |',
    '|---|---|---|---|---|---|',
    row('rolling', '`tandem cluster upgrade`'),
    row('manual', "the appliance's manual order"),
    '',
    `Target: rolling gap ≤ 1 s with at most one planned handover: ${r.summary.rolling.gap !== null && r.summary.rolling.gap.max <= 1000 && r.summary.rolling.maxSwitches <= 1 ? 'met' : 'NOT MET'}.`,
  ];
}
