/**
 * The webhook delivery queue of alerts, as pure functions: what to send next and when to try
 * again. Each webhook gets its alerts in order (the oldest first; a failing one holds the ones
 * behind it, so a receiver never sees them out of order), retried with exponential backoff, the
 * queue bounded (the oldest dropped, and counted, when it is full). The shell persists the queue
 * after every change, so a restart loses none.
 */

export interface QueuedAlert {
  readonly id: string;
  /** Index of the webhook in the configuration. */
  readonly webhook: number;
  /** The JSON body, exactly as signed and sent. */
  readonly body: string;
  readonly attempts: number;
  /** Wall-clock ms of the next attempt. */
  readonly nextAt: number;
  readonly lastError: string | null;
}

export interface AlertQueue {
  readonly version: 1;
  readonly items: readonly QueuedAlert[];
  /** Alerts dropped because the queue was full, since it was created. */
  readonly dropped: number;
}

export const EMPTY_QUEUE: AlertQueue = { version: 1, items: [], dropped: 0 };

/** First retry after 1 s, doubling, at most 5 minutes apart. */
export function retryDelayMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

export function enqueue(q: AlertQueue, items: readonly QueuedAlert[], limit: number): AlertQueue {
  const all = [...q.items, ...items];
  const over = Math.max(0, all.length - limit);
  return { ...q, items: all.slice(over), dropped: q.dropped + over };
}

/** The alerts due now: the first of each webhook's line, if its time has come. */
export function due(q: AlertQueue, now: number): QueuedAlert[] {
  const heads = new Map<number, QueuedAlert>();
  for (const item of q.items) if (!heads.has(item.webhook)) heads.set(item.webhook, item);
  return [...heads.values()].filter((i) => i.nextAt <= now);
}

export function delivered(q: AlertQueue, id: string, webhook: number): AlertQueue {
  return { ...q, items: q.items.filter((i) => !(i.id === id && i.webhook === webhook)) };
}

export function failed(q: AlertQueue, id: string, webhook: number, now: number, error: string): AlertQueue {
  return {
    ...q,
    items: q.items.map((i) => (i.id === id && i.webhook === webhook
      ? { ...i, attempts: i.attempts + 1, nextAt: now + retryDelayMs(i.attempts + 1), lastError: error }
      : i)),
  };
}

/** When the next attempt is due (for the shell's timer), or null with nothing queued. */
export function nextWake(q: AlertQueue): number | null {
  const heads = due(q, Number.POSITIVE_INFINITY);
  return heads.length === 0 ? null : Math.min(...heads.map((i) => i.nextAt));
}
