#!/usr/bin/env node
/**
 * The `tandem` command line: the node daemon, the operator commands (through the node's local
 * control socket), and the simulation demo.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { controlRequest, sendAction } from '../adapters/control/client.js';
import { CONTROL_SOCKET, type ControlAction } from '../adapters/control/protocol.js';
import { formatConfigError, loadConfig } from '../config/load.js';
import type { ReplicationStatus } from '../app/sync/service.js';
import type { NodeStatus } from '../core/ha/status.js';
import { TIMING_PROFILE_NAMES, type TimingProfileName } from '../core/timing.js';
import { registerBundleCommands } from './firmware-bundle.js';

interface Target { config: string; node: string }

const program = new Command()
  .name('tandem')
  .description('Tandem: two Linux machines, one highly available appliance')
  .showHelpAfterError();

const withTarget = (cmd: Command): Command => cmd
  .addOption(new Option('--config <file>', 'cluster configuration file').env('TANDEM_CONFIG').default('/etc/tandem/tandem.yaml'))
  .addOption(new Option('--node <name>', 'which node of the configuration this is').env('TANDEM_NODE').default(hostname()));

function fail(message: string): never {
  process.stderr.write(`tandem: ${message}\n`);
  process.exit(1);
}

function socketOf(t: Target): string {
  const loaded = loadConfig(t.config);
  if (!loaded.ok) fail(loaded.errors.map(formatConfigError).join('\n'));
  const node = loaded.config.nodes[t.node];
  if (node === undefined) fail(`node ${t.node} is not in ${t.config} (known: ${Object.keys(loaded.config.nodes).join(', ')})`);
  return join(node.stateDir, CONTROL_SOCKET);
}

async function act(t: Target & { json?: boolean }, action: ControlAction): Promise<void> {
  try {
    const reply = await sendAction(socketOf(t), action);
    if (t.json === true) console.log(JSON.stringify(reply, null, 2));
    else for (const m of reply.messages) console.log(m);
    if (!reply.ok) process.exit(1);
  } catch (err) {
    fail((err as Error).message);
  }
}

withTarget(program.command('node'))
  .description('run the node daemon in the foreground')
  .action(async (t: Target) => {
    // Loaded on demand: the operator commands start faster without the daemon's modules.
    const { ConfigRefused, runNodeDaemon } = await import('../app/node-daemon.js');
    try {
      await runNodeDaemon({ configFile: t.config, nodeName: t.node });
    } catch (err) {
      if (err instanceof ConfigRefused) fail(`configuration refused:\n${err.message}`);
      throw err;
    }
  });

withTarget(program.command('status'))
  .description('cluster, node, next-hop and sync status of this node')
  .option('--json', 'machine-readable output')
  .action(async (t: Target & { json?: boolean }) => {
    try {
      const r = await controlRequest(socketOf(t), 'GET', '/status');
      if (t.json === true) console.log(JSON.stringify(r.body, null, 2));
      else console.log(formatStatus(r.body as NodeStatus));
    } catch (err) {
      fail((err as Error).message);
    }
  });

withTarget(program.command('takeover'))
  .description('make this node the primary (planned handover)')
  .option('--force', 'take over even if this node is not in sync: data not yet synchronized will be lost')
  .option('--json', 'machine-readable output')
  .action((t: Target & { force?: boolean; json?: boolean }) => act(t, { type: 'takeover', force: t.force === true }));

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

const firmware = program.command('firmware').description('firmware bundles (SPEC §4): signing keys, build, verify');
registerBundleCommands(firmware);

program
  .command('simulate')
  .description('run the HA core on a simulated two-node network and narrate what it decides')
  .addOption(new Option('--profile <name>', 'timing profile').choices(TIMING_PROFILE_NAMES).default('default'))
  .action(async (opts: { profile: TimingProfileName }) => {
    const { runDemo } = await import('../sim/demo.js');
    runDemo(opts.profile, (line) => { console.log(line); });
  });

type SyncStatus = NodeStatus['sync'] & Partial<ReplicationStatus>;

function formatSync(s: SyncStatus): string {
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const parts: string[] = [s.state];
  if (s.progress !== undefined && s.progress !== null) parts.push(`${mib(s.progress.bytes_left)} and ${String(s.progress.files_left)} files left of ${mib(s.progress.bytes_total)} / ${String(s.progress.files_total)} files`);
  if (s.session !== undefined) parts.push(`session ${s.session}${s.direction === undefined || s.direction === null ? '' : ` (${s.direction})`}`);
  parts.push(`generation ${s.generation}`);
  const line = parts.join(', ');
  return s.refusing !== undefined && s.refusing !== null ? `${line}\n            RECEIVING NOTHING: ${s.refusing}` : line;
}

function formatStatus(s: NodeStatus): string {
  const yes = (b: boolean | null) => (b === null ? 'unknown' : b ? 'reachable' : 'UNREACHABLE');
  const lines = [
    `Cluster ${s.cluster.name}: ${s.cluster.status}${s.cluster.redundant_heartbeat === null ? '' : `, redundant heartbeat ${s.cluster.redundant_heartbeat}`} (timing ${s.cluster.timing})`,
    `This node   ${s.this_node.name}: ${s.this_node.role}${s.this_node.serving ? ' (serving)' : ''} — ${s.this_node.reason}`,
    s.other_node === null ? 'Other node  none configured'
      : `Other node  ${s.other_node.name}: ${s.other_node.role ?? 'unknown'}, ${s.other_node.reachable ? 'reachable' : 'NOT REACHABLE'}`,
    `Heartbeat   ${s.heartbeat_paths.map((p) => `${p.path}${p.ha_link ? ' (HA link)' : ''} ${p.up ? 'up' : 'DOWN'}`).join(', ')}`,
    'Next hops:',
    ...s.next_hops.map((n) => `  ${n.interface.padEnd(8)} this node ${n.this_node.address} ${yes(n.this_node.reachable)}; other node ${n.other_node.address ?? '-'} ${yes(n.other_node.reachable)}`),
    `Sync        ${formatSync(s.sync)}`,
  ];
  if (s.takeover_veto !== null) lines.push(`Takeover veto: ${s.takeover_veto}`);
  return lines.join('\n');
}

await program.parseAsync(process.argv);
