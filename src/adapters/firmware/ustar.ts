/**
 * The POSIX ustar header (IEEE Std 1003.1, "pax" utility, ustar interchange format), strictly:
 * the only tar a firmware bundle may be (docs/firmware-bundle.md). A bundle is a tar so that
 * `tar tvf` can look into one, but its reader accepts only the plain ustar form its writer
 * produces: no pax or GNU extensions, no base-256 numbers, every numeric field octal, every
 * checksum right. Anything a stricter reader might interpret differently from a lenient one is
 * refused, so two readers never see two different bundles in the same bytes.
 *
 * Header block, 512 bytes (numbers are octal ASCII, NUL- or space-terminated):
 *
 *   offset  size  field        bundle writer
 *   0       100   name         last part of the path (the whole path when it fits)
 *   100     8     mode         0000644 / 0000755
 *   108     8     uid          0000000
 *   116     8     gid          0000000
 *   124     12    size         11 digits: up to 8 GiB - 1
 *   136     12    mtime        the manifest's built_at, seconds
 *   148     8     chksum       sum of the 512 bytes with this field as spaces: 6 digits NUL space
 *   156     1     typeflag     '0' (regular file); a reader also takes NUL, the old form of it
 *   157     100   linkname     empty
 *   257     6     magic        "ustar" NUL
 *   263     2     version      "00"
 *   265     32    uname        empty
 *   297     32    gname        empty
 *   329     8     devmajor     0000000
 *   337     8     devminor     0000000
 *   345     155   prefix       the leading directories when the path does not fit in name
 *   500     12    (padding)    zero
 *
 * A member's data follows its header, padded with zero bytes to a multiple of 512. The archive
 * ends with at least two zero blocks.
 */

export const BLOCK = 512;
/** tar's traditional record (20 blocks): a writer may pad the end up to its boundary. */
export const RECORD = 10240;
/** Largest size the 12-byte octal field holds (11 digits). */
export const MAX_MEMBER_SIZE = 0o77777777777;
const NAME_BYTES = 100;
const PREFIX_BYTES = 155;

const F = {
  name: [0, 100], mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12],
  chksum: [148, 8], typeflag: [156, 1], linkname: [157, 100], magic: [257, 6], version: [263, 2],
  uname: [265, 32], gname: [297, 32], devmajor: [329, 8], devminor: [337, 8], prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;
type Field = keyof typeof F;

const MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0x00]; // "ustar\0"
const VERSION = [0x30, 0x30]; // "00"
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What a typeflag is, for messages. */
export function describeTypeflag(flag: string): string {
  switch (flag) {
    case '0': return 'a regular file';
    case '1': return 'a hard link';
    case '2': return 'a symbolic link';
    case '3': return 'a character device';
    case '4': return 'a block device';
    case '5': return 'a directory';
    case '6': return 'a FIFO';
    case '7': return 'a contiguous file';
    case 'x': return 'a pax extended header';
    case 'g': return 'a pax global header';
    case 'L': return 'a GNU long-name header';
    case 'K': return 'a GNU long-link header';
    default: return `an entry of unknown type ${JSON.stringify(flag)}`;
  }
}

/**
 * Splits a path into ustar prefix and name (each UTF-8 bytes; joined with a "/"), or null when
 * the ustar form cannot hold it. Deterministic: the whole path in name when it fits, otherwise
 * the longest prefix that fits — the rule of Python's tarfile and GNU tar.
 */
export function splitName(path: string): { prefix: string; name: string } | null {
  if (utf8.encode(path).length <= NAME_BYTES) return { prefix: '', name: path };
  for (let cut = path.lastIndexOf('/'); cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (utf8.encode(prefix).length > PREFIX_BYTES) continue;
    return name.length > 0 && utf8.encode(name).length <= NAME_BYTES ? { prefix, name } : null;
  }
  return null;
}

/** The header of a regular file member, as the bundle writer makes it (table above). */
export function encodeHeader(path: string, size: number, mode: number, mtime: number): Uint8Array {
  const split = splitName(path);
  if (split === null) throw new Error(`${path}: the path does not fit a ustar header (name 100 bytes, prefix 155)`);
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_MEMBER_SIZE) throw new Error(`${path}: size ${size} does not fit a ustar header`);
  const h = new Uint8Array(BLOCK);
  putText(h, 'name', split.name);
  putOctal(h, 'mode', mode);
  putOctal(h, 'uid', 0);
  putOctal(h, 'gid', 0);
  putOctal(h, 'size', size);
  putOctal(h, 'mtime', mtime);
  h[F.typeflag[0]] = 0x30;
  h.set(MAGIC, F.magic[0]);
  h.set(VERSION, F.version[0]);
  putOctal(h, 'devmajor', 0);
  putOctal(h, 'devminor', 0);
  putText(h, 'prefix', split.prefix);
  const sum = checksumOf(h);
  putOctal(h, 'chksum', sum, 6);
  h[F.chksum[0] + 7] = 0x20;
  return h;
}

/** A header as read: only what a bundle reader decides on. */
export interface Header {
  /** prefix + "/" + name, or name. */
  readonly path: string;
  /** '0' for a regular file (NUL is reported as '0'), otherwise the typeflag character. */
  readonly typeflag: string;
  readonly mode: number;
  readonly size: number;
  readonly linkname: string;
}

/** A header, or why it is not a strict ustar header. */
export type Decoded = { readonly ok: true; readonly header: Header } | { readonly ok: false; readonly problem: string };

export function isZeroBlock(block: Uint8Array): boolean {
  return firstNonZero(block) < 0;
}

/** Index of the first non-zero byte, -1 when all are zero. */
export function firstNonZero(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return i;
  return -1;
}

/** Decodes and checks one 512-byte header block (not a zero block). */
export function decodeHeader(h: Uint8Array): Decoded {
  const fail = (problem: string): Decoded => ({ ok: false, problem });
  const stored = octal(h, 'chksum', false);
  if (typeof stored === 'string') return fail(stored);
  const computed = checksumOf(h);
  if (stored !== computed) return fail(`checksum mismatch (stored ${stored.toString(8)}, computed ${computed.toString(8)}): a corrupt or non-tar block`);
  if (!matches(h, 'magic', MAGIC) || !matches(h, 'version', VERSION)) return fail(`not a POSIX ustar header (${describeMagic(h)}): refused`);
  const numbers: Partial<Record<Field, number>> = {};
  for (const field of ['mode', 'size'] as const) {
    const v = octal(h, field, false);
    if (typeof v === 'string') return fail(v);
    numbers[field] = v;
  }
  for (const field of ['uid', 'gid', 'mtime', 'devmajor', 'devminor'] as const) {
    const v = octal(h, field, true);
    if (typeof v === 'string') return fail(v);
  }
  const texts: Partial<Record<Field, string>> = {};
  for (const field of ['name', 'prefix', 'linkname'] as const) {
    const v = text(h, field);
    if (v.ok) texts[field] = v.value;
    else return fail(v.problem);
  }
  const name = texts.name ?? '';
  const prefix = texts.prefix ?? '';
  if (name === '') return fail('empty name field');
  const flag = h[F.typeflag[0]] ?? 0;
  return {
    ok: true,
    header: {
      path: prefix === '' ? name : `${prefix}/${name}`,
      typeflag: flag === 0 ? '0' : String.fromCharCode(flag),
      mode: numbers.mode ?? 0,
      size: numbers.size ?? 0,
      linkname: texts.linkname ?? '',
    },
  };
}

/** Sum of the header's bytes, the checksum field counted as eight spaces (the ustar rule). */
function checksumOf(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : (h[i] ?? 0);
  return sum;
}

/**
 * An octal field: optional leading spaces, one or more octal digits, then only NULs and spaces
 * to the field's end. An all-NUL field reads as 0 where `emptyOk` (fields a writer may leave
 * blank); GNU's base-256 form (high bit set) is refused.
 */
function octal(h: Uint8Array, field: Field, emptyOk: boolean): number | string {
  const [at, len] = F[field];
  const bytes = h.subarray(at, at + len);
  if (emptyOk && isZeroBlock(bytes)) return 0;
  if (((bytes[0] ?? 0) & 0x80) !== 0) return `${field} field in base-256 (a GNU extension): refused`;
  let i = 0;
  while (i < len && bytes[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < len; i++, digits++) {
    const b = bytes[i] ?? 0;
    if (b < 0x30 || b > 0x37) break;
    value = value * 8 + (b - 0x30);
  }
  for (; i < len; i++) {
    const b = bytes[i];
    if (b !== 0 && b !== 0x20) break;
  }
  if (digits === 0 || i < len) return `${field} field is not an octal number (${JSON.stringify(latin1(h, field))})`;
  return value;
}

/** A NUL-terminated (or full-width) UTF-8 text field; only NULs may follow the terminator. */
function text(h: Uint8Array, field: Field): { ok: true; value: string } | { ok: false; problem: string } {
  const [at, len] = F[field];
  const bytes = h.subarray(at, at + len);
  let end = bytes.indexOf(0);
  if (end < 0) end = len;
  if (firstNonZero(bytes.subarray(end)) >= 0) return { ok: false, problem: `${field} field has bytes after its terminating NUL` };
  try {
    return { ok: true, value: strictUtf8.decode(bytes.subarray(0, end)) };
  } catch {
    return { ok: false, problem: `${field} field is not UTF-8` };
  }
}

/** What the 8 bytes of magic and version say the header is instead. */
function describeMagic(h: Uint8Array): string {
  const [at] = F.magic;
  const bytes = h.subarray(at, at + F.magic[1] + F.version[1]);
  if (isZeroBlock(bytes)) return 'no magic: a v7 tar header, or not a header';
  if (String.fromCharCode(...bytes) === 'ustar  \0') return 'a GNU tar header';
  return `magic ${JSON.stringify(String.fromCharCode(...bytes))}`;
}

function matches(h: Uint8Array, field: Field, expected: readonly number[]): boolean {
  const [at] = F[field];
  return expected.every((b, i) => h[at + i] === b);
}

function latin1(h: Uint8Array, field: Field): string {
  const [at, len] = F[field];
  return String.fromCharCode(...h.subarray(at, at + len)).replace(/\0+$/, '');
}

function putText(h: Uint8Array, field: Field, value: string): void {
  const [at, len] = F[field];
  const bytes = utf8.encode(value);
  if (bytes.length > len) throw new Error(`${field} ${JSON.stringify(value)} is longer than ${len} bytes`);
  h.set(bytes, at);
}

/** Zero-padded octal digits filling the field but one byte, then NUL (or `digits` given). */
function putOctal(h: Uint8Array, field: Field, value: number, digits = F[field][1] - 1): void {
  const [at] = F[field];
  const s = value.toString(8).padStart(digits, '0');
  if (s.length > digits) throw new Error(`${field} ${value} does not fit ${digits} octal digits`);
  for (let i = 0; i < digits; i++) h[at + i] = s.charCodeAt(i);
  h[at + digits] = 0;
}
