/**
 * Core files (SPEC §5, the seed's "exported core dump files" checklist item): the files the
 * kernel (core_pattern) or systemd-coredump leaves in the configured core directory
 * (`support.core_dir`, `<state_dir>/cores` unless given), listed, downloaded and deleted by name.
 *
 * A name is one plain file name of that directory, checked before anything is opened: no `/`,
 * no leading `.` (so no `..`), printable ASCII only; the file is opened with O_NOFOLLOW and must
 * be a regular file, so neither a name nor a symbolic link planted in the directory reaches
 * anything outside it.
 */
import { closeSync, constants, createReadStream, fstatSync, lstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { refuse, type Download } from '../api/operation.js';

export interface CoreFile {
  readonly name: string;
  readonly size: number;
  /** Modification time (ISO): when the dump was written. */
  readonly time: string;
  /** The program that dumped, when cheaply known (an ELF core's process name, or the file name's pattern), else null. */
  readonly program: string | null;
}

export const CORE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._@:+%,=-]{0,254}$/;

/** Refuses a name that is not one plain file name of the core directory. */
export function checkCoreName(name: string): void {
  if (!CORE_NAME.test(name)) {
    refuse(400, `name: ${JSON.stringify(name)} is not a core file name (one file name of the core directory: letters, digits and . _ - @ : + % , =, not starting with "."; see tandem core list)`);
  }
}

export class CoreFiles {
  constructor(private readonly dir: () => string) {}

  get directory(): string { return this.dir(); }

  /** Every core file, newest first; an absent directory holds none. */
  list(): CoreFile[] {
    const dir = this.dir();
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: CoreFile[] = [];
    for (const name of names) {
      if (!CORE_NAME.test(name)) continue;
      const path = join(dir, name);
      let st;
      try { st = lstatSync(path); } catch { continue; }
      if (!st.isFile()) continue;
      out.push({ name, size: st.size, time: st.mtime.toISOString(), program: programOf(path, name) });
    }
    return out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : a.name < b.name ? -1 : 1));
  }

  count(): number { return this.list().length; }

  /** A core file as a stream (the download): opened without following links, a regular file only. */
  open(name: string): Download {
    const fd = this.openFd(name);
    const st = fstatSync(fd);
    return { stream: createReadStream('', { fd, autoClose: true }), size: st.size, name };
  }

  remove(name: string): { ok: boolean; messages: string[] } {
    const fd = this.openFd(name);
    const size = fstatSync(fd).size;
    closeSync(fd);
    unlinkSync(join(this.dir(), name));
    return { ok: true, messages: [`core file ${name} deleted (${String(size)} bytes)`] };
  }

  private openFd(name: string): number {
    checkCoreName(name);
    const path = join(this.dir(), name);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') refuse(404, `no core file ${name} in ${this.dir()} (see tandem core list)`);
      if (code === 'ELOOP') refuse(400, `name: ${name} is a symbolic link, not a core file`);
      throw err;
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      refuse(400, `name: ${name} is not a regular file`);
    }
    return fd;
  }
}

/** How much of a core file is read to find its process name: the notes follow the program headers. */
const HEAD_BYTES = 256 * 1024;

/** The program of a core file: an ELF core's NT_PRPSINFO, else the systemd-coredump / core_pattern name forms. */
export function programOf(path: string, name: string): string | null {
  let head: Buffer;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      head = Buffer.alloc(HEAD_BYTES);
      head = head.subarray(0, readSync(fd, head, 0, HEAD_BYTES, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return programOfName(name);
  }
  return elfCoreProgram(head) ?? programOfName(name);
}

/**
 * `core.PROGRAM.UID.BOOTID.PID.TIME[.zst]` (systemd-coredump), `core.PROGRAM.PID`, `core-PROGRAM-…`,
 * `PROGRAM.core`; a bare `core` or `core.PID` names no program.
 */
export function programOfName(name: string): string | null {
  const parts = name.split('.');
  const named = (p: string | undefined): string | null => (p === undefined || p === '' || /^\d+$/.test(p) ? null : p);
  if (parts[0] === 'core' && parts.length >= 2) return named(parts[1]);
  const dashed = /^core-([^-.]+)/.exec(name);
  if (dashed !== null) return named(dashed[1]);
  if (parts.length >= 2 && parts[parts.length - 1] === 'core') return named(parts[0]);
  return null;
}

const ET_CORE = 4;
const PT_NOTE = 4;
const NT_PRPSINFO = 3;

/** The process name (pr_fname) of a 64-bit little-endian ELF core, or null. */
export function elfCoreProgram(b: Buffer): string | null {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return null;
  if (b.readUInt16LE(16) !== ET_CORE) return null;
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i += 1) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > b.length) return null;
    if (b.readUInt32LE(ph) !== PT_NOTE) continue;
    const start = Number(b.readBigUInt64LE(ph + 8));
    const end = Math.min(b.length, start + Number(b.readBigUInt64LE(ph + 32)));
    for (let at = start; at + 12 <= end;) {
      const namesz = b.readUInt32LE(at);
      const descsz = b.readUInt32LE(at + 4);
      const type = b.readUInt32LE(at + 8);
      const desc = at + 12 + align4(namesz);
      if (type === NT_PRPSINFO && desc + 56 <= end) {
        const fname = b.subarray(desc + 40, desc + 56);
        const zero = fname.indexOf(0);
        const text = fname.subarray(0, zero < 0 ? 16 : zero).toString('latin1');
        return /^[\x20-\x7e]+$/.test(text) ? text : null;
      }
      at = desc + align4(descsz);
    }
  }
  return null;
}

const align4 = (n: number): number => (n + 3) & ~3;
