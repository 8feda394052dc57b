/**
 * The synchronized roots of a node (SPEC §3): the store directories under `state_dir/store/`
 * (`config`, `firmware`, `license`) and the service's `data_dir` (root `data`), when set.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeConfig } from '../../config/types.js';

/** Root name → absolute directory. The same names on both nodes; the paths may differ. */
export type Roots = ReadonlyMap<string, string>;

export const STORE_ROOTS = ['config', 'firmware', 'license'] as const;

export function syncRoots(node: NodeConfig): Roots {
  const roots = new Map<string, string>();
  for (const name of STORE_ROOTS) roots.set(name, join(node.stateDir, 'store', name));
  if (node.dataDir !== null) roots.set('data', node.dataDir);
  return roots;
}

/** Creates every root that does not exist yet (private: the data may be anything). */
export function ensureRoots(roots: Roots): void {
  for (const dir of roots.values()) mkdirSync(dir, { recursive: true, mode: 0o700 });
}
