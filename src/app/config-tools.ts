/**
 * `tandem config check` and `tandem config migrate`: the configuration file as this firmware
 * reads it. A new firmware's own copy of these commands is what Test runs (checking the running
 * configuration under the target's code) and what the launcher runs before the first start of
 * a slot whose schema is newer.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeTextAtomic } from '../adapters/state/store.js';
import { readClusterKey } from '../config/load.js';
import { migrateText } from '../config/migrate-file.js';
import { parseConfig } from '../config/parse.js';
import { formatConfigError } from '../config/types.js';
import { CONFIG_SCHEMA } from '../core/compat.js';

export type ConfigCheck =
  | { readonly ok: true; readonly schema: { readonly from: number; readonly to: number }; readonly migrations: readonly string[]; readonly summary: string }
  | { readonly ok: false; readonly errors: readonly string[] };

function read(file: string): { ok: true; text: string } | { ok: false; errors: string[] } {
  try {
    return { ok: true, text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { ok: false, errors: [`${file}: cannot read the configuration: ${(err as Error).message}`] };
  }
}

export function checkConfigFile(file: string, node: string): ConfigCheck {
  const path = resolve(file);
  const text = read(path);
  if (!text.ok) return text;
  const m = migrateText(text.text, path, node);
  if (!m.ok) return m;
  const parsed = parseConfig(m.text, path);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map(formatConfigError) };
  const key = readClusterKey(parsed.config);
  if (!key.ok) return { ok: false, errors: [formatConfigError(key.error)] };
  const migrations = m.applied.map((x) => `schema ${String(x.from)} → ${String(x.to)}: ${x.description}`);
  return {
    ok: true, schema: { from: m.from, to: m.to }, migrations,
    summary: m.from === m.to ? `schema ${String(CONFIG_SCHEMA)}, valid for node ${node}` : `schema ${String(m.from)} migrates to ${String(m.to)} and is valid for node ${node} (${migrations.join('; ')})`,
  };
}

export function migrateConfigFile(file: string, node: string): { ok: true; summary: string } | { ok: false; errors: readonly string[] } {
  const path = resolve(file);
  const text = read(path);
  if (!text.ok) return text;
  const m = migrateText(text.text, path, node);
  if (!m.ok) return m;
  if (m.text === text.text) return { ok: true, summary: `already at schema ${String(m.to)}` };
  writeTextAtomic(path, m.text, statSync(path).mode & 0o7777);
  return { ok: true, summary: `migrated from schema ${String(m.from)} to ${String(m.to)}: ${m.applied.map((x) => x.description).join('; ')}` };
}
