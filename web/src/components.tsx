/** Small building blocks shared by the pages: sections, fields, badges, progress, dialogs. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { errorText } from './api.js';
import { navigate } from './router.js';
import type { Side } from './context.js';

export function Section({ title, children, id, actions }: { title: string; children: ReactNode; id?: string; actions?: ReactNode }): ReactNode {
  const hid = `h-${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section className="card" aria-labelledby={hid} {...(id === undefined ? {} : { id })}>
      <div className="card-head">
        <h2 id={hid}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A definition list of status fields. */
export function Fields({ rows }: { rows: readonly (readonly [string, ReactNode] | null)[] }): ReactNode {
  return (
    <dl className="fields">
      {rows.filter((r) => r !== null).map(([k, v]) => (
        <div key={k} className="field"><dt>{k}</dt><dd data-field={k}>{v}</dd></div>
      ))}
    </dl>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';

export function Badge({ tone, children, label }: { tone: Tone; children: ReactNode; label?: string }): ReactNode {
  return <span className={`badge ${tone}`} {...(label === undefined ? {} : { 'data-badge': label })}>{children}</span>;
}

export function roleTone(role: string | null | undefined): Tone {
  return role === 'primary' ? 'ok' : role === 'secondary' ? 'info' : 'muted';
}

export function clusterTone(status: string | undefined): Tone {
  return status === 'HA' ? 'ok' : status === 'SplitBrain' || status === 'Broken' ? 'bad' : status === 'Standalone' ? 'muted' : 'warn';
}

export function reachTone(r: boolean | null): Tone { return r === null ? 'muted' : r ? 'ok' : 'bad'; }
export function reachText(r: boolean | null): string { return r === null ? 'judging…' : r ? 'reachable' : 'unreachable'; }

export function Progress({ value, max, label }: { value: number; max: number; label: string }): ReactNode {
  const pct = max <= 0 ? 0 : Math.min(100, Math.max(0, (value / max) * 100));
  return (
    <div className="progress-wrap">
      <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
        <div className="progress-bar" style={{ width: `${pct.toFixed(1)}%` }} />
      </div>
      <span className="progress-text">{pct.toFixed(0)} %</span>
    </div>
  );
}

/** A notice: what an action answered, or why it was refused. */
export function Notice({ tone, children, testId }: { tone: Tone; children: ReactNode; testId?: string }): ReactNode {
  return <div className={`notice ${tone}`} role={tone === 'bad' ? 'alert' : 'status'} {...(testId === undefined ? {} : { 'data-testid': testId })}>{children}</div>;
}

export function ErrorNotice({ error }: { error: unknown }): ReactNode {
  if (error === null || error === undefined) return null;
  return <Notice tone="bad">{errorText(error)}</Notice>;
}

/** A modal dialog (the native <dialog>: focus moves in, Escape closes, focus returns). */
export function Dialog({ open, title, onClose, children, footer }: { open: boolean; title: string; onClose: () => void; children: ReactNode; footer?: ReactNode }): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="dialog-title" className="dialog">
      {open && (
        <>
          <h2 id="dialog-title">{title}</h2>
          <div className="dialog-body">{children}</div>
          <div className="dialog-foot">{footer ?? <button type="button" onClick={onClose}>Close</button>}</div>
        </>
      )}
    </dialog>
  );
}

/**
 * A button for a change, asking first when `confirm` is given. It shows the node's answer
 * (or the refusal) beside itself; viewers see it disabled.
 */
export function ActionButton({ label, confirm, run, disabled, danger, readOnly, testId }: {
  label: string; confirm?: string; run: () => Promise<unknown>;
  disabled?: boolean; danger?: boolean; readOnly: boolean; testId?: string;
}): ReactNode {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<{ tone: Tone; text: string } | null>(null);
  const go = async (): Promise<void> => {
    setAsking(false);
    setBusy(true);
    setSaid(null);
    try {
      const r = await run() as { ok?: boolean; messages?: readonly string[] } | null;
      const ok = r?.ok ?? true;
      setSaid({ tone: ok ? 'ok' : 'bad', text: (r?.messages ?? [ok ? 'done' : 'refused']).join('\n') });
    } catch (err) {
      setSaid({ tone: 'bad', text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="action">
      <button type="button" className={danger === true ? 'danger' : ''} disabled={readOnly || disabled === true || busy}
        title={readOnly ? 'viewers change nothing' : undefined} {...(testId === undefined ? {} : { 'data-testid': testId })}
        onClick={() => { if (confirm === undefined) void go(); else setAsking(true); }}>
        {busy ? `${label}…` : label}
      </button>
      {said !== null && <span className={`said ${said.tone}`} role="status">{said.text}</span>}
      {confirm !== undefined && (
        <Dialog open={asking} title={label} onClose={() => { setAsking(false); }}
          footer={<>
            <button type="button" onClick={() => { setAsking(false); }}>Cancel</button>
            <button type="button" className={danger === true ? 'danger' : 'primary'} onClick={() => { void go(); }}>{label}</button>
          </>}>
          <p>{confirm}</p>
        </Dialog>
      )}
    </span>
  );
}

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }): ReactNode {
  return <a href={to} className={className} onClick={(e) => { if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return; e.preventDefault(); navigate(to); }}>{children}</a>;
}

export function ago(ms: number | null): string {
  if (ms === null) return 'never';
  if (ms < 1000) return `${String(Math.round(ms))} ms ago`;
  return `${(ms / 1000).toFixed(1)} s ago`;
}

/** The This node / Other node switch, as the appliance shows it on its pages. */
export function SideSwitch({ side, setSide, otherName }: { side: Side; setSide: (s: Side) => void; otherName: string | null }): ReactNode {
  return (
    <div className="side-switch" role="group" aria-label="Which node">
      <button type="button" aria-pressed={side === 'this'} onClick={() => { setSide('this'); }}>This node</button>
      <button type="button" aria-pressed={side === 'other'} disabled={otherName === null} onClick={() => { setSide('other'); }}>
        Other node{otherName === null ? '' : ` (${otherName})`}
      </button>
    </div>
  );
}
