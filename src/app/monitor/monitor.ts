/**
 * The System monitor (`tandem monitor`, GET /api/monitor, the console's landing page): the HA
 * status with the machine's own state — load, CPU, memory, disks, uptime — the services the
 * hooks start and stop, the firmware, the recent alerts, and the issues an operator must look at.
 */
import { z } from 'zod';
import { cpuBusyPercent, cpuTimes, disks, load, machineUptimeSeconds, memory, type CpuTimes } from '../../adapters/host/host-stats.js';
import { StatusSchema } from '../api/status-schema.js';
import type { StatusView } from '../node-app.js';
import type { AlertService } from './alerts.js';
import { issuesOf } from './issues.js';

export type HookName = 'on_primary' | 'on_secondary';

/** The last run of each hook: what the services it manages are doing. */
export interface HookState {
  readonly hook: HookName;
  readonly script: string;
  readonly state: 'running' | 'ok' | 'failed';
  readonly since: string;
  readonly detail: string;
}

const AlertSchema = z.object({
  id: z.string(), time: z.string(), cluster: z.string(), node: z.string(),
  source: z.enum(['ha', 'sync', 'firmware', 'upgrade', 'license', 'monitor', 'test']),
  event: z.string(), level: z.enum(['info', 'warn', 'error']), message: z.string(),
});
export const AlertList = z.object({
  alerts: z.array(AlertSchema),
  delivery: z.array(z.object({ webhook: z.string(), waiting: z.number().int(), attempts: z.number().int(), lastError: z.string().nullable() })),
  dropped: z.number().int(),
});

export const MonitorSchema = z.object({
  time: z.string(),
  status: StatusSchema,
  host: z.object({
    uptime_s: z.number(), daemon_uptime_s: z.number(),
    load: z.tuple([z.number(), z.number(), z.number()]),
    cpu: z.object({ cores: z.number().int(), busy_percent: z.number().nullable() }),
    memory: z.object({ total: z.number(), available: z.number(), used_percent: z.number() }),
    disks: z.array(z.object({ mount: z.string(), fs: z.string(), size: z.number(), used: z.number(), available: z.number(), used_percent: z.number() })),
  }),
  services: z.array(z.object({ hook: z.enum(['on_primary', 'on_secondary']), script: z.string(), state: z.enum(['running', 'ok', 'failed']), since: z.string(), detail: z.string() })),
  alerts: z.array(AlertSchema),
  issues: z.array(z.string()),
});
export type MonitorView = Omit<z.infer<typeof MonitorSchema>, 'status'> & { readonly status: StatusView };

/** CPU busy share is measured between readings at least this far apart (a burst of reads shows the last figure). */
const CPU_SAMPLE_MS = 1000;

export interface MonitorOptions {
  readonly status: () => StatusView | null;
  readonly alerts: AlertService;
  /** Warnings of other services for the issues list (the license's expiry …). */
  readonly warnings?: () => string[];
  readonly cores: number;
  readonly now?: () => number;
}

export class SystemMonitor {
  private readonly hooks = new Map<HookName, HookState>();
  private readonly started: number;
  private cpuFrom: { at: number; times: CpuTimes };
  private cpuBusy: number | null = null;

  constructor(private readonly o: MonitorOptions) {
    this.started = this.now();
    this.cpuFrom = { at: this.started, times: cpuTimes() };
  }

  private now(): number { return (this.o.now ?? Date.now)(); }

  hookStarted(hook: HookName, script: string): void {
    this.hooks.set(hook, { hook, script, state: 'running', since: new Date(this.now()).toISOString(), detail: '' });
  }

  hookFinished(hook: HookName, script: string, ok: boolean, detail: string): void {
    this.hooks.set(hook, { hook, script, state: ok ? 'ok' : 'failed', since: new Date(this.now()).toISOString(), detail });
    if (!ok) this.o.alerts.raise('monitor', 'hook-failed', 'error', `hook ${hook} (${script}) failed: ${detail}`);
  }

  private cpu(): number | null {
    const at = this.now();
    if (at - this.cpuFrom.at >= CPU_SAMPLE_MS) {
      const times = cpuTimes();
      this.cpuBusy = cpuBusyPercent(this.cpuFrom.times, times);
      this.cpuFrom = { at, times };
    }
    return this.cpuBusy;
  }

  /** The issues now (a single one while the node starts). */
  issues(): string[] {
    const s = this.o.status();
    return s === null ? ['the node is starting'] : this.issuesFor(s, disks());
  }

  private issuesFor(s: StatusView, d: ReturnType<typeof disks>): string[] {
    return issuesOf(s, { disks: d, hooks: [...this.hooks.values()], alertDelivery: this.o.alerts.pending(), warnings: this.o.warnings?.() ?? [] });
  }

  view(status: StatusView, recentAlerts = 20): MonitorView {
    const d = disks();
    return {
      time: new Date(this.now()).toISOString(),
      status,
      host: {
        uptime_s: machineUptimeSeconds(), daemon_uptime_s: Math.round((this.now() - this.started) / 1000),
        load: load().map((x) => Math.round(x * 100) / 100) as [number, number, number],
        cpu: { cores: this.o.cores, busy_percent: this.cpu() },
        memory: memory(),
        disks: d,
      },
      services: [...this.hooks.values()],
      alerts: this.o.alerts.recent(recentAlerts),
      issues: this.issuesFor(status, d),
    };
  }
}
