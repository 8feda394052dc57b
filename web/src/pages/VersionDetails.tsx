/** Version details: per node, the version, release type, support end, supported or not and why, tainted. */
import type { ReactNode } from 'react';
import { get } from '../api.js';
import { Badge, ErrorNotice, Section } from '../components.js';
import { usePoll } from '../live.js';
import type { VersionsT } from '../types.js';

export function VersionDetails(): ReactNode {
  const v = usePoll(() => get<VersionsT>('/api/version'), 10_000);
  return (
    <>
      <div className="page-head"><h1>Version details</h1></div>
      <ErrorNotice error={v.error} />
      <Section title="Firmware per node">
        {v.data === null ? <p className="muted">Loading…</p> : (
          <div className="table-scroll">
            <table data-testid="versions">
              <thead><tr>
                <th scope="col">Node</th><th scope="col">Version</th><th scope="col">Release type</th><th scope="col">Published</th><th scope="col">Slot</th>
                <th scope="col">Support</th><th scope="col">Tainted</th><th scope="col">HA protocol</th>
              </tr></thead>
              <tbody>
                {v.data.nodes.map((n) => (
                  <tr key={n.node}>
                    <th scope="row">{n.node}{n.this_node ? <span className="muted small"> (this node)</span> : ''}</th>
                    <td>{n.version ?? <span className="muted">unknown</span>}{n.downgraded === true ? <> <Badge tone="warn">downgraded</Badge></> : null}</td>
                    <td>{n.type === 'lts' ? 'LTS' : n.type === 'feature' ? 'Feature Release' : n.type ?? ''}</td>
                    <td>{n.published ?? ''}</td>
                    <td>{n.slot === null ? '' : String(n.slot)}</td>
                    <td>{n.support === null ? '' : <><Badge tone={n.support.supported ? 'ok' : 'bad'}>{n.support.supported ? 'supported' : 'unsupported'}</Badge>{n.support.end === null ? '' : ` until ${n.support.end}`}<div className="small">{n.support.why}</div></>}</td>
                    <td>{n.tainted === null ? '' : <><Badge tone={n.tainted.tainted ? 'bad' : 'ok'}>{n.tainted.tainted ? 'tainted' : 'no'}</Badge><div className="small">{n.tainted.detail}</div></>}</td>
                    <td>{n.ha_protocol === null ? '' : `${String(n.ha_protocol.min)}–${String(n.ha_protocol.max)}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </>
  );
}
