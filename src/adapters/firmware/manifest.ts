/**
 * The bundle manifest (`manifest.json`, format 1; the type is core/firmware/types.ts Manifest),
 * checked strictly: an unknown key, a wrong type, a value out of its range or a payload list that
 * could be extracted in two ways is refused with the field and the reason. Every field and rule
 * is documented in docs/firmware-bundle.md.
 *
 * The reader checks a manifest only after its signature verified (a forged manifest is refused
 * as a bad signature before it is even parsed), and the writer runs the same checks before it
 * signs, so it never produces a bundle a node would refuse.
 */
import { z } from 'zod';
import type { Manifest, Release } from '../../core/firmware/types.js';
import { BundleRefused } from './refusal.js';
import { MAX_MEMBER_SIZE, splitName } from './ustar.js';

export const MANIFEST_FORMAT = 1;
/** Largest manifest.json: it is held in memory whole (it must be, to check its signature). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Payload members are named PAYLOAD_PREFIX + the manifest's path. */
export const PAYLOAD_PREFIX = 'payload/';
/** The permission bits a payload file may have: plain or executable, nothing else. */
export const PAYLOAD_MODES: readonly number[] = [0o644, 0o755];

/** The fields a builder chooses; format, product and payload are the writer's. */
export type ManifestFields = Omit<Manifest, 'format' | 'product' | 'payload'>;

/**
 * MAJOR.MINOR.PATCH[-PRERELEASE] of semver 2.0.0 (no leading zeros, identifiers of
 * [0-9A-Za-z-]). Build metadata (+…) is refused: it does not count in version precedence, so two
 * different firmwares could otherwise carry "equal" versions.
 */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$/;
const MAX_VERSION_LENGTH = 64;

export function isSemver(v: string): boolean {
  return v.length <= MAX_VERSION_LENGTH && SEMVER.test(v)
    && v.split('-')[0]?.split('.').every((n) => Number.isSafeInteger(Number(n))) === true;
}

/** A real calendar date YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDate(v: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (m === null) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** An ISO 8601 UTC time as Date.prototype.toISOString writes it. */
function isIsoUtc(v: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/.test(v) && isCalendarDate(v.slice(0, 10)) && !Number.isNaN(Date.parse(v));
}

/**
 * Why `p` is not a safe relative POSIX path inside the firmware tree, or null. Refused: empty,
 * absolute, a `..`, `.` or empty segment (a//b, a trailing /), a backslash (a separator
 * elsewhere), a NUL or any other control character (a NUL cuts a C string short; a newline
 * forges lines in listings and logs).
 */
export function pathProblem(p: string): string | null {
  if (p === '') return 'empty path';
  for (let i = 0; i < p.length; i++) {
    const code = p.charCodeAt(i);
    if (code === 0) return 'contains a NUL byte';
    if (code < 0x20 || code === 0x7f) return `contains a control character (U+${code.toString(16).padStart(4, '0').toUpperCase()})`;
  }
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'absolute path';
  for (const segment of p.split('/')) {
    if (segment === '..') return "a '..' segment escapes the tree";
    if (segment === '.') return "a '.' segment";
    if (segment === '') return 'an empty segment (// or a trailing /)';
  }
  return null;
}

/** How a JSON value is called in a message. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return `${typeof v} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

const semver = z.string().refine(isSemver, { error: (iss) => `must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], not ${describe(iss.input)}` });
const date = z.string().refine(isCalendarDate, { error: (iss) => `must be a calendar date YYYY-MM-DD, not ${describe(iss.input)}` });
const releaseType = z.enum(['lts', 'feature']);
const count = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
/** A dotted configuration key path; `*` segments are wildcards (core/firmware/types.ts). */
const keyPath = z.string().regex(/^[^.]+(?:\.[^.]+)*$/, { error: 'must be a dotted key path (a.b.c) without empty segments' });
const stars = (p: string): number => p.split('.').filter((s) => s === '*').length;

const migrationStep = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('rename'), from: keyPath, to: keyPath })
    .refine((s) => stars(s.from) === stars(s.to), { error: 'from and to must have the same number of * segments' }),
  z.strictObject({ op: z.literal('remove'), path: keyPath }),
  z.strictObject({ op: z.literal('set-default'), path: keyPath, value: z.json() }),
], { error: 'op must be "rename", "remove" or "set-default"' });

const migration = z.strictObject({
  from: count(1),
  to: count(2),
  description: z.string().min(1),
  steps: z.array(migrationStep),
}).refine((m) => m.to === m.from + 1, { error: 'a migration goes from one schema to the next (to = from + 1)' });

const release = z.strictObject({ version: semver, type: releaseType, published: date });

const payloadFile = z.strictObject({
  path: z.string(),
  size: count(0, MAX_MEMBER_SIZE),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lower-case hex digits' }),
  mode: z.number().refine((m) => PAYLOAD_MODES.includes(m), { error: (iss) => `must be 0o644 (420) or 0o755 (493), not ${describe(iss.input)}` }),
});

const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT, { error: (iss) => `must be ${MANIFEST_FORMAT} (this firmware reads format ${MANIFEST_FORMAT} only), not ${describe(iss.input)}` }),
  product: z.literal('tandem', { error: (iss) => `must be "tandem", not ${describe(iss.input)}` }),
  version: semver,
  type: releaseType,
  published: date,
  notes: z.string(),
  min_from: semver.nullable(),
  config_schema: z.strictObject({ version: count(1), migrations: z.array(migration) }),
  ha_protocol: z.strictObject({ min: count(1), max: count(1) }),
  releases: z.array(release),
  runtime: z.strictObject({
    node_abi: z.string().regex(/^\d+$/, { error: 'must be a Node.js ABI number (process.versions.modules)' }),
    platform: z.string().min(1),
    arch: z.string().min(1),
  }),
  payload: z.strictObject({ files: z.array(payloadFile), bytes: count(0) }),
  built_at: z.string().refine(isIsoUtc, { error: (iss) => `must be an ISO 8601 UTC time (2026-01-31T12:00:00.000Z), not ${describe(iss.input)}` }),
});

/** Messages for zod's generic issues, in the words of the rest of the file. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type': return iss.input === undefined ? 'missing' : `must be ${iss.expected === 'int' ? 'an integer' : iss.expected}, not ${describe(iss.input)}`;
    case 'unrecognized_keys': return `unknown ${iss.keys.length === 1 ? 'key' : 'keys'} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')} (format ${MANIFEST_FORMAT} has no such field)`;
    case 'invalid_value': return `must be ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}, not ${describe(iss.input)}`;
    case 'too_small': return iss.origin === 'string' ? 'must not be empty' : `must be at least ${String(iss.minimum)}, not ${describe(iss.input)}`;
    case 'too_big': return `must be at most ${String(iss.maximum)}, not ${describe(iss.input)}`;
    // zod's own words, or the schema's, for the rest
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
    default: return undefined;
  }
};

const fieldOf = (path: readonly PropertyKey[]): string =>
  path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('') || '(the manifest)';

const refuse = (code: ConstructorParameters<typeof BundleRefused>[0], message: string): never => {
  throw new BundleRefused(code, `manifest.json: ${message}`);
};

/**
 * Checks a parsed manifest: the schema, then what relates several fields. Throws BundleRefused:
 * 'path-escape' for an unsafe payload path, 'duplicate' for a path listed twice or listed both
 * as a file and as a directory, 'manifest-invalid' for everything else.
 */
export function checkManifest(value: unknown): Manifest {
  const parsed = manifestSchema.safeParse(value, { error: errorMap });
  if (!parsed.success) {
    const [first, ...rest] = parsed.error.issues;
    const more = rest.length === 0 ? '' : ` (and ${rest.length} more ${rest.length === 1 ? 'problem' : 'problems'})`;
    return refuse('manifest-invalid', `${fieldOf(first?.path ?? [])}: ${first?.message ?? 'invalid'}${more}`);
  }
  const m: Manifest = parsed.data;
  checkPayload(m);
  checkSchemaChain(m.config_schema);
  if (m.ha_protocol.min > m.ha_protocol.max) {
    refuse('manifest-invalid', `ha_protocol: min ${m.ha_protocol.min} is above max ${m.ha_protocol.max}`);
  }
  return m;
}

function checkPayload(m: Manifest): void {
  const files = new Set<string>();
  let bytes = 0;
  m.payload.files.forEach((f, i) => {
    const where = `payload.files[${i}].path ${JSON.stringify(f.path)}`;
    const problem = pathProblem(f.path);
    if (problem !== null) refuse('path-escape', `${where}: ${problem}`);
    if (splitName(PAYLOAD_PREFIX + f.path) === null) {
      refuse('manifest-invalid', `${where}: too long for a ustar member name (${PAYLOAD_PREFIX}… must fit prefix 155 + name 100 bytes)`);
    }
    if (files.has(f.path)) refuse('duplicate', `${where}: listed twice`);
    files.add(f.path);
    bytes += f.size;
  });
  // A file and a directory of the same name cannot both be extracted: which one wins would
  // depend on the order of extraction. Checked once every file is known, in either order.
  m.payload.files.forEach((f, i) => {
    for (let cut = f.path.indexOf('/'); cut > 0; cut = f.path.indexOf('/', cut + 1)) {
      const dir = f.path.slice(0, cut);
      if (files.has(dir)) refuse('duplicate', `payload.files[${i}].path ${JSON.stringify(f.path)}: ${JSON.stringify(dir)} is listed as a file`);
    }
  });
  if (bytes !== m.payload.bytes) {
    refuse('manifest-invalid', `payload.bytes: ${m.payload.bytes}, but the files' sizes add up to ${bytes}`);
  }
}

/** The migrations lead, one schema at a time, up to the schema this firmware runs. */
function checkSchemaChain(s: Manifest['config_schema']): void {
  s.migrations.forEach((mig, i) => {
    const next = s.migrations[i + 1];
    if (next !== undefined && next.from !== mig.to) {
      refuse('manifest-invalid', `config_schema.migrations[${i + 1}]: starts from schema ${next.from}, the one before ends at ${mig.to}`);
    }
  });
  const last = s.migrations[s.migrations.length - 1];
  if (last !== undefined && last.to !== s.version) {
    refuse('manifest-invalid', `config_schema.migrations: end at schema ${last.to}, not at config_schema.version ${s.version}`);
  }
}

/** A list of releases (a builder's --releases file); throws an Error naming the entry and field. */
export function checkReleases(value: unknown): Release[] {
  const parsed = z.array(release).safeParse(value, { error: errorMap });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? 'the list' : fieldOf(issue.path);
  throw new Error(`${where}: ${issue?.message ?? 'invalid'} (a list of {"version","type","published"})`);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses and checks manifest.json's bytes (checkManifest); 'manifest-too-large' above the limit. */
export function parseManifest(bytes: Uint8Array): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) refuse('manifest-too-large', `${bytes.length} bytes; a manifest is at most ${MAX_MANIFEST_BYTES}`);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return refuse('manifest-invalid', 'not UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return refuse('manifest-invalid', `not JSON (${(err as Error).message})`);
  }
  return checkManifest(value);
}

/** The bytes the writer stores: indented JSON (readable with `tar xOf b manifest.json`), UTF-8. */
export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(m, null, 2)}\n`);
}
