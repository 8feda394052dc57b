/**
 * The daemon refuses every invalid configuration at start, with the file, the field and the
 * reason, and exits non-zero before touching the network (real `tandem node` processes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DELETE, MINIMAL, variant, type Edit } from '../config/fixtures.test-support.js';

const CLI = join(process.cwd(), 'dist/cli/tandem.js');

interface Row { readonly name: string; readonly edits: readonly Edit[]; readonly field: string; readonly reason: RegExp; readonly keyMode?: number }

const rows: readonly Row[] = [
  { name: 'IPv6 next hop', edits: [[['nodes', 'a', 'interfaces', 'ext0', 'next_hop'], '2001:db8::1']], field: 'nodes.a.interfaces.ext0.next_hop', reason: /IPv6/ },
  { name: 'malformed next hop', edits: [[['nodes', 'a', 'interfaces', 'ext0', 'next_hop'], '192.0.2.300']], field: 'nodes.a.interfaces.ext0.next_hop', reason: /IPv4/ },
  { name: 'next hop outside the subnet', edits: [[['nodes', 'a', 'interfaces', 'ext0', 'next_hop'], '198.51.100.1']], field: 'nodes.a.interfaces.ext0.next_hop', reason: /outside 192\.0\.2\.0\/24/ },
  { name: 'next hop equal to a node address', edits: [[['nodes', 'a', 'interfaces', 'ext0', 'next_hop'], '192.0.2.12']], field: 'nodes.a.interfaces.ext0.next_hop', reason: /node/ },
  { name: 'next hop equal to the VIP', edits: [[['nodes', 'a', 'interfaces', 'ext0', 'next_hop'], '192.0.2.10']], field: 'nodes.a.interfaces.ext0.next_hop', reason: /VIP|virtual/i },
  { name: 'unknown interface', edits: [[['cluster', 'ha_link'], 'ha9']], field: 'cluster.ha_link', reason: /ha9/ },
  { name: 'missing address', edits: [[['nodes', 'b', 'interfaces', 'int0', 'address'], DELETE]], field: 'nodes.b.interfaces.int0.address', reason: /missing/ },
  { name: 'unknown key', edits: [[['cluster', 'colour'], 'blue']], field: 'cluster.colour', reason: /unknown key/ },
  { name: 'unsafe key file', edits: [], keyMode: 0o644, field: 'cluster.key_file', reason: /readable by group or others/ },
];

describe('tandem node refuses bad configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-badconf-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  for (const row of rows) {
    it(`${row.name}: ${row.field}`, () => {
      const file = join(dir, `${row.name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, variant([...row.edits, [['nodes', 'a', 'state_dir'], join(dir, 'a')], [['nodes', 'b', 'state_dir'], join(dir, 'b')]], MINIMAL));
      const key = join(dir, 'cluster.key');
      writeFileSync(key, 'k'.repeat(32));
      chmodSync(key, row.keyMode ?? 0o600);
      const r = spawnSync(process.execPath, [CLI, 'node', '--config', file, '--node', 'a'], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 1, `exit status; stderr: ${r.stderr}`);
      assert.ok(r.stderr.includes(`${file}: ${row.field}: `) || r.stderr.includes(`: ${row.field}: `), `names the field: ${r.stderr}`);
      assert.match(r.stderr, row.reason);
    });
  }

  it('a node name not in the file', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, variant([], MINIMAL));
    const r = spawnSync(process.execPath, [CLI, 'node', '--config', file, '--node', 'zz'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /node zz is not in the configuration/);
  });
});
