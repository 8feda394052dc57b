/**
 * Alerts (SPEC §5): every HA, sync, firmware, upgrade and license event an operator must know
 * of goes to the node log (event `alert`), to the recent-alerts list (the System monitor, the
 * console, the support bundle), and to every configured webhook — POSTed as JSON, signed with
 * HMAC-SHA256 of the body under the webhook's secret (`X-Tandem-Signature: sha256=<hex>`),
 * retried with backoff from a bounded queue persisted in `<state_dir>/alerts/` (a restart
 * loses none; core/monitor/alert-queue.ts decides what goes when).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../../adapters/state/store.js';
import type { AlertsConfig } from '../../config/types.js';
import {
  delivered, due, EMPTY_QUEUE, enqueue, failed, nextWake, type AlertQueue, type QueuedAlert,
} from '../../core/monitor/alert-queue.js';

export type AlertSource = 'ha' | 'sync' | 'firmware' | 'upgrade' | 'license' | 'monitor' | 'test';
export type AlertLevel = 'info' | 'warn' | 'error';

export interface Alert {
  readonly id: string;
  readonly time: string;
  readonly cluster: string;
  readonly node: string;
  readonly source: AlertSource;
  /** A stable name of what happened (`role-change`, `split-brain`, `firmware-fallback` …). */
  readonly event: string;
  readonly level: AlertLevel;
  readonly message: string;
}

/** Alerts kept for the System monitor and the support bundle. */
const RECENT = 200;
/** Alerts waiting for delivery, all webhooks together. */
export const QUEUE_LIMIT = 1000;
const DELIVERY_TIMEOUT_MS = 5000;

export interface AlertServiceOptions {
  readonly stateDir: string;
  readonly cluster: string;
  readonly node: string;
  readonly config: () => AlertsConfig;
  readonly log: (level: AlertLevel, message: string) => void;
  /** Every alert as it is raised (the console's live updates). */
  readonly onAlert?: (alert: Alert) => void;
  readonly now?: () => number;
}

export class AlertService {
  private readonly dir: string;
  private queue: AlertQueue;
  private recentAlerts: Alert[];
  private timer: NodeJS.Timeout | null = null;
  private sending = false;
  private closed = false;

  constructor(private readonly o: AlertServiceOptions) {
    this.dir = join(o.stateDir, 'alerts');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.queue = (readJson(join(this.dir, 'queue.json')) as AlertQueue | undefined) ?? EMPTY_QUEUE;
    this.recentAlerts = (readJson(join(this.dir, 'recent.json')) as Alert[] | undefined) ?? [];
    this.schedule();
  }

  private now(): number { return (this.o.now ?? Date.now)(); }

  /** `logged`: the caller has logged it already (the HA core logs its alerts itself). */
  raise(source: AlertSource, event: string, level: AlertLevel, message: string, opts: { readonly logged?: boolean } = {}): Alert {
    const alert: Alert = {
      id: randomBytes(8).toString('hex'), time: new Date(this.now()).toISOString(),
      cluster: this.o.cluster, node: this.o.node, source, event, level, message,
    };
    if (opts.logged !== true) this.o.log(level, `${source}/${event}: ${message}`);
    this.recentAlerts = [...this.recentAlerts, alert].slice(-RECENT);
    writeJsonAtomic(join(this.dir, 'recent.json'), this.recentAlerts);
    this.o.onAlert?.(alert);
    const body = JSON.stringify(alert);
    const items: QueuedAlert[] = this.o.config().webhooks.map((_, webhook) => ({ id: alert.id, webhook, body, attempts: 0, nextAt: this.now(), lastError: null }));
    if (items.length > 0) this.save(enqueue(this.queue, items, QUEUE_LIMIT));
    this.schedule();
    return alert;
  }

  recent(limit: number): Alert[] { return this.recentAlerts.slice(-limit); }

  /** What waits for delivery, per webhook. */
  pending(): { readonly webhook: string; readonly waiting: number; readonly attempts: number; readonly lastError: string | null }[] {
    return this.o.config().webhooks.map((w, i) => {
      const mine = this.queue.items.filter((x) => x.webhook === i);
      return { webhook: w.url, waiting: mine.length, attempts: mine[0]?.attempts ?? 0, lastError: mine[0]?.lastError ?? null };
    });
  }

  get dropped(): number { return this.queue.dropped; }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private save(q: AlertQueue): void {
    this.queue = q;
    writeJsonAtomic(join(this.dir, 'queue.json'), q);
  }

  private schedule(): void {
    if (this.closed || this.sending) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const at = nextWake(this.queue);
    if (at === null) return;
    this.timer = setTimeout(() => { void this.deliver(); }, Math.max(0, at - this.now()));
    this.timer.unref();
  }

  private async deliver(): Promise<void> {
    this.sending = true;
    try {
      const hooks = this.o.config().webhooks;
      for (const item of due(this.queue, this.now())) {
        const hook = hooks[item.webhook];
        // The configuration changed and this webhook is gone: what waited for it goes too.
        if (hook === undefined) { this.save(delivered(this.queue, item.id, item.webhook)); continue; }
        const error = await post(hook.url, hook.secretFile, item);
        this.save(error === null ? delivered(this.queue, item.id, item.webhook) : failed(this.queue, item.id, item.webhook, this.now(), error));
        if (error !== null && item.attempts === 0) this.o.log('warn', `alert webhook ${hook.url}: ${error}; retrying with backoff`);
      }
    } finally {
      this.sending = false;
      this.schedule();
    }
  }
}

/** One POST; null when the receiver took it (2xx), else why not. */
async function post(url: string, secretFile: string, item: QueuedAlert): Promise<string | null> {
  let secret: Buffer;
  try {
    secret = readFileSync(secretFile);
  } catch (err) {
    return `cannot read its secret_file ${secretFile}: ${(err as Error).message}`;
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-tandem-alert-id': item.id,
        'x-tandem-signature': `sha256=${createHmac('sha256', secret).update(item.body).digest('hex')}`,
      },
      body: item.body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.ok ? null : `HTTP ${String(res.status)}`;
  } catch (err) {
    return (err as Error).message;
  }
}
