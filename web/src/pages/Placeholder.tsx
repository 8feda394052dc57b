/**
 * A page whose API comes with a later firmware (License, Export / Import configuration, Core
 * files): it asks for its data and says "not available on this firmware" when the node has no
 * such endpoint (404).
 */
import type { ReactNode } from 'react';
import { ApiError, get } from '../api.js';
import { ErrorNotice, Notice, Section } from '../components.js';
import { usePoll } from '../live.js';

export function Placeholder({ title, endpoint, what }: { title: string; endpoint: string; what: string }): ReactNode {
  const r = usePoll(() => get<unknown>(endpoint), 0, [endpoint]);
  const missing = r.error instanceof ApiError && r.error.status === 404;
  return (
    <>
      <div className="page-head"><h1>{title}</h1></div>
      <Section title={title}>
        {missing ? <Notice tone="info" testId="not-available">{title} is not available on this firmware ({endpoint} is not served by this node).</Notice>
          : r.error !== null ? <ErrorNotice error={r.error} />
            : r.data === null ? <p className="muted">Loading {what}…</p>
              : <pre className="json" data-testid="placeholder-data">{JSON.stringify(r.data, null, 2)}</pre>}
      </Section>
    </>
  );
}
