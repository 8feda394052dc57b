/**
 * Basic Settings > System > Firmwares: the slots (this node's, or the other node's over the HA
 * link), upload with a progress bar (the bytes sent, then the node's verification lines), the
 * upgrade notes dialog, Test results per check, After reboot, delete, and the cluster upgrade
 * followed live.
 */
import { useRef, useState, type ReactNode } from 'react';
import { api, bytes, errorText, get, streamed, upload } from '../api.js';
import { ActionButton, Badge, Dialog, ErrorNotice, Notice, Progress, Section, SideSwitch, type Tone } from '../components.js';
import { useConsole } from '../context.js';
import { usePoll } from '../live.js';
import type { ActionReply, ActivateReplyT, ChecklistT, FirmwareListT, NotesT, SlotRowT, TestReportT, UploadResultT, UpgradeStateT } from '../types.js';

const stateTone = (s: SlotRowT['state']): Tone => (s === 'committed' ? 'ok' : s === 'trial' ? 'warn' : s === 'failed' ? 'bad' : s === 'installed' ? 'info' : 'muted');
const checkTone = (s: string): Tone => (s === 'pass' ? 'ok' : s === 'fail' ? 'bad' : s === 'warn' ? 'warn' : 'muted');

export function Firmwares(): ReactNode {
  const { side, setSide, live } = useConsole();
  const list = usePoll(() => get<FirmwareListT>(side === 'this' ? '/api/firmware' : '/api/peer/firmware'), 5000, [side]);
  const [report, setReport] = useState<TestReportT | null>(null);
  const [activated, setActivated] = useState<ActivateReplyT | null>(null);
  const [notes, setNotes] = useState<NotesT | null>(null);
  const [notesError, setNotesError] = useState<unknown>(null);
  const [flags, setFlags] = useState({ override: false, reinstall: false });
  const fwLog = live.log.filter((l) => /firmware|upgrade|launcher|boot/.test(l.event)).slice(-12).reverse();
  const openNotes = async (slot: number): Promise<void> => {
    setNotesError(null);
    try { setNotes(await get<NotesT>(`/api/firmware/${String(slot)}/notes`)); } catch (err) { setNotesError(err); }
  };
  const mine = side === 'this';
  return (
    <>
      <div className="page-head">
        <h1>Firmwares</h1>
        <SideSwitch side={side} setSide={setSide} otherName={live.status?.other_node?.name ?? null} />
      </div>
      <ErrorNotice error={list.error} />
      <ErrorNotice error={notesError} />
      <Section title={`Slots${list.data === null ? '' : ` of ${list.data.node}`}`} id="slots">
        {list.data === null ? <p className="muted">Loading…</p> : (
          <>
            {mine && (
              <div className="inline flags">
                <label className="check"><input type="checkbox" checked={flags.override} onChange={(e) => { setFlags({ ...flags, override: e.target.checked }); }} /> Override the release policy (downgrade, Feature → LTS: recorded as unsupported)</label>
                <label className="check"><input type="checkbox" checked={flags.reinstall} onChange={(e) => { setFlags({ ...flags, reinstall: e.target.checked }); }} /> Allow the running version again</label>
              </div>
            )}
            <div className="table-scroll">
              <table data-testid="slots">
                <thead><tr>
                  <th scope="col">Slot</th><th scope="col">Version</th><th scope="col">Type</th><th scope="col">Published</th>
                  <th scope="col">State</th><th scope="col">Current</th><th scope="col">After reboot</th><th scope="col">Origin</th>{mine && <th scope="col">Actions</th>}
                </tr></thead>
                <tbody>
                  {list.data.slots.map((r) => (
                    <SlotLine key={r.slot} r={r} mine={mine} flags={flags} onNotes={(n) => { void openNotes(n); }}
                      onReport={setReport} onActivated={(a) => { setActivated(a); setReport(a.report); list.reload(); }} onChanged={list.reload} />
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Section>
      {activated !== null && <Notice tone={activated.ok ? 'ok' : 'bad'} testId="after-reboot-said">{activated.messages.join(' ')}</Notice>}
      {report !== null && <TestResults report={report} />}
      {mine && <Upload onDone={list.reload} />}
      {mine && list.data !== null && <ClusterUpgrade slots={list.data.slots} />}
      <div className="grid">
        <Section title="Launcher events">
          {list.data === null || list.data.events.length === 0 ? <p className="muted">None.</p> : (
            <ul className="log">{[...list.data.events].reverse().slice(0, 12).map((e, i) => <li key={i}><time>{e.at.slice(0, 19).replace('T', ' ')}</time> <strong>{e.kind}</strong> slot {String(e.slot)}: {e.message}</li>)}</ul>
          )}
        </Section>
        <Section title="Firmware log (live)">
          {fwLog.length === 0 ? <p className="muted">Nothing since this page opened.</p> : (
            <ul className="log">{fwLog.map((l, i) => <li key={i} className={l.level}><time>{l.time.slice(11, 19)}</time> <strong>{l.event}</strong> {l.msg}</li>)}</ul>
          )}
        </Section>
      </div>
      <Dialog open={notes !== null} title={notes === null ? '' : `Upgrade notes: ${notes.version} (slot ${String(notes.slot)})`} onClose={() => { setNotes(null); }}>
        <pre className="notes" data-testid="notes">{notes?.notes === '' ? 'This firmware has no upgrade notes.' : notes?.notes}</pre>
      </Dialog>
    </>
  );
}

function SlotLine({ r, mine, flags, onNotes, onReport, onActivated, onChanged }: {
  r: SlotRowT; mine: boolean; flags: { override: boolean; reinstall: boolean };
  onNotes: (slot: number) => void; onReport: (t: TestReportT) => void; onActivated: (a: ActivateReplyT) => void; onChanged: () => void;
}): ReactNode {
  const { readOnly } = useConsole();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const test = async (): Promise<void> => {
    setError(null); setBusy(true);
    try { onReport(await api<TestReportT>('POST', `/api/firmware/${String(r.slot)}/test`, flags)); } catch (err) { setError(errorText(err)); } finally { setBusy(false); }
  };
  const activate = async (): Promise<void> => {
    setError(null); setBusy(true);
    try { onActivated(await api<ActivateReplyT>('POST', `/api/firmware/${String(r.slot)}/activate`, flags)); } catch (err) { setError(errorText(err)); } finally { setBusy(false); }
  };
  const empty = r.state === 'empty';
  return (
    <tr>
      <td>{String(r.slot)}</td>
      <td>{r.version ?? <span className="muted">empty</span>}</td>
      <td>{r.type ?? ''}</td>
      <td>{r.published ?? ''}</td>
      <td><Badge tone={stateTone(r.state)}>{r.state}</Badge>{r.failure === null ? null : <div className="small bad-text">{r.failure}</div>}</td>
      <td>{r.current ? <Badge tone="ok">current</Badge> : ''}</td>
      <td>{r.after_reboot ? <Badge tone="info">after reboot</Badge> : ''}</td>
      <td>{r.origin ?? ''}</td>
      {mine && (
        <td className="row-actions">
          {!empty && <>
            {r.origin !== 'factory' && <>
              <button type="button" onClick={() => { onNotes(r.slot); }} data-testid={`notes-${String(r.slot)}`}>Notes</button>
              <button type="button" disabled={busy} onClick={() => { void test(); }} data-testid={`test-${String(r.slot)}`}>Test</button>
            </>}
            <button type="button" disabled={readOnly || busy || r.after_reboot} onClick={() => { void activate(); }} data-testid={`activate-${String(r.slot)}`}>After reboot</button>
            {r.slot !== 0 && <ActionButton label="Delete" danger readOnly={readOnly} disabled={r.current || r.after_reboot}
              confirm={`Delete slot ${String(r.slot)} (${r.version ?? ''})?`}
              run={async () => { const x = await api<ActionReply>('DELETE', `/api/firmware/${String(r.slot)}`); onChanged(); return x; }} />}
          </>}
          {error !== null && <div className="field-error" role="alert">{error}</div>}
        </td>
      )}
    </tr>
  );
}

function TestResults({ report }: { report: TestReportT }): ReactNode {
  return (
    <Section title={`Test results: ${report.version} (slot ${String(report.slot)}) on ${report.node}`} id="test-results">
      <Notice tone={report.ok ? 'ok' : 'bad'}>{report.ok ? 'Every check passed: it can be chosen for After reboot.' : 'A check failed: this firmware cannot be chosen as it is.'}</Notice>
      <table data-testid="test-results">
        <thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead>
        <tbody>{report.checks.map((c) => <tr key={c.id}><td>{c.id}</td><td><Badge tone={checkTone(c.status)}>{c.status}</Badge></td><td>{c.message}</td></tr>)}</tbody>
      </table>
    </Section>
  );
}

function Upload({ onDone }: { onDone: () => void }): ReactNode {
  const { readOnly } = useConsole();
  const file = useRef<HTMLInputElement>(null);
  const [sent, setSent] = useState<{ sent: number; total: number } | null>(null);
  const [lines, setLines] = useState<string[]>([]);
  const [result, setResult] = useState<UploadResultT | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const go = async (): Promise<void> => {
    const f = file.current?.files?.[0];
    if (f === undefined) { setError('choose a firmware bundle first'); return; }
    setBusy(true); setError(null); setResult(null); setLines([]); setSent({ sent: 0, total: f.size });
    try {
      setResult(await upload<UploadResultT>('/api/firmware', f, (s, t) => { setSent({ sent: s, total: t }); }, (l) => { setLines((x) => [...x, l]); }));
      onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Upload firmware">
      <form onSubmit={(e) => { e.preventDefault(); void go(); }}>
        <label htmlFor="bundle">Signed firmware bundle (.tar)</label>
        <div className="inline">
          <input id="bundle" type="file" ref={file} disabled={readOnly || busy} />
          <button type="submit" className="primary" disabled={readOnly || busy}>{busy ? 'Uploading…' : 'Upload'}</button>
        </div>
      </form>
      {sent !== null && (
        <div data-testid="upload-progress">
          <Progress value={sent.sent} max={sent.total} label="Upload progress" />
          <p className="small">{bytes(sent.sent)} of {bytes(sent.total)} sent</p>
        </div>
      )}
      {lines.length > 0 && <ul className="log">{lines.map((l, i) => <li key={i}>{l}</li>)}</ul>}
      {result !== null && <Notice tone="ok">Installed {result.version} ({result.type}) in slot {String(result.slot)}, {bytes(result.bytes)}, signed by {result.key_id}.</Notice>}
      {error !== null && <Notice tone="bad">{error}</Notice>}
    </Section>
  );
}

function ClusterUpgrade({ slots }: { slots: readonly SlotRowT[] }): ReactNode {
  const { readOnly, live } = useConsole();
  const candidates = slots.filter((s) => s.state !== 'empty' && !s.current && s.slot !== 0);
  const [slot, setSlot] = useState<number | null>(null);
  const [ack, setAck] = useState<string[]>([]);
  const [lines, setLines] = useState<string[]>([]);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const checklist = usePoll(() => get<ChecklistT>(`/api/firmware/checklist?ack=${encodeURIComponent(ack.join(','))}`), 0, [ack.join(',')]);
  // Follows an upgrade started elsewhere (or before this node rebooted): its plan and lines.
  const state = usePoll(() => get<UpgradeStateT>('/api/cluster/upgrade?from=0'), busy ? 0 : 3000, [busy]);
  const chosen = slot ?? candidates[0]?.slot ?? null;
  const start = async (): Promise<void> => {
    if (chosen === null) return;
    setBusy(true); setLines([]); setResult(null);
    try {
      const r = await streamed<{ ok: boolean; message: string }>('/api/cluster/upgrade', { slot: chosen, ack }, (l) => { setLines((x) => [...x, l]); });
      setResult({ ok: r.ok, text: r.message });
    } catch (err) {
      setResult({ ok: false, text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  const plan = state.data?.plan ?? null;
  const shown = busy ? lines : followed(lines, state.data?.lines ?? []);
  const other = live.status?.other_node ?? null;
  return (
    <Section title="Cluster upgrade" id="cluster-upgrade">
      <p className="muted small">Upgrades both nodes to a slot: the secondary first, then one planned handover, then this node. Run it on the primary ({live.status?.this_node.role === 'primary' ? 'this node is' : 'this node is not'}).</p>
      {checklist.data !== null && (
        <fieldset>
          <legend>Before you upgrade</legend>
          {checklist.data.items.map((i) => (
            <label key={i.id} className="check">
              <input type="checkbox" checked={ack.includes(i.id) || i.state === 'ok'} disabled={i.state === 'ok' || i.state === 'n/a'}
                onChange={(e) => { setAck(e.target.checked ? [...ack, i.id] : ack.filter((x) => x !== i.id)); }} />
              <span><strong>{i.title}</strong> <Badge tone={i.state === 'ok' || i.state === 'acknowledged' ? 'ok' : i.state === 'attention' ? 'warn' : 'muted'}>{i.state}</Badge> <span className="small">{i.message}</span></span>
            </label>
          ))}
        </fieldset>
      )}
      <form className="inline" onSubmit={(e) => { e.preventDefault(); void start(); }}>
        <label htmlFor="upgrade-slot">Slot</label>
        <select id="upgrade-slot" value={chosen ?? ''} onChange={(e) => { setSlot(Number(e.target.value)); }} disabled={candidates.length === 0}>
          {candidates.map((c) => <option key={c.slot} value={c.slot}>{String(c.slot)}: {c.version ?? ''}</option>)}
        </select>
        <button type="submit" className="primary" disabled={readOnly || busy || chosen === null || state.data?.active === true}>{busy ? 'Upgrading…' : 'Upgrade the cluster'}</button>
        {state.data?.active === true && <ActionButton label="Abort" danger readOnly={readOnly} confirm="End the cluster upgrade? Both nodes keep the firmware they run now." run={() => api<ActionReply>('POST', '/api/cluster/upgrade/abort')} />}
      </form>
      {candidates.length === 0 && <p className="muted small">Upload a firmware first: no slot holds another version.</p>}
      {live.status !== null && (
        <p className="small" data-testid="upgrade-versions">
          Running now: {live.status.this_node.name} (this node) Tandem {live.status.this_node.firmware?.version ?? '?'}
          {other === null ? '' : `, ${other.name} Tandem ${other.firmware?.version ?? '?'}${other.reachable ? '' : ' (not heard)'}`}
        </p>
      )}
      {plan !== null && <p className="small">Plan {plan.id}: to {plan.target.version}, phase <Badge tone={plan.phase === 'done' ? 'ok' : plan.phase === 'failed' ? 'bad' : 'warn'}>{plan.phase}</Badge>{plan.result === null ? '' : ` — ${plan.result}`}</p>}
      {shown.length > 0 && <ul className="log" data-testid="upgrade-lines">{shown.map((l, i) => <li key={i}>{l}</li>)}</ul>}
      {result !== null && <Notice tone={result.ok ? 'ok' : 'bad'} testId="upgrade-result">{result.text}</Notice>}
      {result?.ok === true && plan?.phase !== 'done' && (
        <Notice tone="info">This node restarts into the new firmware now: the page follows the upgrade again once it is back (sign in again — a session does not survive a restart).</Notice>
      )}
    </Section>
  );
}

/**
 * What the page shows once its own stream has ended: the lines it streamed before the plan began
 * (the checklist, both nodes' Tests: not kept in the plan), then the plan's lines as the node
 * keeps them — they go on while this node reboots, and after.
 */
function followed(streamed: readonly string[], planLines: readonly string[]): readonly string[] {
  if (streamed.length === 0) return planLines;
  // A stream that began no plan (refused): the plan shown would be an older one.
  const at = planLines[0] === undefined ? -1 : streamed.indexOf(planLines[0]);
  return at < 0 ? streamed : [...streamed.slice(0, at), ...planLines];
}
