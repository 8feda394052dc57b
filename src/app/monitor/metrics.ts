/**
 * Prometheus metrics at /metrics (prom-client, its own registry): roles, role changes, heartbeats
 * by path and by rejection reason, probe RTT and loss per target, sync state, bytes, backlog and
 * replication lag, barrier latency, alerts. Gauges read the node's status at scrape time; what the status does not
 * count (probe round trips, barriers, role changes) is counted here as it happens.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SYNC_STATES } from '../../core/sync/state.js';
import type { StatusView } from '../node-app.js';

/** A probe without a reply after this long counts as lost. */
const PROBE_LOST_MS = 5000;
const ROLES = ['primary', 'secondary', 'standalone'] as const;

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly rtt: Histogram<'interface' | 'target'>;
  private readonly probes: Counter<'interface' | 'target' | 'outcome'>;
  private readonly roleChanges: Counter<'to'>;
  private readonly barrier: Histogram<'outcome'>;
  private readonly replicationLag: Histogram;
  private readonly alertCount: Counter<'source' | 'level'>;
  /** Probes in flight: `interface address` → seq → when sent (ms, monotonic). */
  private readonly inFlight = new Map<string, Map<number, number>>();

  constructor(status: () => StatusView | null, private readonly now: () => number) {
    const r = this.registry;
    // Everything the status holds is read once per scrape, by the first metric's collect: the registry
    // serializes its metrics in order, so the ones below are filled before they are read.
    new Gauge({
      name: 'tandem_up', help: '1 while the daemon runs', registers: [r],
      collect(this: Gauge) {
        this.set(1);
        const s = status();
        if (s === null) return;
        for (const x of ROLES) role.set({ role: x }, s.this_node.role === x ? 1 : 0);
        serving.set(s.this_node.serving ? 1 : 0);
        term.set(s.this_node.term);
        peer.set(s.other_node?.reachable === true ? 1 : 0);
        byPath.reset();
        for (const p of s.heartbeat_paths) {
          pathUp.set({ path: p.path }, p.up ? 1 : 0);
          byPath.inc({ path: p.path, outcome: 'accepted' }, p.accepted);
          byPath.inc({ path: p.path, outcome: 'rejected' }, p.rejected);
        }
        accepted.reset();
        accepted.inc(s.heartbeats.accepted);
        rejected.reset();
        for (const [reason, n] of Object.entries(s.heartbeats.rejected)) rejected.inc({ reason }, n);
        for (const h of s.next_hops) {
          hop.set({ interface: h.interface }, h.this_node.reachable === true ? 1 : 0);
          for (const t of h.this_node.targets) target.set({ interface: h.interface, target: t.address }, t.state === 'up' ? 1 : t.state === 'down' ? 0 : -1);
        }
        for (const x of SYNC_STATES) syncState.set({ state: x }, s.sync.state === x ? 1 : 0);
        bytesLeft.set(s.sync.progress?.bytes_left ?? 0);
        lagNow.set((s.sync.lag_ms ?? 0) / 1000);
        const c = s.sync.counters;
        bytes.reset();
        files.reset();
        bytes.inc({ direction: 'sent' }, c.bytes_sent);
        bytes.inc({ direction: 'received' }, c.bytes_received);
        files.inc({ direction: 'sent' }, c.files_sent);
        files.inc({ direction: 'received' }, c.files_received);
      },
    });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> => new Gauge({ name, help, labelNames, registers: [r] });
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> => new Counter({ name, help, labelNames, registers: [r] });
    const role = gauge('tandem_role', '1 for the role this node has now', ['role']);
    const serving = gauge('tandem_serving', '1 when this node holds the service address');
    const term = gauge('tandem_term', 'The HA term (incremented at every election)');
    const peer = gauge('tandem_peer_reachable', '1 when the other node is heard on a heartbeat path');
    const pathUp = gauge('tandem_heartbeat_path_up', '1 when heartbeats arrive on the path', ['path']);
    const accepted = counter('tandem_heartbeats_accepted_total', 'Heartbeats accepted');
    const rejected = counter('tandem_heartbeats_rejected_total', 'Heartbeats dropped, by reason', ['reason']);
    const byPath = counter('tandem_heartbeats_path_total', 'Heartbeats by path and outcome (accepted, rejected)', ['path', 'outcome']);
    const hop = gauge('tandem_next_hop_reachable', "1 when the interface's next hops are reachable from this node", ['interface']);
    const target = gauge('tandem_next_hop_target_up', '1 when the target answers, 0 when down, -1 unknown', ['interface', 'target']);
    const syncState = gauge('tandem_sync_state', "1 for the data's state now", ['state']);
    const bytesLeft = gauge('tandem_sync_bytes_left', 'Bytes a resync still has to send or receive');
    const bytes = counter('tandem_sync_bytes_total', 'Bytes of replicated files', ['direction']);
    const files = counter('tandem_sync_files_total', 'Replicated files', ['direction']);
    const lagNow = gauge('tandem_sync_lag_seconds', 'How long the oldest live change not yet confirmed stored on the replica has waited (0 when none, or not replicating)');
    this.rtt = new Histogram({
      name: 'tandem_probe_rtt_seconds', help: 'Round trip of next-hop probes', labelNames: ['interface', 'target'], registers: [r],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    });
    this.probes = new Counter({ name: 'tandem_probes_total', help: 'Next-hop probes by outcome (sent, replied, lost)', labelNames: ['interface', 'target', 'outcome'], registers: [r] });
    this.roleChanges = new Counter({ name: 'tandem_role_changes_total', help: 'Role changes of this node since the daemon started', labelNames: ['to'], registers: [r] });
    this.barrier = new Histogram({ name: 'tandem_sync_barrier_seconds', help: 'Time for a data barrier to be confirmed by the peer', labelNames: ['outcome'], registers: [r], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5] });
    this.replicationLag = new Histogram({
      name: 'tandem_sync_replication_lag_seconds', help: 'Live changes: reported on this primary → confirmed stored on the replica', registers: [r],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    });
    this.alertCount = new Counter({ name: 'tandem_alerts_total', help: 'Alerts raised', labelNames: ['source', 'level'], registers: [r] });
  }

  probeSent(iface: string, target: string, seq: number): void {
    const key = `${iface} ${target}`;
    let m = this.inFlight.get(key);
    if (m === undefined) { m = new Map(); this.inFlight.set(key, m); }
    const now = this.now();
    for (const [s, at] of m) {
      if (now - at < PROBE_LOST_MS) break; // in send order: the rest are younger
      m.delete(s);
      this.probes.inc({ interface: iface, target, outcome: 'lost' });
    }
    m.set(seq, now);
    this.probes.inc({ interface: iface, target, outcome: 'sent' });
  }

  probeReplied(iface: string, target: string, seq: number): void {
    const at = this.inFlight.get(`${iface} ${target}`)?.get(seq);
    if (at === undefined) return;
    this.inFlight.get(`${iface} ${target}`)?.delete(seq);
    this.probes.inc({ interface: iface, target, outcome: 'replied' });
    this.rtt.observe({ interface: iface, target }, (this.now() - at) / 1000);
  }

  roleChanged(to: string): void { this.roleChanges.inc({ to }); }
  barrierDone(ok: boolean, ms: number): void { this.barrier.observe({ outcome: ok ? 'confirmed' : 'failed' }, ms / 1000); }
  replicationConfirmed(lagMs: number): void { this.replicationLag.observe(lagMs / 1000); }
  alertRaised(source: string, level: string): void { this.alertCount.inc({ source, level }); }

  async text(): Promise<{ readonly contentType: string; readonly text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
