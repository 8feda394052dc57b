import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Document, isMap, parseDocument } from 'yaml';
import { migrateConfig, type Edit, type JsonMapping, type JsonValue } from './migrate.js';
import type { Migration, MigrationStep } from './types.js';

const isPlainMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The tiny applier the edits promise to work with: every key before the last one of a path is
 * an existing mapping (nothing is created on the way), set replaces, delete removes an existing key.
 */
function applyEdits(doc: unknown, edits: readonly Edit[]): unknown {
  const root = structuredClone(doc) as Record<string, unknown>;
  for (const e of edits) {
    let node = root;
    const keys = e.path.map(String);
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
      assert.ok(isPlainMapping(next), `${e.op} ${keys.join('.')}: ${k} is not a mapping`);
      node = next;
    }
    const last = keys.at(-1)!;
    if (e.op === 'set') node[last] = structuredClone(e.value);
    else {
      assert.ok(Object.hasOwn(node, last), `delete ${keys.join('.')}: no such key`);
      Reflect.deleteProperty(node, last);
    }
  }
  return root;
}

/** What the shell does: the edits on a YAML Document, with yaml's own setIn and deleteIn. */
function applyToYaml(doc: Document, edits: readonly Edit[]): void {
  for (const e of edits) {
    if (e.op === 'set') doc.setIn(e.path, doc.createNode(e.value));
    else assert.ok(doc.deleteIn(e.path), `delete ${e.path.join('.')}: no such key`);
  }
}

/** One migration 1 → 2 made of `steps`. */
const m12 = (...steps: MigrationStep[]): Migration[] => [{ from: 1, to: 2, description: 'test', steps }];

type Row = {
  readonly name: string;
  readonly doc: unknown;
  readonly steps: readonly MigrationStep[];
} & ({ readonly result: JsonMapping; readonly edits?: readonly Edit[] } | { readonly reason: string | RegExp });

/**
 * Runs one migration 1 → 2 on `doc` (no schema key: schema 1) and checks the result without the
 * schema key, the edits without the final schema edit, that the edits reproduce the document,
 * and that the input is unchanged.
 */
function check(row: Row): void {
  const before = structuredClone(row.doc);
  const r = migrateConfig(row.doc, 2, m12(...row.steps));
  assert.deepEqual(row.doc, before, 'the input is unchanged');
  if ('reason' in row) {
    assert.equal(r.ok, false);
    if (typeof row.reason === 'string') assert.equal(r.reason, row.reason);
    else assert.match(r.reason, row.reason);
    return;
  }
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const { schema, ...rest } = r.doc;
  assert.equal(schema, 2);
  assert.deepEqual(rest, row.result);
  assert.deepEqual(r.edits.at(-1), { op: 'set', path: ['schema'], value: 2 });
  if (row.edits !== undefined) assert.deepEqual(r.edits.slice(0, -1), row.edits);
  assert.deepEqual(applyEdits(row.doc, r.edits), r.doc);
}

const ctx = (step: string) => `migration 1 → 2 (test), step 1 (${step}): `;

describe('migrateConfig: rename', () => {
  const rows: readonly Row[] = [
    { name: 'a top-level key', doc: { a: 1, z: 0 }, steps: [{ op: 'rename', from: 'a', to: 'b' }],
      result: { z: 0, b: 1 }, edits: [{ op: 'set', path: ['b'], value: 1 }, { op: 'delete', path: ['a'] }] },
    { name: 'into a mapping that does not exist yet: the mapping is set', doc: { a: { x: 1 } }, steps: [{ op: 'rename', from: 'a.x', to: 'c.y' }],
      result: { a: {}, c: { y: 1 } }, edits: [{ op: 'set', path: ['c'], value: { y: 1 } }, { op: 'delete', path: ['a', 'x'] }] },
    { name: 'into an empty section (null): the null becomes a mapping', doc: { a: 1, b: null }, steps: [{ op: 'rename', from: 'a', to: 'b.c.d' }],
      result: { b: { c: { d: 1 } } }, edits: [{ op: 'set', path: ['b'], value: { c: { d: 1 } } }, { op: 'delete', path: ['a'] }] },
    { name: 'several keys into one new mapping: set once, then added to', doc: { a: { x: 1, y: 2 } }, steps: [{ op: 'rename', from: 'a.*', to: 'b.*' }],
      result: { a: {}, b: { x: 1, y: 2 } },
      edits: [
        { op: 'set', path: ['b'], value: { x: 1 } }, { op: 'delete', path: ['a', 'x'] },
        { op: 'set', path: ['b', 'y'], value: 2 }, { op: 'delete', path: ['a', 'y'] },
      ] },
    { name: 'a whole subtree', doc: { sync: { port: 7788, peers: ['a', 'b'] } }, steps: [{ op: 'rename', from: 'sync', to: 'replication' }],
      result: { replication: { port: 7788, peers: ['a', 'b'] } } },
    { name: 'a null value is a value: moved', doc: { a: null }, steps: [{ op: 'rename', from: 'a', to: 'b' }], result: { b: null } },
    { name: 'an absent source: nothing to do', doc: { z: 1 }, steps: [{ op: 'rename', from: 'a', to: 'b' }], result: { z: 1 }, edits: [] },
    { name: 'an absent mapping on the source path: nothing to do', doc: { z: 1 }, steps: [{ op: 'rename', from: 'a.b.c', to: 'a.b.d' }], result: { z: 1 }, edits: [] },
    { name: 'with *: in every node that has the key',
      doc: { nodes: { a: { foo: 1 }, b: { foo: 2, bar0: 0 }, c: {} } }, steps: [{ op: 'rename', from: 'nodes.*.foo', to: 'nodes.*.bar' }],
      result: { nodes: { a: { bar: 1 }, b: { bar0: 0, bar: 2 }, c: {} } },
      edits: [
        { op: 'set', path: ['nodes', 'a', 'bar'], value: 1 }, { op: 'delete', path: ['nodes', 'a', 'foo'] },
        { op: 'set', path: ['nodes', 'b', 'bar'], value: 2 }, { op: 'delete', path: ['nodes', 'b', 'foo'] },
      ] },
    { name: 'with two *: every interface of every node',
      doc: { nodes: { a: { interfaces: { ext0: { next_hop: '192.0.2.1' }, int0: {} } }, b: { interfaces: { ext0: { next_hop: '192.0.2.1', weight: 2 } } } } },
      steps: [{ op: 'rename', from: 'nodes.*.interfaces.*.next_hop', to: 'nodes.*.interfaces.*.gateway' }],
      result: { nodes: { a: { interfaces: { ext0: { gateway: '192.0.2.1' }, int0: {} } }, b: { interfaces: { ext0: { weight: 2, gateway: '192.0.2.1' } } } } } },
    { name: '* segments are matched positionally, wherever they stand',
      doc: { hosts: { h1: { ports: { p1: 10, p2: 20 } } } }, steps: [{ op: 'rename', from: 'hosts.*.ports.*', to: 'port_of.*.*' }],
      result: { hosts: { h1: { ports: {} } }, port_of: { h1: { p1: 10, p2: 20 } } } },
    { name: '* over an absent mapping: nothing to do', doc: { z: 1 }, steps: [{ op: 'rename', from: 'nodes.*.foo', to: 'nodes.*.bar' }], result: { z: 1 }, edits: [] },
    { name: 'the destination exists: refused, naming both',
      doc: { nodes: { a: { foo: 1, bar: 2 } } }, steps: [{ op: 'rename', from: 'nodes.*.foo', to: 'nodes.*.bar' }],
      reason: `${ctx('rename nodes.*.foo → nodes.*.bar')}nodes.a.foo: cannot rename to nodes.a.bar: nodes.a.bar exists` },
    { name: 'the destination exists as null: refused too', doc: { a: 1, b: null }, steps: [{ op: 'rename', from: 'a', to: 'b' }],
      reason: /a: cannot rename to b: b exists$/ },
    { name: 'the destination path crosses a scalar', doc: { a: 1, b: 's' }, steps: [{ op: 'rename', from: 'a', to: 'b.c' }],
      reason: `${ctx('rename a → b.c')}a: cannot rename to b.c: b is the string "s", not a mapping` },
    { name: 'the source path crosses a list', doc: { nodes: [{ foo: 1 }] }, steps: [{ op: 'rename', from: 'nodes.*.foo', to: 'nodes.*.bar' }],
      reason: `${ctx('rename nodes.*.foo → nodes.*.bar')}nodes is a list, not a mapping` },
    { name: 'the source path crosses null (an empty mapping): nothing to do', doc: { nodes: { a: null } },
      steps: [{ op: 'rename', from: 'nodes.*.foo', to: 'nodes.*.bar' }], result: { nodes: { a: null } }, edits: [] },
    { name: '* over null: nothing to do', doc: { nodes: null }, steps: [{ op: 'rename', from: 'nodes.*.foo', to: 'nodes.*.bar' }],
      result: { nodes: null }, edits: [] },
    { name: 'the destination path crosses a list', doc: { a: 1, b: [{ c: 0 }] }, steps: [{ op: 'rename', from: 'a', to: 'b.c' }],
      reason: `${ctx('rename a → b.c')}a: cannot rename to b.c: b is a list, not a mapping` },
    { name: 'into itself: refused', doc: { a: { b: 1 } }, steps: [{ op: 'rename', from: 'a', to: 'a.c' }],
      reason: /a: cannot rename to a\.c: one path contains the other$/ },
    { name: 'out of itself onto its parent: refused', doc: { a: { b: 1 } }, steps: [{ op: 'rename', from: 'a.b', to: 'a' }],
      reason: /a\.b: cannot rename to a: one path contains the other$/ },
    { name: 'matches that would meet: the second is refused', doc: { a: { b: { b: 1 } } }, steps: [{ op: 'rename', from: 'a.*.b', to: 'a.b.*' }],
      reason: /a\.b\.b: cannot rename to a\.b\.b: one path contains the other$/ },
  ];
  for (const row of rows) it(row.name, () => { check(row); });
});

describe('migrateConfig: remove', () => {
  const rows: readonly Row[] = [
    { name: 'a top-level key', doc: { a: 1, b: 2 }, steps: [{ op: 'remove', path: 'a' }], result: { b: 2 }, edits: [{ op: 'delete', path: ['a'] }] },
    { name: 'a list value', doc: { a: [1, 2], b: 2 }, steps: [{ op: 'remove', path: 'a' }], result: { b: 2 } },
    { name: 'absent: nothing to do', doc: { b: 2 }, steps: [{ op: 'remove', path: 'a.x' }], result: { b: 2 }, edits: [] },
    { name: 'with *: from every node', doc: { nodes: { a: { legacy: 1, keep: 1 }, b: { keep: 2 } } }, steps: [{ op: 'remove', path: 'nodes.*.legacy' }],
      result: { nodes: { a: { keep: 1 }, b: { keep: 2 } } }, edits: [{ op: 'delete', path: ['nodes', 'a', 'legacy'] }] },
    { name: 'a final *: every key of the mapping', doc: { cache: { x: 1, y: { z: 2 } } }, steps: [{ op: 'remove', path: 'cache.*' }],
      result: { cache: {} }, edits: [{ op: 'delete', path: ['cache', 'x'] }, { op: 'delete', path: ['cache', 'y'] }] },
    { name: 'through null (an empty section): nothing to do', doc: { a: null }, steps: [{ op: 'remove', path: 'a.b' }], result: { a: null }, edits: [] },
    { name: 'null itself is a value: removed', doc: { a: null, b: 1 }, steps: [{ op: 'remove', path: 'a' }], result: { b: 1 }, edits: [{ op: 'delete', path: ['a'] }] },
    { name: 'through a list: refused', doc: { a: [{ b: 1 }] }, steps: [{ op: 'remove', path: 'a.b' }], reason: `${ctx('remove a.b')}a is a list, not a mapping` },
    { name: 'through a number under *: refused', doc: { nodes: { a: {}, b: 3 } }, steps: [{ op: 'remove', path: 'nodes.*.x' }],
      reason: /nodes\.b is the number 3, not a mapping$/ },
  ];
  for (const row of rows) it(row.name, () => { check(row); });
});

describe('migrateConfig: set-default', () => {
  const rows: readonly Row[] = [
    { name: 'absent: set', doc: { a: 1 }, steps: [{ op: 'set-default', path: 'b', value: true }], result: { a: 1, b: true },
      edits: [{ op: 'set', path: ['b'], value: true }] },
    { name: 'present: kept', doc: { b: false }, steps: [{ op: 'set-default', path: 'b', value: true }], result: { b: false }, edits: [] },
    { name: 'present as null: kept (the key exists)', doc: { b: null }, steps: [{ op: 'set-default', path: 'b', value: true }], result: { b: null }, edits: [] },
    { name: 'missing mappings on the way: the first missing one is set', doc: { sync: {} }, steps: [{ op: 'set-default', path: 'sync.limits.rate', value: '10M' }],
      result: { sync: { limits: { rate: '10M' } } }, edits: [{ op: 'set', path: ['sync', 'limits'], value: { rate: '10M' } }] },
    { name: 'an empty section (`sync:`, null) takes the key: the null becomes a mapping', doc: { sync: null, z: 1 },
      steps: [{ op: 'set-default', path: 'sync.port', value: 7788 }],
      result: { sync: { port: 7788 }, z: 1 }, edits: [{ op: 'set', path: ['sync'], value: { port: 7788 } }] },
    { name: 'null deeper on the way', doc: { sync: { limits: null } }, steps: [{ op: 'set-default', path: 'sync.limits.rate', value: 1 }],
      result: { sync: { limits: { rate: 1 } } }, edits: [{ op: 'set', path: ['sync', 'limits'], value: { rate: 1 } }] },
    { name: 'two defaults into one missing section: set, then added to', doc: {},
      steps: [{ op: 'set-default', path: 'sync.port', value: 7788 }, { op: 'set-default', path: 'sync.rate', value: 10 }],
      result: { sync: { port: 7788, rate: 10 } },
      edits: [{ op: 'set', path: ['sync'], value: { port: 7788 } }, { op: 'set', path: ['sync', 'rate'], value: 10 }] },
    { name: 'with *: in every node without it', doc: { nodes: { a: {}, b: { weight: 2 } } }, steps: [{ op: 'set-default', path: 'nodes.*.weight', value: 1 }],
      result: { nodes: { a: { weight: 1 }, b: { weight: 2 } } }, edits: [{ op: 'set', path: ['nodes', 'a', 'weight'], value: 1 }] },
    { name: 'with *, a missing literal mapping below it is created', doc: { nodes: { a: {}, b: { sync: { port: 1 } } } },
      steps: [{ op: 'set-default', path: 'nodes.*.sync.port', value: 7788 }],
      result: { nodes: { a: { sync: { port: 7788 } }, b: { sync: { port: 1 } } } } },
    { name: '* over a missing mapping: nothing (no node is invented)', doc: {}, steps: [{ op: 'set-default', path: 'nodes.*.weight', value: 1 }],
      result: {}, edits: [] },
    { name: '* over null: nothing', doc: { nodes: null }, steps: [{ op: 'set-default', path: 'nodes.*.weight', value: 1 }],
      result: { nodes: null }, edits: [] },
    { name: 'with *, null under it: that node takes the key', doc: { nodes: { a: null, b: {} } }, steps: [{ op: 'set-default', path: 'nodes.*.weight', value: 1 }],
      result: { nodes: { a: { weight: 1 }, b: { weight: 1 } } },
      edits: [{ op: 'set', path: ['nodes', 'a'], value: { weight: 1 } }, { op: 'set', path: ['nodes', 'b', 'weight'], value: 1 }] },
    { name: 'a mapping value', doc: {}, steps: [{ op: 'set-default', path: 'hooks', value: { timeout_ms: 5000, on_primary: null } }],
      result: { hooks: { timeout_ms: 5000, on_primary: null } } },
    { name: 'through a string: refused', doc: { nodes: { a: 'x' } }, steps: [{ op: 'set-default', path: 'nodes.*.weight', value: 1 }],
      reason: `${ctx('set-default nodes.*.weight')}nodes.a is the string "x", not a mapping` },
    { name: 'through a literal scalar: refused', doc: { sync: 1 }, steps: [{ op: 'set-default', path: 'sync.port', value: 1 }],
      reason: /sync is the number 1, not a mapping$/ },
  ];
  for (const row of rows) it(row.name, () => { check(row); });

  it('the default is copied: changing the migrated document leaves the migration alone', () => {
    const value = { list: [1] };
    const migrations = m12({ op: 'set-default', path: 'a', value }, { op: 'set-default', path: 'b', value });
    const r = migrateConfig({}, 2, migrations);
    assert.ok(r.ok);
    ((r.doc.a as JsonMapping).list as JsonValue[]).push(2);
    assert.deepEqual(value, { list: [1] });
    assert.deepEqual(r.doc.b, { list: [1] });
  });
});

describe('migrateConfig: schema and chain', () => {
  const rename = (from: string, to: string): MigrationStep => ({ op: 'rename', from, to });
  const chain: Migration[] = [
    { from: 1, to: 2, description: 'sync is replication', steps: [rename('sync', 'replication')] },
    { from: 2, to: 3, description: 'rate limits in bits', steps: [rename('replication.rate', 'replication.rate_bits'), { op: 'set-default', path: 'replication.port', value: 7788 }] },
  ];

  it('1 → 2 → 3 in order: the second migration works on the first one\'s result', () => {
    const doc = { sync: { rate: '10M' }, name: 'c' };
    const r = migrateConfig(doc, 3, chain);
    assert.ok(r.ok);
    assert.deepEqual(r.doc, { name: 'c', replication: { rate_bits: '10M', port: 7788 }, schema: 3 });
    assert.deepEqual({ from: r.fromSchema, to: r.toSchema, applied: r.applied }, { from: 1, to: 3, applied: chain });
    assert.deepEqual(r.edits, [
      { op: 'set', path: ['replication'], value: { rate: '10M' } }, { op: 'delete', path: ['sync'] },
      { op: 'set', path: ['replication', 'rate_bits'], value: '10M' }, { op: 'delete', path: ['replication', 'rate'] },
      { op: 'set', path: ['replication', 'port'], value: 7788 },
      { op: 'set', path: ['schema'], value: 3 },
    ]);
    assert.deepEqual(applyEdits(doc, r.edits), r.doc);
  });

  it('from schema 2: only 2 → 3', () => {
    const r = migrateConfig({ schema: 2, replication: { rate: 1 } }, 3, chain);
    assert.ok(r.ok);
    assert.deepEqual(r.applied, [chain[1]]);
    assert.deepEqual(r.doc, { schema: 3, replication: { rate_bits: 1, port: 7788 } });
  });

  it('already at the target: nothing to do, no edit (absent schema means 1)', () => {
    for (const [doc, to] of [[{ a: 1 }, 1], [{ schema: 1, a: 1 }, 1], [{ schema: 3, a: 1 }, 3]] as const) {
      const r = migrateConfig(doc, to, chain);
      assert.ok(r.ok);
      assert.deepEqual({ doc: r.doc, from: r.fromSchema, applied: r.applied, edits: r.edits }, { doc, from: to, applied: [], edits: [] });
      assert.notEqual(r.doc, doc, 'a new document');
    }
  });

  it('the migrated document shares nothing with the input', () => {
    const doc = { sync: { rate: '10M' }, keep: { deep: [1] } };
    const r = migrateConfig(doc, 3, chain);
    assert.ok(r.ok);
    ((r.doc.keep as JsonMapping).deep as JsonValue[]).push(2);
    (r.doc.replication as JsonMapping).rate_bits = 0;
    assert.deepEqual(doc, { sync: { rate: '10M' }, keep: { deep: [1] } });
  });

  it('a "__proto__" key is a key, never the prototype', () => {
    const doc: unknown = JSON.parse('{"a": {"__proto__": {"x": 1}}}');
    const r = migrateConfig(doc, 2, m12(rename('a.__proto__', 'b.__proto__')));
    assert.ok(r.ok);
    const b = r.doc.b as JsonMapping;
    assert.equal(Object.getPrototypeOf(b), Object.prototype);
    assert.deepEqual(Object.keys(b), ['__proto__']);
    assert.deepEqual(Object.keys(r.doc.a as JsonMapping), []);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  const refusals: readonly { name: string; doc: unknown; to: number; migrations: readonly Migration[]; reason: string | RegExp }[] = [
    { name: 'a document newer than the firmware', doc: { schema: 3 }, to: 2, migrations: chain.slice(0, 1),
      reason: "configuration schema 3 is newer than this firmware's schema 2" },
    { name: 'no migration for a schema on the way (the oldest is gone)', doc: {}, to: 3, migrations: chain.slice(1),
      reason: 'no migration from schema 1 to 2' },
    { name: 'no migration up to the target', doc: { schema: 2 }, to: 4, migrations: chain,
      reason: 'no migration from schema 3 to 4' },
    { name: 'a gap in the chain', doc: {}, to: 2, migrations: [chain[0]!, { from: 3, to: 4, description: 'x', steps: [] }],
      reason: 'the migrations are not a contiguous chain: 3 → 4 follows 1 → 2' },
    { name: 'a chain out of order', doc: {}, to: 3, migrations: [chain[1]!, chain[0]!],
      reason: 'the migrations are not a contiguous chain: 1 → 2 follows 2 → 3' },
    { name: 'a migration twice', doc: {}, to: 2, migrations: [chain[0]!, chain[0]!],
      reason: 'the migrations are not a contiguous chain: 1 → 2 follows 1 → 2' },
    { name: 'a migration skipping a schema', doc: {}, to: 3, migrations: [{ from: 1, to: 3, description: 'x', steps: [] }],
      reason: /^migration 1 → 3: a migration goes from one schema .* to the next$/ },
    { name: 'a migration from schema 0', doc: {}, to: 1, migrations: [{ from: 0, to: 1, description: 'x', steps: [] }],
      reason: /^migration 0 → 1: a migration goes from one schema/ },
    { name: 'schema as a string', doc: { schema: '2' }, to: 2, migrations: chain,
      reason: 'the configuration\'s schema must be a whole number of at least 1, found the string "2"' },
    { name: 'schema 0', doc: { schema: 0 }, to: 2, migrations: chain, reason: /found the number 0$/ },
    { name: 'schema 1.5', doc: { schema: 1.5 }, to: 2, migrations: chain, reason: /found the number 1\.5$/ },
    { name: 'schema null', doc: { schema: null }, to: 2, migrations: chain, reason: /found null$/ },
    { name: 'a target schema of 0', doc: {}, to: 0, migrations: [], reason: 'the target schema 0 is not a whole number of at least 1' },
    { name: 'a document that is a list', doc: [1], to: 2, migrations: chain, reason: 'the configuration document is a list, not a mapping' },
    { name: 'a document that is null (an empty file)', doc: null, to: 2, migrations: chain, reason: 'the configuration document is null, not a mapping' },
    { name: 'a document holding a Date', doc: { a: { b: [new Date(0)] } }, to: 2, migrations: chain,
      reason: 'the configuration document, at a.b.0, is a non-plain object, not plain data' },
    { name: 'a document holding undefined', doc: { a: undefined }, to: 2, migrations: chain,
      reason: 'the configuration document, at a, is nothing (undefined), not plain data' },
  ];
  for (const row of refusals) {
    it(`refused: ${row.name}`, () => {
      const r = migrateConfig(row.doc, row.to, row.migrations);
      assert.equal(r.ok, false);
      if (typeof row.reason === 'string') assert.equal(r.reason, row.reason);
      else assert.match(r.reason, row.reason);
    });
  }

  it('refused: a document that contains itself', () => {
    const doc: Record<string, unknown> = { a: {} };
    (doc.a as Record<string, unknown>).loop = doc;
    const r = migrateConfig(doc, 2, chain);
    assert.deepEqual(r, { ok: false, reason: 'the configuration document, at a.loop, contains itself' });
  });

  it('a value shared by two keys (a YAML alias) is plain data, copied to both', () => {
    const shared = { x: 1 };
    const r = migrateConfig({ a: shared, b: shared }, 2, m12(rename('a.x', 'a.y')));
    assert.ok(r.ok);
    assert.deepEqual(r.doc, { a: { y: 1 }, b: { x: 1 }, schema: 2 });
    assert.deepEqual(shared, { x: 1 });
  });
});

describe('migrateConfig: malformed migrations are refused before anything is applied', () => {
  const rows: readonly { name: string; step: MigrationStep; reason: string }[] = [
    { name: 'an empty segment', step: { op: 'remove', path: 'a..b' }, reason: '"a..b" has an empty segment' },
    { name: 'an empty path', step: { op: 'remove', path: '' }, reason: '"" has an empty segment' },
    { name: 'a partial *', step: { op: 'remove', path: 'nodes.a*' }, reason: '"nodes.a*": a * must be a whole segment' },
    { name: 'a top-level *', step: { op: 'remove', path: '*.legacy' }, reason: '"*.legacy": a top-level * would match the schema key; name the top-level key' },
    { name: 'the schema key', step: { op: 'set-default', path: 'schema', value: 2 }, reason: '"schema": the top-level schema key belongs to the migration itself' },
    { name: 'a rename onto the schema key', step: { op: 'rename', from: 'version', to: 'schema' }, reason: '"schema": the top-level schema key belongs to the migration itself' },
    { name: 'different numbers of *', step: { op: 'rename', from: 'nodes.*.a', to: 'a' }, reason: 'the source and the destination must have the same number of * segments' },
    { name: 'a rename onto itself', step: { op: 'rename', from: 'a.b', to: 'a.b' }, reason: 'the source and the destination are the same path' },
    { name: 'a default under a final *', step: { op: 'set-default', path: 'nodes.*', value: {} }, reason: '"nodes.*": a default for every existing key sets nothing; name the key' },
    { name: 'a default that is not plain data', step: { op: 'set-default', path: 'a', value: new Map() }, reason: 'the default value is a non-plain object, not plain data' },
    { name: 'an undefined default', step: { op: 'set-default', path: 'a', value: undefined }, reason: 'the default value is nothing (undefined), not plain data' },
    { name: 'an unknown operation', step: JSON.parse('{"op": "move", "path": "a"}') as MigrationStep, reason: 'unknown operation "move"' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      // The malformed step is in a migration the document does not even need: the list is checked whole.
      const migrations: Migration[] = [
        { from: 1, to: 2, description: 'fine', steps: [] },
        { from: 2, to: 3, description: 'broken', steps: [{ op: 'remove', path: 'ok' }, row.step] },
      ];
      assert.deepEqual(migrateConfig({ a: 1 }, 2, migrations), { ok: false, reason: `migration 2 → 3 (broken), step 2: ${row.reason}` });
    });
  }
});

describe('migrateConfig: properties', () => {
  const key = fc.constantFrom('a', 'b', 'c', 'd');
  const leaf = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', '', null, true), fc.array(fc.nat(3), { maxLength: 2 }));
  const { tree } = fc.letrec<{ tree: JsonValue }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.dictionary(key, tie('tree'), { maxKeys: 4, noNullPrototype: true })),
  }));
  const docArb = fc.tuple(fc.dictionary(key, tree, { maxKeys: 4, noNullPrototype: true }), fc.constantFrom<number | undefined>(undefined, 1))
    .map(([d, schema]) => (schema === undefined ? d : { ...d, schema }));
  const segments = fc.tuple(key, fc.array(fc.oneof(key, fc.constant('*')), { maxLength: 2 })).map(([first, rest]) => [first, ...rest]);
  const step: fc.Arbitrary<MigrationStep> = fc.oneof(
    segments.map((s): MigrationStep => ({ op: 'remove', path: s.join('.') })),
    fc.tuple(segments, tree).filter(([s]) => s.at(-1) !== '*')
      .map(([s, value]): MigrationStep => ({ op: 'set-default', path: s.join('.'), value })),
    // The destination keeps the source's * segments (in order) and changes its literal ones.
    fc.tuple(segments, fc.array(key, { minLength: 4, maxLength: 4 }), fc.boolean()).map(([s, literals, deeper]) => {
      const to = s.map((seg, i) => (seg === '*' ? seg : literals[i]!));
      if (deeper) to.push(literals[3]!);
      return { from: s.join('.'), to: to.join('.') };
    }).filter(({ from, to }) => from !== to).map(({ from, to }): MigrationStep => ({ op: 'rename', from, to })),
  );
  const chainArb = fc.tuple(fc.array(step, { maxLength: 3 }), fc.array(step, { maxLength: 3 })).map(([s1, s2]): Migration[] => [
    { from: 1, to: 2, description: 'one', steps: s1 },
    { from: 2, to: 3, description: 'two', steps: s2 },
  ]);

  it('the edits, applied to the original, give the migrated document; the input never changes', () => {
    let migrated = 0;
    let refused = 0;
    fc.assert(fc.property(docArb, chainArb, (doc, migrations) => {
      const before = structuredClone(doc);
      const r = migrateConfig(doc, 3, migrations);
      assert.deepEqual(doc, before);
      if (!r.ok) {
        refused++;
        assert.match(r.reason, /^migration [12] → [23] \((one|two)\), step \d \(.*\): .*(not a mapping|exists|contains the other)$/);
        return;
      }
      migrated++;
      assert.deepEqual(applyEdits(doc, r.edits), r.doc);
      // Key order too: the shell writes the keys in the order the edits leave them.
      assert.equal(JSON.stringify(applyEdits(doc, r.edits)), JSON.stringify(r.doc));
      // And yaml's own setIn / deleteIn accept every edit and reach the same document.
      const yaml = new Document(doc);
      applyToYaml(yaml, r.edits);
      assert.deepEqual(yaml.toJS(), r.doc);
      assert.equal(r.doc.schema, 3);
      assert.deepEqual(r.edits.at(-1), { op: 'set', path: ['schema'], value: 3 });
      assert.deepEqual(r.applied, migrations);
      // Running it again on the result is a no-op: it is at the target schema.
      const again = migrateConfig(r.doc, 3, migrations);
      assert.ok(again.ok && again.edits.length === 0);
    }), { numRuns: 1000 });
    // Both outcomes are exercised, most runs migrate.
    assert.ok(migrated > 500 && refused > 10, `${migrated} migrated, ${refused} refused`);
  });
});

describe('migrateConfig: the edits on the operator\'s YAML file', () => {
  const text = [
    '# Tandem cluster lab',
    'cluster:',
    '  name: lab   # both nodes agree',
    'sync:         # defaults',
    'nodes:',
    '  a:',
    '    # the uplink',
    '    interfaces: { ext0: { address: 192.0.2.11/24, next_hop: 192.0.2.1 } }',
    '  b:',
    '    interfaces: { ext0: { address: 192.0.2.12/24, next_hop: 192.0.2.1 } }',
    '',
  ].join('\n');
  const migrations: Migration[] = [{
    from: 1, to: 2, description: 'gateways and a sync port',
    steps: [
      { op: 'rename', from: 'nodes.*.interfaces.*.next_hop', to: 'nodes.*.interfaces.*.gateway' },
      { op: 'set-default', path: 'sync.port', value: 7788 },
      { op: 'remove', path: 'cluster.legacy' },
    ],
  }];

  it('yaml\'s setIn / deleteIn reach the migrated document and keep the comments', () => {
    const yaml = parseDocument(text);
    const r = migrateConfig(yaml.toJS(), 2, migrations);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    applyToYaml(yaml, r.edits);
    assert.deepEqual(yaml.toJS(), r.doc);
    const out = yaml.toString();
    for (const comment of ['# Tandem cluster lab', '# both nodes agree', '# the uplink']) assert.ok(out.includes(comment), out);
    assert.ok(isMap(yaml.getIn(['sync'])));
    assert.match(out, /gateway: 192\.0\.2\.1/);
    assert.match(out, /^schema: 2$/m);
  });
});
