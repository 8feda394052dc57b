import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EXAMPLE, standalone, variant } from '../../config/fixtures.test-support.js';
import { installReplicatedConfig, publishConfig, REPLICATED_CONFIG } from './config-follow.js';

describe('the configuration follows the primary', () => {
  let dir = '';
  let file = '';
  let root = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-config-follow-'));
    file = join(dir, 'tandem.yaml');
    root = join(dir, 'store', 'config');
    mkdirSync(root, { recursive: true });
    writeFileSync(file, EXAMPLE);
    chmodSync(file, 0o640);
  });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('the primary publishes its running file, once per change', () => {
    assert.equal(publishConfig(file, root), true);
    assert.equal(readFileSync(join(root, REPLICATED_CONFIG), 'utf8'), EXAMPLE);
    assert.equal(publishConfig(file, root), false, 'the same text is not written again');
  });

  it('a secondary installs a changed, valid configuration, keeping the file mode', () => {
    const changed = variant([[['cluster', 'timing'], 'fast']]);
    writeFileSync(join(root, REPLICATED_CONFIG), changed);
    assert.deepEqual(installReplicatedConfig(file, root, 'b'), { kind: 'installed' });
    assert.equal(readFileSync(file, 'utf8'), changed);
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.deepEqual(installReplicatedConfig(file, root, 'b'), { kind: 'unchanged' });
  });

  it('nothing replicated yet: unchanged', () => {
    assert.deepEqual(installReplicatedConfig(file, root, 'b'), { kind: 'unchanged' });
  });

  it('a configuration that does not load is refused with the reason and changes nothing', () => {
    writeFileSync(join(root, REPLICATED_CONFIG), variant([[['cluster', 'port'], 0]]));
    const r = installReplicatedConfig(file, root, 'b');
    assert.ok(r.kind === 'refused');
    assert.match(r.errors, /cluster\.port: must be from 1 to 65535/);
    assert.equal(readFileSync(file, 'utf8'), EXAMPLE);
  });

  it('a configuration that does not name this node is refused', () => {
    writeFileSync(join(root, REPLICATED_CONFIG), standalone('a'));
    const r = installReplicatedConfig(file, root, 'b');
    assert.ok(r.kind === 'refused');
    assert.match(r.errors, /this node \(b\) is not in the replicated configuration/);
    assert.equal(readFileSync(file, 'utf8'), EXAMPLE);
  });
});
