/**
 * A configuration file carried to the schema this firmware reads, on disk: the pure migration
 * (core/firmware/migrate.ts) gives edits, applied here to the YAML document so the operator's
 * comments and layout survive. Used by `tandem config migrate` (which the launcher runs with a
 * new firmware's own code before its first start) and by `tandem config check`.
 */
import { parseDocument } from 'yaml';
import { CONFIG_MIGRATIONS, CONFIG_SCHEMA } from '../core/compat.js';
import { migrateConfig } from '../core/firmware/migrate.js';
import type { Migration } from '../core/firmware/types.js';
import { parseConfig, schemaOf } from './parse.js';
import { formatConfigError, type ConfigError } from './types.js';

export type MigrateText =
  | { readonly ok: true; readonly text: string; readonly from: number; readonly to: number; readonly applied: readonly Migration[] }
  | { readonly ok: false; readonly errors: readonly string[] };

/** The text migrated and then validated for `node` by this firmware; unchanged when already current. */
export function migrateText(text: string, file: string, node: string): MigrateText {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, errors: doc.errors.map((e) => `${file}: ${e.message.split('\n')[0] ?? e.message}`) };
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  const version = schemaOf(raw);
  if (typeof version === 'number' && version > CONFIG_SCHEMA) {
    // Written by a newer firmware: the loader's own words for it.
    const refused = parseConfig(text, file);
    if (!refused.ok) return { ok: false, errors: refused.errors.map(formatConfigError) };
  }
  const result = migrateConfig(raw, CONFIG_SCHEMA, CONFIG_MIGRATIONS);
  if (!result.ok) return { ok: false, errors: [`${file}: schema: cannot migrate the configuration: ${result.reason}`] };
  for (const e of result.edits) {
    if (e.op === 'set') doc.setIn(e.path, doc.createNode(e.value));
    else doc.deleteIn(e.path);
  }
  const out = result.edits.length === 0 ? text : doc.toString();
  const checked = parseConfig(out, file);
  if (!checked.ok) return { ok: false, errors: checked.errors.map(formatConfigError) };
  if (!Object.hasOwn(checked.config.nodes, node)) {
    const e: ConfigError = { file, field: 'nodes', reason: `node ${node} is not in the configuration` };
    return { ok: false, errors: [formatConfigError(e)] };
  }
  return { ok: true, text: out, from: result.fromSchema, to: result.toSchema, applied: result.applied };
}
