/**
 * `tandem config export | import | confirm` (docs/configuration-backup.md) and
 * `tandem license install | show | sign` (docs/license.md), through the node's operations (the
 * local control socket or a remote API). `license sign` is the vendor's tool: it runs locally.
 */
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { z } from 'zod';
import type { ExportReply, ImportReply, StageReply } from '../app/backup/service.js';
import type { ActionReply } from '../adapters/control/protocol.js';
import type { LicenseView } from '../app/license/service.js';
import { callOp, fail, print, withTarget, type Target } from './common.js';

type Json = { json?: boolean };

const readText = (file: string, what: string): string => {
  try { return readFileSync(file, 'utf8'); } catch (err) { fail(`cannot read ${what} ${file}: ${(err as Error).message}`); }
};
/** A password file's first line (a trailing newline is not part of the password). */
const passwordOf = (file: string | undefined): string | undefined => (file === undefined ? undefined : readText(file, 'password file').replace(/\r?\n$/, ''));

async function upload(t: Target, path: string, file: string): Promise<unknown> {
  let size: number;
  try { size = statSync(file).size; } catch (err) { fail(`cannot read ${file}: ${(err as Error).message}`); }
  return (await callOp(t, 'POST', path, { upload: { stream: createReadStream(file), size }, timeoutMs: 120_000 })).body;
}

export function registerBackupCommands(program: Command, configCmd: Command): void {
  withTarget(configCmd.command('export'))
    .description('export the configuration to DIR/<hostname>-YYYYMMDDTHHMM[-encrypted|-gpg].config (plain: no secrets; encrypted or gpg: with the cluster key and private keys)')
    .option('--password-file <file>', 'encrypt with the password in this file (8 to 150 characters; AES-256-GCM, scrypt)')
    .option('--gpg <pubkey.asc>', 'encrypt to this OpenPGP public key (armored)')
    .option('--out <dir>', 'where to write the file', '.')
    .option('--json', 'machine-readable output (without the file content)')
    .action(async (t: Target & Json & { passwordFile?: string; gpg?: string; out: string }) => {
      if (t.passwordFile !== undefined && t.gpg !== undefined) fail('give --password-file or --gpg, not both');
      const body = { password: passwordOf(t.passwordFile), gpg_public_key: t.gpg === undefined ? undefined : readText(t.gpg, 'public key') };
      const r = (await callOp(t, 'POST', '/config/export', { body, timeoutMs: 120_000 })).body as z.infer<typeof ExportReply>;
      const path = join(t.out, r.name);
      try { writeFileSync(path, Buffer.from(r.content_base64, 'base64'), { mode: 0o600, flag: 'wx' }); } catch (err) { fail(`cannot write ${path}: ${(err as Error).message}`); }
      for (const w of r.warnings) process.stderr.write(`tandem: warning: ${w}\n`);
      const { content_base64: _content, ...rest } = r;
      print(t.json, { ...rest, path }, () => `exported (${r.sealing}${r.secrets ? ', with the secrets' : ', without secrets'}): ${path} (${String(r.bytes)} bytes, sha256 ${r.sha256})`);
    });

  withTarget(configCmd.command('import <file>'))
    .description('import an export: checked, migrated, the difference shown, applied; restored by itself unless confirmed in time (tandem config confirm)')
    .option('--password-file <file>', 'the password of an encrypted export (or the passphrase of --gpg-key)')
    .option('--gpg-key <secret.asc>', 'the OpenPGP private key of a -gpg export (armored)')
    .addOption(new Option('--confirm-timeout <s>', 'seconds to confirm before the previous configuration is restored').argParser(Number).default(120))
    .option('--dry-run', 'check and show the difference only')
    .option('--json', 'machine-readable output')
    .action(async (file: string, t: Target & Json & { passwordFile?: string; gpgKey?: string; confirmTimeout: number; dryRun?: boolean }) => {
      const staged = await upload(t, '/config/import/file', file) as z.infer<typeof StageReply>;
      const body = {
        file: staged.file, password: passwordOf(t.passwordFile), gpg_private_key: t.gpgKey === undefined ? undefined : readText(t.gpgKey, 'private key'),
        confirm_timeout_s: t.confirmTimeout, dry_run: t.dryRun === true,
      };
      const r = (await callOp(t, 'POST', '/config/import', { body, timeoutMs: 120_000 })).body as z.infer<typeof ImportReply>;
      print(t.json, r, () => [
        `export of node ${r.from.node}, ${r.from.exported_at}, Tandem ${r.from.firmware} (schema ${String(r.from.schema)})`,
        ...r.migrations.map((m) => `migrated: ${m}`),
        ...(r.diff.length === 0 ? ['no difference'] : ['difference:', ...r.diff.map((l) => `  ${l}`)]),
        ...r.messages,
      ].join('\n'));
      if (!r.ok) process.exit(1);
    });

  withTarget(configCmd.command('confirm'))
    .description('keep an imported configuration (otherwise its snapshot is restored when the time limit passes)')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const r = (await callOp(t, 'POST', '/config/import/confirm')).body as ActionReply;
      print(t.json, r, () => r.messages.join('\n'));
    });

  const license = program.command('license').description('the license (SPEC §5): install, show; sign (the vendor\'s tool)');
  withTarget(license.command('install <file>'))
    .description('install a license: the signed file, or a .zip holding it (verified against license.vendor_keys)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, t: Target & Json) => {
      const r = await upload(t, '/license', file) as LicenseView & { messages: string[] };
      print(t.json, r, () => [...r.messages, ...r.warnings.map((w) => `warning: ${w}`)].join('\n'));
    });
  withTarget(license.command('show'))
    .description('the license: customer, serial, limit, valid from / to, LTS releases, warnings')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const v = (await callOp(t, 'GET', '/license')).body as LicenseView;
      print(t.json, v, () => formatLicense(v));
    });
  license.command('sign')
    .description('make a signed license (the vendor\'s tool; a key from tandem firmware keygen)')
    .requiredOption('--key <file>', 'the vendor\'s Ed25519 private key (PEM PKCS#8, mode 0600)')
    .requiredOption('--customer <name>', 'Customer')
    .requiredOption('--serial <serial>', 'Serial')
    .addOption(new Option('--limit-type <type>', 'Limit type').choices(['hosts', 'sessions']).makeOptionMandatory())
    .requiredOption('--limit <n>', 'Limit', Number)
    .requiredOption('--valid-from <date>', 'first valid day (YYYY-MM-DD, UTC)')
    .requiredOption('--valid-to <date>', 'last valid day (YYYY-MM-DD, UTC)')
    .option('--lts <lines>', 'LTS release lines the license is issued for, comma-separated (e.g. 2.4,3.0)', '')
    .requiredOption('--out <file>', 'where to write the license (.lic; .zip: inside a zip archive)')
    .action(async (o: { key: string; customer: string; serial: string; limitType: 'hosts' | 'sessions'; limit: number; validFrom: string; validTo: string; lts: string; out: string }) => {
      const { loadSigningKey, KeyError } = await import('../adapters/firmware/keys.js');
      const { signLicense, LicenseFieldsSchema } = await import('../adapters/license/format.js');
      const { fieldProblems } = await import('../core/license.js');
      let key;
      try { key = loadSigningKey(o.key).key; } catch (err) { if (err instanceof KeyError) fail(err.message); throw err; }
      const parsed = LicenseFieldsSchema.safeParse({
        customer: o.customer, serial: o.serial, limit_type: o.limitType, limit: o.limit, valid_from: o.validFrom, valid_to: o.validTo,
        lts_releases: o.lts.split(',').map((s) => s.trim()).filter((s) => s !== ''),
      });
      if (!parsed.success) fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
      const problems = fieldProblems(parsed.data);
      if (problems.length > 0) fail(problems.join('\n'));
      const doc = signLicense(parsed.data, key);
      if (o.out.endsWith('.zip')) {
        const { ZipFile } = await import('yazl');
        const zip = new ZipFile();
        zip.addBuffer(doc, 'license.lic');
        zip.end();
        const chunks: Buffer[] = [];
        for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
        writeFileSync(o.out, Buffer.concat(chunks));
      } else {
        writeFileSync(o.out, doc);
      }
      console.log(`license ${parsed.data.serial} for ${parsed.data.customer} written to ${o.out}`);
    });
}

function formatLicense(v: LicenseView): string {
  if (!v.installed) return 'no license is installed';
  if (v.license === null) return `the installed license is not valid\n${v.warnings.join('\n')}`;
  const l = v.license;
  return [
    `Customer     ${l.customer}`,
    `Serial       ${l.serial}`,
    `Limit type   ${l.limit_type}`,
    `Limit        ${String(l.limit)}`,
    `Valid from   ${l.valid_from}`,
    `Valid to     ${l.valid_to}${v.days_left === null ? '' : ` (${String(v.days_left)} days left)`}`,
    `LTS releases ${l.lts_releases.join(', ') || 'none'}`,
    `State        ${v.state} (vendor key ${v.key_id ?? '?'})`,
    ...v.warnings.map((w) => `warning: ${w}`),
  ].join('\n');
}
