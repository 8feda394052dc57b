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

/** Delay between the gratuitous ARP burst and its repeat, for neighbours that missed the first. */
const ARP_REPEAT_MS = 1000;

export function openVipManager(opts: VipOptions): VipManager {
  let ip: ChildProcessWithoutNullStreams | null = null;
  let refresh: NodeJS.Timeout | null = null;
  let repeat: NodeJS.Timeout | null = null;

  const batch = (): ChildProcessWithoutNullStreams => {
    if (ip !== null && ip.exitCode === null) return ip;
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString().trim();
      // Deleting an address that is already gone is the normal case at start and after a lapse.
      if (text !== '' && !/Cannot assign requested address/.test(text)) opts.onError(`ip: ${text}`);
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
      const child = spawn('arping', ['-q', '-U', '-c', '3', '-i', '0.1', '-I', v.interface, v.address], { stdio: 'ignore' });
      child.on('error', (err) => { opts.onError(`arping: ${err.message}`); });
    }
  };
  const stopTimers = (): void => {
    if (refresh !== null) clearInterval(refresh);
    if (repeat !== null) clearTimeout(repeat);
    refresh = null;
    repeat = null;
  };

  return {
    acquire() {
      lease();
      // Refresh three times per lease: one late refresh never lets the address lapse.
      stopTimers();
      refresh = setInterval(lease, (opts.leaseSeconds * 1000) / 3);
      // The address must be configured before arping can send from it: the batch runs in order,
      // so give it a moment.
      setTimeout(garp, 20);
      repeat = setTimeout(garp, ARP_REPEAT_MS);
    },
    release() {
      stopTimers();
      for (const v of opts.vips) command(`address del ${v.address}/${String(v.prefix)} dev ${v.interface}`);
    },
    announce() {
      garp();
    },
    close() {
      stopTimers();
      ip?.stdin.end();
      ip = null;
    },
  };
}
