/**
 * `tandem config check` and `tandem config migrate` as a newer firmware's own code runs them:
 * a copy of this checkout whose compat module says schema 2 and carries a migration (what a
 * real next release would ship). The migrated file keeps the operator's comments, the older
 * firmware refuses it as newer than it reads, and a configuration the target cannot migrate is
 * refused with the target's reason — the `configuration` check of Test.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../lab/lab.js';

const base = mkdtempSync(join(tmpdir(), 'tandem-config-tools-'));
after(() => { rmSync(base, { recursive: true, force: true }); });

/** A copy of this checkout (hard links) whose dist/core/compat.js is replaced. */
function treeWithCompat(name: string, schema: number, migrations: unknown[]): string {
  const tree = join(base, name);
  mkdirSync(tree);
  for (const part of ['package.json', 'dist', 'node_modules']) execFileSync('cp', ['-al', join(REPO_ROOT, part), join(tree, part)]);
  const compat = join(tree, 'dist', 'core', 'compat.js');
  rmSync(compat);
  writeFileSync(compat, [
    `export const CONFIG_SCHEMA = ${String(schema)};`,
    `export const CONFIG_MIGRATIONS = ${JSON.stringify(migrations)};`,
    'export const HA_PROTOCOL = { min: 1, max: 1 };',
    '',
  ].join('\n'));
  return tree;
}

const CONFIG = [
  '# the operator\'s comment, kept by a migration',
  'cluster:',
  '  name: lab',
  '  key_file: cluster.key',
  '  ha_link: ha0',
  '  timing: default   # why default: a busy host',
  'nodes:',
  '  a:',
  '    state_dir: state',
  '    interfaces:',
  '      ha0: { address: 203.0.113.1/30 }',
  '',
].join('\n');

function configFile(name: string): string {
  const dir = join(base, `cfg-${name}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'cluster.key'), Buffer.alloc(32, 3), { mode: 0o600 });
  writeFileSync(join(dir, 'cluster.yaml'), CONFIG);
  return join(dir, 'cluster.yaml');
}

function run(tree: string, args: readonly string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(tree, 'dist', 'cli', 'tandem.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('configuration check and migration by a firmware\'s own code', () => {
  const next = treeWithCompat('schema2', 2, [
    { from: 1, to: 2, description: 'the resync rate limit is written out', steps: [{ op: 'set-default', path: 'sync.resync_rate_mbit', value: 25 }] },
  ]);

  it('check migrates in memory and changes nothing; migrate writes schema 2, keeps the comments, and is idempotent', () => {
    const file = configFile('migrate');
    const check = run(next, ['config', 'check', '--json', '--config', file, '--node', 'a']);
    assert.equal(check.code, 0, check.out);
    assert.deepEqual((JSON.parse(check.out) as { schema: unknown }).schema, { from: 1, to: 2 });
    assert.equal(readFileSync(file, 'utf8'), CONFIG, 'check writes nothing');
    const migrate = run(next, ['config', 'migrate', '--config', file, '--node', 'a']);
    assert.equal(migrate.code, 0, migrate.out);
    assert.match(migrate.out, /migrated from schema 1 to 2: the resync rate limit is written out/);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^schema: 2$/m);
    assert.match(text, /resync_rate_mbit: 25/);
    assert.match(text, /# the operator's comment, kept by a migration/);
    assert.match(text, /# why default: a busy host/);
    assert.match(run(next, ['config', 'migrate', '--config', file, '--node', 'a']).out, /already at schema 2/);
    // The firmware of schema 1 (this checkout) refuses what a newer one wrote, and says why.
    const old = run(REPO_ROOT, ['config', 'check', '--config', file, '--node', 'a']);
    assert.equal(old.code, 1);
    assert.match(old.out, /schema: the configuration is at schema 2, newer than this firmware reads \(schema 1\)/);
  });

  it('a configuration the target cannot migrate is refused with the target\'s reason, and the file is untouched', () => {
    const refusing = treeWithCompat('refusing', 2, [
      { from: 1, to: 2, description: 'timing moves to name (a migration that cannot apply here)', steps: [{ op: 'rename', from: 'cluster.timing', to: 'cluster.name' }] },
    ]);
    const file = configFile('refused');
    const check = run(refusing, ['config', 'check', '--json', '--config', file, '--node', 'a']);
    assert.equal(check.code, 1);
    assert.match(check.out, /cannot rename to cluster\.name: cluster\.name exists/);
    const migrate = run(refusing, ['config', 'migrate', '--config', file, '--node', 'a']);
    assert.equal(migrate.code, 1);
    assert.equal(readFileSync(file, 'utf8'), CONFIG, 'a refused migration writes nothing');
  });
});
