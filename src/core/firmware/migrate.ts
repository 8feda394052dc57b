/**
 * Configuration migration (SPEC §4 Test, §5 import): the configuration document of an older
 * schema carried forward to the schema a firmware runs, by the declarative migrations it ships
 * (types.ts: rename / remove / set-default on dotted paths, `*` matching every key of a mapping).
 *
 * The shell parses the YAML file into a plain document (mappings, lists, strings, numbers,
 * booleans, null) and calls migrateConfig. The answer is the migrated document and the same
 * change as a list of edits: applied in order to the original document, they produce the
 * migrated one. The shell applies them to its YAML Document rather than writing the plain
 * document back, so the operator's comments and layout survive a firmware upgrade.
 *
 * Semantics, chosen to be predictable and to refuse rather than guess:
 * - `schema` (top level, 1 when absent) says which schema the document is in; it is not a
 *   configuration key, so no step may name it and no step may start with `*` (which would
 *   match it). The last edit sets it to the target when it changed.
 * - Migrations must form one contiguous chain, in order, one schema per migration
 *   (1 → 2, 2 → 3, …); the whole list is checked, not only the part a document needs.
 * - A `*` ranges over the keys that exist; a missing key on a path means "nothing to do" for
 *   rename and remove, while set-default creates the missing literal mappings on its way (a new
 *   required `sync.port` appears even where `sync` was absent) — but never under a `*`.
 * - null where a path needs a mapping reads as an empty mapping: the configuration lets an
 *   operator leave a section empty (`sync:`) to take its defaults, and YAML reads that as null.
 *   So there is nothing to rename or remove under it, and a key set under it (set-default, a
 *   rename's destination) replaces the null by a mapping holding that key. A refusal there would
 *   fail a firmware upgrade on a configuration the running firmware accepts.
 * - Otherwise every path goes through mappings only: a list or a scalar where a path needs a
 *   mapping is a reason to refuse (the document does not have the shape the migration was
 *   written for).
 * - rename refuses to overwrite: an existing destination is a reason, as is a destination
 *   inside the source or the other way round. The moved key is added at the end of its new
 *   mapping (as YAML's setIn adds it).
 * - Within one step, the matches are found on the document as it was before the step, then
 *   carried out in key order.
 */
import type { Migration, MigrationStep } from './types.js';

/** A plain document value, as the shell's YAML parser gives it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonMapping = { [key: string]: JsonValue };

export type EditPath = readonly (string | number)[];

/**
 * One change to the document. `set` puts `value` at `path`, replacing what was there; `delete`
 * removes the key at `path`, which exists. In both, everything before the last key of `path`
 * exists and is a mapping when the edit is applied (after the edits before it): where a key is
 * to be set under a missing or null mapping, the edit sets the first missing or null one to a
 * mapping holding the rest. So the shell's applier is Document.setIn / deleteIn as they are,
 * which refuse to go through a null scalar. The paths migrateConfig produces hold mapping keys
 * only (the number in the type is for list positions, which it never produces).
 */
export type Edit =
  | { readonly op: 'set'; readonly path: EditPath; readonly value: JsonValue }
  | { readonly op: 'delete'; readonly path: EditPath };

export type MigrationResult =
  | {
    readonly ok: true;
    /** The migrated document: a new value, sharing nothing with the input. */
    readonly doc: JsonMapping;
    readonly fromSchema: number;
    readonly toSchema: number;
    /** The migrations carried out, in order (empty when the document already has the target schema). */
    readonly applied: readonly Migration[];
    /** Applied in order to the original document, these produce `doc`. */
    readonly edits: readonly Edit[];
  }
  | { readonly ok: false; readonly reason: string };

// ————— plain values —————

function isMapping(v: unknown): v is JsonMapping {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing (undefined)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `the ${typeof v} ${String(v)}`;
  return `a ${typeof v === 'object' ? 'non-plain object' : typeof v}`;
}

const show = (path: readonly string[]): string => (path.length === 0 ? 'the document' : path.join('.'));

/**
 * Where `v` holds something other than plain data (or contains itself), said with `root` naming
 * `v` itself; null when it is all plain data.
 */
function notPlain(v: unknown, root: string, path: readonly string[] = [], ancestors = new Set<object>()): string | null {
  const where = path.length === 0 ? root : `${root}, at ${path.join('.')},`;
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return null;
  if (typeof v !== 'object') return `${where} is ${kindOf(v)}, not plain data`;
  if (ancestors.has(v)) return `${where} contains itself`;
  if (!Array.isArray(v) && !isMapping(v)) return `${where} is a non-plain object, not plain data`;
  ancestors.add(v);
  const entries: [string, unknown][] = Array.isArray(v) ? v.map((x: unknown, i) => [String(i), x]) : Object.entries(v);
  for (const [k, x] of entries) {
    const bad = notPlain(x, root, [...path, k], ancestors);
    if (bad !== null) return bad;
  }
  ancestors.delete(v);
  return null;
}

/** Sets an own key; `__proto__` is a key like any other in a configuration, never the prototype. */
function defineKey(m: JsonMapping, key: string, value: JsonValue): void {
  Object.defineProperty(m, key, { value, writable: true, enumerable: true, configurable: true });
}

function own(m: JsonMapping, key: string): JsonValue | undefined {
  return Object.hasOwn(m, key) ? m[key] : undefined;
}

function clone(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(clone);
  if (isMapping(v)) {
    const copy: JsonMapping = {};
    for (const [k, x] of Object.entries(v)) defineKey(copy, k, clone(x));
    return copy;
  }
  return v;
}

/** Carries out one edit on `root` (the same semantics the shell's YAML applier has). */
function applyEdit(root: JsonMapping, edit: Edit): void {
  const keys = edit.path.map(String);
  const last = keys[keys.length - 1];
  if (last === undefined) throw new Error('an edit needs a path');
  let node = root;
  for (const key of keys.slice(0, -1)) {
    const next = own(node, key);
    // The planner makes every edit's parent a mapping (see Edit): anything else is a bug here.
    if (!isMapping(next)) throw new Error(`edit ${edit.op} ${keys.join('.')}: ${key} is ${kindOf(next)}`);
    node = next;
  }
  if (edit.op === 'set') defineKey(node, last, clone(edit.value));
  else if (Object.hasOwn(node, last)) Reflect.deleteProperty(node, last);
  else throw new Error(`edit delete ${keys.join('.')}: no such key`);
}

/**
 * The edit that sets `path` to `value` in `root`: at `path` itself when its parent mapping
 * exists, otherwise at the first missing or null mapping on the way, set to the nested mappings
 * that lead to `value` (the caller has checked that nothing on the way is a list or a scalar).
 */
function setEdit(root: JsonMapping, path: readonly string[], value: JsonValue): Edit {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] ?? '';
    const next = own(node, key);
    if (next === undefined || next === null) {
      let nested = value;
      for (const k of path.slice(i + 1).reverse()) {
        const m: JsonMapping = {};
        defineKey(m, k, nested);
        nested = m;
      }
      return { op: 'set', path: path.slice(0, i + 1), value: nested };
    }
    if (!isMapping(next)) throw new Error(`set ${path.join('.')}: ${key} is ${kindOf(next)}`); // checked by the caller: a bug
    node = next;
  }
  return { op: 'set', path, value };
}

// ————— paths —————

interface Match {
  readonly path: readonly string[];
  /** The keys the `*` segments matched, in order. */
  readonly bindings: readonly string[];
}

/** A document the step cannot apply to: thrown out of the walk, turned into the result's reason. */
class Refusal extends Error {}

/**
 * The concrete paths `pattern` matches in `root`. `existing`: only keys that exist (rename,
 * remove). `creating`: the last segment and missing literal mappings on the way are allowed
 * (set-default). null on the way is an empty mapping (see the module comment). Throws a
 * Refusal where the path needs a mapping and finds a list or a scalar.
 */
function expand(root: JsonMapping, pattern: readonly string[], mode: 'existing' | 'creating'): Match[] {
  const matches: Match[] = [];
  const walk = (node: JsonValue | undefined, i: number, path: readonly string[], bindings: readonly string[]): void => {
    const segment = pattern[i];
    if (segment === undefined) {
      if (node !== undefined || mode === 'creating') matches.push({ path, bindings });
      return;
    }
    if (node === undefined || node === null) {
      // A missing or empty mapping: nothing under it exists; set-default creates it unless a `*` must range over it.
      if (mode === 'creating' && !pattern.slice(i).includes('*')) walk(undefined, i + 1, [...path, segment], bindings);
      return;
    }
    if (!isMapping(node)) throw new Refusal(`${show(path)} is ${kindOf(node)}, not a mapping`);
    if (segment === '*') {
      for (const key of Object.keys(node)) walk(node[key], i + 1, [...path, key], [...bindings, key]);
    } else {
      walk(own(node, segment), i + 1, [...path, segment], bindings);
    }
  };
  walk(root, 0, [], []);
  return matches;
}

type Lookup = { readonly kind: 'value'; readonly value: JsonValue } | { readonly kind: 'absent' } | { readonly kind: 'blocked'; readonly at: readonly string[]; readonly found: JsonValue };

/** What is at `path`; null on the way is an empty mapping, so what is under it is absent. */
function lookup(root: JsonMapping, path: readonly string[]): Lookup {
  let node: JsonValue = root;
  for (let i = 0; i < path.length; i++) {
    if (node === null) return { kind: 'absent' };
    if (!isMapping(node)) return { kind: 'blocked', at: path.slice(0, i), found: node };
    const next = own(node, path[i] ?? '');
    if (next === undefined) return { kind: 'absent' };
    node = next;
  }
  return { kind: 'value', value: node };
}

const isPrefix = (a: readonly string[], b: readonly string[]) => a.length <= b.length && a.every((s, i) => s === b[i]);

/** Substitutes the `*` segments of `pattern` by `bindings`, in order. */
function substitute(pattern: readonly string[], bindings: readonly string[]): string[] {
  let next = 0;
  return pattern.map((s) => (s === '*' ? bindings[next++] ?? '*' : s));
}

// ————— steps —————

function describeStep(step: MigrationStep): string {
  switch (step.op) {
    case 'rename': return `rename ${step.from} → ${step.to}`;
    case 'remove': return `remove ${step.path}`;
    case 'set-default': return `set-default ${step.path}`;
  }
}

/** Why `path` is not a usable step path, or null. */
function badPath(path: unknown): string | null {
  if (typeof path !== 'string') return `the path ${kindOf(path)} is not a text`;
  const segments = path.split('.');
  if (segments.some((s) => s === '')) return `"${path}" has an empty segment`;
  if (segments.some((s) => s !== '*' && s.includes('*'))) return `"${path}": a * must be a whole segment`;
  if (segments[0] === 'schema') return `"${path}": the top-level schema key belongs to the migration itself`;
  if (segments[0] === '*') return `"${path}": a top-level * would match the schema key; name the top-level key`;
  return null;
}

const starCount = (path: string) => path.split('.').filter((s) => s === '*').length;

/** Why a step is malformed, or null: checked for every migration before any is applied. */
function badStep(step: MigrationStep): string | null {
  switch (step.op) {
    case 'rename': {
      const bad = badPath(step.from) ?? badPath(step.to);
      if (bad !== null) return bad;
      if (starCount(step.from) !== starCount(step.to)) return 'the source and the destination must have the same number of * segments';
      if (step.from === step.to) return 'the source and the destination are the same path';
      return null;
    }
    case 'remove':
      return badPath(step.path);
    case 'set-default': {
      const bad = badPath(step.path);
      if (bad !== null) return bad;
      if (step.path.split('.').at(-1) === '*') return `"${step.path}": a default for every existing key sets nothing; name the key`;
      return notPlain(step.value, 'the default value');
    }
    default: {
      const op: unknown = (step as { readonly op: unknown }).op;
      return `unknown operation ${typeof op === 'string' ? `"${op}"` : kindOf(op)}`;
    }
  }
}

/** Carries out one step on `doc`, recording each change in `edits`. Throws a Refusal. */
function runStep(doc: JsonMapping, step: MigrationStep, edits: Edit[]): void {
  const edit = (e: Edit) => {
    applyEdit(doc, e);
    edits.push(e);
  };
  switch (step.op) {
    case 'remove':
      for (const m of expand(doc, step.path.split('.'), 'existing')) edit({ op: 'delete', path: m.path });
      return;
    case 'set-default':
      for (const m of expand(doc, step.path.split('.'), 'creating')) {
        if (lookup(doc, m.path).kind === 'absent') edit(setEdit(doc, m.path, clone(step.value as JsonValue)));
      }
      return;
    case 'rename': {
      const to = step.to.split('.');
      for (const m of expand(doc, step.from.split('.'), 'existing')) {
        const from = show(m.path);
        const dest = substitute(to, m.bindings);
        if (isPrefix(m.path, dest) || isPrefix(dest, m.path)) {
          throw new Refusal(`${from}: cannot rename to ${show(dest)}: one path contains the other`);
        }
        const source = lookup(doc, m.path);
        // Gone since the step began: an earlier match of this step moved it.
        if (source.kind !== 'value') continue;
        const target = lookup(doc, dest);
        if (target.kind === 'value') throw new Refusal(`${from}: cannot rename to ${show(dest)}: ${show(dest)} exists`);
        if (target.kind === 'blocked') {
          throw new Refusal(`${from}: cannot rename to ${show(dest)}: ${show(target.at)} is ${kindOf(target.found)}, not a mapping`);
        }
        edit(setEdit(doc, dest, clone(source.value)));
        edit({ op: 'delete', path: m.path });
      }
      return;
    }
  }
}

// ————— the migration —————

const refuse = (reason: string): MigrationResult => ({ ok: false, reason });
const isSchemaNumber = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/** Why the migration list is not one contiguous chain of well-formed migrations, or null. */
function badChain(migrations: readonly Migration[]): string | null {
  let previous: Migration | undefined;
  for (const m of migrations) {
    if (!isSchemaNumber(m.from) || m.to !== m.from + 1) {
      return `migration ${String(m.from)} → ${String(m.to)}: a migration goes from one schema (a whole number, at least 1) to the next`;
    }
    if (previous !== undefined && m.from !== previous.to) {
      return `the migrations are not a contiguous chain: ${m.from} → ${m.to} follows ${previous.from} → ${previous.to}`;
    }
    for (const [i, step] of m.steps.entries()) {
      const bad = badStep(step);
      if (bad !== null) return `migration ${m.from} → ${m.to} (${m.description}), step ${i + 1}: ${bad}`;
    }
    previous = m;
  }
  return null;
}

/**
 * Migrates the plain configuration document `doc` to schema `toSchema` with `migrations` (the
 * firmware's chain). Pure: `doc` is never changed. Refuses, with a reason an operator can act
 * on, a document newer than the target, a schema with no migration, a malformed migration list,
 * and a document whose shape a step cannot apply to.
 */
export function migrateConfig(doc: unknown, toSchema: number, migrations: readonly Migration[]): MigrationResult {
  if (!isMapping(doc)) return refuse(`the configuration document is ${kindOf(doc)}, not a mapping`);
  const bad = notPlain(doc, 'the configuration document');
  if (bad !== null) return refuse(bad);
  if (!isSchemaNumber(toSchema)) return refuse(`the target schema ${String(toSchema)} is not a whole number of at least 1`);
  const declared = own(doc, 'schema');
  if (declared !== undefined && !isSchemaNumber(declared)) {
    return refuse(`the configuration's schema must be a whole number of at least 1, found ${kindOf(declared)}`);
  }
  const fromSchema = declared ?? 1;
  if (fromSchema > toSchema) return refuse(`configuration schema ${fromSchema} is newer than this firmware's schema ${toSchema}`);
  const chain = badChain(migrations);
  if (chain !== null) return refuse(chain);

  const applied: Migration[] = [];
  for (let schema = fromSchema; schema < toSchema; schema++) {
    const m = migrations.find((x) => x.from === schema);
    if (m === undefined) return refuse(`no migration from schema ${schema} to ${schema + 1}`);
    applied.push(m);
  }

  const result = clone(doc) as JsonMapping;
  const edits: Edit[] = [];
  for (const m of applied) {
    for (const [i, step] of m.steps.entries()) {
      try {
        runStep(result, step, edits);
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        return refuse(`migration ${m.from} → ${m.to} (${m.description}), step ${i + 1} (${describeStep(step)}): ${e.message}`);
      }
    }
  }
  if (fromSchema !== toSchema) {
    const e: Edit = { op: 'set', path: ['schema'], value: toSchema };
    applyEdit(result, e);
    edits.push(e);
  }
  return { ok: true, doc: result, fromSchema, toSchema, applied, edits };
}
