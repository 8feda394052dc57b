/** `tandem monitor` (the System monitor) and `tandem alerts [list] | test`. */
import type { Command } from 'commander';
import type { ActionReply } from '../adapters/control/protocol.js';
import type { MonitorView } from '../app/monitor/monitor.js';
import type { Alert } from '../app/monitor/alerts.js';
import { callOp, print, withTarget, type Target } from './common.js';
import { formatStatus } from './format.js';

type Json = { json?: boolean };
const gib = (n: number): string => `${(n / 2 ** 30).toFixed(1)} GiB`;
const duration = (s: number): string => {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${String(d)} d ${String(h)} h` : h > 0 ? `${String(h)} h ${String(m)} min` : `${String(m)} min ${String(s % 60)} s`;
};
const alertLine = (a: Alert): string => `${a.time}  ${a.level.toUpperCase().padEnd(5)} ${a.source}/${a.event}: ${a.message}`;

export function formatMonitor(m: MonitorView): string {
  const h = m.host;
  const fw = m.status.firmware;
  return [
    formatStatus(m.status),
    `Firmware    ${fw.version} (${fw.type}, slot ${String(fw.slot)})${fw.trial === null ? '' : ` ON TRIAL since ${fw.trial.since}`}`,
    `Uptime      machine ${duration(h.uptime_s)}, daemon ${duration(h.daemon_uptime_s)}`,
    `Load        ${h.load.map((x) => x.toFixed(2)).join(' ')} (${String(h.cpu.cores)} cores), CPU ${h.cpu.busy_percent === null ? 'measuring' : `${String(h.cpu.busy_percent)} % busy`}`,
    `Memory      ${gib(h.memory.total - h.memory.available)} used of ${gib(h.memory.total)} (${String(h.memory.used_percent)} %)`,
    'Disks:',
    ...h.disks.map((d) => `  ${d.mount.padEnd(24)} ${d.fs.padEnd(8)} ${gib(d.used)} of ${gib(d.size)} (${String(d.used_percent)} %), ${gib(d.available)} free`),
    'Services:',
    ...(m.services.length === 0 ? ['  no hook has run yet'] : m.services.map((s) => `  ${s.hook.padEnd(13)} ${s.state.padEnd(8)} since ${s.since} ${s.script}${s.detail === '' ? '' : `: ${s.detail}`}`)),
    'Recent alerts:',
    ...(m.alerts.length === 0 ? ['  none'] : m.alerts.slice(-5).map((a) => `  ${alertLine(a)}`)),
    m.issues.length === 0 ? 'Issues: none' : `Issues (${String(m.issues.length)}):`,
    ...m.issues.map((i) => `  - ${i}`),
  ].join('\n');
}

export function registerMonitorCommands(program: Command): void {
  withTarget(program.command('monitor'))
    .description('the System monitor: HA status, sync, heartbeat, next hops, load, CPU, memory, disks, services, uptime, firmware, alerts and issues')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const m = (await callOp(t, 'GET', '/monitor')).body as MonitorView;
      print(t.json, m, () => formatMonitor(m));
    });
  const alerts = program.command('alerts').description('alerts: the recent ones and their delivery to the webhooks; a test alert');
  withTarget(alerts.command('list', { isDefault: true }))
    .description('recent alerts (the default) and what waits for each webhook')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json & { limit: string }) => {
      const r = (await callOp(t, 'GET', `/alerts?limit=${encodeURIComponent(t.limit)}`)).body as { alerts: Alert[]; delivery: { webhook: string; waiting: number; attempts: number; lastError: string | null }[]; dropped: number };
      print(t.json, r, () => [
        ...(r.alerts.length === 0 ? ['no alerts'] : r.alerts.map(alertLine)),
        ...r.delivery.map((d) => `webhook ${d.webhook}: ${d.waiting === 0 ? 'all delivered' : `${String(d.waiting)} waiting${d.lastError === null ? '' : ` (attempt ${String(d.attempts)}: ${d.lastError})`}`}`),
        ...(r.dropped > 0 ? [`${String(r.dropped)} alert(s) dropped: the delivery queue was full`] : []),
      ].join('\n'));
    });
  withTarget(alerts.command('test'))
    .description('raise a test alert (to the log, the recent list and every webhook)')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const r = (await callOp(t, 'POST', '/alerts/test')).body as ActionReply;
      print(t.json, r, () => r.messages.join('\n'));
    });
}
