/** Support operations (SPEC §5): core files (list, download, delete) and the support bundle. */
import { z } from 'zod';
import type { NodeApp } from '../node-app.js';
import { CORE_NAME } from '../support/cores.js';
import { ActionReply, operation } from './operation.js';
import type { AnyOperation } from './server.js';

const CoreParam = z.object({ name: z.string().regex(CORE_NAME, 'not a core file name (one file name of the core directory; see tandem core list)') }).strict();
const Download = z.unknown();
export const CoreList = z.object({ directory: z.string(), files: z.array(z.object({ name: z.string(), size: z.number().int(), time: z.string(), program: z.string().nullable() })) });

export const SUPPORT_OPERATIONS: readonly AnyOperation<NodeApp>[] = [
  operation({
    id: 'coreList', method: 'GET', path: '/cores', access: 'read',
    summary: 'The core files in the core directory: name, size, time, the program when known',
    reply: CoreList,
    run: (app: NodeApp) => ({ directory: app.support.cores.directory, files: app.support.cores.list() }),
  }),
  operation({
    id: 'coreGet', method: 'GET', path: '/cores/:name', access: 'change', download: true,
    summary: 'Download a core file (streamed; it holds the memory of a process)',
    params: CoreParam, reply: Download,
    run: (app: NodeApp, { params }) => app.support.cores.open(params.name),
  }),
  operation({
    id: 'coreDelete', method: 'DELETE', path: '/cores/:name', access: 'change',
    summary: 'Delete a core file',
    params: CoreParam, reply: ActionReply,
    run: (app: NodeApp, { params }) => app.support.cores.remove(params.name),
  }),
  operation({
    id: 'supportBundle', method: 'GET', path: '/support/bundle', access: 'change', download: true,
    summary: 'The support bundle (.tar.gz, streamed): logs, status, configuration, versions, recent alerts, audit — every secret removed',
    reply: Download,
    run: (app: NodeApp) => app.support.bundle(),
  }),
] as AnyOperation<NodeApp>[];
