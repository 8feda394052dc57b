/**
 * Every operation a node serves, in one table: the control socket and the HTTPS API mount it as
 * it is (operation.ts). The paths of `status` and `action` are the control protocol the launcher
 * of any firmware version reads: they never change.
 */
import { z } from 'zod';
import { ControlAction } from '../../adapters/control/protocol.js';
import type { NodeApp } from '../node-app.js';
import { operation, refuse } from './operation.js';
import type { AnyOperation } from './server.js';

const ActionReply = z.object({ ok: z.boolean(), messages: z.array(z.string()) });

const all = <A>(...ops: readonly unknown[]): AnyOperation<A>[] => ops as AnyOperation<A>[];

export const OPERATIONS: readonly AnyOperation<NodeApp>[] = all<NodeApp>(
  operation<NodeApp>({
    id: 'status', method: 'GET', path: '/status', access: 'read',
    summary: 'Cluster, node, next-hop and sync status of this node',
    reply: z.unknown(),
    run: (app) => app.status() ?? refuse(503, 'the node is starting or stopping'),
  }),
  operation({
    id: 'action', method: 'POST', path: '/action', access: 'change',
    summary: 'An HA action: takeover, reboot, shutdown, cluster reboot/convert/join/resolve-split-brain/clear-flap-hold, reload, barrier',
    body: ControlAction,
    reply: ActionReply,
    run: (app: NodeApp, { body }) => app.act(body),
  }),
);
