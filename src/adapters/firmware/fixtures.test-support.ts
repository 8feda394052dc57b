/**
 * Test support for firmware bundles: throwaway keys, manifests for a few files, a raw ustar
 * writer that crafts what the bundle writer never would (links, directories, pax headers, wrong
 * sizes, any member order), chunked sources, and a sink that records what it was given.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { Manifest, PayloadFile } from '../../core/firmware/types.js';
import { keyIdOf, type TrustedKey } from './keys.js';
import { encodeManifest, PAYLOAD_PREFIX } from './manifest.js';
import type { PayloadSink, PayloadWriter } from './sink.js';
import { signManifest } from './signature.js';

export const sha = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const bytesOf = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

/** A maker of fresh directories under one temporary base, removed after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const base = mkdtempSync(join(tmpdir(), prefix));
  after(() => { rmSync(base, { recursive: true, force: true }); });
  let counter = 0;
  return () => {
    const dir = join(base, `d${String(++counter)}`);
    mkdirSync(dir);
    return dir;
  };
}

/** Writes `data` at `rel` under `root` (parents created), with `mode`. */
export function put(root: string, rel: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), data, { mode });
}

export interface TestKey { readonly privateKey: KeyObject; readonly trusted: TrustedKey }

export function testKey(source = 'test key'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, trusted: { id: keyIdOf(publicKey), key: publicKey, source } };
}

export interface FileSpec { readonly path: string; readonly data: string | Uint8Array; readonly mode?: number }

export const BUILT_AT = '2026-03-01T12:00:00.000Z';

/** A valid manifest declaring `files` (in that order); `patch` replaces top-level fields. */
export function manifestFor(files: readonly FileSpec[], patch: Record<string, unknown> = {}): Manifest {
  const payload: PayloadFile[] = files.map((f) => ({ path: f.path, size: bytesOf(f.data).length, sha256: sha(f.data), mode: f.mode ?? 0o644 }));
  return {
    format: 1,
    product: 'tandem',
    version: '1.2.3',
    type: 'lts',
    published: '2026-03-01',
    notes: 'Fixes.\n',
    min_from: null,
    config_schema: { version: 1, migrations: [] },
    ha_protocol: { min: 1, max: 1 },
    releases: [],
    runtime: { node_abi: '115', platform: 'linux', arch: 'x64' },
    payload: { files: payload, bytes: payload.reduce((a, f) => a + f.size, 0) },
    built_at: BUILT_AT,
    ...patch,
  };
}

/** One raw tar member: a header (every field can be set wrong on purpose) and its data. */
export interface RawMember {
  readonly name: string;
  readonly data?: string | Uint8Array;
  /** Header size; defaults to the data's length. */
  readonly size?: number;
  readonly typeflag?: string;
  readonly mode?: number;
  readonly linkname?: string;
  readonly prefix?: string;
  /** Bytes written in place of the zero padding after the data (truncated to the padding). */
  readonly padding?: string;
  /** Changes the header before its checksum is computed. */
  readonly alter?: (header: Buffer) => void;
  /** Writes a checksum off by one. */
  readonly badChecksum?: boolean;
}

function rawHeader(m: RawMember, size: number): Buffer {
  const h = Buffer.alloc(512);
  const octal = (at: number, width: number, v: number): void => { h.write(`${v.toString(8).padStart(width - 1, '0')}\0`, at, 'latin1'); };
  // A long name is split at its first "/" that leaves the rest within 100 bytes: not the
  // writer's split (the longest prefix), and a reader must take either.
  let [prefix, name] = [m.prefix ?? '', m.name];
  for (let cut = name.indexOf('/'); m.prefix === undefined && Buffer.byteLength(name) > 100 && cut > 0; cut = name.indexOf('/', cut + 1)) {
    if (Buffer.byteLength(name.slice(cut + 1)) <= 100) [prefix, name] = [m.name.slice(0, cut), m.name.slice(cut + 1)];
  }
  h.write(name, 0, 100, 'utf8');
  octal(100, 8, m.mode ?? 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 1_772_366_400);
  h.write(m.typeflag ?? '0', 156, 1, 'latin1');
  h.write(m.linkname ?? '', 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  m.alter?.(h);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0) + (m.badChecksum === true ? 1 : 0);
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/**
 * A tar of `members`, then `endBlocks` zero blocks (default 2), then `trailing` bytes. Written
 * independently of ustar.ts, so the reader is checked against another writer.
 */
export function rawTar(members: readonly RawMember[], end: { endBlocks?: number; trailing?: Uint8Array } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(bytesOf(m.data ?? ''));
    parts.push(rawHeader(m, m.size ?? data.length), data);
    const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
    if (m.padding !== undefined) pad.write(m.padding, 0, 'latin1');
    parts.push(pad);
  }
  parts.push(Buffer.alloc(512 * (end.endBlocks ?? 2)));
  if (end.trailing !== undefined) parts.push(Buffer.from(end.trailing));
  return Buffer.concat(parts);
}

/** manifest.json and manifest.sig members for `manifest` (its bytes signed by `key`). */
export function headMembers(manifest: Manifest | Uint8Array, key: KeyObject): [RawMember, RawMember] {
  const bytes = manifest instanceof Uint8Array ? manifest : encodeManifest(manifest);
  return [{ name: 'manifest.json', data: bytes }, { name: 'manifest.sig', data: signManifest(bytes, key) }];
}

/** Payload members for `files`, in that order. */
export const payloadMembers = (files: readonly FileSpec[]): RawMember[] =>
  files.map((f) => ({ name: PAYLOAD_PREFIX + f.path, data: f.data, mode: f.mode ?? 0o644 }));

/** A source yielding `bytes` in chunks of `size` (subarrays: no copy), recording what it gave. */
export class ChunkedSource implements AsyncIterable<Uint8Array> {
  readonly given: Uint8Array[] = [];
  constructor(private readonly bytes: Uint8Array, private readonly size: number) {}
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (let at = 0; at < this.bytes.length; at += this.size) {
      await Promise.resolve();
      const chunk = this.bytes.subarray(at, at + this.size);
      this.given.push(chunk);
      yield chunk;
    }
  }
}

/** A sink that keeps every file it is given, and the events in order. */
export class RecordingSink implements PayloadSink {
  readonly events: string[] = [];
  readonly files = new Map<string, { mode: number; size: number; chunks: Uint8Array[] }>();
  bytes = 0;
  completed = false;

  open(path: string, mode: number, size: number): Promise<PayloadWriter> {
    this.events.push(`open ${path}`);
    const file = { mode, size, chunks: [] as Uint8Array[] };
    this.files.set(path, file);
    return Promise.resolve({
      write: (chunk: Uint8Array) => { file.chunks.push(chunk); this.bytes += chunk.length; return Promise.resolve(); },
      finish: () => { this.events.push(`finish ${path}`); return Promise.resolve(); },
      abort: () => { this.events.push(`abort ${path}`); return Promise.resolve(); },
    });
  }

  complete(): Promise<void> {
    this.events.push('complete');
    this.completed = true;
    return Promise.resolve();
  }

  content(path: string): Buffer | undefined {
    const f = this.files.get(path);
    return f === undefined ? undefined : Buffer.concat(f.chunks);
  }
}
