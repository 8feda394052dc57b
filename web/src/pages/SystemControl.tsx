/** System control: This node / Other node, Reboot and Shutdown (the other node's travel in the heartbeats). */
import type { ReactNode } from 'react';
import { api } from '../api.js';
import { ActionButton, Badge, Notice, roleTone, Section } from '../components.js';
import { useConsole } from '../context.js';
import type { ActionReply } from '../types.js';

export function SystemControl(): ReactNode {
  const { live, readOnly } = useConsole();
  const s = live.status;
  const node = (which: 'this' | 'other'): ReactNode => {
    const name = which === 'this' ? s?.this_node.name : s?.other_node?.name;
    const role = which === 'this' ? s?.this_node.role : s?.other_node?.role;
    const title = which === 'this' ? 'This node' : 'Other node';
    if (name === undefined) return <Section title={title}><p className="muted">{s === null ? 'Loading…' : 'No other node.'}</p></Section>;
    const gone = which === 'other' && s?.other_node?.reachable !== true;
    return (
      <Section title={title}>
        <p>{name} <Badge tone={roleTone(role)}>{role ?? 'unknown'}</Badge>{gone ? <span className="muted"> — not heard: actions cannot reach it</span> : null}</p>
        <div className="buttons">
          <ActionButton label="Reboot" danger readOnly={readOnly} disabled={gone} testId={`system-reboot-${which}`}
            confirm={`Reboot ${name}?${role === 'primary' ? ' It hands the service over first.' : ''}`}
            run={() => api<ActionReply>('POST', '/api/action', { type: 'reboot', target: which })} />
          <ActionButton label="Shutdown" danger readOnly={readOnly} disabled={gone} testId={`system-shutdown-${which}`}
            confirm={`Shut ${name} down?${role === 'primary' ? ' It hands the service over first.' : ''} It stays off until powered on.`}
            run={() => api<ActionReply>('POST', '/api/action', { type: 'shutdown', target: which })} />
        </div>
      </Section>
    );
  };
  return (
    <>
      <div className="page-head"><h1>System control</h1></div>
      {readOnly && <Notice tone="info">Viewers cannot reboot or shut down a node.</Notice>}
      <div className="grid">{node('this')}{node('other')}</div>
    </>
  );
}
