/**
 * `tandem settings [show] | set`: the High Availability settings the web console edits — next
 * hops per interface (this node, the other node), redundant heartbeat interfaces, the resync rate
 * limit — checked by the configuration loader and applied live.
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import type { ConfigChangeReply, ConfigView } from '../app/config-edit.js';
import { callOp, fail, print, withTarget, type Target } from './common.js';

type Json = { json?: boolean };
const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** `ext0=192.0.2.1,192.0.2.2` → [ext0, [addresses]]; `ext0=` removes the next hops. */
function hop(spec: string): [string, string[]] {
  const m = /^([^=]+)=(.*)$/.exec(spec);
  if (m === null) fail(`${spec}: write INTERFACE=ADDRESS[,ADDRESS…] (INTERFACE= for none)`);
  return [m[1] ?? '', (m[2] ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '')];
}

export function registerSettingsCommands(program: Command): void {
  const settings = program.command('settings').description('the High Availability settings: next hops, redundant heartbeat, resync rate limit');
  withTarget(settings.command('show', { isDefault: true }))
    .description('next hops per interface of this node and the other node, heartbeat interfaces, resync rate limit')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const v = (await callOp(t, 'GET', '/settings')).body as z.infer<typeof ConfigView>;
      print(t.json, v, () => [
        `Next hop monitoring (this node ${v.node}${v.other_node === null ? '' : `, other node ${v.other_node}`}):`,
        ...v.interfaces.map((i) => `  ${i.interface.padEnd(8)} this node ${i.this_node.next_hops.join(', ') || '-'}; other node ${i.other_node?.next_hops.join(', ') || '-'}${i.ha_link ? ' (HA link)' : ''}`),
        `Redundant heartbeat interfaces: ${v.heartbeat.join(', ') || 'none'}`,
        `Resync rate limit: ${v.resync_rate_mbit === 0 ? 'unlimited' : `${String(v.resync_rate_mbit)} Mbit/s`}`,
      ].join('\n'));
    });
  withTarget(settings.command('set'))
    .description('change them: checked by the configuration loader (its messages), applied live, followed by the other node')
    .option('--next-hop <iface=addr,…>', "this node's next hops on an interface (repeatable; iface= for none)", collect)
    .option('--other-next-hop <iface=addr,…>', "the other node's next hops on an interface (repeatable)", collect)
    .option('--heartbeat <ifaces>', 'redundant heartbeat interfaces, comma-separated ("" for none)')
    .option('--address <iface=addr/prefix>', "this node's address on an interface, e.g. the HA link (repeatable; takes effect at the restart)", collect)
    .option('--resync-rate <mbit>', 'full-resync rate limit, Mbit/s (0 = unlimited)', Number)
    .option('--dry-run', 'check only')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json & { nextHop?: string[]; otherNextHop?: string[]; address?: string[]; heartbeat?: string; resyncRate?: number; dryRun?: boolean }) => {
      const rows = new Map<string, { interface: string; this_node: string[]; other_node?: string[] }>();
      const current = (await callOp(t, 'GET', '/settings')).body as z.infer<typeof ConfigView>;
      const row = (iface: string) => {
        const known = current.interfaces.find((i) => i.interface === iface);
        const r = rows.get(iface) ?? { interface: iface, this_node: known?.this_node.next_hops ?? [] };
        rows.set(iface, r);
        return r;
      };
      for (const spec of t.nextHop ?? []) { const [i, a] = hop(spec); row(i).this_node = a; }
      for (const spec of t.otherNextHop ?? []) { const [i, a] = hop(spec); row(i).other_node = a; }
      const body = {
        ...(rows.size === 0 ? {} : { next_hops: [...rows.values()] }),
        ...(t.address === undefined ? {} : { addresses: t.address.map((spec) => { const [i, a] = hop(spec); return { interface: i, address: a.join(',') }; }) }),
        ...(t.heartbeat === undefined ? {} : { heartbeat: t.heartbeat.split(',').filter((x) => x !== '') }),
        ...(t.resyncRate === undefined ? {} : { resync_rate_mbit: t.resyncRate }),
        dry_run: t.dryRun === true,
      };
      const r = (await callOp(t, 'PUT', '/settings', { body })).body as z.infer<typeof ConfigChangeReply>;
      print(t.json, r, () => [...r.errors.map((e) => `${e.field}: ${e.reason}`), ...r.messages].join('\n'));
      if (!r.ok) process.exit(1);
    });
}
