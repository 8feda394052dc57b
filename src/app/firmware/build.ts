/**
 * `tandem firmware build`: a built Tandem tree → a signed bundle. The manifest's compatibility
 * facts come from the tree being packaged, never from the builder: its config schema, migrations
 * and HA protocol range are read from the tree's own dist/core/compat.js (imported by file URL),
 * so building an older or patched tree describes that tree. The runtime is the Node.js running
 * the build — the one `npm ci` built the tree's native addon with when the tree is this checkout.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Manifest, ReleaseType, Release } from '../../core/firmware/types.js';
import { writeBundle, type WrittenBundle } from '../../adapters/firmware/writer.js';
import { selectPayload } from './payload.js';

export const COMPAT_MODULE = 'dist/core/compat.js';

export interface Compat {
  readonly config_schema: Manifest['config_schema'];
  readonly ha_protocol: Manifest['ha_protocol'];
}

/**
 * The tree's compatibility constants (core/compat.ts, compiled). Only their presence and kind
 * are checked here; the manifest check (a node's own) judges their values.
 */
export async function loadCompat(tree: string): Promise<Compat> {
  const file = join(tree, COMPAT_MODULE);
  const mod = await import(pathToFileURL(file).href) as Record<string, unknown>;
  const { CONFIG_SCHEMA, CONFIG_MIGRATIONS, HA_PROTOCOL } = mod;
  if (typeof CONFIG_SCHEMA !== 'number') throw new Error(`${file} does not export CONFIG_SCHEMA (a number)`);
  if (!Array.isArray(CONFIG_MIGRATIONS)) throw new Error(`${file} does not export CONFIG_MIGRATIONS (a list)`);
  if (typeof HA_PROTOCOL !== 'object' || HA_PROTOCOL === null) throw new Error(`${file} does not export HA_PROTOCOL ({ min, max })`);
  return {
    config_schema: { version: CONFIG_SCHEMA, migrations: CONFIG_MIGRATIONS as Manifest['config_schema']['migrations'] },
    ha_protocol: HA_PROTOCOL as Manifest['ha_protocol'],
  };
}

export interface BuildRequest {
  /** The built Tandem tree to package. */
  readonly tree: string;
  readonly signingKey: KeyObject;
  readonly version: string;
  readonly type: ReleaseType;
  /** YYYY-MM-DD. */
  readonly published: string;
  readonly notes: string;
  readonly minFrom: string | null;
  readonly releases: readonly Release[];
  readonly out: string;
  /** The build time (built_at); now by default. */
  readonly now?: Date;
}

export interface BuildResult {
  readonly bundle: WrittenBundle;
  /** What the file selection skipped, for the builder. */
  readonly notes: readonly string[];
}

export async function buildFirmware(req: BuildRequest): Promise<BuildResult> {
  const selection = await selectPayload(req.tree);
  const compat = await loadCompat(req.tree);
  const bundle = await writeBundle({
    tree: req.tree,
    files: selection.files,
    fields: {
      version: req.version,
      type: req.type,
      published: req.published,
      notes: req.notes,
      min_from: req.minFrom,
      ...compat,
      releases: req.releases,
      runtime: { node_abi: process.versions.modules, platform: process.platform, arch: process.arch },
      built_at: (req.now ?? new Date()).toISOString(),
    },
    signingKey: req.signingKey,
    out: req.out,
  });
  return { bundle, notes: selection.notes };
}
