/**
 * Text → validated configuration, without touching the file system: the YAML is parsed, its
 * shape checked (schema.ts), the values related to each other checked (check.ts), and only when
 * nothing was refused is the resolved `TandemConfig` built.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { checkDocument } from './check.js';
import { formatIpv4, parseBareIpv4, parseCidr } from './ipv4.js';
import { configSchema, DEFAULTS, fieldPath, schemaErrors, type RawConfig } from './schema.js';
import type { ConfigError, ConfigResult, InterfaceConfig, NodeConfig, TandemConfig } from './types.js';
import { CONFIG_MIGRATIONS, CONFIG_SCHEMA } from '../core/compat.js';
import { migrateConfig } from '../core/firmware/migrate.js';

/** `api.listen` (checked by check.ts): null for "off". */
export function listenOf(text: string): { host: string; port: number } | null {
  if (text === 'off') return null;
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5})$/.exec(text);
  if (m !== null) return { host: m[1] ?? '0.0.0.0', port: Number(m[2]) };
  return { host: text, port: DEFAULTS.apiPort };
}

/** The document's `schema` (1 when absent); anything else is left for the schema check to refuse. */
export function schemaOf(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || !('schema' in raw)) return 1;
  return raw.schema ?? 1;
}

/**
 * Validates the text of a configuration file. `file` names it in the errors (made absolute) and
 * anchors relative paths; it is not read.
 */
export function parseConfig(text: string, file: string): ConfigResult {
  const path = resolve(file);
  const fail = (errors: ConfigError[]): ConfigResult => ({ ok: false, errors });
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return fail(doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      // The pretty message ends with " at line L, column C:" and a code excerpt: the field says where.
      const reason = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
      return { file: path, field: pos === undefined ? '' : `line ${pos.line}, column ${pos.col}`, reason };
    }));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return fail([{ file: path, field: '', reason: `cannot read the YAML: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  if (raw === null || raw === undefined) {
    return fail([{ file: path, field: '', reason: 'the configuration is empty: it needs at least cluster and nodes' }]);
  }
  const version = schemaOf(raw);
  if (typeof version === 'number' && version > CONFIG_SCHEMA) {
    // Written by a newer firmware: nothing else in it can be judged by this one.
    return fail([{ file: path, field: 'schema', reason: `the configuration is at schema ${version}, newer than this firmware reads (schema ${CONFIG_SCHEMA}): it was written by a newer firmware` }]);
  }
  if (typeof version === 'number' && Number.isInteger(version) && version < CONFIG_SCHEMA) {
    // An older file is read through the migrations, in memory (`tandem config migrate` writes it).
    const migrated = migrateConfig(raw, CONFIG_SCHEMA, CONFIG_MIGRATIONS);
    if (!migrated.ok) return fail([{ file: path, field: 'schema', reason: `cannot migrate the configuration: ${migrated.reason}` }]);
    raw = migrated.doc;
  }
  const shape = configSchema.safeParse(raw);
  const errors = [...(shape.success ? [] : schemaErrors(path, shape.error.issues)), ...checkDocument(raw, path)];
  if (!shape.success || errors.length > 0) return fail(inDocumentOrder(errors, raw));
  return { ok: true, config: build(shape.data, path) };
}

/**
 * Sorts errors in the order of the file (an error about a key that is missing goes with its
 * parent), so that an operator reads them top to bottom. Stable: errors about one value keep
 * their order.
 */
function inDocumentOrder(errors: readonly ConfigError[], raw: unknown): ConfigError[] {
  const order = new Map<string, number>();
  const walk = (v: unknown, path: readonly (string | number)[]): void => {
    order.set(fieldPath(path), order.size);
    if (Array.isArray(v)) v.forEach((x: unknown, i) => { walk(x, [...path, i]); });
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(raw, []);
  const position = (field: string): number => {
    for (let f = field; ; ) {
      const at = order.get(f);
      if (at !== undefined) return at;
      const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
      if (cut <= 0) return 0;
      f = f.slice(0, cut);
    }
  };
  return errors.map((e, i) => ({ e, i, at: position(e.field) }))
    .sort((x, y) => x.at - y.at || x.i - y.i)
    .map(({ e }) => e);
}

function build(raw: RawConfig, file: string): TandemConfig {
  const dir = dirname(file);
  const abs = (p: string) => resolve(dir, p);
  const absOrNull = (p: string | null | undefined) => (p === null || p === undefined ? null : abs(p));
  // A program given as a path (with a "/") is resolved like every path; a bare name is looked up in PATH.
  const program = (argv: readonly string[]) => {
    const [first, ...rest] = argv;
    return first !== undefined && first.includes('/') && !isAbsolute(first) ? [abs(first), ...rest] : [...argv];
  };
  const cidr = (text: string) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new Error(`unreachable: ${text} passed validation`);
    return parsed.value;
  };
  // Object.fromEntries makes own properties even of a name like "__proto__".
  const nodes = Object.fromEntries(Object.entries(raw.nodes).map(([name, node]): [string, NodeConfig] => {
    const interfaces = Object.fromEntries(Object.entries(node.interfaces).map(([ifname, iface]): [string, InterfaceConfig] => {
      const net = cidr(iface.address);
      return [ifname, {
        address: formatIpv4(net.value),
        prefix: net.prefix,
        nextHops: (iface.next_hop ?? []).map((hop) => {
          const parsed = parseBareIpv4(hop.address);
          if (!parsed.ok) throw new Error(`unreachable: ${hop.address} passed validation`);
          return { address: formatIpv4(parsed.value), weight: hop.weight ?? DEFAULTS.weight };
        }),
      }];
    }));
    return [name, { name, stateDir: abs(node.state_dir), dataDir: absOrNull(node.data_dir), interfaces }];
  }));
  const service = raw.service ?? {};
  return {
    file,
    cluster: {
      name: raw.cluster.name,
      keyFile: abs(raw.cluster.key_file),
      haLink: raw.cluster.ha_link,
      heartbeat: raw.cluster.heartbeat ?? DEFAULTS.heartbeat,
      timing: raw.cluster.timing ?? DEFAULTS.timing,
      port: raw.cluster.port ?? DEFAULTS.port,
    },
    service: {
      vips: (service.vips ?? []).map((v) => {
        const net = cidr(v.address);
        return { interface: v.interface, address: formatIpv4(net.value), prefix: net.prefix };
      }),
      onPrimary: absOrNull(service.on_primary),
      onSecondary: absOrNull(service.on_secondary),
      hookTimeoutMs: service.hook_timeout_ms ?? DEFAULTS.hookTimeoutMs,
    },
    sync: {
      port: raw.sync?.port ?? raw.cluster.port ?? DEFAULTS.port,
      // Mbit/s → bytes/s (10⁶ bits / 8).
      resyncRateBytesPerSec: Math.round(((raw.sync?.resync_rate_mbit ?? DEFAULTS.resyncRateMbit) * 1_000_000) / 8),
    },
    commands: {
      reboot: program(raw.commands?.reboot ?? DEFAULTS.reboot),
      shutdown: program(raw.commands?.shutdown ?? DEFAULTS.shutdown),
    },
    alerts: {
      webhooks: (raw.alerts?.webhooks ?? []).map((w) => ({ url: w.url, secretFile: abs(w.secret_file) })),
    },
    support: { coreDir: absOrNull(raw.support?.core_dir) },
    api: {
      listen: listenOf(raw.api?.listen ?? DEFAULTS.apiListen),
      certFile: absOrNull(raw.api?.cert_file),
      keyFile: absOrNull(raw.api?.key_file),
    },
    license: {
      vendorKeys: (raw.license?.vendor_keys ?? []).map((k) => (k.includes('-----BEGIN') ? k : abs(k))),
      warnDays: raw.license?.warn_days ?? DEFAULTS.licenseWarnDays,
    },
    firmware: {
      // Inline PEM text stays as it is; anything else is a path, resolved like every path.
      trustedKeys: (raw.firmware?.trusted_keys ?? []).map((k) => (k.includes('-----BEGIN') ? k : abs(k))),
      trialTimeoutS: raw.firmware?.trial_timeout_s ?? DEFAULTS.trialTimeoutS,
      trialAttempts: raw.firmware?.trial_attempts ?? DEFAULTS.trialAttempts,
    },
    nodes,
  };
}
