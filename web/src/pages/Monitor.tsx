/**
 * System Monitor (the landing page): cluster status, this/other node role, sync with its
 * progress, redundant heartbeat, next hops with live reachability, alerts — live from the
 * node's event stream (the other node's view is asked for over the HA link every second).
 */
import type { ReactNode } from 'react';
import { ApiError, bytes, get } from '../api.js';
import { ago, Badge, clusterTone, ErrorNotice, Fields, Link, Notice, Progress, reachText, reachTone, roleTone, Section, SideSwitch } from '../components.js';
import { useConsole } from '../context.js';
import { useSideStatus } from '../hooks.js';
import { usePoll } from '../live.js';
import type { LogLine, Status } from '../types.js';

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

/** Alerts: GET /api/alerts when this firmware has it; and the node's warnings as they happen. */
function Alerts({ log }: { log: readonly LogLine[] }): ReactNode {
  const alerts = usePoll(() => get<unknown>('/api/alerts'), 5000);
  const missing = alerts.error instanceof ApiError && alerts.error.status === 404;
  const recent = log.filter((l) => l.level === 'warn' || l.level === 'error').slice(-15).reverse();
  return (
    <Section title="Alerts" id="alerts">
      {missing ? <p className="muted" data-testid="alerts-missing">The alert list is not available on this firmware.</p>
        : alerts.error !== null ? <ErrorNotice error={alerts.error} />
          : <AlertList value={alerts.data} />}
      <h3>Warnings since this page opened</h3>
      {recent.length === 0 ? <p className="muted">None.</p> : (
        <ul className="log">
          {recent.map((l, i) => <li key={`${l.time}-${String(i)}`} className={l.level}><time>{l.time.slice(11, 19)}</time> <strong>{l.event}</strong> {l.msg}</li>)}
        </ul>
      )}
    </Section>
  );
}

type Row = Record<string, unknown>;
function AlertList({ value }: { value: unknown }): ReactNode {
  if (value === null) return <p className="muted">Loading…</p>;
  const list: unknown = Array.isArray(value) ? value : (value as { alerts?: unknown; items?: unknown }).alerts ?? (value as { items?: unknown }).items;
  if (!Array.isArray(list)) return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
  if (list.length === 0) return <p className="muted" data-testid="alerts-none">No alerts.</p>;
  const text = (r: Row, ...keys: string[]): string => {
    for (const k of keys) if (typeof r[k] === 'string' || typeof r[k] === 'number') return String(r[k]);
    return '';
  };
  return (
    <ul className="log">
      {(list as Row[]).map((r, i) => (
        <li key={i} className={text(r, 'level', 'severity')}>
          <time>{text(r, 'time', 'at', 'created')}</time> <strong>{text(r, 'event', 'kind', 'type')}</strong> {text(r, 'message', 'msg', 'text', 'summary')}
          {text(r, 'state', 'status') !== '' && <> <Badge tone="muted">{text(r, 'state', 'status')}</Badge></>}
        </li>
      ))}
    </ul>
  );
}
