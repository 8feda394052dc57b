/** Basic Settings > System > License: the installed license (GET /api/license) and installing one (POST /api/license). */
import { useState, type ReactNode } from 'react';
import { get, upload } from '../api.js';
import { ErrorNotice, Fields, Notice, Section } from '../components.js';
import { useConsole } from '../context.js';
import { usePoll } from '../live.js';
import type { LicenseViewT } from '../types.js';

export function License(): ReactNode {
  const { readOnly } = useConsole();
  const r = usePoll(() => get<LicenseViewT>('/api/license'), 0, []);
  const [file, setFile] = useState<File | null>(null);
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const l = r.data?.license ?? null;
  const install = async (): Promise<void> => {
    if (file === null) return;
    setError(null);
    setSaid(null);
    try {
      const v = await upload<LicenseViewT & { messages: string[] }>('/api/license', file, () => undefined, () => undefined);
      setSaid({ ok: true, text: v.messages.join(' ') });
      r.reload();
    } catch (err) { setError(err); }
  };
  return (
    <>
      <div className="page-head"><h1>License</h1></div>
      <Section title="Installed license">
        {r.error !== null ? <ErrorNotice error={r.error} />
          : r.data === null ? <p className="muted">Loading the license…</p>
            : !r.data.installed ? <p data-testid="license-none">No license is installed.</p>
              : (
                <Fields rows={[
                  ['State', <span data-testid="license-state" key="s">{r.data.state}{r.data.days_left === null ? '' : ` (${String(r.data.days_left)} days left)`}</span>],
                  l === null ? null : ['Customer', l.customer],
                  l === null ? null : ['Serial', l.serial],
                  l === null ? null : ['Limit', `${String(l.limit)} ${l.limit_type}`],
                  l === null ? null : ['Valid from / to', `${l.valid_from} – ${l.valid_to}`],
                  l === null ? null : ['LTS releases', l.lts_releases.length === 0 ? 'none' : l.lts_releases.join(', ')],
                ]} />
              )}
        {r.data?.warnings.map((w) => <Notice tone="warn" key={w}>{w}</Notice>)}
      </Section>
      <Section title="Update the license">
        <form onSubmit={(e) => { e.preventDefault(); void install(); }}>
          <label htmlFor="license-file">License file (the signed file, or a .zip holding it)</label>
          <div className="inline">
            <input id="license-file" type="file" accept=".lic,.zip,.json" disabled={readOnly} onChange={(e) => { setFile(e.target.files?.[0] ?? null); }} />
            <button type="submit" className="primary" disabled={readOnly || file === null}>Install</button>
          </div>
        </form>
        {said !== null && <Notice tone={said.ok ? 'ok' : 'bad'}>{said.text}</Notice>}
        <ErrorNotice error={error} />
      </Section>
    </>
  );
}
