/**
 * Basic Settings > System > Export / Import configuration: an export (plain, or encrypted with a
 * password — only then with the secrets) downloaded by the browser, and an import: upload, check
 * (the difference shown), apply, then confirm before the time limit or the node restores its
 * snapshot by itself.
 */
import { useState, type ReactNode } from 'react';
import { api, upload } from '../api.js';
import { ErrorNotice, Notice, Section } from '../components.js';
import { useConsole } from '../context.js';
import type { ExportReplyT, ImportReplyT, StageReplyT } from '../types.js';

function download(e: ExportReplyT): void {
  const raw = atob(e.content_base64);
  const data = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([data], { type: 'application/gzip' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = e.name;
  a.click();
  URL.revokeObjectURL(url);
}

function Export(): ReactNode {
  const { readOnly } = useConsole();
  const [password, setPassword] = useState('');
  const [done, setDone] = useState<ExportReplyT | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (): Promise<void> => {
    setError(null);
    try {
      const e = await api<ExportReplyT>('POST', '/api/config/export', password === '' ? {} : { password });
      setDone(e);
      download(e);
    } catch (err) { setError(err); }
  };
  return (
    <Section title="Export configuration">
      <form onSubmit={(e) => { e.preventDefault(); void run(); }}>
        <label htmlFor="export-password">Password (optional: encrypts the file, and only then are the cluster key and private keys included)</label>
        <div className="inline">
          <input id="export-password" type="password" autoComplete="new-password" maxLength={150} value={password} disabled={readOnly} onChange={(e) => { setPassword(e.target.value); }} />
          <button type="submit" className="primary" disabled={readOnly}>Export</button>
        </div>
      </form>
      {done !== null && <Notice tone="ok" testId="export-done">{`${done.name} (${done.sealing}, ${String(done.bytes)} bytes, SHA-256 ${done.sha256})`}</Notice>}
      {done?.warnings.map((w) => <Notice tone="warn" key={w}>{w}</Notice>)}
      <ErrorNotice error={error} />
    </Section>
  );
}

function Import(): ReactNode {
  const { readOnly } = useConsole();
  const [file, setFile] = useState<File | null>(null);
  const [password, setPassword] = useState('');
  const [checked, setChecked] = useState<{ staged: StageReplyT; reply: ImportReplyT } | null>(null);
  const [applied, setApplied] = useState<ImportReplyT | null>(null);
  const [said, setSaid] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const request = (staged: StageReplyT, dryRun: boolean): Promise<ImportReplyT> =>
    api<ImportReplyT>('POST', '/api/config/import', { file: staged.file, dry_run: dryRun, ...(password === '' ? {} : { password }) });
  const check = async (): Promise<void> => {
    if (file === null) return;
    setError(null); setApplied(null); setSaid(null);
    try {
      const staged = await upload<StageReplyT>('/api/config/import/file', file, () => undefined, () => undefined);
      setChecked({ staged, reply: await request(staged, true) });
    } catch (err) { setError(err); }
  };
  const apply = async (): Promise<void> => {
    if (checked === null) return;
    setError(null);
    try { setApplied(await request(checked.staged, false)); } catch (err) { setError(err); }
  };
  const confirm = async (): Promise<void> => {
    setError(null);
    try { setSaid((await api<{ messages: string[] }>('POST', '/api/config/import/confirm')).messages.join(' ')); } catch (err) { setError(err); }
  };
  const shown = applied ?? checked?.reply ?? null;
  return (
    <Section title="Import configuration">
      <form onSubmit={(e) => { e.preventDefault(); void check(); }}>
        <label htmlFor="import-file">Exported configuration (.config)</label>
        <input id="import-file" type="file" accept=".config" disabled={readOnly} onChange={(e) => { setFile(e.target.files?.[0] ?? null); setChecked(null); }} />
        <label htmlFor="import-password">Password (for an encrypted export)</label>
        <div className="inline">
          <input id="import-password" type="password" autoComplete="off" maxLength={150} value={password} disabled={readOnly} onChange={(e) => { setPassword(e.target.value); }} />
          <button type="submit" disabled={readOnly || file === null}>Check</button>
        </div>
      </form>
      {shown !== null && (
        <>
          <p>{`From ${shown.from.node}, Tandem ${shown.from.firmware} (schema ${String(shown.from.schema)}), exported ${shown.from.exported_at}`}{shown.migrations.length > 0 ? `; migrations: ${shown.migrations.join(', ')}` : ''}</p>
          <pre className="json" data-testid="import-diff">{shown.diff.length === 0 ? 'no difference' : shown.diff.join('\n')}</pre>
          {shown.messages.map((m) => <Notice tone={shown.ok ? 'info' : 'bad'} key={m}>{m}</Notice>)}
        </>
      )}
      <div className="buttons">
        {checked !== null && applied === null && checked.reply.ok && <button type="button" className="primary" disabled={readOnly} onClick={() => { void apply(); }}>Apply</button>}
        {applied !== null && applied.confirm_by !== null && said === null && <button type="button" className="primary" disabled={readOnly} onClick={() => { void confirm(); }}>{`Keep it (before ${applied.confirm_by})`}</button>}
      </div>
      {said !== null && <Notice tone="ok">{said}</Notice>}
      <ErrorNotice error={error} />
    </Section>
  );
}

export function ConfigBackup(): ReactNode {
  return (
    <>
      <div className="page-head"><h1>Export / Import configuration</h1></div>
      <Export />
      <Import />
    </>
  );
}
