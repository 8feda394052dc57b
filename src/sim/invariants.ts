/**
 * Invariant checkers that watch a simulation after every processed input. Each records the
 * violations it sees (with the virtual time), so a test can assert there are none and print the
 * first when there are.
 */
import type { Role } from '../core/ha/report.js';
import type { Millis } from '../core/time.js';
import { NODE_NAMES, type NodeName, type Simulation } from './simulation.js';

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
    if (roles[0] === 'primary' && roles[1] === 'primary' && this.connectedSince !== null &&
        sim.now - this.connectedSince > this.settleMs) {
      this.violations.push({ at: sim.now, invariant: 'one-primary', detail: `both primary, connected since ${this.connectedSince}` });
    }
    for (const n of NODE_NAMES) {
      // A frozen process keeps its role: only a crash ends it.
      const role = sim.role(n);
      const before = this.lastRole.get(n) ?? null;
      if (role === 'primary' && before !== 'primary') {
        const sync = sim.syncOf(n);
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
