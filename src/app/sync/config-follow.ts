/**
 * The cluster configuration follows the primary (SPEC §3: the configuration and every change to
 * it are synchronized). The primary publishes the text of its running configuration file into
 * the replicated root `config`; a secondary that receives a different text checks it — it must
 * load, and name this node — installs it in place of its own file (atomically, same mode) and
 * applies it live. A text that does not load is refused with the loader's messages and changes
 * nothing. The cluster key is never replicated: a changed key would cut the nodes apart.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from '../../adapters/state/store.js';
import { formatConfigError, parseConfig } from '../../config/load.js';

/** The replicated copy of the configuration file, in the `config` root. */
export const REPLICATED_CONFIG = 'cluster.yaml';

const readText = (file: string): string | null => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
};

/** On the primary: makes the `config` root hold the running configuration's text. True if it changed. */
export function publishConfig(configFile: string, configRoot: string): boolean {
  const text = readFileSync(configFile, 'utf8');
  const copy = join(configRoot, REPLICATED_CONFIG);
  if (readText(copy) === text) return false;
  writeTextAtomic(copy, text);
  return true;
}

export type InstallResult =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'installed' }
  | { readonly kind: 'refused'; readonly errors: string };

/** On a secondary: installs the replicated configuration if it differs and loads for `node`. */
export function installReplicatedConfig(configFile: string, configRoot: string, node: string): InstallResult {
  const text = readText(join(configRoot, REPLICATED_CONFIG));
  if (text === null || text === readText(configFile)) return { kind: 'unchanged' };
  const parsed = parseConfig(text, configFile);
  if (!parsed.ok) return { kind: 'refused', errors: parsed.errors.map(formatConfigError).join('; ') };
  if (!(node in parsed.config.nodes)) return { kind: 'refused', errors: `${configFile}: nodes: this node (${node}) is not in the replicated configuration` };
  writeTextAtomic(configFile, text, statSync(configFile).mode & 0o7777);
  return { kind: 'installed' };
}
