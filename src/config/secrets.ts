/**
 * Which parts of the configuration are secret (what a support bundle must never carry): fields
 * that name a file holding a secret — the file is never copied, and its content is searched for
 * and removed from everything else — and fields whose value is itself a secret, replaced in the
 * file's text. Kept beside the schema: a new secret key is declared here when it is added there.
 */
import type { TandemConfig } from './types.js';

/** `*` matches any key or list position. */
export type FieldPattern = readonly string[];

/** Fields naming a file whose content is secret. */
export const SECRET_FILE_FIELDS: readonly FieldPattern[] = [
  ['cluster', 'key_file'],
  ['alerts', 'webhooks', '*', 'secret_file'],
  ['api', 'key_file'],
];

/** Fields whose value is a secret in itself (none in this schema: secrets live in files). */
export const SECRET_VALUE_FIELDS: readonly FieldPattern[] = [];

export function matchesField(pattern: FieldPattern, path: readonly (string | number)[]): boolean {
  return pattern.length === path.length && pattern.every((p, i) => p === '*' || p === String(path[i]));
}

/** The secret files of a loaded configuration, with what each holds. */
export function secretFilesOf(config: TandemConfig): { readonly what: string; readonly path: string }[] {
  return [
    { what: 'cluster key', path: config.cluster.keyFile },
    ...config.alerts.webhooks.map((w, i) => ({ what: `webhook ${String(i)} secret`, path: w.secretFile })),
    ...(config.api.keyFile === null ? [] : [{ what: 'API private key', path: config.api.keyFile }]),
  ];
}
