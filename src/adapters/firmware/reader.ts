/**
 * The bundle reader: one pass over a byte stream (a file read stream, an HTTP request body),
 * strict, in constant memory, that checks the signature before it uses a single payload byte.
 *
 * The format is in docs/firmware-bundle.md. In order, the reader:
 *   1. refuses at once when no key is trusted (signing can never be off);
 *   2. reads manifest.json (first member, at most 1 MiB: its header's size is checked before
 *      its bytes are read) and manifest.sig (second member);
 *   3. verifies the signature over the manifest's exact bytes, then parses and checks the
 *      manifest, then calls `onManifest` (the caller's policy, free space…) — nothing has been
 *      handed to the sink yet;
 *   4. reads one regular-file member per manifest entry, in the manifest's order, each of the
 *      declared size and mode, hashing its bytes as they pass and handing them to the sink;
 *      a hash that does not match aborts that file;
 *   5. checks the end: zero bytes only, at least two blocks, at most to the next 10240-byte
 *      record boundary, then the end of the stream; only then `sink.complete()`.
 * Any deviation throws BundleRefused with a code and a message naming the member. There is no
 * "skip what you do not know": an extra, missing, reordered, linked, extended or malformed
 * member is a refusal, so what a node installs is exactly what was signed.
 *
 * Memory: the source's current chunk, one 512-byte header, and the manifest and signature
 * (bounded). Payload bytes are never copied: the hash and the sink get views of the source's
 * chunks, and the reader waits for the sink's write before it reads on.
 */
import { createHash } from 'node:crypto';
import type { Manifest, PayloadFile } from '../../core/firmware/types.js';
import type { TrustedKey } from './keys.js';
import { MAX_MANIFEST_BYTES, PAYLOAD_PREFIX, pathProblem, parseManifest } from './manifest.js';
import { BundleRefused, type RefusalCode } from './refusal.js';
import { MAX_SIGNATURE_BYTES, verifyManifest } from './signature.js';
import type { PayloadSink, PayloadWriter } from './sink.js';
import { BLOCK, decodeHeader, describeTypeflag, firstNonZero, RECORD, type Header } from './ustar.js';

export interface ReadOptions {
  /** The keys a bundle may be signed with; none at all is a refusal ('no-trusted-key'). */
  readonly trustedKeys: readonly TrustedKey[];
  /**
   * Called once the signature verified and the manifest checked, before the first payload
   * byte: throw to refuse the bundle (the error is passed through as it is).
   */
  readonly onManifest?: (manifest: Manifest, keyId: string) => void | Promise<void>;
  /** Receives the payload files (sink.ts); without one the bundle is only verified. */
  readonly sink?: PayloadSink;
}

export interface BundleRead {
  readonly manifest: Manifest;
  readonly keyId: string;
  /** Bytes of the bundle, end-of-archive blocks included. */
  readonly bytesRead: number;
}

export const NO_TRUSTED_KEY_MESSAGE =
  'no trusted firmware key is configured: signing can never be off; configure firmware.trusted_keys';

const refuse = (code: RefusalCode, message: string): never => { throw new BundleRefused(code, message); };
const short = (hex: string): string => `${hex.slice(0, 12)}…`;
const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** Verifies a bundle read from `source` and hands its payload to `options.sink` (module comment). */
export async function readBundle(source: AsyncIterable<Uint8Array>, options: ReadOptions): Promise<BundleRead> {
  if (options.trustedKeys.length === 0) refuse('no-trusted-key', NO_TRUSTED_KEY_MESSAGE);
  const it = source[Symbol.asyncIterator]();
  try {
    return await new Parser(new ByteReader(it), options).read();
  } finally {
    // Stops the source early on a refusal (a read stream closes its file); a no-op at its end.
    await it.return?.().catch(() => undefined);
  }
}

/** Consumes an async iterator of chunks as a byte stream, without copying the chunks. */
class ByteReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private ended = false;
  /** Bytes consumed so far: the stream offset of the next byte. */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  /** Makes at least one byte available; false at the end of the stream. */
  private async more(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done === true) {
        this.ended = true;
        return false;
      }
      if (!(r.value instanceof Uint8Array)) throw new TypeError(`a bundle source must yield bytes (Uint8Array), not ${typeof r.value}`);
      this.chunk = r.value;
      this.at = 0;
    }
    return true;
  }

  async atEnd(): Promise<boolean> {
    return !(this.at < this.chunk.length || await this.more());
  }

  /** Copies the next bytes into `into` until it is full; returns how many (fewer at the end). */
  async fill(into: Uint8Array): Promise<number> {
    let got = 0;
    while (got < into.length && (this.at < this.chunk.length || await this.more())) {
      const take = Math.min(into.length - got, this.chunk.length - this.at);
      into.set(this.chunk.subarray(this.at, this.at + take), got);
      this.at += take;
      this.offset += take;
      got += take;
    }
    return got;
  }

  /**
   * Hands the next `n` bytes to `fn` as views of the source's chunks (with the stream offset of
   * each view's first byte), awaiting what it returns; returns how many (fewer at the end).
   */
  async pass(n: number, fn: (bytes: Uint8Array, at: number) => Promise<void> | undefined): Promise<number> {
    let left = n;
    while (left > 0 && (this.at < this.chunk.length || await this.more())) {
      const take = Math.min(left, this.chunk.length - this.at);
      const bytes = this.chunk.subarray(this.at, this.at + take);
      const at = this.offset;
      this.at += take;
      this.offset += take;
      left -= take;
      const pending = fn(bytes, at);
      if (pending !== undefined) await pending;
    }
    return n - left;
  }
}

class Parser {
  private readonly header = new Uint8Array(BLOCK);

  constructor(private readonly input: ByteReader, private readonly options: ReadOptions) {}

  async read(): Promise<BundleRead> {
    const manifestBytes = await this.readHeadMember('manifest.json', MAX_MANIFEST_BYTES);
    const sigBytes = await this.readHeadMember('manifest.sig', MAX_SIGNATURE_BYTES);
    const key = verifyManifest(manifestBytes, sigBytes, this.options.trustedKeys);
    const manifest = parseManifest(manifestBytes);
    await this.options.onManifest?.(manifest, key.id);
    const files = manifest.payload.files;
    const index = new Map(files.map((f, i) => [PAYLOAD_PREFIX + f.path, i]));
    for (const [i, f] of files.entries()) await this.readPayloadFile(f, `${PAYLOAD_PREFIX}${f.path} (file ${i + 1} of ${files.length})`, i, index);
    await this.readEnd(index);
    await this.options.sink?.complete();
    return { manifest, keyId: key.id, bytesRead: this.input.offset };
  }

  /**
   * The next header, or null for a zero block (the end of the archive begins). `expecting`
   * says what should come there, for messages. Checks the header is strict ustar, a regular
   * file, with a safe name.
   */
  private async readHeader(expecting: string): Promise<Header | null> {
    const at = this.input.offset;
    const got = await this.input.fill(this.header);
    if (got === 0) refuse('truncated', `truncated: the bundle ends at byte ${at}, where ${expecting} should begin`);
    if (got < BLOCK) refuse('truncated', `truncated inside a header: the bundle ends at byte ${at + got}, in the block at ${at} where ${expecting} should begin`);
    if (firstNonZero(this.header) < 0) return null;
    const decoded = decodeHeader(this.header);
    if (!decoded.ok) return refuse('bad-header', `header at byte ${at} (where ${expecting} should begin): ${decoded.problem}`);
    const h = decoded.header;
    if (h.typeflag === '1' || h.typeflag === '2') {
      refuse('link', `${h.path}: ${describeTypeflag(h.typeflag)} (to ${JSON.stringify(h.linkname)}): a bundle carries regular files only`);
    }
    if (h.typeflag !== '0') refuse('unsupported-entry', `${h.path}: ${describeTypeflag(h.typeflag)}: a bundle carries regular files only (plain ustar, no directories, no extension headers)`);
    const problem = pathProblem(h.path);
    if (problem !== null) refuse('path-escape', `member ${JSON.stringify(h.path)} at byte ${at}: ${problem}`);
    if (h.linkname !== '') refuse('bad-header', `${h.path}: a regular file with a link name (${JSON.stringify(h.linkname)})`);
    return h;
  }

  /** manifest.json or manifest.sig: the first two members, in that order, read whole. */
  private async readHeadMember(name: 'manifest.json' | 'manifest.sig', max: number): Promise<Uint8Array> {
    const h = await this.readHeader(name);
    const manifestFirst = name === 'manifest.json';
    if (h === null) {
      return manifestFirst
        ? refuse('manifest-invalid', 'no manifest.json: the archive ends before its first member')
        : refuse('missing-signature', 'no manifest.sig: the archive ends after manifest.json; a bundle without a signature is refused');
    }
    if (h.path !== name) {
      if (manifestFirst) {
        return h.path === 'manifest.sig'
          ? refuse('out-of-order', 'manifest.sig comes before manifest.json: manifest.json is the first member')
          : refuse('unexpected-member', `${h.path} is the first member: a bundle starts with manifest.json`);
      }
      return h.path === 'manifest.json'
        ? refuse('duplicate', 'manifest.json appears twice')
        : refuse('missing-signature', `${h.path} follows manifest.json where manifest.sig must be: a bundle without a signature is refused`);
    }
    if (h.size > max) {
      return manifestFirst
        ? refuse('manifest-too-large', `manifest.json: ${h.size} bytes; a manifest is at most ${max}`)
        : refuse('bad-signature', `manifest.sig: ${h.size} bytes; a signature document is at most ${max}`);
    }
    if (h.mode !== 0o644) refuse('bad-header', `${name}: header mode ${octal(h.mode)}; the writer makes it 0644`);
    const data = new Uint8Array(h.size);
    const got = await this.input.fill(data);
    if (got < h.size) refuse('truncated', `truncated inside ${name} (${got} of ${h.size} bytes)`);
    await this.readPadding(name, h.size);
    return data;
  }

  /** Payload file `i` of the manifest, `f`; `where` names it in messages. */
  private async readPayloadFile(f: PayloadFile, where: string, i: number, index: ReadonlyMap<string, number>): Promise<void> {
    const name = PAYLOAD_PREFIX + f.path;
    const at = this.input.offset;
    const h = await this.readHeader(where);
    if (h === null) return refuse('truncated', `truncated: the archive ends (zero block at byte ${at}) before ${where}`);
    if (h.path !== name) this.misplaced(h.path, where, i, index);
    if (h.size !== f.size) refuse('size-mismatch', `${name}: ${h.size} bytes in the bundle, the manifest declares ${f.size}`);
    if (h.mode !== f.mode) refuse('bad-header', `${name}: header mode ${octal(h.mode)}, the manifest declares ${octal(f.mode)}`);

    const hash = createHash('sha256');
    const writer: PayloadWriter | null = this.options.sink === undefined ? null : await this.options.sink.open(f.path, f.mode, f.size);
    try {
      const passed = await this.input.pass(f.size, writer === null
        ? (bytes) => { hash.update(bytes); return undefined; }
        : (bytes) => { hash.update(bytes); return writer.write(bytes); });
      if (passed < f.size) refuse('truncated', `truncated inside ${name} (${passed} of ${f.size} bytes)`);
      await this.readPadding(name, f.size);
      const got = hash.digest('hex');
      if (got !== f.sha256) refuse('hash-mismatch', `${name}: sha256 mismatch (declared ${short(f.sha256)}, got ${short(got)})`);
    } catch (err) {
      await writer?.abort();
      throw err;
    }
    await writer?.finish();
  }

  /** Why member `path` is not the one expected at position `i` (`expected` describes that one). */
  private misplaced(path: string, expected: string, i: number, index: ReadonlyMap<string, number>): never {
    if (path === 'manifest.json' || path === 'manifest.sig') return refuse('duplicate', `${path} appears twice`);
    const j = index.get(path);
    if (j === undefined) return refuse('unexpected-member', `${path}: not in the manifest (where ${expected} should be)`);
    if (j > i) return refuse('out-of-order', `${path} comes before ${expected}: payload members follow the manifest's order`);
    return refuse('duplicate', `${path} appears twice`);
  }

  /** Zero bytes after a member's data up to the next block boundary. */
  private async readPadding(name: string, size: number): Promise<void> {
    const n = (BLOCK - (size % BLOCK)) % BLOCK;
    const passed = await this.input.pass(n, (bytes, at) => {
      const i = firstNonZero(bytes);
      return i < 0 ? undefined : refuse('trailing-data', `${name}: non-zero byte at ${at + i} in the padding after its data`);
    });
    if (passed < n) refuse('truncated', `truncated inside the padding after ${name}`);
  }

  /**
   * After the last payload file: zero blocks only — at least two, at most to the next record
   * boundary (what tar may pad to) — then the end of the stream.
   */
  private async readEnd(index: ReadonlyMap<string, number>): Promise<void> {
    const start = this.input.offset;
    const h = await this.readHeader('the end-of-archive blocks');
    if (h !== null) {
      if (h.path === 'manifest.json' || h.path === 'manifest.sig' || index.has(h.path)) refuse('duplicate', `${h.path} appears twice`);
      refuse('unexpected-member', `${h.path}: not in the manifest (after its last file)`);
    }
    const limit = Math.ceil((start + 2 * BLOCK) / RECORD) * RECORD;
    const passed = await this.input.pass(limit - this.input.offset, (bytes, at) => {
      const i = firstNonZero(bytes);
      return i < 0 ? undefined : refuse('trailing-data', `non-zero byte at ${at + i}, after the end of the archive (byte ${start})`);
    });
    if (passed < BLOCK) refuse('truncated', `truncated: one end-of-archive block at byte ${start}; the end is two zero blocks`);
    if ((start + BLOCK + passed) % BLOCK !== 0) refuse('trailing-data', `${passed % BLOCK} bytes after the last whole end-of-archive block`);
    if (!await this.input.atEnd()) refuse('trailing-data', `bytes after the end of the archive beyond the record boundary at byte ${limit}`);
  }
}
