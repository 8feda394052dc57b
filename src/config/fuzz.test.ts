import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { nodeNames, toCoreConfig } from './core.js';
import { CONFIG_FILE, DELETE, EXAMPLE, setIn, type Path } from './fixtures.test-support.js';
import { parseConfig } from './parse.js';

/** Every path of the example document, containers included. */
function paths(v: unknown, prefix: Path = []): Path[] {
  if (typeof v !== 'object' || v === null) return [prefix];
  const children = Array.isArray(v) ? v.map((x: unknown, i) => [i, x] as const) : Object.entries(v);
  return [prefix, ...children.flatMap(([k, x]) => paths(x, [...prefix, k]))];
}

const ALL = paths(parse(EXAMPLE)).filter((p) => p.length > 0);

const value = fc.oneof(
  fc.constant(DELETE),
  fc.jsonValue(),
  fc.constantFrom('192.0.2.1', '192.0.2.10/24', '192.0.2.11/24', '203.0.113.2/30', 'fe80::1', 'ext0', 'ha0', '', '0.0.0.0/0', '255.255.255.255/32'),
  fc.ipV4(),
  fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([a, p]) => `${a}/${p}`),
);

describe('any edit of the example', () => {
  it('is either refused with errors, never thrown, or loads and maps to the core for every node', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...ALL), value), { minLength: 1, maxLength: 4 }), (edits) => {
      const doc: unknown = parse(EXAMPLE);
      for (const [path, v] of edits) {
        try { setIn(doc, path, v); } catch { /* an earlier edit made the path cross a scalar */ }
      }
      const result = parseConfig(stringify(doc), CONFIG_FILE);
      if (!result.ok) {
        assert.ok(result.errors.length > 0);
        for (const e of result.errors) assert.ok(e.reason.length > 0 && !/Invalid input|Unrecognized key/.test(e.reason), e.reason);
        return;
      }
      for (const name of nodeNames(result.config)) {
        const core = toCoreConfig(result.config, name);
        assert.equal(core.self.name, name);
        assert.ok(core.heartbeatPaths.length >= 1);
      }
    }), { numRuns: 400 });
  });
});
