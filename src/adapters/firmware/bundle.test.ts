/**
 * Bundles end to end: the writer's bundle verifies and extracts byte-identical files, whatever
 * the source's chunking, without copies, and is a tar that GNU tar reads; then one test per
 * refusal, on bundles crafted with the raw ustar writer of the test support, each checking the
 * code, the message, and what the sink was given before the refusal — nothing at all when the
 * refusal is about the signature or the manifest.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Manifest } from '../../core/firmware/types.js';
import {
  BUILT_AT, ChunkedSource, headMembers, manifestFor, payloadMembers, put, rawTar, RecordingSink, sha, tempDirs, testKey,
  type FileSpec, type RawMember,
} from './fixtures.test-support.js';
import { encodeManifest, MAX_MANIFEST_BYTES, type ManifestFields } from './manifest.js';
import { NO_TRUSTED_KEY_MESSAGE, readBundle, type ReadOptions } from './reader.js';
import { BundleRefused, type RefusalCode } from './refusal.js';
import { signManifest } from './signature.js';
import { stagingSink } from './sink.js';
import { writeBundle } from './writer.js';

const freshDir = tempDirs('tandem-bundle-');
const key = testKey('vendor.pub');
const deep = `node_modules/${'pkg-'.repeat(20)}x/${'lib/'.repeat(10)}deep.js`;
const FILES: readonly FileSpec[] = [
  { path: 'bin/tandem.js', data: '#!/usr/bin/env node\nimport "../dist/cli/tandem.js";\n', mode: 0o755 },
  { path: 'dist/app/node-daemon.js', data: randomBytes(3000) },
  { path: 'dist/empty.js', data: '' },
  { path: 'dist/exact.bin', data: randomBytes(512) },
  { path: deep, data: 'module.exports = 1;\n' },
  { path: 'package.json', data: '{"name":"tandem","version":"1.2.3"}\n' },
];
const fieldsOf = (m: Manifest): ManifestFields => {
  const { format: _f, product: _p, payload: _pl, ...fields } = m;
  return fields;
};

/** A tree holding FILES and the bundle the writer makes of it. */
async function writtenBundle(): Promise<{ tree: string; file: string; manifest: Manifest }> {
  const tree = freshDir();
  for (const f of FILES) put(tree, f.path, f.data, f.mode ?? 0o644);
  const file = join(freshDir(), 'tandem-1.2.3.tfw');
  const w = await writeBundle({ tree, files: FILES.map((f) => ({ path: f.path, mode: f.mode ?? 0o644 })), fields: fieldsOf(manifestFor(FILES)), signingKey: key.privateKey, out: file });
  assert.equal(w.bytes, statSync(file).size);
  assert.equal(w.sha256, sha(readFileSync(file)), 'the sha256 taken while writing is the file\'s');
  assert.equal(w.keyId, key.trusted.id);
  return { tree, file, manifest: w.manifest };
}

/** A crafted bundle: signed head for `manifest`, then `members` (default: FILES in order). */
const crafted = (members: readonly RawMember[] = payloadMembers(FILES), manifest: Manifest | Uint8Array = manifestFor(FILES), end?: Parameters<typeof rawTar>[1]): Buffer =>
  rawTar([...headMembers(manifest, key.privateKey), ...members], end);

/** Reads `bytes` into a recording sink; returns the refusal and what the sink got. */
async function refusalOf(bytes: Uint8Array, options: Partial<ReadOptions> = {}, chunk = 1000): Promise<{ err: BundleRefused; sink: RecordingSink }> {
  const sink = new RecordingSink();
  try {
    await readBundle(new ChunkedSource(bytes, chunk), { trustedKeys: [key.trusted], sink, ...options });
  } catch (err) {
    if (err instanceof BundleRefused) return { err, sink };
    throw err;
  }
  return assert.fail('the bundle was accepted');
}

const offsetOf = (bytes: Buffer, name: string): number => {
  const at = bytes.indexOf(Buffer.from(`${name}\0`));
  assert.ok(at >= 0 && at % 512 === 0, `${name} header`);
  return at;
};
const flip = (bytes: Buffer, at: number): Buffer => { const b = Buffer.from(bytes); b[at] = (b[at] ?? 0) ^ 0x01; return b; };

describe('a good bundle', () => {
  it('verifies and extracts byte-identical files with their modes into a staging directory', async () => {
    const { file, manifest } = await writtenBundle();
    const staging = await stagingSink(join(freshDir(), 'staging'));
    const seen: string[] = [];
    const read = await readBundle(createReadStream(file, { highWaterMark: 1024 * 1024 }), {
      trustedKeys: [testKey().trusted, key.trusted],
      sink: staging,
      onManifest: (m, id) => { seen.push(`${m.version} ${id} ${String(existsSync(join(staging.dir, 'bin')))}`); },
    });
    assert.deepEqual(seen, [`1.2.3 ${key.trusted.id} false`], 'onManifest once, before any file');
    assert.deepEqual(read, { manifest, keyId: key.trusted.id, bytesRead: statSync(file).size });
    assert.deepEqual(manifest.payload.files.map((f) => f.path), FILES.map((f) => f.path));
    for (const f of FILES) {
      assert.equal(sha(readFileSync(join(staging.dir, f.path))), sha(f.data), f.path);
      assert.equal(statSync(join(staging.dir, f.path)).mode & 0o777, f.mode ?? 0o644, f.path);
    }
    assert.equal(statSync(join(staging.dir, 'dist/app')).mode & 0o777, 0o755);
    await staging.discard();
    assert.equal(existsSync(staging.dir), false);
  });

  for (const chunk of [1, 7, 511, 512, 513, 4096, 1024 * 1024]) {
    it(`reads the same from ${chunk}-byte chunks, handing the sink views of the source's chunks (no copies)`, async () => {
      const { file } = await writtenBundle();
      const bytes = new Uint8Array(readFileSync(file)); // its own ArrayBuffer: a copy would not share it
      const sink = new RecordingSink();
      await readBundle(new ChunkedSource(bytes, chunk), { trustedKeys: [key.trusted], sink });
      for (const f of FILES) assert.equal(sha(sink.content(f.path) ?? 'absent'), sha(f.data), f.path);
      assert.equal(sink.completed, true);
      const chunks = [...sink.files.values()].flatMap((f) => f.chunks);
      assert.ok(chunks.length >= FILES.length - 1);
      assert.ok(chunks.every((c) => c.buffer === bytes.buffer), 'every chunk is a view of the source');
    });
  }

  it('verifies without a sink', async () => {
    const { file, manifest } = await writtenBundle();
    const read = await readBundle(createReadStream(file), { trustedKeys: [key.trusted] });
    assert.equal(read.manifest.version, manifest.version);
  });

  it('is a tar that GNU tar lists in the fixed order and extracts identically', { skip: !hasTar() }, async () => {
    const { file } = await writtenBundle();
    const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listed, ['manifest.json', 'manifest.sig', ...FILES.map((f) => `payload/${f.path}`)]);
    const dir = freshDir();
    execFileSync('tar', ['-xf', file, '-C', dir]);
    for (const f of FILES) assert.equal(sha(readFileSync(join(dir, 'payload', f.path))), sha(f.data), f.path);
  });

  it('accepts the end padded to the 10240-byte record, as tar writes it', async () => {
    const bytes = crafted(undefined, undefined, { endBlocks: 2 });
    const padded = Buffer.concat([bytes, Buffer.alloc(10240 - (bytes.length % 10240))]);
    const read = await readBundle(new ChunkedSource(padded, 4096), { trustedKeys: [key.trusted] });
    assert.equal(read.bytesRead, padded.length);
  });
});

function hasTar(): boolean {
  try { execFileSync('tar', ['--version']); return true; } catch { return false; }
}

interface Refusal {
  readonly name: string;
  readonly bytes: () => Buffer;
  readonly code: RefusalCode;
  readonly message: string | RegExp;
  /** What the sink was told before the refusal (none for a refusal about the head). */
  readonly events?: readonly string[];
  readonly options?: Partial<ReadOptions>;
}

const manifest = manifestFor(FILES);
const opened = (upTo: number): string[] => FILES.slice(0, upTo).flatMap((f) => [`open ${f.path}`, `finish ${f.path}`]);
const good = crafted();
const daemon = 'payload/dist/app/node-daemon.js';
const refusals: readonly Refusal[] = [
  {
    name: 'a tampered byte in the manifest', bytes: () => flip(good, 512 + 40), code: 'bad-signature',
    message: `manifest.sig: the signature by key ${key.trusted.id} (vendor.pub) does not verify: the manifest or its signature was altered`,
  },
  {
    name: 'a tampered byte in the signature',
    bytes: () => { const at = offsetOf(good, 'manifest.sig') + 512 + 60; return flip(good, at); },
    code: 'bad-signature', message: /^manifest\.sig: (the signature by key .* does not verify|not a signature document)/,
  },
  {
    name: 'a tampered byte in a payload file', bytes: () => flip(good, offsetOf(good, daemon) + 512 + 2000), code: 'hash-mismatch',
    message: new RegExp(`^${daemon}: sha256 mismatch \\(declared ${sha(FILES[1]!.data).slice(0, 12)}…, got [0-9a-f]{12}…\\)$`),
    events: [...opened(1), 'open dist/app/node-daemon.js', 'abort dist/app/node-daemon.js'],
  },
  { name: 'a bundle truncated inside the manifest', bytes: () => good.subarray(0, 512 + 100), code: 'truncated', message: /^truncated inside manifest\.json \(100 of \d+ bytes\)$/ },
  {
    name: 'a bundle truncated inside a header', bytes: () => good.subarray(0, offsetOf(good, daemon) + 100), code: 'truncated',
    message: /^truncated inside a header: the bundle ends at byte \d+, in the block at \d+ where payload\/dist\/app\/node-daemon\.js \(file 2 of 6\) should begin$/,
    events: opened(1),
  },
  {
    name: 'a bundle truncated inside a payload file', bytes: () => good.subarray(0, offsetOf(good, daemon) + 512 + 1000), code: 'truncated',
    message: `truncated inside ${daemon} (1000 of 3000 bytes)`, events: [...opened(1), 'open dist/app/node-daemon.js', 'abort dist/app/node-daemon.js'],
  },
  {
    name: 'a bundle truncated before the end blocks', bytes: () => good.subarray(0, good.length - 1024), code: 'truncated',
    message: /^truncated: the bundle ends at byte \d+, where the end-of-archive blocks should begin$/, events: opened(FILES.length),
  },
  {
    name: 'a bundle with one end block', bytes: () => good.subarray(0, good.length - 512), code: 'truncated',
    message: /^truncated: one end-of-archive block at byte \d+; the end is two zero blocks$/, events: opened(FILES.length),
  },
  { name: 'a bundle signed with another key', bytes: () => rawTar([...headMembers(manifest, testKey().privateKey), ...payloadMembers(FILES)]), code: 'unknown-key', message: /^manifest\.sig: signed with key [0-9a-f]{16}, which is not trusted \(trusted: [0-9a-f]{16} \(vendor\.pub\)\)$/ },
  { name: 'no trusted key', bytes: () => good, options: { trustedKeys: [] }, code: 'no-trusted-key', message: NO_TRUSTED_KEY_MESSAGE },
  {
    name: 'a missing signature', bytes: () => rawTar([headMembers(manifest, key.privateKey)[0], ...payloadMembers(FILES)]), code: 'missing-signature',
    message: 'payload/bin/tandem.js follows manifest.json where manifest.sig must be: a bundle without a signature is refused',
  },
  {
    name: 'a signature after the payload', bytes: () => { const [m, s] = headMembers(manifest, key.privateKey); return rawTar([m, ...payloadMembers(FILES), s]); },
    code: 'missing-signature', message: 'payload/bin/tandem.js follows manifest.json where manifest.sig must be: a bundle without a signature is refused',
  },
  { name: 'a manifest alone', bytes: () => rawTar([headMembers(manifest, key.privateKey)[0]]), code: 'missing-signature', message: 'no manifest.sig: the archive ends after manifest.json; a bundle without a signature is refused' },
  {
    name: 'the signature before the manifest', bytes: () => { const [m, s] = headMembers(manifest, key.privateKey); return rawTar([s, m, ...payloadMembers(FILES)]); },
    code: 'out-of-order', message: 'manifest.sig comes before manifest.json: manifest.json is the first member',
  },
  { name: 'an empty archive', bytes: () => rawTar([]), code: 'manifest-invalid', message: 'no manifest.json: the archive ends before its first member' },
  {
    name: 'a signed manifest listing ../x', bytes: () => crafted([], manifestFor([{ path: '../x', data: 'x' }])), code: 'path-escape',
    message: 'manifest.json: payload.files[0].path "../x": a \'..\' segment escapes the tree',
  },
  {
    name: 'a signed manifest listing /etc/x', bytes: () => crafted([], manifestFor([{ path: '/etc/x', data: 'x' }])), code: 'path-escape',
    message: 'manifest.json: payload.files[0].path "/etc/x": absolute path',
  },
  { name: 'a member named payload/../x', bytes: () => crafted([{ name: 'payload/../x', data: 'x' }]), code: 'path-escape', message: /^member "payload\/\.\.\/x" at byte \d+: a '\.\.' segment escapes the tree$/ },
  { name: 'a member named /etc/x', bytes: () => crafted([{ name: '/etc/x', data: 'x' }]), code: 'path-escape', message: /^member "\/etc\/x" at byte \d+: absolute path$/ },
  { name: 'a member name escaping through its prefix field', bytes: () => crafted([{ prefix: '..', name: 'x', data: 'x' }]), code: 'path-escape', message: /^member "\.\.\/x" at byte \d+/ },
  { name: 'a symlink member', bytes: () => crafted([{ name: 'payload/bin/tandem.js', typeflag: '2', linkname: '/etc/passwd' }]), code: 'link', message: 'payload/bin/tandem.js: a symbolic link (to "/etc/passwd"): a bundle carries regular files only' },
  { name: 'a hardlink member', bytes: () => crafted([{ name: 'payload/bin/tandem.js', typeflag: '1', linkname: 'manifest.json' }]), code: 'link', message: 'payload/bin/tandem.js: a hard link (to "manifest.json"): a bundle carries regular files only' },
  { name: 'a directory member', bytes: () => crafted([{ name: 'payload/bin/', typeflag: '5', mode: 0o755 }]), code: 'unsupported-entry', message: 'payload/bin/: a directory: a bundle carries regular files only (plain ustar, no directories, no extension headers)' },
  {
    name: 'a pax header', bytes: () => crafted([{ name: 'PaxHeaders/tandem.js', typeflag: 'x', data: '30 path=payload/bin/tandem.js\n' }, ...payloadMembers(FILES)]),
    code: 'unsupported-entry', message: 'PaxHeaders/tandem.js: a pax extended header: a bundle carries regular files only (plain ustar, no directories, no extension headers)',
  },
  {
    name: 'a pax header before the manifest', bytes: () => rawTar([{ name: 'PaxHeaders/manifest.json', typeflag: 'x', data: '20 path=manifest.json\n' }, ...headMembers(manifest, key.privateKey)]),
    code: 'unsupported-entry', message: /^PaxHeaders\/manifest\.json: a pax extended header/,
  },
  { name: 'a GNU long-name header', bytes: () => crafted([{ name: '././@LongLink', typeflag: 'L', data: 'payload/bin/tandem.js\0' }]), code: 'unsupported-entry', message: /^\.\/\.\/@LongLink: a GNU long-name header/ },
  {
    name: 'an unknown member between payload files', bytes: () => { const p = payloadMembers(FILES); return crafted([p[0]!, { name: 'payload/evil.js', data: 'x' }, ...p.slice(1)]); },
    code: 'unexpected-member', message: 'payload/evil.js: not in the manifest (where payload/dist/app/node-daemon.js (file 2 of 6) should be)', events: opened(1),
  },
  { name: 'an unknown member after the payload', bytes: () => crafted([...payloadMembers(FILES), { name: 'README', data: 'x' }]), code: 'unexpected-member', message: 'README: not in the manifest (after its last file)', events: opened(FILES.length) },
  { name: 'another first member', bytes: () => rawTar([{ name: 'payload/x', data: 'x' }]), code: 'unexpected-member', message: 'payload/x is the first member: a bundle starts with manifest.json' },
  {
    name: 'out-of-order payload', bytes: () => { const p = payloadMembers(FILES); return crafted([p[1]!, p[0]!, ...p.slice(2)]); },
    code: 'out-of-order', message: "payload/dist/app/node-daemon.js comes before payload/bin/tandem.js (file 1 of 6): payload members follow the manifest's order",
  },
  {
    name: 'a payload member twice', bytes: () => { const p = payloadMembers(FILES); return crafted([p[0]!, p[0]!, ...p.slice(1)]); },
    code: 'duplicate', message: 'payload/bin/tandem.js appears twice', events: opened(1),
  },
  { name: 'the manifest twice', bytes: () => { const [m] = headMembers(manifest, key.privateKey); return rawTar([m, m]); }, code: 'duplicate', message: 'manifest.json appears twice' },
  {
    name: 'a signed manifest listing a path twice', bytes: () => crafted([], manifestFor([FILES[0]!, FILES[0]!])), code: 'duplicate',
    message: 'manifest.json: payload.files[1].path "bin/tandem.js": listed twice',
  },
  {
    name: 'a member larger than declared', bytes: () => { const p = payloadMembers(FILES); return crafted([{ ...p[0]!, data: `${String(FILES[0]!.data)}more` }, ...p.slice(1)]); },
    code: 'size-mismatch', message: `payload/bin/tandem.js: ${String(FILES[0]!.data).length + 4} bytes in the bundle, the manifest declares ${String(FILES[0]!.data).length}`,
  },
  {
    name: 'a member mode other than declared', bytes: () => { const p = payloadMembers(FILES); return crafted([{ ...p[0]!, mode: 0o777 }, ...p.slice(1)]); },
    code: 'bad-header', message: 'payload/bin/tandem.js: header mode 0777, the manifest declares 0755',
  },
  { name: 'trailing garbage after the end', bytes: () => Buffer.concat([good, Buffer.from('garbage')]), code: 'trailing-data', message: /^non-zero byte at \d+, after the end of the archive \(byte \d+\)$/, events: [...opened(FILES.length)] },
  { name: 'zero bytes beyond the record boundary', bytes: () => Buffer.concat([good, Buffer.alloc(10240)]), code: 'trailing-data', message: /^bytes after the end of the archive beyond the record boundary at byte \d+$/, events: [...opened(FILES.length)] },
  { name: 'a part of a block after the end', bytes: () => Buffer.concat([good, Buffer.alloc(100)]), code: 'trailing-data', message: '100 bytes after the last whole end-of-archive block', events: [...opened(FILES.length)] },
  {
    name: 'non-zero padding after a member', bytes: () => { const p = payloadMembers(FILES); return crafted([{ ...p[0]!, padding: 'hidden' }, ...p.slice(1)]); },
    code: 'trailing-data', message: /^payload\/bin\/tandem\.js: non-zero byte at \d+ in the padding after its data$/, events: ['open bin/tandem.js', 'abort bin/tandem.js'],
  },
  { name: 'a bad header checksum', bytes: () => crafted([{ ...payloadMembers(FILES)[0]!, badChecksum: true }]), code: 'bad-header', message: /^header at byte \d+ \(where payload\/bin\/tandem\.js \(file 1 of 6\) should begin\): checksum mismatch/ },
  {
    name: 'a GNU tar header', bytes: () => crafted([{ ...payloadMembers(FILES)[0]!, alter: (h) => { h.write('ustar  \0', 257, 'latin1'); } }]),
    code: 'bad-header', message: /^header at byte \d+ \(where payload\/bin\/tandem\.js \(file 1 of 6\) should begin\): not a POSIX ustar header \(a GNU tar header\): refused$/,
  },
  { name: 'a manifest larger than 1 MiB', bytes: () => rawTar([{ name: 'manifest.json', size: MAX_MANIFEST_BYTES + 1 }]), code: 'manifest-too-large', message: `manifest.json: ${MAX_MANIFEST_BYTES + 1} bytes; a manifest is at most ${MAX_MANIFEST_BYTES}` },
  {
    name: 'a signed manifest that is invalid', bytes: () => crafted([], encodeManifest({ ...manifest, version: '1.2' })), code: 'manifest-invalid',
    message: 'manifest.json: version: must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], not string "1.2"',
  },
  {
    name: 'a signature document too large', bytes: () => rawTar([headMembers(manifest, key.privateKey)[0], { name: 'manifest.sig', data: ' '.repeat(2000) }]),
    code: 'bad-signature', message: 'manifest.sig: 2000 bytes; a signature document is at most 1024',
  },
];

describe('a refused bundle', () => {
  for (const r of refusals) {
    it(`${r.name}: ${r.code}`, async () => {
      const { err, sink } = await refusalOf(r.bytes(), r.options);
      assert.equal(err.code, r.code);
      if (typeof r.message === 'string') assert.equal(err.message, r.message);
      else assert.match(err.message, r.message);
      assert.deepEqual(sink.events, r.events ?? [], 'what the sink was told');
      if (r.events === undefined) assert.equal(sink.bytes, 0, 'no payload byte before a refusal of the head');
      assert.equal(sink.completed, false);
    });
  }

  it('with no trusted key, before reading a single byte', async () => {
    const source = new ChunkedSource(good, 512);
    await assert.rejects(readBundle(source, { trustedKeys: [] }), { code: 'no-trusted-key' });
    assert.equal(source.given.length, 0);
  });

  it('by onManifest: its error passes through, before the sink gets anything', async () => {
    const sink = new RecordingSink();
    const policy = new Error('downgrade refused');
    await assert.rejects(readBundle(new ChunkedSource(good, 4096), { trustedKeys: [key.trusted], sink, onManifest: () => Promise.reject(policy) }), policy);
    assert.deepEqual(sink.events, []);
  });

  it('leaves no file of a refused payload in the staging directory, and nothing at all for a bad signature', async () => {
    const tampered = flip(good, offsetOf(good, daemon) + 512 + 10);
    const staging = await stagingSink(join(freshDir(), 'staging'));
    await assert.rejects(readBundle(new ChunkedSource(tampered, 1000), { trustedKeys: [key.trusted], sink: staging }), { code: 'hash-mismatch' });
    assert.deepEqual(readdirSync(join(staging.dir, 'dist/app')), [], 'the file being written was removed');
    await staging.discard();
    assert.equal(existsSync(staging.dir), false);

    const forged = await stagingSink(join(freshDir(), 'staging'));
    await assert.rejects(readBundle(new ChunkedSource(flip(good, 600), 1000), { trustedKeys: [key.trusted], sink: forged }), { code: 'bad-signature' });
    assert.deepEqual(readdirSync(forged.dir), []);
  });

  it('stops reading its source at the refusal (a read stream is closed)', async () => {
    const dir = freshDir();
    const file = join(dir, 'b.tfw');
    writeFileSync(file, flip(good, 600));
    const stream = createReadStream(file, { highWaterMark: 1024 });
    await assert.rejects(readBundle(stream, { trustedKeys: [key.trusted] }), { code: 'bad-signature' });
    assert.equal(stream.destroyed, true);
  });
});

describe('the bundle writer', () => {
  it('refuses what a node would refuse, and leaves no .part behind', async () => {
    const tree = freshDir();
    put(tree, 'a.js', 'a');
    const out = join(freshDir(), 'x.tfw');
    const long = `${'n'.repeat(101)}.js`;
    put(tree, long, 'b');
    await assert.rejects(writeBundle({ tree, files: [{ path: 'a.js', mode: 0o644 }, { path: long, mode: 0o644 }], fields: fieldsOf(manifest), signingKey: key.privateKey, out }),
      { message: `a node would refuse this bundle (manifest-invalid): manifest.json: payload.files[1].path "${long}": too long for a ustar member name (payload/… must fit prefix 155 + name 100 bytes)` });
    await assert.rejects(writeBundle({ tree, files: [{ path: 'a.js', mode: 0o600 }], fields: fieldsOf(manifest), signingKey: key.privateKey, out }), /payload\.files\[0\]\.mode: must be 0o644/);
    await assert.rejects(writeBundle({ tree, files: [{ path: 'a.js', mode: 0o644 }], fields: { ...fieldsOf(manifest), published: '2026-02-30' }, signingKey: key.privateKey, out }), /published: must be a calendar date/);
    symlinkSync('a.js', join(tree, 'link.js'));
    await assert.rejects(writeBundle({ tree, files: [{ path: 'link.js', mode: 0o644 }], fields: fieldsOf(manifest), signingKey: key.privateKey, out }), { code: 'ELOOP' });
    assert.deepEqual(readdirSync(join(out, '..')), []);
  });

  it('writes headers with the built_at time, and signs the manifest bytes it stores', async () => {
    const { file } = await writtenBundle();
    const bytes = readFileSync(file);
    const size = parseInt(bytes.subarray(124, 135).toString('latin1'), 8);
    const manifestBytes = bytes.subarray(512, 512 + size);
    assert.equal(parseInt(bytes.subarray(136, 147).toString('latin1'), 8), Date.parse(BUILT_AT) / 1000);
    const sigAt = 512 + Math.ceil(size / 512) * 512;
    const sigSize = parseInt(bytes.subarray(sigAt + 124, sigAt + 135).toString('latin1'), 8);
    assert.equal(bytes.subarray(sigAt + 512, sigAt + 512 + sigSize).toString(), Buffer.from(signManifest(manifestBytes, key.privateKey)).toString());
  });
});
