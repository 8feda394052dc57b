/**
 * The strict ustar header: what the writer encodes decodes to the same, long paths split into
 * prefix and name, and every deviation from plain ustar is named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BLOCK, decodeHeader, describeTypeflag, encodeHeader, isZeroBlock, MAX_MEMBER_SIZE, splitName } from './ustar.js';

const ascii = (s: string): number[] => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));

/** Rewrites the checksum after a test altered a header, so only the alteration is wrong. */
function reseal(h: Uint8Array): Uint8Array {
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(ascii(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return h;
}

describe('ustar headers', () => {
  it('decodes what it encodes, the checksum in the ustar form (6 digits, NUL, space)', () => {
    const h = encodeHeader('payload/dist/app/node-daemon.js', 12345, 0o755, 1_700_000_000);
    assert.equal(h.length, BLOCK);
    assert.deepEqual([h[154], h[155]], [0, 0x20]);
    assert.deepEqual(decodeHeader(h), {
      ok: true,
      header: { path: 'payload/dist/app/node-daemon.js', typeflag: '0', mode: 0o755, size: 12345, linkname: '' },
    });
    assert.equal(isZeroBlock(h), false);
    assert.equal(isZeroBlock(new Uint8Array(BLOCK)), true);
  });

  it('holds the largest size the 11-digit field allows, no more', () => {
    const h = encodeHeader('f', MAX_MEMBER_SIZE, 0o644, 0);
    const d = decodeHeader(h);
    assert.equal(d.ok && d.header.size, MAX_MEMBER_SIZE);
    assert.throws(() => encodeHeader('f', MAX_MEMBER_SIZE + 1, 0o644, 0), /size 8589934592 does not fit a ustar header/);
  });

  const long = `payload/${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}.js`;
  const splits: readonly { path: string; expected: { prefix: string; name: string } | null }[] = [
    { path: 'a/b', expected: { prefix: '', name: 'a/b' } },
    { path: 'x'.repeat(100), expected: { prefix: '', name: 'x'.repeat(100) } },
    { path: long, expected: { prefix: `payload/${'d'.repeat(60)}/${'e'.repeat(60)}`, name: `${'f'.repeat(90)}.js` } },
    // the longest prefix that fits: 155 bytes, then the rest in name
    { path: `${'p'.repeat(155)}/${'n'.repeat(100)}`, expected: { prefix: 'p'.repeat(155), name: 'n'.repeat(100) } },
    { path: 'x'.repeat(101), expected: null },
    { path: `${'p'.repeat(156)}/n`, expected: null },
    { path: `${'p'.repeat(10)}/${'n'.repeat(101)}`, expected: null },
    // UTF-8 bytes count, not characters: 51 two-byte characters are 102 bytes
    { path: 'é'.repeat(51), expected: null },
  ];
  for (const s of splits) {
    it(`splits ${s.path.length > 40 ? `${s.path.slice(0, 20)}… (${s.path.length} chars)` : s.path} ${s.expected === null ? 'not at all' : 'into prefix and name'}`, () => {
      assert.deepEqual(splitName(s.path), s.expected);
      if (s.expected !== null) {
        const d = decodeHeader(encodeHeader(s.path, 0, 0o644, 0));
        assert.equal(d.ok && d.header.path, s.path);
      } else {
        assert.throws(() => encodeHeader(s.path, 0, 0o644, 0), /does not fit a ustar header/);
      }
    });
  }

  const bad: readonly { name: string; alter: (h: Uint8Array) => void; problem: RegExp }[] = [
    { name: 'a wrong checksum', alter: (h) => { h[0] = 0x41; }, problem: /^checksum mismatch \(stored \d+, computed \d+\)/ },
    { name: 'the GNU magic', alter: (h) => { h.set(ascii('ustar  \0'), 257); reseal(h); }, problem: /^not a POSIX ustar header \(a GNU tar header\): refused$/ },
    { name: 'no magic (v7 tar)', alter: (h) => { h.fill(0, 257, 265); reseal(h); }, problem: /^not a POSIX ustar header \(no magic: a v7 tar header, or not a header\)/ },
    { name: 'another magic', alter: (h) => { h.set(ascii('USTAR\0'), 257); reseal(h); }, problem: /^not a POSIX ustar header \(magic "USTAR\\u000000"\)/ },
    { name: 'a non-octal size', alter: (h) => { h.set(ascii('0000000009\0'), 124); reseal(h); }, problem: /^size field is not an octal number \("0000000009"\)/ },
    { name: 'an empty size', alter: (h) => { h.fill(0, 124, 136); reseal(h); }, problem: /^size field is not an octal number/ },
    { name: 'a base-256 size', alter: (h) => { h.fill(0, 124, 136); h[124] = 0x80; h[135] = 1; reseal(h); }, problem: /^size field in base-256 \(a GNU extension\): refused$/ },
    { name: 'garbage after the digits', alter: (h) => { h.set(ascii('0000644\0'), 100); h[106] = 0x20; h[107] = 0x41; reseal(h); }, problem: /^mode field is not an octal number/ },
    { name: 'a non-octal mtime', alter: (h) => { h.set(ascii('1x\0'), 136); reseal(h); }, problem: /^mtime field is not an octal number/ },
    { name: 'bytes after the name NUL', alter: (h) => { h[98] = 0x41; reseal(h); }, problem: /^name field has bytes after its terminating NUL$/ },
    { name: 'a name that is not UTF-8', alter: (h) => { h[0] = 0xff; reseal(h); }, problem: /^name field is not UTF-8$/ },
    { name: 'an empty name', alter: (h) => { h.fill(0, 0, 100); reseal(h); }, problem: /^empty name field$/ },
  ];
  for (const b of bad) {
    it(`names ${b.name}`, () => {
      const h = encodeHeader('payload/x', 10, 0o644, 0);
      b.alter(h);
      const d = decodeHeader(h);
      if (d.ok) assert.fail('decoded');
      assert.match(d.problem, b.problem);
    });
  }

  it('reads space-padded and space-terminated numbers, blank optional fields as 0, and a NUL typeflag as a regular file', () => {
    const h = encodeHeader('f', 0, 0o644, 0);
    h.set(ascii('   644 '), 100);
    h.set(ascii('      17 \0\0\0'), 124);
    h.fill(0, 108, 124);
    h.fill(0, 136, 148);
    h[156] = 0;
    const d = decodeHeader(reseal(h));
    assert.deepEqual(d.ok && { mode: d.header.mode, size: d.header.size, typeflag: d.header.typeflag }, { mode: 0o644, size: 0o17, typeflag: '0' });
  });

  it('describes every typeflag it refuses', () => {
    assert.deepEqual(['1', '2', '5', 'x', 'g', 'L', 'K', 'S'].map(describeTypeflag), [
      'a hard link', 'a symbolic link', 'a directory', 'a pax extended header', 'a pax global header',
      'a GNU long-name header', 'a GNU long-link header', 'an entry of unknown type "S"',
    ]);
  });
});
