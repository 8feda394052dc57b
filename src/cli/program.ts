/**
 * The `tandem` command line as a commander program: the node, the operator commands (through the
 * node's control socket, or a remote node's HTTPS API with --url), and the simulation demo.
 * bin: tandem.ts; the CLI/API parity test walks the same program.
 */
import { Command, Option } from 'commander';
import type { ActionReply, ControlAction } from '../adapters/control/protocol.js';
import type { NodeStatus } from '../core/ha/status.js';
import { TIMING_PROFILE_NAMES, type TimingProfileName } from '../core/timing.js';
import { addRemoteOptions, callOp, fail, useRemote, withTarget, type Remote, type Target } from './common.js';
import { registerBackupCommands } from './backup.js';
import { registerBundleCommands } from './firmware-bundle.js';
import { registerClusterUpgrade, registerFirmwareCommands } from './firmware.js';
import { registerSettingsCommands } from './settings.js';
import { registerUserCommands } from './users.js';
import { formatStatus } from './format.js';
import { registerMonitorCommands } from './monitor.js';
import { registerSupportCommands } from './support.js';
import { registerConsoleCommand } from './console.js';

async function act(t: Target & { json?: boolean }, action: ControlAction): Promise<void> {
  // A barrier may wait up to its own timeout; every other action answers at once.
  const timeoutMs = action.type === 'barrier' ? action.timeout_ms + 5000 : 5000;
  printReply(t, (await callOp(t, 'POST', '/action', { body: action, timeoutMs })).body as ActionReply);
}

function printReply(t: { json?: boolean }, reply: ActionReply): void {
  if (t.json === true) console.log(JSON.stringify(reply, null, 2));
  else for (const m of reply.messages) console.log(m);
  if (!reply.ok) process.exit(1);
}


/** Every command of `tandem`. */
export function buildProgram(): Command {
  const program = addRemoteOptions(new Command()
    .name('tandem')
    .description('Tandem: two Linux machines, one highly available appliance')
    .showHelpAfterError());
  useRemote(() => program.opts<Remote>());

  withTarget(program.command('node'))
    .description('run the node in the foreground: boots the firmware slot to run (on trial after an upgrade) and supervises its daemon')
    .action(async (t: Target) => {
      // Loaded on demand: the operator commands start faster without the launcher's modules.
      const { LauncherError, runLauncher } = await import('../app/firmware/launcher.js');
      try {
        await runLauncher({ configFile: t.config, nodeName: t.node });
      } catch (err) {
        if (err instanceof LauncherError) fail(err.message);
        throw err;
      }
    });

  withTarget(program.command('daemon'))
    .description('run this installation\'s node daemon directly, without slot selection (`tandem node` runs it for the slot it boots)')
    .action(async (t: Target) => {
      const { ConfigRefused, runNodeDaemon } = await import('../app/node-daemon.js');
      try {
        await runNodeDaemon({ configFile: t.config, nodeName: t.node });
      } catch (err) {
        if (err instanceof ConfigRefused) fail(`configuration refused:\n${err.message}`);
        throw err;
      }
    });

  withTarget(program.command('status'))
    .description('cluster, node, next-hop and sync status of this node (--other: of the other node, asked over the HA link)')
    .option('--other', 'the other node')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & { json?: boolean; other?: boolean }) => {
      const r = await callOp(t, 'GET', t.other === true ? '/peer/status' : '/status');
      if (t.json === true) console.log(JSON.stringify(r.body, null, 2));
      else console.log(formatStatus(r.body as NodeStatus));
    });

  withTarget(program.command('takeover'))
    .description('make this node the primary (planned handover); --other: make the other node the primary (this node hands over to it)')
    .option('--other', 'the other node takes over (asked over the HA link)')
    .option('--force', 'take over even if the node taking over is not in sync: data not yet synchronized to it will be lost')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & { force?: boolean; other?: boolean; json?: boolean }) => {
      if (t.other !== true) { await act(t, { type: 'takeover', force: t.force === true }); return; }
      printReply(t, (await callOp(t, 'POST', '/peer/takeover', { body: { force: t.force === true }, timeoutMs: 10_000 })).body as ActionReply);
    });

  for (const kind of ['reboot', 'shutdown'] as const) {
    withTarget(program.command(kind))
      .description(`${kind} this node (a primary hands over first) or, with --other, the other node`)
      .option('--other', 'the other node')
      .option('--json', 'machine-readable output')
      .action((t: Target & { other?: boolean; json?: boolean }) => act(t, { type: kind, target: t.other === true ? 'other' : 'this' }));
  }

  withTarget(program.command('reload'))
    .description('re-read the configuration and apply it live (next hops, timing)')
    .action((t: Target) => act(t, { type: 'reload' }));

  const cluster = program.command('cluster').description('cluster-wide actions');
  registerClusterUpgrade(cluster);
  withTarget(cluster.command('reboot'))
    .description('reboot both nodes, the secondary first, with one planned handover')
    .action((t: Target) => act(t, { type: 'reboot-cluster' }));
  withTarget(cluster.command('convert'))
    .description('Convert to Cluster: this standalone node becomes the first node of a cluster (the configuration must name the peer)')
    .action((t: Target) => act(t, { type: 'convert-to-cluster' }));
  withTarget(cluster.command('join'))
    .description("Join HA: adopt the reachable peer's cluster and become its secondary")
    .action((t: Target) => act(t, { type: 'join-ha' }));
  withTarget(cluster.command('resolve-split-brain'))
    .description("keep one node's data after a split brain; the other node's data are set aside and it resyncs")
    .addOption(new Option('--keep <node>', 'whose data to keep').choices(['this', 'other']).makeOptionMandatory())
    .action((t: Target & { keep: 'this' | 'other' }) => act(t, { type: 'resolve-split-brain', keep: t.keep }));
  const data = program.command('data').description('synchronized data (SPEC §3)');
  withTarget(data.command('barrier'))
    .description('return once everything written before is stored on the secondary (exit 1 if not within the timeout)')
    .option('--timeout <ms>', 'give up after this long', (v) => Number.parseInt(v, 10), 30_000)
    .option('--json', 'machine-readable output')
    .action((t: Target & { timeout: number; json?: boolean }) => act(t, { type: 'barrier', timeout_ms: t.timeout }));

  withTarget(cluster.command('clear-flap-hold'))
    .description('re-enable next-hop switching held by the flap limiter')
    .action((t: Target) => act(t, { type: 'clear-flap-hold' }));

  const configCmd = program.command('config').description('the configuration file: check, migrate (SPEC §4–5)');
  withTarget(configCmd.command('check'))
    .description("validate the configuration file as this firmware reads it (older schemas migrated in memory); nothing is written")
    .option('--json', 'machine-readable output')
    .action(async (t: Target & { json?: boolean }) => {
      const { checkConfigFile } = await import('../app/config-tools.js');
      const r = checkConfigFile(t.config, t.node);
      if (t.json === true) console.log(JSON.stringify(r, null, 2));
      else console.log(r.ok ? `ok: ${r.summary}` : r.errors.join('\n'));
      if (!r.ok) process.exit(1);
    });
  withTarget(configCmd.command('migrate'))
    .description('rewrite the configuration file in the schema this firmware reads (comments kept; atomic)')
    .action(async (t: Target) => {
      const { migrateConfigFile } = await import('../app/config-tools.js');
      const r = migrateConfigFile(t.config, t.node);
      if (!r.ok) fail(r.errors.join('\n'));
      console.log(r.summary);
    });

  registerBackupCommands(program, configCmd);

  const firmware = program.command('firmware').description('firmware (SPEC §4): slots, upload, notes, Test, After reboot; signing keys, build, verify');
  registerBundleCommands(firmware);
  registerFirmwareCommands(program, firmware);
  registerUserCommands(program);
  registerSettingsCommands(program);
  registerMonitorCommands(program);
  registerSupportCommands(program);
  registerConsoleCommand(program);

  program
    .command('simulate')
    .description('run the HA core on a simulated two-node network and narrate what it decides')
    .addOption(new Option('--profile <name>', 'timing profile').choices(TIMING_PROFILE_NAMES).default('default'))
    .action(async (opts: { profile: TimingProfileName }) => {
      const { runDemo } = await import('../sim/demo.js');
      runDemo(opts.profile, (line) => { console.log(line); });
    });
  return program;
}

