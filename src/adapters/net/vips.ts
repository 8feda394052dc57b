/**
 * The service addresses (VIPs) of this node, held on a lease.
 *
 * One long-running `ip -force -batch -` process per daemon takes the address commands on its
 * stdin: nothing is forked per refresh. Every VIP is added with a lifetime (valid_lft) and
 * refreshed well before it ends, so a daemon that is killed or frozen stops answering for the
 * service address within one lease — the kernel removes the address by itself — instead of
 * keeping it while the other node has taken over. Gratuitous ARP uses `arping -U` (a process per
 * role change, never per probe).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface Vip {
  readonly interface: string;
  readonly address: string;
  readonly prefix: number;
}

export interface VipManager {
  /** Adds the VIPs, keeps their lease fresh, and announces them (gratuitous ARP burst + repeat). */
  acquire(): void;
  /** Stops refreshing and deletes the VIPs. */
  release(): void;
  /** Gratuitous ARP again, e.g. after a partition healed. */
  announce(): void;
  close(): void;
}

export interface VipOptions {
  readonly vips: readonly Vip[];
  /** Lease of each VIP in whole seconds (the kernel's unit). */
  readonly leaseSeconds: number;
  readonly onError: (message: string) => void;
}

/**
 * When gratuitous ARPs are sent after taking the addresses: a burst right away (the first waits
 * for the `ip` batch to have configured the address), then a repeat after one second, for
 * neighbours that missed the burst or that ignored it within their ARP locktime (1 s by default).
 */
const GARP_BURST_MS = [20, 120, 320, 1100];
/** A re-announce (addresses already configured) needs no wait for the `ip` batch. */
const REANNOUNCE_MS = [0, 100, 300, 1100];

export function openVipManager(opts: VipOptions): VipManager {
  let ip: ChildProcessWithoutNullStreams | null = null;
  let refresh: NodeJS.Timeout | null = null;
  let timers: NodeJS.Timeout[] = [];

  const batch = (): ChildProcessWithoutNullStreams => {
    if (ip !== null && ip.exitCode === null) return ip;
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString().trim();
      // Deleting an address that is already gone is the normal case at start and after a lapse.
      if (text !== '' && !/Cannot assign requested address|Address not found/.test(text)) opts.onError(`ip: ${text}`);
    });
    child.on('error', (err) => { opts.onError(`ip -batch: ${err.message}`); });
    ip = child;
    return child;
  };
  const command = (line: string): void => { batch().stdin.write(`${line}\n`); };
  const lease = (): void => {
    for (const v of opts.vips) {
      command(`address replace ${v.address}/${String(v.prefix)} dev ${v.interface} valid_lft ${String(opts.leaseSeconds)} preferred_lft ${String(opts.leaseSeconds)}`);
    }
  };
  const garp = (): void => {
    for (const v of opts.vips) {
      // iputils arping takes whole seconds between packets, so the burst is one packet per
      // process, spaced by us. Exit 0: sent; anything else is reported (e.g. the address is
      // not configured yet).
      const child = spawn('arping', ['-q', '-U', '-c', '1', '-I', v.interface, v.address], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
      child.on('error', (e) => { opts.onError(`arping: ${e.message}`); });
      child.on('close', (code) => { if (code !== 0) opts.onError(`arping ${v.address} on ${v.interface} failed (exit ${String(code)}): ${err.trim()}`); });
    }
  };
  const announce = (schedule: readonly number[]): void => {
    for (const ms of schedule) timers.push(setTimeout(garp, ms));
  };
  const stopTimers = (): void => {
    if (refresh !== null) clearInterval(refresh);
    for (const t of timers) clearTimeout(t);
    refresh = null;
    timers = [];
  };

  return {
    acquire() {
      lease();
      // Refresh three times per lease: one late refresh never lets the address lapse.
      stopTimers();
      refresh = setInterval(lease, (opts.leaseSeconds * 1000) / 3);
      announce(GARP_BURST_MS);
    },
    release() {
      stopTimers();
      for (const v of opts.vips) command(`address del ${v.address}/${String(v.prefix)} dev ${v.interface}`);
    },
    announce() {
      announce(REANNOUNCE_MS);
    },
    close() {
      stopTimers();
      ip?.stdin.end();
      ip = null;
    },
  };
}
