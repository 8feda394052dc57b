/** Configuration export / import and the license, as operations (docs/configuration-backup.md, docs/license.md). */
import { z } from 'zod';
import { ExportReply, ExportRequest, ImportReply, ImportRequest, StageReply } from '../backup/service.js';
import { LicenseView } from '../license/service.js';
import type { NodeApp } from '../node-app.js';
import { ActionReply, operation, operationTable, refuse } from './operation.js';
import type { AnyOperation } from './server.js';

export const BACKUP_OPERATIONS: readonly AnyOperation<NodeApp>[] = operationTable<NodeApp>(
  operation({
    id: 'configExport', method: 'POST', path: '/config/export', access: 'change',
    summary: 'Export the configuration: plain (no secrets), encrypted with a password (AES-256-GCM, scrypt) or to an OpenPGP public key (both with the secrets)',
    body: ExportRequest, reply: ExportReply,
    run: (app: NodeApp, { body }) => app.backup.export(body),
  }),
  operation({
    id: 'configImportFile', method: 'POST', path: '/config/import/file', access: 'change', upload: true,
    summary: 'Upload a configuration export for import (kept for the import that reads it)',
    reply: StageReply,
    run: (app: NodeApp, { upload }) => app.backup.stage(upload ?? refuse(400, 'no file in the request')),
  }),
  operation({
    id: 'configImport', method: 'POST', path: '/config/import', access: 'change',
    summary: 'Import an uploaded export: decrypted, version-checked, migrated, validated, the difference shown, applied with a snapshot restored unless confirmed in time',
    body: ImportRequest, reply: ImportReply,
    run: (app: NodeApp, { body }) => app.backup.import(body),
  }),
  operation({
    id: 'configImportConfirm', method: 'POST', path: '/config/import/confirm', access: 'change',
    summary: 'Keep an imported configuration (otherwise its snapshot is restored when the time limit passes)',
    reply: ActionReply,
    run: (app: NodeApp) => app.backup.confirm(),
  }),
  operation({
    id: 'licenseShow', method: 'GET', path: '/license', access: 'read',
    summary: 'The license: customer, serial, limit type and limit, valid from / to, LTS releases, state and warnings',
    reply: LicenseView,
    run: (app: NodeApp) => app.license.show(),
  }),
  operation({
    id: 'licenseInstall', method: 'POST', path: '/license', access: 'change', upload: true,
    summary: 'Install a license (the signed file, or a .zip holding it): verified against the vendor keys before anything is kept',
    reply: LicenseView.extend({ messages: z.array(z.string()) }),
    run: (app: NodeApp, { upload }) => app.license.install(upload ?? refuse(400, 'no license in the request')),
  }),
);
