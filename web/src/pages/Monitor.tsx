/**
 * System Monitor (the landing page): cluster status, this/other node role, sync with its
 * progress, redundant heartbeat, next hops with live reachability, alerts — live from the
 * node's event stream (the other node's view is asked for over the HA link every second).
 */
import type { ReactNode } from 'react';
import { bytes, get } from '../api.js';
import { ago, Badge, clusterTone, ErrorNotice, Fields, Link, Notice, Progress, reachText, reachTone, roleTone, Section, SideSwitch } from '../components.js';
import { useConsole } from '../context.js';
import { useSideStatus } from '../hooks.js';
import { usePoll } from '../live.js';
import type { AlertListT, LogLine, MonitorT, Status } from '../types.js';

export function Monitor(): ReactNode {
  const { side, setSide, live } = useConsole();
  const { status, error } = useSideStatus();
  return (
    <>
      <div className="page-head">
        <h1>System Monitor</h1>
        <SideSwitch side={side} setSide={setSide} otherName={live.status?.other_node?.name ?? null} />
      </div>
      <ErrorNotice error={error} />
      {status === null ? <p className="muted">Waiting for the node's status…</p> : <MonitorBody s={status} />}
      {side === 'this' && <Host />}
      <Alerts log={live.log} />
    </>
  );
}

export function MonitorBody({ s }: { s: Status }): ReactNode {
  return (
    <div className="grid">
      <Section title="Cluster">
        <Fields rows={[
          ['Cluster', s.cluster.name],
          ['Status', <Badge key="s" tone={clusterTone(s.cluster.status)} label="monitor-cluster-status">{s.cluster.status}</Badge>],
          ['Redundant heartbeat', s.cluster.redundant_heartbeat === null ? 'n/a' : <Badge key="h" tone={s.cluster.redundant_heartbeat === 'ok' ? 'ok' : 'warn'}>{s.cluster.redundant_heartbeat}</Badge>],
          ['Takeover veto', s.takeover_veto ?? 'none'],
          ['Flap limiter', s.flap_limiter.held_until_ms === null ? `${String(s.flap_limiter.switches_in_window)} switch(es) in window` : 'holding: no automatic switch'],
          ['Timing', s.cluster.timing],
        ]} />
        {s.cluster.status === 'SplitBrain' && <Notice tone="bad">Split brain: both nodes wrote data apart. <Link to="/ha#split-brain">Resolve it on the High Availability page</Link>.</Notice>}
      </Section>
      <Section title="This node">
        <Fields rows={[
          ['Name', s.this_node.name],
          ['Role', <Badge key="r" tone={roleTone(s.this_node.role)} label="this-role">{s.this_node.role}</Badge>],
          ['Why', s.this_node.reason],
          ['Serving', s.this_node.serving ? 'yes (holds the service addresses)' : 'no'],
          ['Firmware', `${s.firmware.version} (${s.firmware.type}, slot ${String(s.firmware.slot)})`],
          s.this_node.leaving === null ? null : ['Leaving', s.this_node.leaving],
        ]} />
      </Section>
      <Section title="Other node">
        {s.other_node === null ? <p className="muted">No other node (standalone).</p> : (
          <Fields rows={[
            ['Name', s.other_node.name],
            ['Role', <Badge key="r" tone={roleTone(s.other_node.role)} label="other-role">{s.other_node.role ?? 'unknown'}</Badge>],
            ['Reachable', <Badge key="x" tone={s.other_node.reachable ? 'ok' : 'bad'}>{s.other_node.reachable ? 'yes' : 'no'}</Badge>],
            ['Last heard', ago(s.other_node.last_heard_ms_ago)],
            ['Firmware', s.other_node.firmware?.version ?? 'unknown'],
          ]} />
        )}
      </Section>
      <SyncSection s={s} />
      <Section title="Heartbeat paths">
        <table>
          <thead><tr><th scope="col">Path</th><th scope="col">HA link</th><th scope="col">State</th></tr></thead>
          <tbody>
            {s.heartbeat_paths.map((p) => (
              <tr key={p.path}><td>{p.path}</td><td>{p.ha_link ? 'yes' : ''}</td><td><Badge tone={p.up ? 'ok' : 'bad'}>{p.up ? 'up' : 'down'}</Badge></td></tr>
            ))}
          </tbody>
        </table>
      </Section>
      <NextHopsSection s={s} />
    </div>
  );
}

function SyncSection({ s }: { s: Status }): ReactNode {
  const p = s.sync.progress;
  return (
    <Section title="Data sync">
      <Fields rows={[
        ['State', <Badge key="st" tone={s.sync.state === 'UpToDate' ? 'ok' : s.sync.state === 'Diverged' ? 'bad' : 'warn'} label="sync-state">{s.sync.state}</Badge>],
        ['Session', `${s.sync.session}${s.sync.direction === null ? '' : `, ${s.sync.direction}`}`],
        s.sync.lag_ms === null ? null : ['Replication lag', <span key="lag" data-testid="sync-lag">{`${s.sync.lag_ms.toFixed(1)} ms`}</span>],
        ['Generation', <code key="g">{s.sync.generation}</code>],
        s.sync.refusing === null ? null : ['Refusing', s.sync.refusing],
        ['Sent / received', `${bytes(s.sync.counters.bytes_sent)} / ${bytes(s.sync.counters.bytes_received)}`],
      ]} />
      {p !== null && (
        <div className="sync-progress">
          <Progress value={p.bytes_total - p.bytes_left} max={p.bytes_total} label="Resync progress" />
          <p className="small" data-testid="bytes-left">{bytes(p.bytes_left)} left of {bytes(p.bytes_total)} · {String(p.files_left)} of {String(p.files_total)} files left</p>
        </div>
      )}
    </Section>
  );
}

export function NextHopsSection({ s }: { s: Status }): ReactNode {
  return (
    <Section title="Next hops">
      {s.next_hops.length === 0 ? <p className="muted">No next hop is monitored.</p> : (
        <div className="table-scroll">
          <table data-testid="monitor-next-hops">
            <thead><tr><th scope="col">Interface</th><th scope="col">This node</th><th scope="col">Targets</th><th scope="col">Other node</th></tr></thead>
            <tbody>
              {s.next_hops.map((h) => (
                <tr key={h.interface}>
                  <td>{h.interface}</td>
                  <td><Badge tone={reachTone(h.this_node.reachable)}>{reachText(h.this_node.reachable)}</Badge> <span className="small">{String(h.this_node.score)}/{String(h.this_node.total)}</span></td>
                  <td>{h.this_node.targets.map((t) => <span key={t.address} className="target"><code>{t.address}</code> <Badge tone={t.state === 'up' ? 'ok' : t.state === 'down' ? 'bad' : 'muted'}>{t.state}</Badge></span>)}</td>
                  <td>{h.other_node.address === null ? <span className="muted">none</span> : <><code>{h.other_node.address}</code> <Badge tone={reachTone(h.other_node.reachable)}>{reachText(h.other_node.reachable)}</Badge></>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

/** This node's issues and machine (GET /api/monitor): what the upgrade checklist reads as "no issues". */
function Host(): ReactNode {
  const m = usePoll(() => get<MonitorT>('/api/monitor'), 5000);
  if (m.error !== null) return <ErrorNotice error={m.error} />;
  if (m.data === null) return null;
  const h = m.data.host;
  return (
    <div className="grid">
      <Section title="Issues" id="issues">
        {m.data.issues.length === 0 ? <p data-testid="issues-none">No issues.</p>
          : <ul data-testid="issues">{m.data.issues.map((i) => <li key={i}>{i}</li>)}</ul>}
      </Section>
      <Section title="Machine">
        <Fields rows={[
          ['Uptime', `${String(Math.floor(h.uptime_s / 3600))} h (daemon ${String(Math.floor(h.daemon_uptime_s / 60))} min)`],
          ['Load', `${h.load.map((x) => x.toFixed(2)).join(' ')} on ${String(h.cpu.cores)} cores`],
          ['CPU', h.cpu.busy_percent === null ? 'measuring' : `${String(h.cpu.busy_percent)} % busy`],
          ['Memory', `${bytes(h.memory.total - h.memory.available)} of ${bytes(h.memory.total)} (${String(h.memory.used_percent)} %)`],
          ...h.disks.map((d) => [`Disk ${d.mount}`, `${bytes(d.used)} of ${bytes(d.size)} (${String(d.used_percent)} %)`] as const),
          ...m.data.services.map((s) => [`Hook ${s.hook}`, `${s.state} since ${s.since}${s.detail === '' ? '' : `: ${s.detail}`}`] as const),
        ]} />
      </Section>
    </div>
  );
}

/** Alerts (GET /api/alerts, with their delivery to the webhooks), and the node's warnings as they happen. */
function Alerts({ log }: { log: readonly LogLine[] }): ReactNode {
  const alerts = usePoll(() => get<AlertListT>('/api/alerts?limit=20'), 5000);
  const recent = log.filter((l) => l.level === 'warn' || l.level === 'error').slice(-15).reverse();
  const a = alerts.data;
  return (
    <Section title="Alerts" id="alerts">
      {alerts.error !== null ? <ErrorNotice error={alerts.error} />
        : a === null ? <p className="muted">Loading…</p>
          : a.alerts.length === 0 ? <p className="muted" data-testid="alerts-none">No alerts.</p>
            : (
              <ul className="log" data-testid="alerts">
                {[...a.alerts].reverse().map((x) => (
                  <li key={x.id} className={x.level}><time>{x.time.slice(0, 19).replace('T', ' ')}</time> <strong>{`${x.source}/${x.event}`}</strong> {x.message}</li>
                ))}
              </ul>
            )}
      {a?.delivery.filter((d) => d.waiting > 0).map((d) => (
        <Notice tone="warn" key={d.webhook}>{`webhook ${d.webhook}: ${String(d.waiting)} alert(s) waiting${d.lastError === null ? '' : ` (${d.lastError})`}`}</Notice>
      ))}
      <h3>Warnings since this page opened</h3>
      {recent.length === 0 ? <p className="muted">None.</p> : (
        <ul className="log">
          {recent.map((l, i) => <li key={`${l.time}-${String(i)}`} className={l.level}><time>{l.time.slice(11, 19)}</time> <strong>{l.event}</strong> {l.msg}</li>)}
        </ul>
      )}
    </Section>
  );
}
