/**
 * `tandem cluster upgrade SLOT`: the executor of the rolling upgrade planned by
 * core/firmware/rolling.ts. It checks both nodes, freezes configuration changes on both,
 * gathers facts every round (this node's status and boot record; the other node's, by peer
 * calls over the HA link) and carries out the planner's steps. Every line of progress goes to
 * the node log, to the plan file (so `cluster upgrade` can follow it across this node's own
 * reboot) and to the caller's stream: the same text everywhere.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ActionReply, ControlAction } from '../../adapters/control/protocol.js';
import type { FirmwareDir } from '../../adapters/firmware/slots.js';
import { readJson, writeJsonAtomic } from '../../adapters/state/store.js';
import type { TandemConfig } from '../../config/types.js';
import { checklistLine } from '../../core/firmware/checklist.js';
import { nextRollStep, type RollFacts, type RollLimits, type RollPlan } from '../../core/firmware/rolling.js';
import { OpError, refuse } from '../api/operation.js';
import type { StatusView } from '../node-app.js';
import type { PeerLink } from '../peer/calls.js';
import { peerCall } from '../peer/calls.js';
import type { RunningFirmware } from './identity.js';
import type { ActivateReply, FirmwareList, TestReport, UpgradeFlags, UpgradeState } from './schemas.js';
import type { FirmwareService } from './service.js';

const PLAN_FILE = 'upgrade.json';
const FREEZE_FILE = 'freeze.json';
/** How often the facts are gathered while a plan runs. */
const ROUND_MS = 500;
/** How long a bundle uploaded on the primary may take to reach the secondary's slots. */
const REPLICATION_WAIT_MS = 120_000;
/** Beyond the trial time, what a reboot and a resync may add. */
const MARGIN_MS = 60_000;
/** A freeze set by the other node lifts by itself after this long, if that node never lifts it. */
const FREEZE_MAX_MS = 2 * 3600_000;
const MAX_LINES = 400;

interface StoredPlan extends RollPlan {
  readonly flags: UpgradeFlags;
  readonly lines: readonly string[];
}

interface Freeze { readonly id: string; readonly by: string; readonly since: number; readonly expires: number }

export interface ClusterUpgradeOptions {
  readonly node: string;
  readonly peerName: string | null;
  readonly dir: FirmwareDir;
  readonly firmware: FirmwareService;
  readonly running: RunningFirmware;
  readonly config: () => TandemConfig;
  readonly status: () => StatusView | null;
  readonly peer: PeerLink | null;
  /** The node's own HA actions (the reboot that hands over first). */
  readonly operate: (a: ControlAction) => Promise<ActionReply>;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The upgrade's end (done or failed) and the freeze, for the operator's alerts. */
  readonly alert: (level: 'info' | 'warn' | 'error', event: string, message: string) => void;
}

export class ClusterUpgrade {
  private running = false;
  private listeners = new Set<(line: string) => void>();
  private lastWait = '';

  constructor(private readonly o: ClusterUpgradeOptions) {}

  private get planFile(): string { return join(this.o.dir.root, PLAN_FILE); }
  private get freezeFile(): string { return join(this.o.dir.root, FREEZE_FILE); }

  private stored(): StoredPlan | null {
    const p = readJson(this.planFile) as StoredPlan | undefined;
    return p?.version === 1 ? p : null;
  }

  private save(p: StoredPlan): void { writeJsonAtomic(this.planFile, p); }

  private active(p: RollPlan | null): boolean { return p !== null && p.phase !== 'done' && p.phase !== 'failed'; }

  state(from: number): UpgradeState {
    const p = this.stored();
    const lines = p?.lines ?? [];
    if (p === null) return { plan: null, lines: [], next: 0, active: false };
    const { lines: _all, flags: _flags, ...plan } = p;
    return { plan, lines: lines.slice(Math.max(0, from)), next: lines.length, active: this.active(p) };
  }

  /** Why configuration changes are refused now, or null. */
  frozen(): string | null {
    const p = this.stored();
    if (this.active(p) && p !== null) return `configuration changes are frozen while the cluster upgrade to Tandem ${p.target.version} runs (tandem cluster upgrade --abort ends it)`;
    const f = readJson(this.freezeFile) as Freeze | undefined;
    if (f !== undefined && Date.now() < f.expires) return `configuration changes are frozen: ${f.by} is upgrading the cluster (plan ${f.id})`;
    return null;
  }

  /** Set by the node that runs the upgrade, on the other node (peer call). */
  freeze(id: string, by: string): void {
    writeJsonAtomic(this.freezeFile, { id, by, since: Date.now(), expires: Date.now() + FREEZE_MAX_MS } satisfies Freeze);
    this.o.log('warn', `configuration changes frozen: ${by} is upgrading the cluster (plan ${id})`);
  }

  unfreeze(id: string | null): void {
    const f = readJson(this.freezeFile) as Freeze | undefined;
    if (f === undefined || (id !== null && f.id !== id)) return;
    writeJsonAtomic(this.freezeFile, { ...f, expires: 0 });
    this.o.log('info', 'configuration changes allowed again');
  }

  private emit(p: StoredPlan, line: string): StoredPlan {
    this.o.log('info', `cluster upgrade: ${line}`);
    for (const l of this.listeners) l(line);
    const next = { ...p, lines: [...p.lines, line].slice(-MAX_LINES) };
    this.save(next);
    return next;
  }

  /** Starts the upgrade and follows it until it ends or this node reboots into the new firmware. */
  async start(slot: number, flags: UpgradeFlags, acks: readonly string[], progress: (line: string) => void): Promise<{ readonly ok: boolean; readonly message: string }> {
    if (this.active(this.stored())) refuse(409, 'a cluster upgrade is already running: follow it with tandem cluster upgrade --follow, or end it with --abort');
    const peerLink = this.o.peer;
    const peerName = this.o.peerName;
    if (peerLink === null || peerName === null) return refuse(400, 'this node is not in a cluster: upgrade it alone (tandem firmware install FILE --reboot)');
    const say = (line: string): void => { this.o.log('info', `cluster upgrade: ${line}`); progress(line); };
    const status = this.o.status();
    if (status === null) refuse(503, 'the node is starting');
    const s = status as StatusView;
    if (s.this_node.role !== 'primary') refuse(409, `run the cluster upgrade on the primary (this node is ${s.this_node.role}${s.other_node?.role === 'primary' ? `; ${s.other_node.name} is` : ''})`);
    if (s.cluster.status !== 'HA') refuse(409, `the cluster is ${s.cluster.status}, not HA: both nodes must be in the cluster and connected`);
    if (s.cluster.redundant_heartbeat === 'degraded') refuse(409, 'the redundant heartbeat is degraded: repair the heartbeat paths first (HA must not be degraded)');
    const local = this.o.firmware.list().slots.find((r) => r.slot === slot);
    if (local?.bundle_sha256 === null || local?.version === null || local === undefined) return refuse(404, `slot ${String(slot)} holds no uploaded firmware`);
    const bundle = local.bundle_sha256;
    const version = local.version;
    say(`checking both nodes for the upgrade to Tandem ${version} (slot ${String(slot)} here)`);
    for (const i of this.o.firmware.checklist(acks)) say(`checklist: ${checklistLine(i)}`);
    const peerStatus = await this.peerJson<StatusView>('GET', '/status');
    if (peerStatus.sync.state !== 'UpToDate') refuse(409, `${peerName} is ${peerStatus.sync.state}, not UpToDate: wait for the sync to finish`);
    const mine = await this.o.firmware.test(slot, flags);
    for (const c of mine.checks) say(`${this.o.node}: ${c.status.toUpperCase()} ${c.id}: ${c.message}`);
    if (!mine.ok) refuse(409, `the Test of slot ${String(slot)} failed on ${this.o.node}: nothing was changed`);
    const peerSlot = await this.waitForPeerSlot(bundle, version, say);
    const theirs = await this.peerJson<TestReport>('POST', `/firmware/${String(peerSlot)}/test`, flags, 120_000);
    for (const c of theirs.checks) say(`${peerName}: ${c.status.toUpperCase()} ${c.id}: ${c.message}`);
    if (!theirs.ok) refuse(409, `the Test of slot ${String(peerSlot)} failed on ${peerName}: nothing was changed`);
    const now = Date.now();
    let plan: StoredPlan = {
      version: 1, id: randomBytes(6).toString('hex'), target: { version, bundle },
      self: { node: this.o.node, slot, activation: null }, peer: { node: peerName, slot: peerSlot, activation: null },
      phase: 'start', started: now, since: now, result: null, flags, lines: [],
    };
    this.save(plan);
    this.listeners.add(progress);
    try {
      plan = this.emit(plan, `plan ${plan.id}: ${peerName} first (slot ${String(peerSlot)}), then one planned handover, then ${this.o.node} (slot ${String(slot)}); configuration changes frozen on both nodes`);
      await this.peerJson('POST', '/cluster/freeze', { id: plan.id, by: this.o.node });
      return await this.run();
    } finally {
      this.listeners.delete(progress);
    }
  }

  /** After a start of the daemon: a plan this node was running goes on. */
  resume(): void {
    const p = this.stored();
    if (!this.active(p) || p === null) return;
    this.emit(p, `the daemon of Tandem ${this.o.running.version} resumes plan ${p.id} (phase ${p.phase})`);
    void this.run();
  }

  /** Ends a plan at the operator's request: both nodes unfrozen, nothing else touched. */
  async abort(): Promise<{ readonly ok: boolean; readonly messages: readonly string[] }> {
    const p = this.stored();
    if (!this.active(p) || p === null) return { ok: false, messages: ['no cluster upgrade is running'] };
    await this.finish(p, false, 'aborted by the operator; each node keeps the firmware it runs now');
    return { ok: true, messages: [`cluster upgrade ${p.id} aborted`] };
  }

  /** Follows the plan until it ends, or until this node reboots itself (the stream then ends). */
  private async run(): Promise<{ ok: boolean; message: string }> {
    if (this.running) return { ok: false, message: 'already running' };
    this.running = true;
    try {
      for (;;) {
        let p = this.stored();
        if (p === null) return { ok: false, message: 'the plan is gone' };
        const flags = p.flags;
        const step = nextRollStep(p, await this.facts(p), this.limits());
        switch (step.kind) {
          case 'wait':
            if (step.message !== this.lastWait) { this.lastWait = step.message; p = this.emit(p, step.message); }
            await sleep(ROUND_MS);
            break;
          case 'finish':
            await this.finish(p, step.ok, step.message);
            return { ok: step.ok, message: step.message };
          case 'upgrade-peer': {
            p = this.emit(p, `${p.peer.node}: After reboot = slot ${String(p.peer.slot)} (Tandem ${p.target.version})`);
            const a = await this.peerJson<ActivateReply>('POST', `/firmware/${String(p.peer.slot)}/activate`, flags, 120_000).catch((err: unknown) => err as Error);
            if (a instanceof Error || !a.ok || a.activation === null) {
              const why = a instanceof Error ? a.message : a.messages.join('; ');
              await this.finish(p, false, `${p.peer.node} did not accept the firmware: ${why}; nothing was changed`);
              return { ok: false, message: why };
            }
            p = { ...p, peer: { ...p.peer, activation: a.activation }, phase: 'secondary', since: Date.now() };
            this.save(p);
            p = this.emit(p, `${p.peer.node}: rebooting into Tandem ${p.target.version} (on trial; ${this.o.node} keeps serving)`);
            const r = await this.peerJson<ActionReply>('POST', '/action', { type: 'reboot', target: 'this' }).catch((err: unknown) => err as Error);
            if (r instanceof Error || !r.ok) p = this.emit(p, `${p.peer.node} did not confirm its reboot (${r instanceof Error ? r.message : r.messages.join('; ')}); waiting for it anyway`);
            break;
          }
          case 'upgrade-self': {
            p = this.emit(p, `${p.peer.node} runs Tandem ${p.target.version}, committed and UpToDate`);
            const a = await this.o.firmware.activate(p.self.slot, flags);
            if (!a.ok || a.activation === null) {
              await this.finish(p, false, `${this.o.node} cannot select slot ${String(p.self.slot)}: ${a.messages.join('; ')}; ${p.peer.node} runs Tandem ${p.target.version}, ${this.o.node} its old firmware (mixed versions)`);
              return { ok: false, message: a.messages.join('; ') };
            }
            p = { ...p, self: { ...p.self, activation: a.activation }, phase: 'self', since: Date.now() };
            this.save(p);
            p = this.emit(p, `${this.o.node}: planned handover to ${p.peer.node}, then reboot into Tandem ${p.target.version} (on trial)`);
            const r = await this.o.operate({ type: 'reboot', target: 'this' });
            if (!r.ok) {
              await this.finish(p, false, `${this.o.node} could not reboot: ${r.messages.join('; ')}`);
              return { ok: false, message: r.messages.join('; ') };
            }
            // This process ends with the reboot; the daemon after it resumes the plan.
            return { ok: true, message: `${this.o.node} is rebooting into Tandem ${p.target.version}: follow with tandem cluster upgrade --follow` };
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async finish(p: StoredPlan, ok: boolean, message: string): Promise<void> {
    let plan = this.emit({ ...p, phase: ok ? 'done' : 'failed', result: message }, `${ok ? 'done' : 'FAILED'}: ${message}`);
    this.o.alert(ok ? 'info' : 'error', ok ? 'cluster-upgrade-done' : 'cluster-upgrade-failed', `cluster upgrade to Tandem ${p.target.version}: ${message}`);
    try {
      await this.peerJson('POST', '/cluster/unfreeze', { id: p.id });
    } catch (err) {
      plan = this.emit(plan, `could not lift the freeze on ${p.peer.node} (${(err as Error).message}); it lifts by itself within ${String(FREEZE_MAX_MS / 3600_000)} h`);
    }
    this.emit(plan, 'configuration changes allowed again');
  }

  private limits(): RollLimits {
    const trialMs = this.o.config().firmware.trialTimeoutS * 1000;
    return { peerMs: trialMs + MARGIN_MS, selfMs: trialMs + MARGIN_MS };
  }

  private async facts(p: RollPlan): Promise<RollFacts> {
    const status = this.o.status();
    const boot = status?.firmware;
    const selfFailed = p.self.activation !== null && boot?.activation_handled === p.self.activation && boot.activation_outcome?.state === 'failed'
      ? boot.activation_outcome.reason ?? 'its trial failed' : null;
    let peer: RollFacts['peer'] = null;
    try {
      const ps = await this.peerJson<StatusView>('GET', '/status', undefined, 2000);
      const started = p.peer.activation !== null && ps.firmware.activation_handled === p.peer.activation;
      const outcome = started ? ps.firmware.activation_outcome : null;
      peer = {
        version: ps.firmware.version,
        onTrial: ps.firmware.trial !== null,
        trialStarted: started,
        fellBack: outcome?.state === 'failed' ? outcome.reason ?? 'its trial failed' : null,
        inSync: ps.cluster.status === 'HA' && ps.sync.state === 'UpToDate',
      };
    } catch { /* unreachable this round */ }
    return {
      now: Date.now(),
      self: { role: status?.this_node.role ?? 'unknown', version: this.o.running.version, onTrial: boot?.trial !== null && boot?.trial !== undefined, fellBack: selfFailed },
      peer,
    };
  }

  private async waitForPeerSlot(bundle: string, version: string, say: (line: string) => void): Promise<number> {
    const deadline = Date.now() + REPLICATION_WAIT_MS;
    let told = false;
    for (;;) {
      const list = await this.peerJson<FirmwareList>('GET', '/firmware');
      const row = list.slots.find((r) => r.bundle_sha256 === bundle);
      if (row !== undefined) return row.slot;
      if (Date.now() > deadline) refuse(409, `${list.node} has no slot with this bundle after ${String(REPLICATION_WAIT_MS / 1000)} s (is a slot free there? tandem firmware list on ${list.node})`);
      if (!told) { say(`waiting for the bundle of Tandem ${version} to reach ${list.node} through data sync`); told = true; }
      await sleep(1000);
    }
  }

  private async peerJson<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
    if (this.o.peer === null) throw new OpError(400, ['no other node']);
    const r = await peerCall(this.o.peer, method, path, { body, timeoutMs });
    if (r.status >= 400) {
      const messages = (r.body as { messages?: string[] }).messages ?? [`status ${String(r.status)}`];
      throw new OpError(r.status, messages.map((m) => `${this.o.peerName ?? 'the other node'}: ${m}`));
    }
    return r.body as T;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}
