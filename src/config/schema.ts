/**
 * The shape of the configuration file: which keys exist, their types, ranges and defaults. Every
 * object is strict (an unknown key is an error). Checks that relate several values (subnets,
 * interfaces defined on every node…) are in check.ts.
 */
import { z } from 'zod';
import { TIMING_PROFILE_NAMES } from '../core/timing.js';
import type { ConfigError } from './types.js';

export const DEFAULTS = {
  heartbeat: [] as readonly string[],
  timing: 'default',
  port: 5405,
  hookTimeoutMs: 10_000,
  reboot: ['systemctl', 'reboot'] as readonly string[],
  shutdown: ['systemctl', 'poweroff'] as readonly string[],
  weight: 1,
  /** The full-resync rate limit (SPEC §3): 10 Mbit/s. */
  resyncRateMbit: 10,
  /** A firmware on trial must be healthy within this long (seconds) and this many starts. */
  trialTimeoutS: 600,
  trialAttempts: 3,
  apiListen: '0.0.0.0:8443',
  apiPort: 8443,
  /** Days before a license's end from which it is warned about. */
  licenseWarnDays: 30,
} as const;

export const MAX_LICENSE_WARN_DAYS = 365;

export const MAX_TRIAL_TIMEOUT_S = 86_400;
export const MAX_TRIAL_ATTEMPTS = 10;

/** Largest settable resync rate, Mbit/s (100 Gbit/s): a typo, not a link, beyond that. */
export const MAX_RESYNC_RATE_MBIT = 100_000;

export const MAX_HOOK_TIMEOUT_MS = 3_600_000;
export const MAX_WEIGHT = 1000;

/** How a YAML value is called in a message. */
export function describeValue(v: unknown): string {
  if (v === null) return 'nothing (an empty value)';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string': return `text ("${v}")`;
    case 'number': return `a number (${v})`;
    case 'boolean': return `${v}`;
    case 'object': return 'a mapping (key: value)';
    case 'bigint': return `a number (${v})`;
    case 'undefined': return 'nothing';
    case 'function':
    case 'symbol':
    default: return typeof v;
  }
}

type Issue = { readonly input?: unknown };
const wrongType = (expected: string, missing = 'missing') => (iss: Issue) =>
  iss.input === undefined ? missing : `must be ${expected}, not ${describeValue(iss.input)}`;

const text = (missing?: string) => z.string({ error: wrongType('text', missing) }).min(1, 'must not be empty');

/** A path in the file: absolute, or relative to the configuration file. */
const pathText = (missing?: string) => text(missing).refine((p) => !p.startsWith('~'), {
  error: '"~" is not expanded: write an absolute path or one relative to this file',
});

const integer = (min: number, max: number, what: string, missing?: string) =>
  z.number({ error: (iss) => (iss.input === undefined
    ? (missing ?? 'missing')
    : typeof iss.input === 'number' ? `must be a whole number ${what}, not ${iss.input}` : `must be a number ${what}, not ${describeValue(iss.input)}`) })
    .int()
    .min(min, `must be from ${min} to ${max}${what === '' ? '' : ` ${what}`}`)
    .max(max, `must be from ${min} to ${max}${what === '' ? '' : ` ${what}`}`);

const mapping = <T extends z.core.$ZodLooseShape>(shape: T, missing?: string) =>
  z.strictObject(shape, { error: wrongType('a mapping (key: value)', missing) });

const list = <T extends z.ZodType>(item: T, missing?: string) =>
  z.array(item, { error: wrongType('a list', missing) });

const argv = list(text()).min(1, 'must name a program: a list like [systemctl, reboot]');

const nextHop = mapping({
  address: text('missing: every next hop needs an address'),
  weight: integer(1, MAX_WEIGHT, '').nullish(),
});

const iface = mapping({
  address: text('missing: every interface needs an address'),
  // A single address is the short form of a one-element list.
  next_hop: z.preprocess(
    (v) => (typeof v === 'string' ? [{ address: v }] : v),
    list(nextHop).min(1, 'an empty list: give at least one next hop, or remove next_hop'),
  ).nullish(),
});

const node = mapping({
  state_dir: pathText('missing: every node needs a state directory'),
  data_dir: pathText().nullish(),
  interfaces: z.record(z.string(), iface, { error: wrongType('a mapping of interface names', 'missing: every node needs its interfaces') }),
});

export const configSchema = mapping({
  // The schema of this file (core/compat.ts CONFIG_SCHEMA); checked and migrated before the rest.
  schema: integer(1, 1_000_000, '(the configuration schema)').nullish(),
  cluster: mapping({
    name: text('missing: the cluster needs a name').regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
      error: 'use 1 to 63 characters A-Z, a-z, 0-9, "_", "." or "-", starting with a letter or digit',
    }),
    key_file: pathText('missing: the heartbeat key file is required'),
    ha_link: text('missing: name the HA link interface'),
    heartbeat: list(text()).nullish(),
    timing: z.enum(TIMING_PROFILE_NAMES, {
      error: (iss) => `must be ${TIMING_PROFILE_NAMES.join(' or ')}, not ${describeValue(iss.input)}`,
    }).nullish(),
    port: integer(1, 65535, '(a UDP port)').nullish(),
  }),
  service: mapping({
    vips: list(mapping({
      interface: text('missing: name the interface of the virtual IP'),
      address: text('missing: every virtual IP needs an address (a.b.c.d/p)'),
    })).nullish(),
    on_primary: pathText().nullish(),
    on_secondary: pathText().nullish(),
    hook_timeout_ms: integer(1, MAX_HOOK_TIMEOUT_MS, 'milliseconds').nullish(),
  }).nullish(),
  sync: mapping({
    // TCP port of data replication on the HA link; the heartbeats' port number (they are UDP) unless given.
    port: integer(1, 65535, '(a TCP port)').nullish(),
    // Full (re)synchronization rate limit in Mbit/s; 0 = unlimited. Live replication is never limited.
    resync_rate_mbit: z.number({ error: (iss) => (iss.input === undefined ? 'missing' : `must be a number of Mbit/s, not ${describeValue(iss.input)}`) })
      .min(0, `must be from 0 (unlimited) to ${MAX_RESYNC_RATE_MBIT} Mbit/s`)
      .max(MAX_RESYNC_RATE_MBIT, `must be from 0 (unlimited) to ${MAX_RESYNC_RATE_MBIT} Mbit/s`)
      .nullish(),
  }).nullish(),
  commands: mapping({
    reboot: argv.nullish(),
    shutdown: argv.nullish(),
  }).nullish(),
  support: mapping({
    // Where core dump files are collected (tandem core list | get | delete): set the kernel's
    // core_pattern (or systemd-coredump's storage) to write there. <state_dir>/cores unless given.
    core_dir: pathText().nullish(),
  }).nullish(),
  alerts: mapping({
    // Where every HA, sync, firmware and license alert is POSTed (JSON), signed with HMAC-SHA256.
    webhooks: list(mapping({
      url: text('missing: every webhook needs a url (http:// or https://)'),
      secret_file: pathText('missing: every webhook needs a secret_file: the HMAC key the receiver checks the signature with'),
    })).nullish(),
  }).nullish(),
  api: mapping({
    // The HTTPS API and web console: "ADDRESS:PORT", "PORT" (all addresses) or "ADDRESS" (port 8443); "off" disables it.
    listen: text().nullish(),
    // A certificate and key of the operator's (PEM); without them a self-signed pair is made on first start.
    cert_file: pathText().nullish(),
    key_file: pathText().nullish(),
  }).nullish(),
  firmware: mapping({
    // Public keys (PEM text, or the path of a PEM file) whose signatures this node accepts on a
    // firmware bundle. None: every bundle is refused — signing is never off.
    trusted_keys: list(text()).nullish(),
    trial_timeout_s: integer(1, MAX_TRIAL_TIMEOUT_S, 'seconds').nullish(),
    trial_attempts: integer(1, MAX_TRIAL_ATTEMPTS, 'starts').nullish(),
  }).nullish(),
  license: mapping({
    // Public keys (PEM text, or the path of a PEM file) of the vendor whose signature a license
    // must carry (Ed25519, like firmware keys). None: every license is refused.
    vendor_keys: list(text()).nullish(),
    // Expiry warnings start this many days before the license ends.
    warn_days: integer(1, MAX_LICENSE_WARN_DAYS, 'days').nullish(),
  }).nullish(),
  nodes: z.record(z.string(), node, { error: wrongType('a mapping of node names', 'missing: name this node (and the other one, for a cluster)') }),
});

export type RawConfig = z.output<typeof configSchema>;

/** `nodes.a.interfaces.ext0.next_hop`, `service.vips[1].address`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

export function schemaErrors(file: string, issues: readonly z.core.$ZodIssue[]): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push({ file, field: fieldPath([...issue.path, key]), reason: 'unknown key' });
    } else {
      errors.push({ file, field: fieldPath(issue.path), reason: issue.message });
    }
  }
  return errors;
}
