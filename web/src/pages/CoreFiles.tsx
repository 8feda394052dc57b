/** Troubleshooting > Core files: the core directory's files (GET /api/cores), download and delete. */
import type { ReactNode } from 'react';
import { api, bytes, get } from '../api.js';
import { ActionButton, ErrorNotice, Section } from '../components.js';
import { useConsole } from '../context.js';
import { usePoll } from '../live.js';
import type { CoreListT } from '../types.js';

export function CoreFiles(): ReactNode {
  const { readOnly } = useConsole();
  const r = usePoll(() => get<CoreListT>('/api/cores'), 10_000, []);
  return (
    <>
      <div className="page-head"><h1>Core files</h1></div>
      <Section title={r.data === null ? 'Core files' : `Core files in ${r.data.directory}`}>
        {r.error !== null ? <ErrorNotice error={r.error} />
          : r.data === null ? <p className="muted">Loading the core files…</p>
            : r.data.files.length === 0 ? <p data-testid="cores-none">No core files: nothing to export before an upgrade.</p>
              : (
                <table data-testid="cores">
                  <thead><tr><th>Name</th><th>Program</th><th>Size</th><th>Time</th><th /></tr></thead>
                  <tbody>
                    {r.data.files.map((f) => (
                      <tr key={f.name}>
                        <td>{f.name}</td><td>{f.program ?? '—'}</td><td>{bytes(f.size)}</td><td>{f.time}</td>
                        <td>
                          {!readOnly && <a href={`/api/cores/${encodeURIComponent(f.name)}`} download={f.name}>Download</a>}{' '}
                          <ActionButton label="Delete" danger readOnly={readOnly} confirm={`Delete the core file ${f.name}?`}
                            run={async () => { const x = await api('DELETE', `/api/cores/${encodeURIComponent(f.name)}`); r.reload(); return x; }} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
      </Section>
    </>
  );
}
