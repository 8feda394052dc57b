/** The System monitor's operations: the monitor view, the alerts, a test alert. */
import { z } from 'zod';
import type { NodeApp } from '../node-app.js';
import { AlertList, MonitorSchema } from '../monitor/monitor.js';
import { ActionReply, operation, refuse } from './operation.js';

export const MONITOR_OPERATIONS = [
  operation<NodeApp>({
    id: 'monitor', method: 'GET', path: '/monitor', access: 'read',
    summary: 'The System monitor: HA status, load, CPU, memory, disks, services (hooks), uptime, firmware, recent alerts and the issues',
    reply: MonitorSchema,
    run: (app) => app.monitor() ?? refuse(503, 'the node is starting or stopping'),
  }),
  operation({
    id: 'alertList', method: 'GET', path: '/alerts', access: 'read',
    summary: 'Recent alerts, and what waits for delivery to each webhook',
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
    reply: AlertList,
    run: (app: NodeApp, { query }) => ({ alerts: app.alerts.recent(query.limit), delivery: app.alerts.pending(), dropped: app.alerts.dropped }),
  }),
  operation({
    id: 'alertTest', method: 'POST', path: '/alerts/test', access: 'change',
    summary: 'Raise a test alert: it goes to the log, the recent list and every configured webhook',
    reply: ActionReply,
    run: (app: NodeApp, { caller }) => {
      const a = app.alerts.raise('test', 'test', 'info', `test alert raised by ${caller.user} from ${caller.from}`);
      const hooks = app.alerts.pending().length;
      return { ok: true, messages: [`test alert ${a.id} raised; ${hooks === 0 ? 'no webhook is configured (alerts.webhooks)' : `queued for ${String(hooks)} webhook(s)`}`] };
    },
  }),
];
