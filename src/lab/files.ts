/**
 * The files a lab writes into its directory: the cluster configuration (issue 3's format), the
 * shared key, the hook scripts. Pure text builders plus one function that writes them all.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TimingProfileName } from '../core/timing.js';
import { NEXT_HOPS, NODE_ADDRESSES, NODES, VIP_CIDR, type NodeName } from './topology.js';

export interface LabFileParams {
  readonly id: string;
  /** Absolute lab directory. */
  readonly dir: string;
  /** Absolute repository root (where dist/ lives). */
  readonly repoRoot: string;
  readonly timing: TimingProfileName;
  /** The Node.js binary the lab's commands run with. */
  readonly nodeBinary: string;
  /** `sync.resync_rate_mbit` (0 = unlimited); the configuration's default when absent. */
  readonly resyncRateMbit?: number;
  /** The `firmware` section (trusted public key files, trial limits) and the license's vendor keys; left out when absent. */
  readonly firmware?: LabFirmware;
}

export interface LabFirmware {
  readonly trustedKeys?: readonly string[];
  readonly trialTimeoutS?: number;
  readonly trialAttempts?: number;
  /** `license.vendor_keys`: the public key files whose licenses the nodes accept (the Test's LTS check). */
  readonly licenseVendorKeys?: readonly string[];
}

export const CONFIG_FILE = 'cluster.yaml';
export const KEY_FILE = 'cluster.key';
export const HOOKS_LOG = 'hooks.log';

/** A YAML scalar: JSON strings are valid YAML double-quoted scalars. */
const q = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(q).join(', ')}]`;

export function stateDir(dir: string, node: NodeName): string { return join(dir, node); }
export function dataDir(dir: string, node: NodeName): string { return join(dir, `${node}-data`); }
export function hookPath(dir: string, event: 'primary' | 'secondary'): string { return join(dir, `on_${event}.sh`); }

/**
 * The command (argv) the cluster config runs to reboot (`restart`) or shut down (`stop`) the node
 * that runs it: `self` is the node whose namespace the command runs in (the config is the same
 * for both nodes, so it cannot name one).
 */
export function labCommand(p: LabFileParams, verb: 'restart' | 'stop'): string[] {
  return [p.nodeBinary, join(p.repoRoot, 'dist', 'lab', 'cli.js'), '--dir', p.dir, verb, 'self'];
}

export function clusterYaml(p: LabFileParams): string {
  const nodes = NODES.map((n) => {
    const a = NODE_ADDRESSES[n];
    return [
      `  ${n}:`,
      `    state_dir: ${q(stateDir(p.dir, n))}`,
      `    data_dir: ${q(dataDir(p.dir, n))}`,
      '    interfaces:',
      `      ha0:  { address: ${a.ha0} }`,
      `      ext0: { address: ${a.ext0}, next_hop: ${NEXT_HOPS.ext} }`,
      `      int0: { address: ${a.int0}, next_hop: ${NEXT_HOPS.int} }`,
    ].join('\n');
  });
  return [
    `# Tandem lab ${p.id}: written by \`npm run lab -- up\` (src/lab/files.ts). Same file for both nodes.`,
    'cluster:',
    '  name: lab',
    `  key_file: ${KEY_FILE}          # relative to this file; 0600, 32 random bytes`,
    '  ha_link: ha0',
    '  heartbeat: [ext0]',
    `  timing: ${p.timing}`,
    'service:',
    '  vips:',
    `    - { interface: ext0, address: ${VIP_CIDR} }`,
    `  on_primary: ${q(hookPath(p.dir, 'primary'))}`,
    `  on_secondary: ${q(hookPath(p.dir, 'secondary'))}`,
    'commands:                        # the lab restarts/stops the node process instead of the machine',
    `  reboot: ${list(labCommand(p, 'restart'))}`,
    `  shutdown: ${list(labCommand(p, 'stop'))}`,
    ...(p.resyncRateMbit === undefined ? [] : ['sync:', `  resync_rate_mbit: ${String(p.resyncRateMbit)}`]),
    ...firmwareYaml(p.firmware),
    'nodes:',
    ...nodes,
    '',
  ].join('\n');
}

function firmwareYaml(f: LabFirmware | undefined): string[] {
  if (f === undefined) return [];
  return [
    'firmware:',
    ...(f.trustedKeys === undefined ? [] : [`  trusted_keys: ${list(f.trustedKeys)}`]),
    ...(f.trialTimeoutS === undefined ? [] : [`  trial_timeout_s: ${String(f.trialTimeoutS)}`]),
    ...(f.trialAttempts === undefined ? [] : [`  trial_attempts: ${String(f.trialAttempts)}`]),
    ...(f.licenseVendorKeys === undefined ? [] : ['license:', `  vendor_keys: ${list(f.licenseVendorKeys)}`]),
  ];
}

/**
 * A hook script that appends `<ISO time> <node> <event>` to hooks.log. The node is $TANDEM_NODE
 * (set by the lab for the node process; inherited if the daemon passes its environment on),
 * else found from the network namespace the hook runs in.
 */
export function hookScript(p: LabFileParams, event: 'primary' | 'secondary'): string {
  return [
    '#!/bin/sh',
    `# on_${event} hook of Tandem lab ${p.id}: records that a node took the ${event} role.`,
    `node="\${TANDEM_NODE:-$(ip netns identify $$ 2>/dev/null | sed 's/^tdm${p.id}-//')}"`,
    `printf '%s %s ${event}\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "\${node:-?}" >> ${q(join(p.dir, HOOKS_LOG))}`,
    '',
  ].join('\n');
}

/** Writes the lab directory's files (mode 0700 dir, 0600 key, 0755 hooks). */
export function writeLabFiles(p: LabFileParams): void {
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  chmodSync(p.dir, 0o700);
  for (const n of NODES) {
    mkdirSync(stateDir(p.dir, n), { recursive: true, mode: 0o700 });
    mkdirSync(dataDir(p.dir, n), { recursive: true, mode: 0o700 });
  }
  const key = join(p.dir, KEY_FILE);
  writeFileSync(key, randomBytes(32), { mode: 0o600 });
  chmodSync(key, 0o600);
  for (const event of ['primary', 'secondary'] as const) {
    writeFileSync(hookPath(p.dir, event), hookScript(p, event), { mode: 0o755 });
  }
  writeFileSync(join(p.dir, HOOKS_LOG), '', { mode: 0o644 });
  writeFileSync(join(p.dir, CONFIG_FILE), clusterYaml(p), { mode: 0o644 });
}
