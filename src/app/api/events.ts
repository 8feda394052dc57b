/**
 * Live updates for the web console (server-sent events on /api/events): the node's status
 * whenever it changes (roles, next-hop reachability, sync state and progress, the firmware), and
 * the node's log lines — alerts, firmware and upgrade progress: the same text as the log.
 */

export type LiveEvent =
  | { readonly type: 'status'; readonly data: unknown }
  | { readonly type: 'alert'; readonly data: unknown }
  | { readonly type: 'log'; readonly data: { readonly time: string; readonly level: string; readonly event: string; readonly msg: string } };

export class EventHub {
  private readonly listeners = new Set<(e: LiveEvent) => void>();
  private lastStatus = '';

  subscribe(listener: (e: LiveEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  get subscribers(): number { return this.listeners.size; }

  publish(e: LiveEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Publishes the status when it differs from the last one published (cheap when nobody listens). */
  statusNow(status: unknown): void {
    if (this.listeners.size === 0) return;
    const text = JSON.stringify(status, dropVolatile);
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.publish({ type: 'status', data: status });
  }
}

/** Fields that change on every read without anything having happened. */
function dropVolatile(key: string, value: unknown): unknown {
  return key === 'role_since_ms' || key === 'last_heard_ms_ago' || key === 'accepted' ? undefined : value;
}
