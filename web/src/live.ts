/**
 * Live updates from the node (GET /api/events, server-sent events): `status` with the whole
 * status whenever it changes (a role change at once), `log` with every log line (alerts,
 * firmware, upgrade progress). The browser reconnects by itself; a stream refused (signed out)
 * is retried after a pause.
 */
import { useEffect, useRef, useState } from 'react';
import type { LogLine, Status } from './types.js';

export type Connection = 'connecting' | 'live' | 'lost';

export interface Live {
  readonly status: Status | null;
  readonly log: readonly LogLine[];
  readonly connection: Connection;
  /** When the last status event arrived (ms since the epoch). */
  readonly updatedAt: number | null;
}

const LOG_KEEP = 300;

export function useLive(enabled: boolean): Live {
  const [status, setStatus] = useState<Status | null>(null);
  const [log, setLog] = useState<LogLine[]>([]);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const retry = useRef<number | null>(null);

  useEffect(() => {
    if (!enabled) return undefined;
    let source: EventSource | null = null;
    let stopped = false;
    const open = (): void => {
      if (stopped) return;
      source = new EventSource('/api/events', { withCredentials: true });
      source.onopen = () => { setConnection('live'); };
      source.addEventListener('status', (e) => {
        setStatus(JSON.parse((e as MessageEvent<string>).data) as Status);
        setUpdatedAt(Date.now());
        setConnection('live');
      });
      source.addEventListener('log', (e) => {
        const line = JSON.parse((e as MessageEvent<string>).data) as LogLine;
        setLog((l) => (l.length >= LOG_KEEP ? [...l.slice(l.length - LOG_KEEP + 1), line] : [...l, line]));
      });
      source.onerror = () => {
        setConnection('lost');
        if (source?.readyState === EventSource.CLOSED) {
          source.close();
          retry.current = window.setTimeout(open, 2000);
        }
      };
    };
    open();
    return () => {
      stopped = true;
      source?.close();
      if (retry.current !== null) window.clearTimeout(retry.current);
    };
  }, [enabled]);

  return { status, log, connection, updatedAt };
}

/** Polls `load` every `everyMs` while mounted (and at once); null until the first answer. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: readonly unknown[] = []): { data: T | null; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let timer: number | null = null;
    const run = async (): Promise<void> => {
      try {
        const v = await load();
        if (alive) { setData(v); setError(null); }
      } catch (err) {
        if (alive) setError(err);
      }
      if (alive && everyMs > 0) timer = window.setTimeout(() => { void run(); }, everyMs);
    };
    void run();
    return () => { alive = false; if (timer !== null) window.clearTimeout(timer); };
  }, [everyMs, tick, ...deps]);
  return { data, error, reload: () => { setTick((t) => t + 1); } };
}
