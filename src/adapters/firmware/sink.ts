/**
 * Where a bundle's payload goes while it is read: a PayloadSink is handed each file only after
 * the manifest's signature verified and the manifest checked, in payload order, and is told
 * `complete()` once the whole bundle checked (every hash, the end of the archive). A file's
 * bytes arrive before its hash is known — the reader streams — so a sink writes somewhere
 * nothing uses yet: `stagingSink` writes a fresh staging directory that the caller renames into
 * a slot once readBundle resolved, and removes (`discard()`) when it threw.
 */
import { constants } from 'node:fs';
import { chmod, mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface PayloadWriter {
  /**
   * Writes the next bytes of the file; the reader awaits it before it reads on (backpressure).
   * `chunk` is a view of the source's chunk: write it, do not keep it past the promise.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Every byte was written and the file's hash matched: make it durable. */
  finish(): Promise<void>;
  /** The bundle was refused while this file was open: remove what was written of it. */
  abort(): Promise<void>;
}

export interface PayloadSink {
  /** The next payload file: its manifest path (checked safe), mode (0o644/0o755) and size. */
  open(path: string, mode: number, size: number): Promise<PayloadWriter>;
  /** The whole bundle checked; called once, after the last file finished. */
  complete(): Promise<void>;
}

export interface StagingSink extends PayloadSink {
  readonly dir: string;
  /** Removes the staging directory and everything in it (idempotent). */
  discard(): Promise<void>;
}

/**
 * A sink writing into `dir`, which must not exist yet (its parent must): directories 0755, files
 * created exclusively (never through an existing file or a symlink) with their mode — set
 * explicitly, whatever the umask —, each fsynced when finished; at complete(), every directory
 * created is fsynced, then `dir` and its parent, so a rename of `dir` after it publishes files
 * that are on disk.
 */
export async function stagingSink(dir: string): Promise<StagingSink> {
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  const created = new Set<string>();
  let openFile: { file: string; fh: FileHandle } | null = null;

  async function ensureParents(path: string): Promise<void> {
    for (let cut = path.indexOf('/'); cut > 0; cut = path.indexOf('/', cut + 1)) {
      const rel = path.slice(0, cut);
      if (created.has(rel)) continue;
      await mkdir(join(dir, rel), { mode: 0o755 });
      await chmod(join(dir, rel), 0o755);
      created.add(rel);
    }
  }

  return {
    dir,
    async open(path, mode, size) {
      if (openFile !== null) throw new Error(`staging: ${path} opened while ${openFile.file} is still open`);
      await ensureParents(path);
      const file = join(dir, path);
      const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
      await fh.chmod(mode);
      const current = { file, fh };
      openFile = current;
      let written = 0;
      const close = async (): Promise<void> => { openFile = null; await fh.close(); };
      return {
        async write(chunk) {
          written += chunk.length;
          if (written > size) throw new Error(`staging: ${path} got more than its ${size} bytes`);
          for (let at = 0; at < chunk.length;) {
            const { bytesWritten } = await fh.write(chunk, at, chunk.length - at);
            at += bytesWritten;
          }
        },
        async finish() {
          try { await fh.sync(); } finally { await close(); }
        },
        async abort() {
          try { await close(); } finally { await rm(file, { force: true }); }
        },
      };
    },
    async complete() {
      for (const rel of created) await fsyncDir(join(dir, rel));
      await fsyncDir(dir);
      await fsyncDir(dirname(dir));
    },
    async discard() {
      const current = openFile;
      if (current !== null) {
        openFile = null;
        await current.fh.close().catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}
