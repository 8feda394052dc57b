/**
 * What the System monitor reads of the machine itself: load, CPU, memory, disks, uptime — from
 * /proc and statfs, never by running a program.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { loadavg, uptime } from 'node:os';

export interface CpuTimes { readonly busy: number; readonly total: number }
export interface Disk { readonly mount: string; readonly fs: string; readonly size: number; readonly used: number; readonly available: number; readonly used_percent: number }
export interface Memory { readonly total: number; readonly available: number; readonly used_percent: number }

/** Filesystems that hold data (not /proc, cgroups, overlays of the kernel's own). */
const REAL_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'tmpfs', 'overlay', 'nfs', 'nfs4', 'jfs', 'reiserfs']);

export function cpuTimes(): CpuTimes {
  // The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal …" (in ticks).
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const n = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy share of all cores between two readings, in percent (null when no time passed). */
export function cpuBusyPercent(from: CpuTimes, to: CpuTimes): number | null {
  const dt = to.total - from.total;
  return dt <= 0 ? null : Math.round((1000 * (to.busy - from.busy)) / dt) / 10;
}

export function memory(): Memory {
  const info = new Map<string, number>();
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m !== null) info.set(m[1] ?? '', Number(m[2]) * 1024);
  }
  const total = info.get('MemTotal') ?? 0;
  const available = info.get('MemAvailable') ?? info.get('MemFree') ?? 0;
  return { total, available, used_percent: total === 0 ? 0 : Math.round((1000 * (total - available)) / total) / 10 };
}

/** Every mounted data filesystem, once per mount point. */
export function disks(): Disk[] {
  const seen = new Set<string>();
  const out: Disk[] = [];
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mount, fs] = line.split(' ');
    if (mount === undefined || fs === undefined || !REAL_FS.has(fs) || seen.has(mount)) continue;
    // /proc/mounts escapes spaces and the like as octal.
    const path = mount.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    seen.add(mount);
    try {
      const s = statfsSync(path);
      const size = s.blocks * s.bsize;
      if (size === 0) continue;
      const available = s.bavail * s.bsize;
      const used = size - s.bfree * s.bsize;
      out.push({ mount: path, fs, size, used, available, used_percent: Math.round((1000 * used) / (used + available)) / 10 });
    } catch {
      // Gone between the listing and the statfs, or not ours to read.
    }
  }
  return out;
}

export function load(): readonly [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  return [a, b, c];
}

export const machineUptimeSeconds = (): number => Math.round(uptime());
