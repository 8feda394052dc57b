/**
 * `tandem firmware list | upload | notes | test | activate | delete | install` and
 * `tandem version`: the seed's "Basic Settings > System > Firmwares" and "Version details" on
 * the command line, through the node's operations (the local control socket or a remote API).
 */
import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { ActionReply } from '../adapters/control/protocol.js';
import { call } from '../adapters/control/client.js';
import { checklistLine } from '../core/firmware/checklist.js';
import type { ActivateReply, Checklist, FirmwareList, Notes, TestReport, UpgradeState, UploadResult, Versions } from '../app/firmware/schemas.js';
import type { z } from 'zod';
import { callOp, endpointOf, fail, print, withTarget, type Target } from './common.js';
import { formatList, formatTest, formatVersions } from './format.js';

type Json = { json?: boolean };
type Flags = { override?: boolean; reinstall?: boolean };

const slotArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`SLOT must be a slot number (0–5), not ${v}`);
  return n;
};

export function registerFirmwareCommands(program: Command, firmware: Command): void {
  withTarget(firmware.command('list'))
    .description('the firmware slots: version, type, published, current, after reboot, state (--other: of the other node)')
    .option('--other', 'the other node (asked over the HA link)')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json & { other?: boolean }) => {
      const list = (await callOp(t, 'GET', t.other === true ? '/peer/firmware' : '/firmware')).body as z.infer<typeof FirmwareList>;
      print(t.json, list, () => formatList(list));
    });

  withTarget(firmware.command('upload <file>'))
    .description('upload a signed firmware bundle into a free slot (verified while it streams)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, t: Target & Json) => {
      const r = await upload(t, file);
      print(t.json, r, () => `uploaded: Tandem ${r.version} (${r.type}) in slot ${String(r.slot)}, signed by key ${r.key_id}`);
    });

  withTarget(firmware.command('notes <slot>'))
    .description("a slot's upgrade notes")
    .option('--json', 'machine-readable output')
    .action(async (slot: string, t: Target & Json) => {
      const n = (await callOp(t, 'GET', `/firmware/${String(slotArg(slot))}/notes`)).body as z.infer<typeof Notes>;
      print(t.json, n, () => `Upgrade notes of Tandem ${n.version} (slot ${String(n.slot)}):\n${n.notes === '' ? '(none)' : n.notes}`);
    });

  withFlags(withTarget(firmware.command('test <slot>')))
    .description('Test a slot: every check on its own line (signature, policy, disk, configuration, tainted, license, HA protocol); changes nothing')
    .option('--json', 'machine-readable output')
    .action(async (slot: string, t: Target & Json & Flags) => {
      const r = await test(t, slotArg(slot));
      print(t.json, r, () => formatTest(r));
      if (!r.ok) process.exit(1);
    });

  withFlags(withTarget(firmware.command('activate <slot>')))
    .description('After reboot: boot this slot (or "previous": the firmware this node ran before the current one) on trial at the next start (its Test must pass)')
    .option('--json', 'machine-readable output')
    .action(async (slot: string, t: Target & Json & Flags) => {
      const r = slot === 'previous' ? await activatePrevious(t) : await activate(t, slotArg(slot));
      print(t.json, r, () => [...(r.ok || r.report === null ? [] : [formatTest(r.report)]), ...r.messages].join('\n'));
      if (!r.ok) process.exit(1);
    });

  withTarget(firmware.command('delete <slot>'))
    .description('delete a slot (never the current, the after-reboot or the committed one)')
    .option('--json', 'machine-readable output')
    .action(async (slot: string, t: Target & Json) => {
      const r = (await callOp(t, 'DELETE', `/firmware/${String(slotArg(slot))}`)).body as ActionReply;
      print(t.json, r, () => r.messages.join('\n'));
    });

  withFlags(withTarget(firmware.command('install <file>')))
    .description('without the web interface (e.g. over SSH): upload, show the notes, Test, After reboot, and with --reboot reboot')
    .option('--reboot', 'reboot this node once the firmware is selected (a primary hands over first)')
    .option('--ack <items>', 'checklist items confirmed (comma-separated ids, or all)')
    .action(async (file: string, t: Target & Flags & { reboot?: boolean; ack?: string }) => {
      for (const i of (await checklist(t, t.ack)).items) console.log(`checklist: ${checklistLine(i)}`);
      const up = await upload(t, file);
      console.log(`uploaded: Tandem ${up.version} (${up.type}) in slot ${String(up.slot)}`);
      const n = (await callOp(t, 'GET', `/firmware/${String(up.slot)}/notes`)).body as z.infer<typeof Notes>;
      console.log(`Upgrade notes:\n${n.notes === '' ? '(none)' : n.notes}`);
      const r = await activate(t, up.slot);
      if (r.report !== null) console.log(formatTest(r.report));
      for (const m of r.messages) console.log(m);
      if (!r.ok) process.exit(1);
      if (t.reboot !== true) { console.log('not rebooted (add --reboot, or run tandem reboot)'); return; }
      const reboot = (await callOp(t, 'POST', '/action', { body: { type: 'reboot', target: 'this' } })).body as ActionReply;
      for (const m of reboot.messages) console.log(m);
      if (!reboot.ok) process.exit(1);
    });

  withTarget(firmware.command('checklist'))
    .description('the upgrade checklist: configuration backup, System Monitor, HA not degraded, core files, VM snapshot')
    .option('--ack <items>', 'confirm what cannot be checked here: comma-separated ids, or all')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json & { ack?: string }) => {
      const r = await checklist(t, t.ack);
      print(t.json, r, () => r.items.map(checklistLine).join('\n'));
    });

  withTarget(program.command('version'))
    .description('Version details: per node version, release type, support end, supported or not and why, tainted or not')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const v = (await callOp(t, 'GET', '/version', { timeoutMs: 60_000 })).body as z.infer<typeof Versions>;
      print(t.json, v, () => formatVersions(v));
    });
}

const withFlags = (cmd: Command): Command => cmd
  .option('--override', 'allow a downgrade or a Feature Release → LTS move (recorded for good: the node is then unsupported)')
  .option('--reinstall', 'allow installing the running version again');

async function checklist(t: Target, ack: string | undefined): Promise<z.infer<typeof Checklist>> {
  const q = ack === undefined ? '' : `?ack=${encodeURIComponent(ack)}`;
  return (await callOp(t, 'GET', `/firmware/checklist${q}`)).body as z.infer<typeof Checklist>;
}

const flagsOf = (t: Flags): { override: boolean; reinstall: boolean } => ({ override: t.override === true, reinstall: t.reinstall === true });

/** Tests run the target's own code and hash every file: they get a minute. */
export const TEST_TIMEOUT_MS = 120_000;

async function test(t: Target & Flags, slot: number): Promise<z.infer<typeof TestReport>> {
  return (await callOp(t, 'POST', `/firmware/${String(slot)}/test`, { body: flagsOf(t), timeoutMs: TEST_TIMEOUT_MS })).body as z.infer<typeof TestReport>;
}

async function activate(t: Target & Flags, slot: number): Promise<z.infer<typeof ActivateReply>> {
  return (await callOp(t, 'POST', `/firmware/${String(slot)}/activate`, { body: flagsOf(t), timeoutMs: TEST_TIMEOUT_MS })).body as z.infer<typeof ActivateReply>;
}

async function activatePrevious(t: Target & Flags): Promise<z.infer<typeof ActivateReply>> {
  return (await callOp(t, 'POST', '/firmware/previous/activate', { body: flagsOf(t), timeoutMs: TEST_TIMEOUT_MS })).body as z.infer<typeof ActivateReply>;
}

/** Streams the file; a progress bar on a terminal, plain lines otherwise (both on stderr). */
async function upload(t: Target, file: string): Promise<z.infer<typeof UploadResult>> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    fail(`cannot read ${file}: ${(err as Error).message}`);
  }
  const tty = process.stderr.isTTY;
  let shown = -1;
  const onSent = (sent: number): void => {
    const pct = size === 0 ? 100 : Math.floor((sent / size) * 100);
    if (tty) {
      const width = 30;
      const full = Math.round((pct / 100) * width);
      process.stderr.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(pct).padStart(3)} % ${mib(sent)} of ${mib(size)}`);
      if (sent === size) process.stderr.write('\n');
    } else if (pct >= shown + 10 || sent === size) {
      shown = pct - (pct % 10);
      process.stderr.write(`sent ${String(pct)} % (${mib(sent)} of ${mib(size)})\n`);
    }
  };
  const r = await callOp(t, 'POST', '/firmware', {
    upload: { stream: createReadStream(file, { highWaterMark: 1024 * 1024 }), size },
    onSent,
    onProgress: (line) => { process.stderr.write(`${tty ? '\n' : ''}node: ${line}\n`); },
    timeoutMs: 120_000,
  });
  return r.body as z.infer<typeof UploadResult>;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/** How long `cluster upgrade` follows a plan whose node does not answer (its own reboot). */
const FOLLOW_QUIET_MS = 15 * 60_000;

export function registerClusterUpgrade(cluster: Command): void {
  withFlags(withTarget(cluster.command('upgrade [slot]')))
    .description('upgrade both nodes to SLOT (run on the primary): Test on each, the secondary first, one planned handover, then this node; progress followed live')
    .option('--follow', 'follow the running (or last) cluster upgrade')
    .option('--abort', 'end the running cluster upgrade (each node keeps the firmware it runs)')
    .option('--ack <items>', 'checklist items confirmed (comma-separated ids, or all)')
    .action(async (slot: string | undefined, t: Target & Flags & { follow?: boolean; abort?: boolean; ack?: string }) => {
      if (t.abort === true) {
        const r = (await callOp(t, 'POST', '/cluster/upgrade/abort')).body as ActionReply;
        console.log(r.messages.join('\n'));
        if (!r.ok) process.exit(1);
        return;
      }
      let last: string | null = null;
      if (t.follow !== true) {
        if (slot === undefined) fail('name the SLOT to upgrade to (tandem firmware list), or --follow');
        try {
          const r = await call(await endpointOf(t), 'POST', '/cluster/upgrade', {
            body: { slot: slotArg(slot), ...flagsOf(t), ack: (t.ack ?? '').split(',').filter((x) => x !== '') },
            onProgress: (line) => { console.log(line); last = line; },
            timeoutMs: FOLLOW_QUIET_MS,
          });
          if (r.status >= 400) fail(((r.body as { messages?: string[] }).messages ?? []).join('\n'));
        } catch {
          // The node ended the stream: it is rebooting into the new firmware. Follow from its plan.
        }
      }
      process.exit(await follow(t, last) ? 0 : 1);
    });
}

/** Prints the plan's lines after `last` until the plan ends; true when it succeeded. */
async function follow(t: Target, last: string | null): Promise<boolean> {
  let printedUpTo: number | null = null;
  let quietSince = Date.now();
  for (;;) {
    let state: z.infer<typeof UpgradeState> | null = null;
    try {
      const r = await call(await endpointOf(t), 'GET', `/cluster/upgrade?from=0`, { timeoutMs: 5000 });
      if (r.status < 400) state = r.body as z.infer<typeof UpgradeState>;
    } catch { /* rebooting */ }
    if (state === null) {
      if (Date.now() - quietSince > FOLLOW_QUIET_MS) fail('the node did not answer for 15 minutes');
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    quietSince = Date.now();
    if (state.plan === null) fail('no cluster upgrade has run on this node');
    if (printedUpTo === null) {
      const at = last === null ? -1 : state.lines.lastIndexOf(last);
      printedUpTo = at + 1;
    }
    for (const line of state.lines.slice(printedUpTo)) console.log(line);
    printedUpTo = state.lines.length;
    if (!state.active) return state.plan.phase === 'done';
    await new Promise((r) => setTimeout(r, 1000));
  }
}
