import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureDir, readJson, writeJsonAtomic } from './store.js';

describe('state store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-store-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('reads what it wrote, leaves no temporary file, and is private to root', () => {
    const file = join(dir, 'ha-state.json');
    writeJsonAtomic(file, { term: 3 });
    writeJsonAtomic(file, { term: 4 });
    assert.deepEqual(readJson(file), { term: 4 });
    assert.deepEqual(readdirSync(dir), ['ha-state.json']);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('reads a missing document as undefined', () => {
    assert.equal(readJson(join(dir, 'missing.json')), undefined);
  });

  it('creates a state directory readable by root only', () => {
    const sub = join(dir, 'a', 'b');
    ensureDir(sub);
    assert.equal(statSync(sub).mode & 0o777, 0o700);
  });
});
