/**
 * This installation: the tree this code runs from (the checkout, /opt/tandem, or a slot's
 * `tree/`). Its package.json names the version; the factory firmware is the installation the
 * launcher runs from.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This file is <root>/dist/app/firmware/installation.js. */
export const INSTALL_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The version in this installation's package.json. */
export function installedVersion(root = INSTALL_ROOT): string {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
