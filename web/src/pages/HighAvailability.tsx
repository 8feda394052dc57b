/**
 * Basic Settings > High Availability: the status fields; This node / Other node with Reboot,
 * Shutdown, Takeover; the cluster actions; Next hop monitoring, the redundant heartbeat
 * interfaces and the sync rate limit (PUT /api/settings: checked by the configuration loader,
 * its messages shown next to the field, applied live); the split-brain recovery wizard.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { api, errorText, get } from '../api.js';
import { ActionButton, Badge, clusterTone, ErrorNotice, Fields, Notice, reachText, reachTone, roleTone, Section } from '../components.js';
import { useConsole } from '../context.js';
import { usePoll } from '../live.js';
import type { Action, ActionReply, SettingsChange, SettingsReply, SettingsView, Status } from '../types.js';

const act = (a: Action): Promise<ActionReply> => api<ActionReply>('POST', '/api/action', a);

export function HighAvailability(): ReactNode {
  const { live, readOnly } = useConsole();
  const s = live.status;
  const settings = usePoll(() => get<SettingsView>('/api/settings'), 0);
  return (
    <>
      <div className="page-head"><h1>High Availability</h1></div>
      {readOnly && <Notice tone="info">You are signed in as a viewer: you can read everything here and change nothing.</Notice>}
      {s === null ? <p className="muted">Waiting for the node's status…</p> : (
        <>
          <SplitBrainWizard s={s} />
          <StatusSection s={s} />
          <div className="grid">
            <NodeSection s={s} which="this" />
            <NodeSection s={s} which="other" />
          </div>
          <ClusterSection s={s} />
        </>
      )}
      <ErrorNotice error={settings.error} />
      {settings.data !== null && (
        <>
          <NextHops view={settings.data} status={s} onSaved={settings.reload} />
          <div className="grid">
            <Heartbeat view={settings.data} onSaved={settings.reload} />
            <RateLimit view={settings.data} onSaved={settings.reload} />
          </div>
        </>
      )}
    </>
  );
}

function StatusSection({ s }: { s: Status }): ReactNode {
  return (
    <Section title="Status">
      <Fields rows={[
        ['Cluster status', <Badge key="c" tone={clusterTone(s.cluster.status)} label="ha-cluster-status">{s.cluster.status}</Badge>],
        ['Cluster name', s.cluster.name],
        ['Cluster UUID', s.cluster.uuid ?? 'none (standalone)'],
        ['This node', <span key="t">{s.this_node.name} <Badge tone={roleTone(s.this_node.role)} label="ha-this-role">{s.this_node.role}</Badge></span>],
        ['Other node', s.other_node === null ? 'none' : <span key="o">{s.other_node.name} <Badge tone={roleTone(s.other_node.role)} label="ha-other-role">{s.other_node.role ?? 'unknown'}</Badge>{s.other_node.reachable ? '' : ' (not heard)'}</span>],
        ['Reason', s.this_node.reason],
        ['Term', String(s.this_node.term)],
        ['Redundant heartbeat', s.cluster.redundant_heartbeat ?? 'n/a'],
        ['Sync', `${s.sync.state} (${s.sync.session})`],
        ['Takeover veto', s.takeover_veto ?? 'none'],
      ]} />
    </Section>
  );
}

function NodeSection({ s, which }: { s: Status; which: 'this' | 'other' }): ReactNode {
  const { readOnly } = useConsole();
  const name = which === 'this' ? s.this_node.name : s.other_node?.name ?? null;
  const role = which === 'this' ? s.this_node.role : s.other_node?.role ?? null;
  const title = which === 'this' ? 'This node' : 'Other node';
  if (name === null) return <Section title={title}><p className="muted">No other node: this node is standalone.</p></Section>;
  const unreachable = which === 'other' && s.other_node?.reachable !== true;
  return (
    <Section title={title}>
      <p>{name} <Badge tone={roleTone(role)}>{role ?? 'unknown'}</Badge></p>
      <div className="buttons">
        <ActionButton label="Reboot" readOnly={readOnly} disabled={unreachable} danger testId={`reboot-${which}`}
          confirm={`Reboot ${name}? ${role === 'primary' ? 'It hands the service over to the other node first.' : ''}`}
          run={() => act({ type: 'reboot', target: which })} />
        <ActionButton label="Shutdown" readOnly={readOnly} disabled={unreachable} danger testId={`shutdown-${which}`}
          confirm={`Shut ${name} down? It stays off until someone powers it on.`}
          run={() => act({ type: 'shutdown', target: which })} />
        {which === 'this' && (
          <ActionButton label="Takeover" readOnly={readOnly} disabled={s.this_node.role !== 'secondary'} testId="takeover"
            confirm={`Make ${name} the primary? The other node hands the service over.${s.takeover_veto === null ? '' : ` Vetoed now: ${s.takeover_veto}.`}`}
            run={() => act({ type: 'takeover', force: false })} />
        )}
        {which === 'other' && (
          <ActionButton label="Takeover" readOnly={readOnly} disabled={unreachable || s.this_node.role !== 'primary'} testId="takeover-other"
            confirm={`Make ${name} the primary? This node (${s.this_node.name}) hands the service over to it, unless ${name} may not take over (its data not in sync).`}
            run={() => api<ActionReply>('POST', '/api/peer/takeover', { force: false })} />
        )}
        {which === 'this' && s.takeover_veto !== null && s.this_node.role === 'secondary' && (
          <ActionButton label="Force takeover" readOnly={readOnly} danger
            confirm={`Force ${name} to become the primary despite the veto (${s.takeover_veto})? Data not yet on this node may be lost.`}
            run={() => act({ type: 'takeover', force: true })} />
        )}
      </div>
    </Section>
  );
}

function ClusterSection({ s }: { s: Status }): ReactNode {
  const { readOnly } = useConsole();
  const standalone = s.cluster.status === 'Standalone';
  return (
    <Section title="Cluster">
      <div className="buttons">
        <ActionButton label="Convert to Cluster" readOnly={readOnly} disabled={!standalone}
          confirm="Make this standalone node the first node of a cluster?" run={() => act({ type: 'convert-to-cluster' })} />
        <ActionButton label="Join HA" readOnly={readOnly} disabled={!standalone}
          confirm="Join the cluster the other node runs? This node's data will be replaced by the primary's." run={() => act({ type: 'join-ha' })} />
        <ActionButton label="Reboot Cluster" readOnly={readOnly} danger disabled={standalone}
          confirm="Reboot both nodes, the secondary first? The service is interrupted while the last node restarts." run={() => act({ type: 'reboot-cluster' })} />
        <ActionButton label="Clear flap hold" readOnly={readOnly} disabled={s.flap_limiter.held_until_ms === null}
          run={() => act({ type: 'clear-flap-hold' })} />
      </div>
    </Section>
  );
}

// ---- Next hop monitoring ----------------------------------------------------------------------

const splitList = (text: string): string[] => text.split(/[\s,]+/).map((x) => x.trim()).filter((x) => x !== '');

type Column = 'this' | 'other';
type FieldErrors = Record<string, string[]>;
const key = (iface: string, col: Column): string => `${iface}:${col}`;

/** The loader's errors by input: `nodes.b.interfaces.ext0.next_hop[0]` → `ext0:other`; the rest stay general. */
function errorsByField(view: SettingsView, errors: SettingsReply['errors']): { fields: FieldErrors; general: string[] } {
  const fields: FieldErrors = {};
  const general: string[] = [];
  for (const e of errors) {
    const m = /^nodes\.([^.]+)\.interfaces\.([^.[]+)\.next_hop/.exec(e.field);
    if (m !== null && m[1] !== undefined && m[2] !== undefined) {
      const k = key(m[2], m[1] === view.node ? 'this' : 'other');
      (fields[k] ??= []).push(e.reason);
    } else {
      general.push(e.field === '' ? e.reason : `${e.field}: ${e.reason}`);
    }
  }
  return { fields, general };
}

function NextHops({ view, status, onSaved }: { view: SettingsView; status: Status | null; onSaved: () => void }): ReactNode {
  const { readOnly } = useConsole();
  const initial = (): Record<string, string> => Object.fromEntries(view.interfaces.flatMap((i) => [
    [key(i.interface, 'this'), i.this_node.next_hops.join(', ')],
    [key(i.interface, 'other'), (i.other_node?.next_hops ?? []).join(', ')],
  ]));
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [errors, setErrors] = useState<{ fields: FieldErrors; general: string[] }>({ fields: {}, general: [] });
  const [said, setSaid] = useState<{ tone: 'ok' | 'bad'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { setValues(initial()); }, [view]);

  const change = (): SettingsChange => ({
    next_hops: view.interfaces.map((i) => ({
      interface: i.interface,
      this_node: splitList(values[key(i.interface, 'this')] ?? ''),
      ...(i.other_node === null ? {} : { other_node: splitList(values[key(i.interface, 'other')] ?? '') }),
    })),
  });
  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(!dryRun);
    if (!dryRun) setSaid(null);
    try {
      const r = await api<SettingsReply>('PUT', '/api/settings', { ...change(), dry_run: dryRun });
      setErrors(errorsByField(view, r.errors));
      if (!dryRun) {
        setSaid(r.ok ? { tone: 'ok', text: r.messages.join('\n') }
          : { tone: 'bad', text: r.errors.length > 0 ? 'Not saved: see the messages next to the fields.' : r.messages.join('\n') });
        if (r.ok) onSaved();
      }
    } catch (err) {
      setErrors({ fields: {}, general: [errorText(err)] });
    } finally {
      setBusy(false);
    }
  };
  const reach = (iface: string, col: Column): ReactNode => {
    const h = status?.next_hops.find((n) => n.interface === iface);
    if (h === undefined) return null;
    const r = col === 'this' ? h.this_node.reachable : h.other_node.reachable;
    return <Badge tone={reachTone(r)} label={`reach-${iface}-${col}`}>{reachText(r)}</Badge>;
  };
  const input = (iface: string, col: Column, nodeName: string): ReactNode => {
    const k = key(iface, col);
    const errs = errors.fields[k] ?? [];
    const id = `nh-${iface}-${col}`;
    return (
      <div className="nh-cell">
        <input id={id} aria-label={`${nodeName} next hop IP on ${iface}`} value={values[k] ?? ''} readOnly={readOnly} placeholder="none"
          aria-invalid={errs.length > 0} aria-describedby={errs.length > 0 ? `${id}-err` : undefined} spellCheck={false}
          onChange={(e) => { setValues({ ...values, [k]: e.target.value }); }}
          onBlur={() => { void send(true); }} />
        {reach(iface, col)}
        {errs.length > 0 && <div className="field-error" id={`${id}-err`} data-testid={`${id}-err`}>{errs.join('; ')}</div>}
      </div>
    );
  };

  return (
    <Section title="Next hop monitoring" id="next-hops">
      <p className="muted small">The addresses each node pings on each interface (IPv4, in the interface's segment, not a node address or a VIP; several separated by commas).
        The node that reaches fewer next hops hands the service over.</p>
      {status?.this_node.role === 'secondary' && <Notice tone="info">This node is the secondary: its configuration follows the primary, so change these settings on the primary's console (values are still checked here).</Notice>}
      <form onSubmit={(e) => { e.preventDefault(); void send(false); }}>
        <div className="table-scroll">
          <table className="nh">
            <thead>
              <tr><th scope="col" rowSpan={2}>Interface</th><th scope="colgroup">This node ({view.node})</th><th scope="colgroup">Other node ({view.other_node ?? 'none'})</th></tr>
              <tr><th scope="col">Next hop IP</th><th scope="col">Next hop IP</th></tr>
            </thead>
            <tbody>
              {view.interfaces.map((i) => (
                <tr key={i.interface}>
                  <th scope="row">{i.interface}{i.ha_link ? <span className="muted small"> (HA link)</span> : null}<div className="muted small">{i.this_node.address}</div></th>
                  <td>{input(i.interface, 'this', 'This node')}</td>
                  <td>{i.other_node === null ? <span className="muted">none</span> : input(i.interface, 'other', 'Other node')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {errors.general.length > 0 && <Notice tone="bad">{errors.general.join('; ')}</Notice>}
        <div className="buttons">
          <button type="submit" className="primary" disabled={readOnly || busy} data-testid="save-next-hops">{busy ? 'Saving…' : 'Save'}</button>
          <button type="button" onClick={() => { setValues(initial()); setErrors({ fields: {}, general: [] }); setSaid(null); }}>Undo changes</button>
        </div>
        <p className="note" data-testid="applied-live-note">Applied live — no Reboot Cluster needed (the appliance needs one here; Tandem monitors the new next hops at once and the other node follows).</p>
        {said !== null && <Notice tone={said.tone} testId="next-hops-said">{said.text}</Notice>}
      </form>
    </Section>
  );
}

/** Saving one part of the settings: the node's reply (the loader's errors, or what was applied) and a failed request. */
function useSettingsChange(onSaved: () => void): {
  reply: SettingsReply | null; error: unknown; setError: (e: unknown) => void; save: (change: object) => Promise<void>;
} {
  const [reply, setReply] = useState<SettingsReply | null>(null);
  const [error, setError] = useState<unknown>(null);
  const save = async (change: object): Promise<void> => {
    setError(null);
    try {
      const r = await api<SettingsReply>('PUT', '/api/settings', change);
      setReply(r);
      if (r.ok) onSaved();
    } catch (err) { setError(err); }
  };
  return { reply, error, setError, save };
}

function Heartbeat({ view, onSaved }: { view: SettingsView; onSaved: () => void }): ReactNode {
  const { readOnly } = useConsole();
  const [chosen, setChosen] = useState<string[]>(view.heartbeat);
  const { reply, error, save: change } = useSettingsChange(onSaved);
  useEffect(() => { setChosen(view.heartbeat); }, [view]);
  const save = (): Promise<void> => change({ heartbeat: chosen });
  return (
    <Section title="Redundant heartbeat">
      <form onSubmit={(e) => { e.preventDefault(); void save(); }}>
        <fieldset>
          <legend>Interfaces that carry heartbeats (besides the HA link)</legend>
          {view.interfaces.map((i) => (
            <label key={i.interface} className="check">
              <input type="checkbox" checked={i.ha_link || chosen.includes(i.interface)} disabled={readOnly || i.ha_link}
                onChange={(e) => { setChosen(e.target.checked ? [...chosen, i.interface] : chosen.filter((x) => x !== i.interface)); }} />
              {i.interface}{i.ha_link ? ' (HA link: always)' : ''}
            </label>
          ))}
        </fieldset>
        {reply !== null && !reply.ok && <Notice tone="bad">{reply.errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}</Notice>}
        {reply?.ok === true && <Notice tone="ok">{reply.messages.join(' ')}</Notice>}
        <ErrorNotice error={error} />
        <div className="buttons"><button type="submit" className="primary" disabled={readOnly}>Save</button></div>
      </form>
    </Section>
  );
}

function RateLimit({ view, onSaved }: { view: SettingsView; onSaved: () => void }): ReactNode {
  const { readOnly } = useConsole();
  const [value, setValue] = useState(String(view.resync_rate_mbit));
  const { reply, error, setError, save: change } = useSettingsChange(onSaved);
  useEffect(() => { setValue(String(view.resync_rate_mbit)); }, [view]);
  const save = async (): Promise<void> => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) { setError(new Error('the rate must be a number of Mbit/s, 0 or more')); return; }
    await change({ resync_rate_mbit: n });
  };
  return (
    <Section title="Sync rate limit">
      <form onSubmit={(e) => { e.preventDefault(); void save(); }}>
        <label htmlFor="rate">Full resync rate (Mbit/s; live replication is not limited)</label>
        <div className="inline">
          <input id="rate" inputMode="decimal" value={value} readOnly={readOnly} onChange={(e) => { setValue(e.target.value); }}
            aria-invalid={reply?.ok === false} aria-describedby="rate-err" />
          <button type="submit" className="primary" disabled={readOnly}>Save</button>
        </div>
        <div id="rate-err">
          {reply !== null && !reply.ok && <div className="field-error">{reply.errors.map((e) => e.reason).join('; ')}</div>}
          <ErrorNotice error={error} />
        </div>
        {reply?.ok === true && <Notice tone="ok">{reply.messages.join(' ')}</Notice>}
      </form>
    </Section>
  );
}

// ---- Split brain ------------------------------------------------------------------------------

/**
 * The recovery wizard: which side to keep (the facts of each), what is set aside and where (the
 * discarded node's roots, renamed beside themselves — nothing deleted), then `resolve-split-brain`.
 */
function SplitBrainWizard({ s }: { s: Status }): ReactNode {
  const { readOnly, live } = useConsole();
  const active = s.cluster.status === 'SplitBrain' || s.sync.state === 'Diverged';
  const [keep, setKeep] = useState<'this' | 'other' | null>(null);
  const [step, setStep] = useState<1 | 2 | 3>(1);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const peer = usePoll(() => (active ? get<Status>('/api/peer/status') : Promise.resolve(null)), active ? 2000 : 0, [active]);
  const preserved = live.log.filter((l) => l.event === 'split-brain' && /preserved at/.test(l.msg));
  if (!active && result === null) {
    return null;
  }
  const other = s.other_node?.name ?? 'the other node';
  const discarded = keep === 'this' ? peer.data : keep === 'other' ? s : null;
  const discardedName = keep === 'this' ? other : s.this_node.name;
  const generation = keep === 'this' ? s.sync.peer_generation ?? peer.data?.sync.generation ?? '?' : s.sync.generation;
  const resolve = async (): Promise<void> => {
    if (keep === null) return;
    try {
      const r = await act({ type: 'resolve-split-brain', keep });
      setResult({ ok: r.ok, text: r.messages.join('\n') });
    } catch (err) {
      setResult({ ok: false, text: errorText(err) });
    }
  };
  return (
    <section className="card wizard" aria-labelledby="sb-title" id="split-brain" data-testid="split-brain-wizard">
      <h2 id="sb-title">Split brain recovery</h2>
      {active && <Notice tone="bad">Both nodes served and wrote data while they could not hear each other: their data diverged. Neither is promoted automatically until you choose which data to keep.</Notice>}
      {result !== null && (
        <>
          <Notice tone={result.ok ? 'ok' : 'bad'} testId="split-brain-result">{result.text}</Notice>
          {result.ok && <p>{active ? 'Waiting for the nodes to resynchronize…' : <strong data-testid="split-brain-resolved">Resolved: the cluster is {s.cluster.status} again.</strong>}</p>}
          {preserved.map((l, i) => <p key={i} className="small"><code>{l.msg}</code></p>)}
          {result.ok && preserved.length === 0 && keep === 'this' && <p className="small muted">The set-aside paths are in {other}'s log (event split-brain).</p>}
          {!active && <button type="button" onClick={() => { setResult(null); setStep(1); setKeep(null); }}>Close</button>}
        </>
      )}
      {result === null && (
        <ol className="steps">
          <li aria-current={step === 1 ? 'step' : undefined}>
            <h3>1. Which side to keep</h3>
            <fieldset disabled={step !== 1 || readOnly}>
              <legend className="sr-only">Keep the data of</legend>
              <label className="check choice">
                <input type="radio" name="keep" value="this" checked={keep === 'this'} onChange={() => { setKeep('this'); }} />
                <span><strong>This node ({s.this_node.name})</strong>: {s.this_node.role}{s.this_node.serving ? ', serving now' : ''}; data generation <code>{s.sync.generation}</code></span>
              </label>
              <label className="check choice">
                <input type="radio" name="keep" value="other" checked={keep === 'other'} onChange={() => { setKeep('other'); }} />
                <span><strong>Other node ({other})</strong>: {s.other_node?.role ?? 'unknown'}; data generation <code>{s.sync.peer_generation ?? peer.data?.sync.generation ?? '?'}</code></span>
              </label>
              <p className="small muted">Keep the side whose writes matter: usually the one that served the clients last (the primary now).</p>
              <button type="button" className="primary" disabled={keep === null} data-testid="sb-next-1" onClick={() => { setStep(2); }}>Next</button>
            </fieldset>
          </li>
          <li aria-current={step === 2 ? 'step' : undefined}>
            <h3>2. What is set aside, and where</h3>
            {step >= 2 && keep !== null && (
              <>
                <p>The data of <strong>{discardedName}</strong> are set aside, never deleted: each synchronized directory is renamed beside itself, then {discardedName} receives a full copy of the kept side's data.</p>
                {discarded === null ? <p className="muted">Asking {discardedName} for its directories…</p> : (
                  <table data-testid="set-aside">
                    <thead><tr><th scope="col">Root</th><th scope="col">Directory on {discardedName}</th><th scope="col">Set aside as</th></tr></thead>
                    <tbody>
                      {Object.entries(discarded.sync.roots).map(([name, dir]) => (
                        <tr key={name}><td>{name}</td><td><code>{dir}</code></td><td><code>{dir}.diverged-gen-{generation}-YYYYMMDDTHHMMSS</code></td></tr>
                      ))}
                    </tbody>
                  </table>
                )}
                <div className="buttons">
                  <button type="button" onClick={() => { setStep(1); }} disabled={step !== 2}>Back</button>
                  <button type="button" className="primary" data-testid="sb-next-2" onClick={() => { setStep(3); }} disabled={step !== 2}>Next</button>
                </div>
              </>
            )}
          </li>
          <li aria-current={step === 3 ? 'step' : undefined}>
            <h3>3. Resolve</h3>
            {step === 3 && keep !== null && (
              <div className="buttons">
                <button type="button" onClick={() => { setStep(2); }}>Back</button>
                <button type="button" className="danger" disabled={readOnly} data-testid="resolve-split-brain" onClick={() => { void resolve(); }}>
                  Keep {keep === 'this' ? s.this_node.name : other}'s data, set {discardedName}'s aside
                </button>
              </div>
            )}
          </li>
        </ol>
      )}
    </section>
  );
}
