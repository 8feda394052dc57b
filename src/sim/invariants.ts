/**
 * Invariant checkers that watch a simulation after every processed input. Each records the
 * violations it sees (with the virtual time), so a test can assert there are none and print the
 * first when there are.
 */
import type { Role } from '../core/ha/report.js';
import type { Millis } from '../core/time.js';
import { NODE_NAMES, type NodeName, type Simulation, type Write } from './simulation.js';

export interface Violation { readonly at: Millis; readonly invariant: string; readonly detail: string }

export class InvariantMonitor {
  readonly violations: Violation[] = [];
  /** Automatic promotions seen, per node, with the sync state at that moment. */
  readonly promotions: { at: Millis; node: NodeName; sync: string }[] = [];
  private readonly lastRole = new Map<NodeName, Role | null>();
  /** Since when both nodes have been running, unfrozen and joined by at least one uncut path. */
  private connectedSince: Millis | null = null;

  /**
   * @param settleMs how long two primaries may coexist after the nodes (re)connect: the time
   *   for one heartbeat to cross, plus a freeze grace when a node resumes.
   */
  constructor(private readonly sim: Simulation, private readonly settleMs: Millis) {
    sim.observe(() => { this.check(); });
  }

  private check(): void {
    const sim = this.sim;
    const connected = NODE_NAMES.every((n) => sim.isRunning(n)) && sim.anyPathUp();
    if (!connected) this.connectedSince = null;
    else this.connectedSince ??= sim.now;

    const roles = NODE_NAMES.map((n) => (sim.isRunning(n) ? sim.role(n) : null));
    // A node restarted faster than a heartbeat path notices reconnects at its start: both may run
    // the election on what they heard before they hear each other (as for nodes started together).
    const since = this.connectedSince === null ? null : Math.max(this.connectedSince, ...NODE_NAMES.map((n) => sim.startedAt(n)));
    if (roles[0] === 'primary' && roles[1] === 'primary' && since !== null && sim.now - since > this.settleMs) {
      this.violations.push({ at: sim.now, invariant: 'one-primary', detail: `both primary, connected since ${since}` });
    }
    for (const n of NODE_NAMES) {
      // A frozen process keeps its role: only a crash ends it.
      const role = sim.role(n);
      const before = this.lastRole.get(n) ?? null;
      if (role === 'primary' && before !== 'primary') {
        const sync = sim.decidingSyncOf(n) ?? sim.syncOf(n);
        this.promotions.push({ at: sim.now, node: n, sync });
        if (sync !== 'UpToDate' && !sim.wasForced(n)) {
          this.violations.push({ at: sim.now, invariant: 'no-promotion-out-of-sync', detail: `${n} promoted while ${sync}` });
        }
      }
      this.lastRole.set(n, role);
    }
  }
}

/** Changes of the serving node (who holds the VIPs), from a simulation's serving log. */
export function servingSwitches(sim: Simulation, from: Millis = 0): { at: Millis; to: NodeName }[] {
  return sim.servingLog.filter((c) => c.serving && c.at >= from).map((c) => ({ at: c.at, to: c.node }));
}

/**
 * The data invariants, watched after every processed input:
 * (i) no barrier-acked record is ever lost: every running primary holds every acked record,
 *     except records set aside on split-brain recovery and those an operator-forced takeover
 *     gave up (exempt);
 * (ii) a split brain is always detected on reconnect: once both nodes have written while the
 *     other was primary too (since the last resolution), whenever they are connected again for
 *     longer than `settleMs` both show SplitBrain and both have raised the split-brain alert;
 * (iv) convergence, checked on demand (`checkConverged`) after a quiet period: unless the
 *     nodes diverged, one primary, the secondary UpToDate, both holding the same records.
 */
export class DataInvariantMonitor {
  readonly violations: Violation[] = [];
  private connectedSince: Millis | null = null;
  /** The divergence, latched until a resolution: since when, and when it was seen. */
  private divergence: { readonly since: Millis; readonly seenAt: Millis } | null = null;
  private writesSeen = 0;
  private preservedSeen = 0;
  /** Per node, its writes made while the other node was primary too (pruned once the other holds them). */
  private readonly dualWrites: Record<NodeName, Write[]> = { a: [], b: [] };
  private alertsSeen = 0;
  private readonly splitBrainAlert = new Map<NodeName, Millis>();
  private readonly lastRole = new Map<NodeName, Role | null>();
  private nextLossCheck: Millis = 0;

  constructor(private readonly sim: Simulation, private readonly settleMs: Millis) {
    sim.observe(() => { this.check(); });
  }

  /** Since when the data diverged (latched until resolved), or null. */
  get divergedSince(): Millis | null { return this.divergence?.since ?? null; }

  private check(): void {
    const sim = this.sim;
    this.track();
    let promoted = false;
    for (const n of NODE_NAMES) {
      const role = sim.role(n);
      if (role === 'primary' && this.lastRole.get(n) !== 'primary') promoted = true;
      this.lastRole.set(n, role);
    }
    if (promoted || sim.now >= this.nextLossCheck) {
      this.nextLossCheck = sim.now + 1000;
      this.checkNoAckedLoss();
    }
    this.checkSplitBrainDetected();
  }

  /**
   * Follows the writes, the resolutions and the alerts since the last check. The data diverged
   * when both nodes hold, at once, a record they wrote while the other was primary too and the
   * other lacks: whatever happens next, one of the two primaries' writes can only be kept by an
   * operator's decision, so the split brain must be shown.
   */
  private track(): void {
    const sim = this.sim;
    for (; this.preservedSeen < sim.preserved.length; this.preservedSeen++) {
      // A resolution: the divergence seen so far is settled by the operator.
      this.dualWrites.a = [];
      this.dualWrites.b = [];
      this.divergence = null;
    }
    for (; this.writesSeen < sim.writes.length; this.writesSeen++) {
      const w = sim.writes[this.writesSeen];
      if (w === undefined || !w.dualPrimary) continue;
      this.dualWrites[w.node].push(w);
      const peer: NodeName = w.node === 'a' ? 'b' : 'a';
      const theirs = sim.records(peer);
      const mine = sim.records(w.node);
      // The peer's dual writes it still holds alone (the others reached this node or are gone).
      this.dualWrites[peer] = this.dualWrites[peer].filter((x) => theirs.has(x.id) && !mine.has(x.id));
      const oldest = this.dualWrites[peer][0];
      if (oldest !== undefined && !theirs.has(w.id)) this.divergence ??= { since: oldest.at, seenAt: w.at };
    }
    for (; this.alertsSeen < sim.alerts.length; this.alertsSeen++) {
      const a = sim.alerts[this.alertsSeen];
      if (a?.event === 'split-brain') this.splitBrainAlert.set(a.node, a.at);
    }
  }

  private checkNoAckedLoss(): void {
    const sim = this.sim;
    if (sim.ackedRecords.size === 0) return;
    for (const n of NODE_NAMES) {
      if (!sim.isRunning(n) || sim.role(n) !== 'primary') continue;
      const held = sim.records(n);
      const lost = [...sim.ackedRecords].filter((id) =>
        !held.has(id) && !sim.exemptRecords.has(id) && !sim.preserved.some((p) => p.records.has(id)));
      if (lost.length > 0) {
        this.violations.push({ at: sim.now, invariant: 'no-acked-record-lost', detail: `primary ${n} lacks ${lost.length} acked records (${lost.slice(0, 3).join(', ')})` });
      }
    }
  }

  private checkSplitBrainDetected(): void {
    const sim = this.sim;
    const connected = NODE_NAMES.every((n) => sim.isRunning(n)) && sim.anyPathUp();
    if (!connected) this.connectedSince = null;
    else this.connectedSince ??= sim.now;
    const d = this.divergence;
    if (d === null || this.connectedSince === null) return;
    // A restart is instant: the new process has heard nothing yet.
    const from = Math.max(this.connectedSince, d.seenAt, ...NODE_NAMES.map((n) => sim.startedAt(n)));
    if (sim.now - from <= this.settleMs) return;
    const since = d.since;
    for (const n of NODE_NAMES) {
      const status = sim.clusterStatusOf(n);
      if (status !== 'SplitBrain') {
        this.violations.push({ at: sim.now, invariant: 'split-brain-detected', detail: `${n} shows ${status ?? 'nothing'} although both nodes wrote as primaries apart (since ${since})` });
      }
      if ((this.splitBrainAlert.get(n) ?? -1) < since) {
        this.violations.push({ at: sim.now, invariant: 'split-brain-detected', detail: `${n} raised no split-brain alert since the divergence at ${since}` });
      }
    }
  }

  /** (i) now, whatever the time since the last check. */
  checkAckedNow(): void {
    this.track();
    this.checkNoAckedLoss();
  }

  /** (iv): call after a quiet period with the nodes connected by the HA link. */
  checkConverged(): void {
    const sim = this.sim;
    this.track();
    // Diverged copies wait for the operator (Diverged, no session): nothing converges.
    if (NODE_NAMES.some((n) => sim.clusterStatusOf(n) === 'SplitBrain')) return;
    const at = sim.now;
    const primaries = NODE_NAMES.filter((n) => sim.isRunning(n) && sim.role(n) === 'primary');
    const fail = (detail: string): void => { this.violations.push({ at, invariant: 'convergence', detail }); };
    const [primary] = primaries;
    if (primaries.length !== 1 || primary === undefined) {
      fail(`${primaries.length} primaries after a quiet period`);
      return;
    }
    const secondary: NodeName = primary === 'a' ? 'b' : 'a';
    const engine = sim.engineOf(secondary);
    if (engine?.state !== 'UpToDate' || sim.syncOf(secondary) !== 'UpToDate') {
      fail(`secondary ${secondary} is ${engine?.state ?? 'down'} (HA core: ${sim.syncOf(secondary)}) after a quiet period`);
    }
    const mine = sim.records(primary);
    const theirs = sim.records(secondary);
    const onlyPrimary = [...mine].filter((id) => !theirs.has(id));
    const onlySecondary = [...theirs].filter((id) => !mine.has(id));
    if (onlyPrimary.length + onlySecondary.length > 0) {
      fail(`records differ: ${onlyPrimary.length} only on ${primary}, ${onlySecondary.length} only on ${secondary}`);
    }
  }
}
