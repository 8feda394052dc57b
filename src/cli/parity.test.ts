/**
 * CLI and API parity: every operation of the table (but the ones only the other node calls) has
 * a `tandem` command, and every operator command of the CLI is an operation — so what the web
 * console and the API can do, the CLI can, and the other way round. A new operation or command
 * without its counterpart fails here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { OPERATIONS } from '../app/api/operations.js';
import { buildProgram } from './program.js';

/** Operation id → the commands that call it. */
const CLI_OF: Readonly<Record<string, readonly string[]>> = {
  status: ['status'],
  peerStatus: ['status'],
  peerFirmwareList: ['firmware list'],
  peerTakeover: ['takeover'],
  settings: ['settings show'],
  settingsChange: ['settings set'],
  action: ['takeover', 'reboot', 'shutdown', 'reload', 'cluster reboot', 'cluster convert', 'cluster join', 'cluster resolve-split-brain', 'cluster clear-flap-hold', 'data barrier'],
  firmwareList: ['firmware list'],
  firmwareUpload: ['firmware upload', 'firmware install'],
  firmwareChecklist: ['firmware checklist'],
  firmwareNotes: ['firmware notes'],
  firmwareTest: ['firmware test'],
  firmwareActivate: ['firmware activate'],
  firmwareActivatePrevious: ['firmware activate'],
  firmwareDelete: ['firmware delete'],
  clusterUpgrade: ['cluster upgrade'],
  clusterUpgradeState: ['cluster upgrade'],
  clusterUpgradeAbort: ['cluster upgrade'],
  userList: ['user list'],
  userAdd: ['user add'],
  userPassword: ['user passwd'],
  userDelete: ['user delete'],
  tokenCreate: ['user token'],
  tokenList: ['user tokens'],
  tokenRevoke: ['user revoke'],
  auditLog: ['audit'],
  version: ['version'],
  monitor: ['monitor'],
  alertList: ['alerts list'],
  alertTest: ['alerts test'],
  configExport: ['config export'],
  configImportFile: ['config import'],
  configImport: ['config import'],
  configImportConfirm: ['config confirm'],
  licenseShow: ['license show'],
  licenseInstall: ['license install'],
  coreList: ['core list'],
  coreGet: ['core get'],
  coreDelete: ['core delete'],
  supportBundle: ['support-bundle'],
};

/** Commands that work on this machine's files or processes, not on a node's operations. */
const LOCAL = new Set(['node', 'daemon', 'simulate', 'config check', 'config migrate', 'firmware keygen', 'firmware build', 'firmware verify', 'license sign']);

/** Front ends over the operations above, like the web console: `tandem console` (the terminal menu) calls them, it is none itself. */
const FRONT_ENDS = new Set(['console']);

function leaves(cmd: Command, prefix: string[] = []): string[] {
  return cmd.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    return c.commands.length === 0 ? [path.join(' ')] : leaves(c, path);
  }).filter((n) => n !== 'help');
}

describe('CLI and API parity', () => {
  const commands = leaves(buildProgram());

  it('every operation has a tandem command, and the table names only real commands', () => {
    const ops = OPERATIONS.filter((o) => o.internal !== true).map((o) => o.id).sort();
    assert.deepEqual(Object.keys(CLI_OF).sort(), ops, 'operations without a command (or stale entries)');
    for (const [op, cmds] of Object.entries(CLI_OF)) for (const c of cmds) assert.ok(commands.includes(c), `${op}: no command "${c}"`);
  });

  it('every operator command is an operation', () => {
    const covered = new Set(Object.values(CLI_OF).flat());
    assert.deepEqual(commands.filter((c) => !covered.has(c) && !LOCAL.has(c) && !FRONT_ENDS.has(c)), [], 'commands that reach no operation');
  });

  // A download's reply is a file, not a state to print: --out, not --json.
  it('every read has --json', () => {
    const program = buildProgram();
    const find = (path: string): Command | undefined => path.split(' ').reduce<Command | undefined>((c, name) => c?.commands.find((x) => x.name() === name), program);
    const reads = OPERATIONS.filter((o) => o.method === 'GET' && o.internal !== true && o.download !== true).flatMap((o) => CLI_OF[o.id] ?? []);
    for (const c of new Set(reads)) {
      if (c === 'cluster upgrade') continue; // it follows a plan (progress lines), it has no state to print once
      assert.ok(find(c)?.options.some((o) => o.long === '--json'), `${c} has no --json`);
    }
  });
});
