/**
 * The bundle writer: a tree's files → one signed bundle (docs/firmware-bundle.md), streamed in
 * two passes over the files, never a whole file in memory.
 *
 *   pass 1  hash every file (size, sha256) → the manifest, checked as a reader would check it
 *           (checkManifest), encoded and signed;
 *   pass 2  manifest.json, manifest.sig, then each file as `payload/<path>`, hashed again as it
 *           is copied: a file that changed between the passes fails the build rather than
 *           ship bytes its manifest does not describe. Then two zero blocks.
 *
 * Output goes to `<out>.part` through one 1 MiB buffer (headers and small files share writes,
 * file contents are read straight into it), is fsynced, then renamed onto `out`: a crash or an
 * error never leaves a partial bundle under the bundle's name. The bundle's own sha256 is taken
 * from that buffer as it is written out (not by reading the file again): the build prints it, so
 * a release can publish it and a copied file can be compared with the one that was built.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Manifest, PayloadFile } from '../../core/firmware/types.js';
import { keyIdOf } from './keys.js';
import { checkManifest, encodeManifest, MAX_MANIFEST_BYTES, PAYLOAD_PREFIX, type ManifestFields } from './manifest.js';
import { BundleRefused } from './refusal.js';
import { signManifest } from './signature.js';
import { BLOCK, encodeHeader } from './ustar.js';

const BUFFER_BYTES = 1024 * 1024;

/** One file of the tree to carry: its path relative to the tree, and its mode (0o644/0o755). */
export interface BundleFile {
  readonly path: string;
  readonly mode: number;
}

export interface WriteBundleRequest {
  /** The directory the files' paths are relative to. */
  readonly tree: string;
  /** In payload order. */
  readonly files: readonly BundleFile[];
  readonly fields: ManifestFields;
  /** Ed25519 private key. */
  readonly signingKey: KeyObject;
  readonly out: string;
}

export interface WrittenBundle {
  readonly out: string;
  readonly manifest: Manifest;
  readonly keyId: string;
  /** Size of the bundle file. */
  readonly bytes: number;
  /** Lower-case hex SHA-256 of the bundle file. */
  readonly sha256: string;
}

/** Writes a signed bundle of `files` (module comment); throws with the file and reason. */
export async function writeBundle(req: WriteBundleRequest): Promise<WrittenBundle> {
  const buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  const payload: PayloadFile[] = [];
  for (const f of req.files) payload.push({ path: f.path, mode: f.mode, ...await hashFile(req.tree, f.path, buffer) });
  const manifest = buildManifest(req.fields, payload);
  const manifestBytes = encodeManifest(manifest);
  if (manifestBytes.length > MAX_MANIFEST_BYTES) {
    throw new Error(`the manifest would be ${manifestBytes.length} bytes, above the ${MAX_MANIFEST_BYTES} a reader accepts (too many files?)`);
  }
  const sigBytes = signManifest(manifestBytes, req.signingKey);
  const mtime = Math.floor(Date.parse(manifest.built_at) / 1000);

  const part = `${req.out}.part`;
  const fh = await open(part, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  let written: { bytes: number; sha256: string };
  try {
    const out = new BlockWriter(fh, buffer);
    await out.member('manifest.json', manifestBytes, mtime);
    await out.member('manifest.sig', sigBytes, mtime);
    for (const f of payload) await out.file(req.tree, f, mtime);
    await out.put(new Uint8Array(2 * BLOCK));
    written = await out.end();
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(part, { force: true });
    throw err;
  }
  await fh.close();
  await rename(part, req.out);
  await fsyncDir(dirname(req.out));
  return { out: req.out, manifest, keyId: keyIdOf(req.signingKey), ...written };
}

/** The manifest the reader will see, checked by the reader's own rules (a build error otherwise). */
function buildManifest(fields: ManifestFields, files: PayloadFile[]): Manifest {
  const manifest: Manifest = {
    format: 1,
    product: 'tandem',
    version: fields.version,
    type: fields.type,
    published: fields.published,
    notes: fields.notes,
    min_from: fields.min_from,
    config_schema: fields.config_schema,
    ha_protocol: fields.ha_protocol,
    releases: fields.releases,
    runtime: fields.runtime,
    payload: { files, bytes: files.reduce((a, f) => a + f.size, 0) },
    built_at: fields.built_at,
  };
  try {
    return checkManifest(manifest);
  } catch (err) {
    if (err instanceof BundleRefused) throw new Error(`a node would refuse this bundle (${err.code}): ${err.message}`);
    throw err;
  }
}

/** Opens a file of the tree for reading: a regular file, never through a symlink. */
async function openTreeFile(tree: string, path: string): Promise<FileHandle> {
  const fh = await open(join(tree, path), constants.O_RDONLY | constants.O_NOFOLLOW);
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new Error(`${join(tree, path)} is not a regular file`);
  }
  return fh;
}

async function hashFile(tree: string, path: string, buffer: Buffer): Promise<{ size: number; sha256: string }> {
  const fh = await openTreeFile(tree, path);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/** Sequential output through one buffer, written out (and hashed) whenever it fills. */
class BlockWriter {
  private used = 0;
  private written = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly fh: FileHandle, private readonly buffer: Buffer) {}

  async put(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      if (this.used === this.buffer.length) await this.flush();
      const take = Math.min(bytes.length - at, this.buffer.length - this.used);
      this.buffer.set(bytes.subarray(at, at + take), this.used);
      this.used += take;
      at += take;
    }
  }

  /** Writes out what the buffer holds. */
  private async flush(): Promise<void> {
    this.hash.update(this.buffer.subarray(0, this.used));
    for (let at = 0; at < this.used;) {
      const { bytesWritten } = await this.fh.write(this.buffer, at, this.used - at);
      at += bytesWritten;
    }
    this.written += this.used;
    this.used = 0;
  }

  /** Writes out the rest; the size and sha256 of everything written. Nothing may follow. */
  async end(): Promise<{ bytes: number; sha256: string }> {
    await this.flush();
    return { bytes: this.written, sha256: this.hash.digest('hex') };
  }

  private padding(size: number): Promise<void> {
    return this.put(new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK));
  }

  async member(name: string, data: Uint8Array, mtime: number): Promise<void> {
    await this.put(encodeHeader(name, data.length, 0o644, mtime));
    await this.put(data);
    await this.padding(data.length);
  }

  /** A payload file, read straight into the buffer and hashed again (module comment). */
  async file(tree: string, f: PayloadFile, mtime: number): Promise<void> {
    await this.put(encodeHeader(PAYLOAD_PREFIX + f.path, f.size, f.mode, mtime));
    const fh = await openTreeFile(tree, f.path);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for (;;) {
        if (this.used === this.buffer.length) await this.flush();
        // One byte more than declared may be read: a file that grew is caught, not cut.
        const want = Math.min(this.buffer.length - this.used, f.size + 1 - size);
        const { bytesRead } = await fh.read(this.buffer, this.used, want, size);
        if (bytesRead === 0) break;
        hash.update(this.buffer.subarray(this.used, this.used + bytesRead));
        this.used += bytesRead;
        size += bytesRead;
        if (size > f.size) break;
      }
    } finally {
      await fh.close();
    }
    if (size !== f.size || hash.digest('hex') !== f.sha256) {
      const how = size === f.size ? 'same size, other content' : size > f.size ? `it grew beyond ${f.size} bytes` : `${f.size} → ${size} bytes`;
      throw new Error(`${join(tree, f.path)} changed while the bundle was built (${how}); build again from a tree nothing writes to`);
    }
    await this.padding(f.size);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}
