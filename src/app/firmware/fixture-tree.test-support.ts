/**
 * A small fake built Tandem tree for firmware build tests: what a bundle must carry, what it
 * must leave out (tests, sources, devDependencies, node_modules/.bin), and a dependency graph
 * that needs Node's resolution (a nested copy shadowing a hoisted one, a scoped package, a peer,
 * an optional dependency that is not installed).
 */
import { put } from '../../adapters/firmware/fixtures.test-support.js';

const pkg = (name: string, deps: Record<string, Record<string, string>> = {}): string =>
  JSON.stringify({ name, version: '1.0.0', ...deps });

/** The fixture's dist/core/compat.js: schema 3 reached by two migrations, HA protocol 1–2. */
export const FIXTURE_COMPAT = {
  config_schema: {
    version: 3,
    migrations: [
      { from: 1, to: 2, description: 'next_hop becomes next_hops', steps: [{ op: 'rename', from: 'nodes.*.next_hop', to: 'nodes.*.next_hops' }] },
      { from: 2, to: 3, description: 'timing is required', steps: [{ op: 'set-default', path: 'cluster.timing', value: 'default' }] },
    ],
  },
  ha_protocol: { min: 1, max: 2 },
};

/** Every file the bundle of the fixture tree carries, sorted, with its mode. */
export const FIXTURE_PAYLOAD: readonly { path: string; mode: number }[] = [
  { path: 'bin/tandem.js', mode: 0o755 },
  { path: 'dist/cli/tandem.js', mode: 0o644 },
  { path: 'dist/cli/tandem.js.map', mode: 0o644 },
  { path: 'dist/core/compat.js', mode: 0o644 },
  { path: 'native/icmp/build/Release/tandem_icmp.node', mode: 0o755 },
  { path: 'node_modules/@scope/dep-s/index.js', mode: 0o644 },
  { path: 'node_modules/@scope/dep-s/package.json', mode: 0o644 },
  { path: 'node_modules/dep-a/index.js', mode: 0o644 },
  { path: 'node_modules/dep-a/lib/run.sh', mode: 0o755 },
  { path: 'node_modules/dep-a/node_modules/dep-b/package.json', mode: 0o644 },
  { path: 'node_modules/dep-a/package.json', mode: 0o644 },
  { path: 'node_modules/dep-b/package.json', mode: 0o644 },
  { path: 'node_modules/dep-peer/package.json', mode: 0o644 },
  { path: 'package.json', mode: 0o644 },
];

export function writeFixtureTree(root: string): void {
  put(root, 'package.json', JSON.stringify({
    name: 'tandem', version: '0.0.1', type: 'module', bin: { tandem: 'bin/tandem.js' },
    dependencies: { 'dep-a': '^1', '@scope/dep-s': '^1' },
    optionalDependencies: { 'opt-missing': '^1' },
    devDependencies: { 'dev-only': '^1' },
  }));
  put(root, 'package-lock.json', '{}');
  put(root, 'bin/tandem.js', '#!/usr/bin/env node\nimport "../dist/cli/tandem.js";\n', 0o755);
  put(root, 'dist/core/compat.js', [
    `export const CONFIG_SCHEMA = ${FIXTURE_COMPAT.config_schema.version};`,
    `export const CONFIG_MIGRATIONS = ${JSON.stringify(FIXTURE_COMPAT.config_schema.migrations)};`,
    `export const HA_PROTOCOL = ${JSON.stringify(FIXTURE_COMPAT.ha_protocol)};`,
  ].join('\n'));
  put(root, 'dist/cli/tandem.js', 'console.log("fixture");\n');
  put(root, 'dist/cli/tandem.js.map', '{}');
  for (const f of ['dist/app/x.test.js', 'dist/app/x.test.js.map', 'dist/app/f.test-support.js', 'dist/app/f.test-support.js.map']) put(root, f, 'test');
  put(root, 'native/icmp/build/Release/tandem_icmp.node', 'ELF', 0o755);
  put(root, 'native/icmp/build/Release/obj.target/icmp.o', 'object');
  put(root, 'native/icmp/src/icmp.c', 'int main;');
  put(root, 'src/core/compat.ts', 'export {};');
  put(root, 'node_modules/.bin/dep-a', '#!/bin/sh\n', 0o755);
  put(root, 'node_modules/.package-lock.json', '{}');
  put(root, 'node_modules/dep-a/package.json', pkg('dep-a', { dependencies: { 'dep-b': '^2' } }));
  put(root, 'node_modules/dep-a/index.js', 'module.exports = 1;');
  put(root, 'node_modules/dep-a/lib/run.sh', '#!/bin/sh\n', 0o755);
  put(root, 'node_modules/dep-a/node_modules/dep-b/package.json', pkg('dep-b'));
  put(root, 'node_modules/dep-b/package.json', pkg('dep-b'));
  put(root, 'node_modules/@scope/dep-s/package.json', pkg('@scope/dep-s', { dependencies: { 'dep-b': '^1' }, peerDependencies: { 'dep-peer': '^1' } }));
  put(root, 'node_modules/@scope/dep-s/index.js', 'export {};');
  put(root, 'node_modules/dep-peer/package.json', pkg('dep-peer'));
  put(root, 'node_modules/dev-only/package.json', pkg('dev-only'));
  put(root, 'node_modules/unused/package.json', pkg('unused'));
}
