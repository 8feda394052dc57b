import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { TIMING_PROFILES } from '../core/timing.js';
import { coreDirOf, nodeNames, peerName, resolveNode, toCoreConfig } from './core.js';
import { CONFIG_FILE, DELETE, EXAMPLE, MINIMAL, standalone, variant, type Edit } from './fixtures.test-support.js';
import { parseConfig } from './parse.js';
import { formatConfigError, type ConfigError, type TandemConfig } from './types.js';

function valid(text: string, file = CONFIG_FILE): TandemConfig {
  const result = parseConfig(text, file);
  if (!result.ok) assert.fail(`expected a valid configuration, got:\n${result.errors.map(formatConfigError).join('\n')}`);
  return result.config;
}

function invalid(text: string): readonly ConfigError[] {
  const result = parseConfig(text, CONFIG_FILE);
  if (result.ok) assert.fail('expected the configuration to be refused');
  return result.errors;
}

describe('the example configuration', () => {
  it('loads, with every path resolved against the directory of the file', () => {
    const config = valid(EXAMPLE);
    assert.deepEqual(config, {
      file: CONFIG_FILE,
      cluster: { name: 'lab', keyFile: '/etc/tandem/cluster.key', haLink: 'ha0', heartbeat: ['ext0'], timing: 'default', port: 5405 },
      service: {
        vips: [{ interface: 'ext0', address: '192.0.2.10', prefix: 24 }],
        onPrimary: '/etc/tandem/primary.sh',
        onSecondary: '/etc/tandem/secondary.sh',
        hookTimeoutMs: 10_000,
      },
      sync: { port: 5405, resyncRateBytesPerSec: 1_250_000 },
      commands: { reboot: ['systemctl', 'reboot'], shutdown: ['systemctl', 'poweroff'] },
      firmware: { trustedKeys: [], trialTimeoutS: 600, trialAttempts: 3 },
      api: { listen: { host: '0.0.0.0', port: 8443 }, certFile: null, keyFile: null },
      alerts: { webhooks: [] },
      license: { vendorKeys: [], warnDays: 30 },
      support: { coreDir: null },
      nodes: {
        a: {
          name: 'a', stateDir: '/var/lib/tandem/a', dataDir: '/srv/tandem/a',
          interfaces: {
            ha0: { address: '203.0.113.1', prefix: 30, nextHops: [] },
            ext0: { address: '192.0.2.11', prefix: 24, nextHops: [{ address: '192.0.2.1', weight: 1 }] },
            int0: { address: '198.51.100.11', prefix: 24, nextHops: [{ address: '198.51.100.1', weight: 2 }, { address: '198.51.100.2', weight: 1 }] },
          },
        },
        b: {
          name: 'b', stateDir: '/var/lib/tandem/b', dataDir: '/srv/tandem/b',
          interfaces: {
            ha0: { address: '203.0.113.2', prefix: 30, nextHops: [] },
            ext0: { address: '192.0.2.12', prefix: 24, nextHops: [{ address: '192.0.2.1', weight: 1 }] },
            int0: { address: '198.51.100.12', prefix: 24, nextHops: [{ address: '198.51.100.1', weight: 2 }, { address: '198.51.100.2', weight: 1 }] },
          },
        },
      },
    });
    assert.deepEqual(Object.keys(config.nodes.a.interfaces), ['ha0', 'ext0', 'int0'], 'the order of the file is kept');
  });

  it('maps to the core configuration of each node', () => {
    const config = valid(EXAMPLE);
    const a = { name: 'a', haAddress: '203.0.113.1', nextHops: [
      { interface: 'ext0', address: '192.0.2.1', weight: 1 },
      { interface: 'int0', address: '198.51.100.1', weight: 2 },
      { interface: 'int0', address: '198.51.100.2', weight: 1 },
    ] };
    const b = { ...a, name: 'b', haAddress: '203.0.113.2' };
    assert.deepEqual(toCoreConfig(config, 'a'), { cluster: 'lab', self: a, peer: b, heartbeatPaths: ['ha0', 'ext0'], timing: TIMING_PROFILES.default });
    assert.deepEqual(toCoreConfig(config, 'b'), { cluster: 'lab', self: b, peer: a, heartbeatPaths: ['ha0', 'ext0'], timing: TIMING_PROFILES.default });
    assert.deepEqual(nodeNames(config), ['a', 'b']);
    assert.equal(peerName(config, 'a'), 'b');
  });

  it('the form of issue 3 loads with the defaults', () => {
    const config = valid(MINIMAL);
    assert.equal(config.cluster.port, 5405);
    assert.deepEqual(config.sync, { port: 5405, resyncRateBytesPerSec: 1_250_000 }, 'TCP on the heartbeat port number, 10 Mbit/s');
    assert.equal(config.service.hookTimeoutMs, 10_000);
    assert.deepEqual(config.commands, { reboot: ['systemctl', 'reboot'], shutdown: ['systemctl', 'poweroff'] });
    assert.equal(config.nodes.a!.dataDir, null);
    assert.deepEqual(config.nodes.b!.interfaces.int0!.nextHops, [{ address: '198.51.100.1', weight: 1 }]);
  });

  it('every optional key may be left out or left empty', () => {
    const bare = valid(variant([
      [['cluster', 'heartbeat'], DELETE], [['cluster', 'timing'], null], [['cluster', 'port'], DELETE],
      [['service'], DELETE], [['commands'], DELETE],
      [['nodes', 'a', 'data_dir'], DELETE], [['nodes', 'b', 'data_dir'], null],
    ]));
    assert.deepEqual(bare.cluster.heartbeat, []);
    assert.equal(bare.cluster.timing, 'default');
    assert.deepEqual(bare.service, { vips: [], onPrimary: null, onSecondary: null, hookTimeoutMs: 10_000 });
    assert.equal(bare.nodes.b!.dataDir, null);
    assert.deepEqual(toCoreConfig(bare, 'a').heartbeatPaths, ['ha0']);
  });

  it('the sync port and resync rate are settable; 0 means unlimited', () => {
    const set = valid(variant([[['sync'], { port: 7000, resync_rate_mbit: 100 }]]));
    assert.deepEqual(set.sync, { port: 7000, resyncRateBytesPerSec: 12_500_000 });
    assert.equal(valid(variant([[['sync'], { resync_rate_mbit: 0 }]])).sync.resyncRateBytesPerSec, 0);
  });

  it('the API listens on any IPv4 address a socket binds, loopback and all addresses included', () => {
    assert.deepEqual(valid(variant([[['api', 'listen'], '127.0.0.1:9443']])).api.listen, { host: '127.0.0.1', port: 9443 });
    assert.deepEqual(valid(variant([[['api', 'listen'], '0.0.0.0']])).api.listen, { host: '0.0.0.0', port: 8443 });
    assert.equal(valid(variant([[['api', 'listen'], 'off']])).api.listen, null);
  });

  it('firmware: trusted keys as paths (resolved) or inline PEM (kept), trial limits', () => {
    const pem = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n';
    const config = valid(variant([[['firmware'], { trusted_keys: ['keys/vendor.pub', pem], trial_timeout_s: 120, trial_attempts: 2 }]]), '/srv/lab/tandem.yaml');
    assert.deepEqual(config.firmware, { trustedKeys: ['/srv/lab/keys/vendor.pub', pem], trialTimeoutS: 120, trialAttempts: 2 });
  });

  it('support: the core directory, resolved like every path; <state_dir>/cores of each node unless given', () => {
    const bare = valid(EXAMPLE);
    assert.equal(coreDirOf(bare, 'a'), '/var/lib/tandem/a/cores');
    assert.equal(coreDirOf(bare, 'b'), '/var/lib/tandem/b/cores');
    const set = valid(variant([[['support'], { core_dir: 'cores' }]]), '/srv/lab/tandem.yaml');
    assert.deepEqual(set.support, { coreDir: '/srv/lab/cores' });
    assert.equal(coreDirOf(set, 'b'), '/srv/lab/cores');
    assert.equal(coreDirOf(valid(variant([[['support'], { core_dir: '/var/lib/systemd/coredump' }]])), 'a'), '/var/lib/systemd/coredump');
    assert.equal(valid(variant([[['support'], null]])).support.coreDir, null);
    assert.equal(coreDirOf(valid(variant([[['support', 'core_dir'], '/var/lib/tandem/a/cores']])), 'a'), '/var/lib/tandem/a/cores', 'the default, written out');
  });

  it('a configuration written by a newer firmware (a higher schema) is refused with that reason alone', () => {
    const errors = invalid(variant([[['schema'], 99], [['cluster', 'colour'], 'blue']]));
    assert.deepEqual(errors.map((e) => e.field), ['schema']);
    assert.match(errors[0]!.reason, /schema 99, newer than this firmware reads \(schema 1\)/);
    assert.equal(valid(variant([[['schema'], 1]])).cluster.name, 'lab');
  });

  it('the fast profile, another port and relative paths', () => {
    const config = valid(variant([
      [['cluster', 'timing'], 'fast'], [['cluster', 'port'], 6000],
      [['nodes', 'a', 'state_dir'], 'state/a'], [['commands', 'reboot'], ['./restart-node.sh', 'a']],
      [['commands', 'shutdown'], ['/usr/sbin/poweroff']],
    ]), '/srv/lab/tandem.yaml');
    assert.equal(toCoreConfig(config, 'a').timing, TIMING_PROFILES.fast);
    assert.equal(config.cluster.port, 6000);
    assert.equal(config.sync.port, 6000, 'the sync port follows the heartbeat port');
    assert.equal(config.cluster.keyFile, '/srv/lab/cluster.key');
    assert.equal(config.nodes.a!.stateDir, '/srv/lab/state/a');
    assert.deepEqual(config.commands.reboot, ['/srv/lab/restart-node.sh', 'a'], 'a program given as a path is resolved');
    assert.deepEqual(config.commands.shutdown, ['/usr/sbin/poweroff']);
  });

  it('a configuration naming one node is a standalone node: peer null', () => {
    const config = valid(standalone('b'));
    assert.deepEqual(nodeNames(config), ['b']);
    assert.equal(peerName(config, 'b'), null);
    const core = toCoreConfig(config, 'b');
    assert.equal(core.peer, null);
    assert.equal(core.self.haAddress, '203.0.113.2');
  });

  it('a node may monitor several weighted next hops where the other monitors one of the same total weight', () => {
    const config = valid(variant([[['nodes', 'b', 'interfaces', 'int0', 'next_hop'], [{ address: '198.51.100.1', weight: 3 }]]]));
    assert.deepEqual(toCoreConfig(config, 'b').self.nextHops.filter((h) => h.interface === 'int0'),
      [{ interface: 'int0', address: '198.51.100.1', weight: 3 }]);
  });

  it('point-to-point subnets (/31) have no network or broadcast address', () => {
    valid(variant([
      [['nodes', 'a', 'interfaces', 'ha0', 'address'], '203.0.113.0/31'],
      [['nodes', 'b', 'interfaces', 'ha0', 'address'], '203.0.113.1/31'],
    ]));
  });
});

describe('resolveNode', () => {
  it('gives the core configuration of a node of the file', () => {
    const config = valid(EXAMPLE);
    const r = resolveNode(config, 'b');
    assert.ok(r.ok);
    assert.equal(r.core.self.name, 'b');
  });

  it('refuses a node the file does not name, listing the known ones', () => {
    const r = resolveNode(valid(EXAMPLE), 'c');
    assert.ok(!r.ok);
    assert.deepEqual(r.error, { file: CONFIG_FILE, field: 'nodes', reason: 'node c is not in the configuration; known: a, b' });
    assert.throws(() => toCoreConfig(valid(EXAMPLE), 'c'), /node c is not in/);
  });

  it('is not fooled by inherited property names', () => {
    assert.ok(!resolveNode(valid(EXAMPLE), 'toString').ok);
    assert.ok(!resolveNode(valid(EXAMPLE), '__proto__').ok);
  });
});

interface Row {
  readonly name: string;
  /** Edits of the example, or a whole text. */
  readonly edits?: readonly Edit[];
  readonly text?: string;
  readonly field: string;
  readonly reason: string;
  /** How many errors in all (1 unless said; null: not checked). */
  readonly count?: number | null;
}

const A = ['nodes', 'a'] as const;
const B = ['nodes', 'b'] as const;
const aIf = (name: string, ...rest: (string | number)[]) => [...A, 'interfaces', name, ...rest];
const bIf = (name: string, ...rest: (string | number)[]) => [...B, 'interfaces', name, ...rest];
/** Node b's settings, to put under another name. */
const NODE_B = (parse(EXAMPLE) as { nodes: Record<string, unknown> }).nodes.b;
const NODE_C = { state_dir: '/var/lib/tandem/c', interfaces: { ha0: { address: '203.0.113.9/30' } } };

const ROWS: readonly Row[] = [
  // Unknown keys, at every level.
  { name: 'unknown top-level key', edits: [[['colour'], 'blue']], field: 'colour', reason: 'unknown key' },
  { name: 'unknown cluster key', edits: [[['cluster', 'timeout'], 3]], field: 'cluster.timeout', reason: 'unknown key' },
  { name: 'misspelt next_hop', edits: [[aIf('ext0', 'nexthop'), '192.0.2.1']], field: 'nodes.a.interfaces.ext0.nexthop', reason: 'unknown key' },
  { name: 'unknown key in a VIP', edits: [[['service', 'vips', 0, 'label'], 'web']], field: 'service.vips[0].label', reason: 'unknown key' },
  { name: 'unknown key in a next hop', edits: [[aIf('int0', 'next_hop', 1, 'prio'), 1]], field: 'nodes.a.interfaces.int0.next_hop[1].prio', reason: 'unknown key' },
  { name: 'unknown node key', edits: [[[...A, 'role'], 'primary']], field: 'nodes.a.role', reason: 'unknown key' },
  { name: 'unknown commands key', edits: [[['commands', 'halt'], ['halt']]], field: 'commands.halt', reason: 'unknown key' },
  // Document and sections.
  { name: 'YAML syntax error', text: 'cluster:\n  name: [lab\nnodes: {}\n', field: 'line 3, column 1', reason: 'Flow sequence', count: null },
  { name: 'duplicate node (YAML key)', text: `${EXAMPLE}  a:\n    state_dir: /x\n`, field: 'line 34, column 3', reason: 'Map keys must be unique' },
  { name: 'empty file', text: '# nothing\n', field: '', reason: 'the configuration is empty' },
  { name: 'not a mapping', text: '- a\n- b\n', field: '', reason: 'must be a mapping (key: value), not a list' },
  { name: 'cluster missing', edits: [[['cluster'], DELETE]], field: 'cluster', reason: 'missing' },
  { name: 'cluster not a mapping', edits: [[['cluster'], 'lab']], field: 'cluster', reason: 'must be a mapping (key: value), not text ("lab")' },
  // Cluster.
  { name: 'cluster name missing', edits: [[['cluster', 'name'], DELETE]], field: 'cluster.name', reason: 'missing: the cluster needs a name' },
  { name: 'cluster name with a space', edits: [[['cluster', 'name'], 'my lab']], field: 'cluster.name', reason: 'use 1 to 63 characters' },
  { name: 'key_file missing', edits: [[['cluster', 'key_file'], DELETE]], field: 'cluster.key_file', reason: 'missing' },
  { name: 'key_file with ~', edits: [[['cluster', 'key_file'], '~/cluster.key']], field: 'cluster.key_file', reason: '"~" is not expanded' },
  { name: 'ha_link missing', edits: [[['cluster', 'ha_link'], DELETE]], field: 'cluster.ha_link', reason: 'missing: name the HA link interface' },
  { name: 'timing unknown', edits: [[['cluster', 'timing'], 'slow']], field: 'cluster.timing', reason: 'must be default or fast, not text ("slow")' },
  { name: 'sync port 0', edits: [[['sync', 'port'], 0]], field: 'sync.port', reason: 'must be from 1 to 65535' },
  { name: 'negative resync rate', edits: [[['sync', 'resync_rate_mbit'], -1]], field: 'sync.resync_rate_mbit', reason: 'must be from 0 (unlimited)' },
  { name: 'resync rate as text', edits: [[['sync', 'resync_rate_mbit'], '10M']], field: 'sync.resync_rate_mbit', reason: 'must be a number of Mbit/s' },
  { name: 'unknown sync key', edits: [[['sync', 'rate'], 5]], field: 'sync.rate', reason: 'unknown key' },
  { name: 'port 0', edits: [[['cluster', 'port'], 0]], field: 'cluster.port', reason: 'must be from 1 to 65535' },
  { name: 'port too high', edits: [[['cluster', 'port'], 70000]], field: 'cluster.port', reason: 'must be from 1 to 65535' },
  { name: 'port not a number', edits: [[['cluster', 'port'], 'heartbeat']], field: 'cluster.port', reason: 'must be a number' },
  { name: 'port fractional', edits: [[['cluster', 'port'], 5405.5]], field: 'cluster.port', reason: 'must be a whole number' },
  { name: 'heartbeat not a list', edits: [[['cluster', 'heartbeat'], 'ext0']], field: 'cluster.heartbeat', reason: 'must be a list' },
  // Heartbeat paths.
  { name: 'HA link not defined on a node', edits: [[bIf('ha0'), DELETE]], field: 'cluster.ha_link', reason: 'ha0 is not an interface of node b' },
  { name: 'HA link undefined everywhere', edits: [[['cluster', 'ha_link'], 'ha9']], field: 'cluster.ha_link', reason: 'ha9 is not an interface of node a', count: 2 },
  { name: 'heartbeat interface missing on a node', edits: [[['cluster', 'heartbeat'], ['ext0', 'mgmt0']], [aIf('mgmt0'), { address: '10.1.0.1/24' }]],
    field: 'cluster.heartbeat[1]', reason: 'mgmt0 is not an interface of node b' },
  { name: 'heartbeat repeats the HA link', edits: [[['cluster', 'heartbeat'], ['ext0', 'ha0']]], field: 'cluster.heartbeat[1]', reason: 'ha0 is already the HA link' },
  { name: 'heartbeat listed twice', edits: [[['cluster', 'heartbeat'], ['ext0', 'ext0']]], field: 'cluster.heartbeat[1]', reason: 'ext0 is listed twice' },
  { name: 'HA link addresses in different subnets', edits: [[bIf('ha0', 'address'), '203.0.113.5/30']],
    field: 'nodes.b.interfaces.ha0.address', reason: '203.0.113.5/30 is not in 203.0.113.0/30, the subnet of node a on ha0' },
  { name: 'heartbeat addresses with different prefixes', edits: [[bIf('ext0', 'address'), '192.0.2.12/25']],
    field: 'nodes.b.interfaces.ext0.address', reason: 'is not in 192.0.2.0/24, the subnet of node a on ext0: a heartbeat path must join both nodes' },
  // Nodes.
  { name: 'nodes missing', edits: [[['nodes'], DELETE]], field: 'nodes', reason: 'missing: name this node' },
  { name: 'no node', edits: [[['nodes'], {}]], field: 'nodes', reason: 'no node' },
  { name: 'three nodes', edits: [[['nodes', 'c'], NODE_C]], field: 'nodes', reason: '3 nodes (a, b, c): a Tandem cluster has one node (standalone) or two', count: null },
  { name: 'node name with a capital', edits: [[B, DELETE], [['nodes', 'B'], NODE_B]], field: 'nodes.B', reason: 'invalid node name "B"' },
  { name: 'node name starting with "-"', edits: [[B, DELETE], [['nodes', '-b'], NODE_B]], field: 'nodes.-b', reason: 'starting with a letter or digit' },
  { name: 'node name too long', edits: [[B, DELETE], [['nodes', 'n'.repeat(33)], NODE_B]], field: `nodes.${'n'.repeat(33)}`, reason: 'use 1 to 32 characters' },
  { name: 'state_dir missing', edits: [[[...A, 'state_dir'], DELETE]], field: 'nodes.a.state_dir', reason: 'missing: every node needs a state directory' },
  { name: 'interfaces missing', edits: [[[...A, 'interfaces'], DELETE]], field: 'nodes.a.interfaces', reason: 'missing: every node needs its interfaces', count: null },
  // Interfaces and their addresses.
  { name: 'interface name too long', edits: [[aIf('abcdefghijklmnop'), { address: '10.1.0.1/24' }]],
    field: 'nodes.a.interfaces.abcdefghijklmnop', reason: 'invalid interface name "abcdefghijklmnop": Linux interface names have 1 to 15 characters' },
  { name: 'interface name with a slash', edits: [[aIf('eth/0'), { address: '10.1.0.1/24' }]], field: 'nodes.a.interfaces.eth/0', reason: 'invalid interface name' },
  { name: 'missing address', edits: [[aIf('ext0', 'address'), DELETE]], field: 'nodes.a.interfaces.ext0.address', reason: 'missing: every interface needs an address' },
  { name: 'address is a number', edits: [[aIf('ext0', 'address'), 12]], field: 'nodes.a.interfaces.ext0.address', reason: 'must be text, not a number (12)' },
  { name: 'IPv6 address', edits: [[aIf('ext0', 'address'), '2001:db8::11/64']], field: 'nodes.a.interfaces.ext0.address', reason: 'IPv6 is not supported: use an IPv4 address' },
  { name: 'malformed address', edits: [[aIf('ext0', 'address'), '192.0.2.300/24']], field: 'nodes.a.interfaces.ext0.address', reason: 'is not an IPv4 address with a prefix length' },
  { name: 'address with leading zeros', edits: [[aIf('ext0', 'address'), '192.0.2.011/24']], field: 'nodes.a.interfaces.ext0.address', reason: 'is not an IPv4 address' },
  { name: 'address without prefix', edits: [[aIf('ext0', 'address'), '192.0.2.11']], field: 'nodes.a.interfaces.ext0.address', reason: 'missing the prefix length' },
  { name: 'prefix 33', edits: [[aIf('ext0', 'address'), '192.0.2.11/33']], field: 'nodes.a.interfaces.ext0.address', reason: 'use a number from 1 to 32' },
  { name: 'prefix 0', edits: [[aIf('ext0', 'address'), '192.0.2.11/0']], field: 'nodes.a.interfaces.ext0.address', reason: 'use a number from 1 to 32' },
  { name: 'network address as node address', edits: [[aIf('ext0', 'address'), '192.0.2.0/24']], field: 'nodes.a.interfaces.ext0.address', reason: 'is the network address of 192.0.2.0/24' },
  { name: 'loopback node address', edits: [[aIf('ext0', 'address'), '127.0.0.1/8']], field: 'nodes.a.interfaces.ext0.address', reason: 'loopback' },
  { name: 'multicast node address', edits: [[aIf('ext0', 'address'), '224.0.0.5/24']], field: 'nodes.a.interfaces.ext0.address', reason: 'multicast' },
  { name: 'two nodes with one address', edits: [[bIf('ext0', 'address'), '192.0.2.11/24']], field: 'nodes.b.interfaces.ext0.address', reason: '192.0.2.11 is also the address of node a on ext0' },
  // Next hops.
  { name: 'IPv6 next hop', edits: [[aIf('ext0', 'next_hop'), 'fe80::1']], field: 'nodes.a.interfaces.ext0.next_hop', reason: 'IPv6 is not supported: use an IPv4 address' },
  { name: 'malformed next hop', edits: [[aIf('ext0', 'next_hop'), '192.0.2']], field: 'nodes.a.interfaces.ext0.next_hop', reason: '"192.0.2" is not an IPv4 address' },
  { name: 'next hop with a prefix', edits: [[aIf('ext0', 'next_hop'), '192.0.2.1/24']], field: 'nodes.a.interfaces.ext0.next_hop', reason: 'without a prefix length: write 192.0.2.1' },
  { name: 'next hop outside the subnet', edits: [[aIf('ext0', 'next_hop'), '198.51.100.1']], field: 'nodes.a.interfaces.ext0.next_hop',
    reason: '198.51.100.1 is outside 192.0.2.0/24, the subnet of ext0 on node a' },
  { name: 'next hop is the network address', edits: [[aIf('ext0', 'next_hop'), '192.0.2.0']], field: 'nodes.a.interfaces.ext0.next_hop', reason: '192.0.2.0 is the network address of 192.0.2.0/24' },
  { name: 'next hop is the broadcast address', edits: [[aIf('ext0', 'next_hop'), '192.0.2.255']], field: 'nodes.a.interfaces.ext0.next_hop', reason: '192.0.2.255 is the broadcast address of 192.0.2.0/24' },
  { name: "next hop is the node's own address", edits: [[aIf('ext0', 'next_hop'), '192.0.2.11']], field: 'nodes.a.interfaces.ext0.next_hop', reason: '192.0.2.11 is the address of node a on ext0' },
  { name: "next hop is the other node's address", edits: [[aIf('ext0', 'next_hop'), '192.0.2.12']], field: 'nodes.a.interfaces.ext0.next_hop', reason: '192.0.2.12 is the address of node b on ext0' },
  { name: 'next hop is a VIP', edits: [[aIf('ext0', 'next_hop'), '192.0.2.10']], field: 'nodes.a.interfaces.ext0.next_hop', reason: '192.0.2.10 is a virtual IP (service.vips[0])' },
  { name: 'next hop is loopback', edits: [[aIf('ext0', 'next_hop'), '127.0.0.1']], field: 'nodes.a.interfaces.ext0.next_hop', reason: 'loopback' },
  { name: 'next hop is a number', edits: [[aIf('ext0', 'next_hop'), 3]], field: 'nodes.a.interfaces.ext0.next_hop', reason: 'must be a list, not a number (3)' },
  { name: 'malformed next hop in a list', edits: [[aIf('int0', 'next_hop', 0, 'address'), '198.51.100.300']],
    field: 'nodes.a.interfaces.int0.next_hop[0].address', reason: 'is not an IPv4 address' },
  { name: 'next hop in a list outside the subnet', edits: [[aIf('int0', 'next_hop', 1, 'address'), '192.0.2.1']],
    field: 'nodes.a.interfaces.int0.next_hop[1].address', reason: '192.0.2.1 is outside 198.51.100.0/24, the subnet of int0 on node a' },
  { name: 'next hop without an address', edits: [[aIf('int0', 'next_hop', 1, 'address'), DELETE]],
    field: 'nodes.a.interfaces.int0.next_hop[1].address', reason: 'missing: every next hop needs an address' },
  { name: 'weight 0', edits: [[aIf('int0', 'next_hop', 0, 'weight'), 0]], field: 'nodes.a.interfaces.int0.next_hop[0].weight', reason: 'must be from 1 to 1000' },
  { name: 'negative weight', edits: [[aIf('int0', 'next_hop', 0, 'weight'), -2]], field: 'nodes.a.interfaces.int0.next_hop[0].weight', reason: 'must be from 1 to 1000' },
  { name: 'fractional weight', edits: [[aIf('int0', 'next_hop', 0, 'weight'), 1.5]], field: 'nodes.a.interfaces.int0.next_hop[0].weight', reason: 'must be a whole number' },
  { name: 'empty next-hop list', edits: [[aIf('int0', 'next_hop'), []]], field: 'nodes.a.interfaces.int0.next_hop', reason: 'an empty list' },
  { name: 'next hop listed twice', edits: [[aIf('int0', 'next_hop', 1, 'address'), '198.51.100.1']],
    field: 'nodes.a.interfaces.int0.next_hop[1].address', reason: '198.51.100.1 is listed twice on int0' },
  // The two nodes must be comparable.
  { name: 'next hops on different interfaces', edits: [[bIf('int0', 'next_hop'), DELETE]], field: 'nodes.b.interfaces.int0.next_hop',
    reason: 'missing: node a monitors a next hop on int0, so node b must too: otherwise the next-hop rule cannot compare the two nodes' },
  { name: 'monitored interface missing on the other node', edits: [[bIf('int0'), DELETE]], field: 'nodes.b.interfaces',
    reason: 'missing int0: node a monitors a next hop on int0' },
  { name: 'only the second node monitors an interface', edits: [[aIf('int0', 'next_hop'), DELETE]], field: 'nodes.a.interfaces.int0.next_hop',
    reason: 'node b monitors a next hop on int0, so node a must too' },
  { name: 'different total weights', edits: [[bIf('int0', 'next_hop'), '198.51.100.1']], field: 'nodes.b.interfaces.int0.next_hop',
    reason: "total weight 1 on int0 differs from node a's 3" },
  // Virtual IPs.
  { name: 'VIP interface undefined', edits: [[['service', 'vips', 0, 'interface'], 'ext9']], field: 'service.vips[0].interface',
    reason: 'ext9 is not an interface of node a', count: 2 },
  { name: 'VIP interface missing on one node', edits: [[['service', 'vips', 1], { interface: 'mgmt0', address: '10.1.0.10/24' }], [aIf('mgmt0'), { address: '10.1.0.1/24' }]],
    field: 'service.vips[1].interface', reason: 'mgmt0 is not an interface of node b' },
  { name: 'VIP outside the subnet', edits: [[['service', 'vips', 0, 'address'], '10.0.0.10/24']], field: 'service.vips[0].address',
    reason: '10.0.0.10 is outside 192.0.2.0/24, the subnet of ext0 on node a', count: 2 },
  { name: 'VIP outside the subnet of one node', edits: [[['service', 'vips', 0, 'address'], '192.0.2.200/24'], [bIf('ext0', 'address'), '192.0.2.12/25'], [['cluster', 'heartbeat'], []]],
    field: 'service.vips[0].address', reason: '192.0.2.200 is outside 192.0.2.0/25, the subnet of ext0 on node b' },
  { name: 'VIP is a node address', edits: [[['service', 'vips', 0, 'address'], '192.0.2.12/24']], field: 'service.vips[0].address',
    reason: '192.0.2.12 is the address of node b on ext0: a virtual IP must be an address of its own' },
  { name: 'VIP is the broadcast address', edits: [[['service', 'vips', 0, 'address'], '192.0.2.255/24']], field: 'service.vips[0].address',
    reason: 'is the broadcast address of 192.0.2.0/24, the subnet of ext0 on node a', count: 2 },
  { name: 'IPv6 VIP', edits: [[['service', 'vips', 0, 'address'], '2001:db8::10/64']], field: 'service.vips[0].address', reason: 'IPv6 is not supported' },
  { name: 'VIP without prefix', edits: [[['service', 'vips', 0, 'address'], '192.0.2.10']], field: 'service.vips[0].address', reason: 'missing the prefix length' },
  { name: 'VIP without address', edits: [[['service', 'vips', 0, 'address'], DELETE]], field: 'service.vips[0].address', reason: 'missing: every virtual IP needs an address' },
  { name: 'duplicate VIP', edits: [[['service', 'vips', 1], { interface: 'ext0', address: '192.0.2.10/24' }]], field: 'service.vips[1].address',
    reason: '192.0.2.10 is already service.vips[0]' },
  { name: 'duplicate VIP with another prefix', edits: [[['service', 'vips', 1], { interface: 'ext0', address: '192.0.2.10/25' }]], field: 'service.vips[1].address',
    reason: 'is already service.vips[0]' },
  { name: 'vips not a list', edits: [[['service', 'vips'], { interface: 'ext0', address: '192.0.2.10/24' }]], field: 'service.vips', reason: 'must be a list' },
  // Hooks and commands.
  { name: 'empty hook', edits: [[['service', 'on_primary'], '']], field: 'service.on_primary', reason: 'must not be empty' },
  { name: 'hook timeout 0', edits: [[['service', 'hook_timeout_ms'], 0]], field: 'service.hook_timeout_ms', reason: 'must be from 1 to 3600000 milliseconds' },
  { name: 'command as a string', edits: [[['commands', 'reboot'], 'systemctl reboot']], field: 'commands.reboot', reason: 'must be a list, not text' },
  { name: 'empty command', edits: [[['commands', 'shutdown'], []]], field: 'commands.shutdown', reason: 'must name a program' },
  // Alerts.
  { name: 'webhook without a secret', edits: [[['alerts', 'webhooks'], [{ url: 'https://hooks.example/tandem' }]]], field: 'alerts.webhooks[0].secret_file', reason: 'missing: every webhook needs a secret_file' },
  { name: 'webhook url not http', edits: [[['alerts', 'webhooks'], [{ url: 'ftp://x', secret_file: 's' }]]], field: 'alerts.webhooks[0].url', reason: 'is not an http:// or https:// URL' },
  // Support.
  { name: 'core_dir empty', edits: [[['support', 'core_dir'], '']], field: 'support.core_dir', reason: 'must not be empty' },
  { name: 'core_dir not text', edits: [[['support', 'core_dir'], 5]], field: 'support.core_dir', reason: 'must be text, not a number' },
  { name: 'core_dir with ~', edits: [[['support', 'core_dir'], '~/cores']], field: 'support.core_dir', reason: '"~" is not expanded' },
  { name: 'core_dir is a state directory', edits: [[['support', 'core_dir'], '/var/lib/tandem/b']], field: 'support.core_dir', reason: 'is or holds the state directory of node b' },
  { name: 'core_dir holds the state directories', edits: [[['support', 'core_dir'], '/var/lib']], field: 'support.core_dir', reason: 'is or holds the state directory of node a' },
  { name: 'core_dir in the replicated store', edits: [[['support', 'core_dir'], '/var/lib/tandem/a/store/cores']], field: 'support.core_dir', reason: 'inside the replicated store of node a' },
  { name: 'core_dir in a data directory', edits: [[['support', 'core_dir'], '/srv/tandem/a/cores']], field: 'support.core_dir', reason: 'inside the data directory of node a' },
  { name: 'unknown support key', edits: [[['support', 'cores'], '/x']], field: 'support.cores', reason: 'unknown key' },
  // API.
  { name: 'api listen not an address', edits: [[['api', 'listen'], 'localhost:80']], field: 'api.listen', reason: 'localhost is not an IPv4 address' },
  { name: 'api listen port 0', edits: [[['api', 'listen'], '0']], field: 'api.listen', reason: 'port 0 is not from 1 to 65535' },
  // Firmware.
  { name: 'trusted_keys not a list', edits: [[['firmware', 'trusted_keys'], 'vendor.pub']], field: 'firmware.trusted_keys', reason: 'must be a list' },
  { name: 'trial timeout 0', edits: [[['firmware', 'trial_timeout_s'], 0]], field: 'firmware.trial_timeout_s', reason: 'must be from 1 to 86400 seconds' },
  { name: 'unknown firmware key', edits: [[['firmware', 'keys'], []]], field: 'firmware.keys', reason: 'unknown key' },
  { name: 'schema not a number', edits: [[['schema'], 'one']], field: 'schema', reason: 'must be a number' },
];

describe('invalid values are refused with the field and the reason', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const errors = invalid(row.text ?? variant(row.edits ?? []));
      const shown = errors.map(formatConfigError).join('\n');
      const hit = errors.find((e) => e.field === row.field && e.reason.includes(row.reason));
      assert.ok(hit, `expected ${row.field}: …${row.reason}…\ngot:\n${shown}`);
      assert.equal(hit.file, CONFIG_FILE);
      if (row.count !== null) assert.equal(errors.length, row.count ?? 1, `expected ${row.count ?? 1} error(s), got:\n${shown}`);
      for (const e of errors) {
        assert.doesNotMatch(e.reason, /Invalid input|Too small|Too big|Unrecognized key|expected \w+, received/, `a raw library message leaked: ${e.reason}`);
      }
    });
  }
});

describe('every error is reported at once', () => {
  it('shape, format and cross-checks from all over the file come together, in the order of the file', () => {
    const errors = invalid(variant([
      [['cluster', 'timing'], 'slow'],
      [['service', 'vips', 0, 'address'], '2001:db8::10/64'],
      [aIf('ext0', 'next_hop'), '198.51.100.1'],
      [bIf('int0', 'address'), DELETE],
      [bIf('ext0', 'colour'), 'red'],
      [['cluster', 'heartbeat'], ['ext0', 'wan0']],
    ]));
    assert.deepEqual(errors.map(formatConfigError), [
      `${CONFIG_FILE}: cluster.heartbeat[1]: wan0 is not an interface of node a (a heartbeat path must be defined on every node)`,
      `${CONFIG_FILE}: cluster.heartbeat[1]: wan0 is not an interface of node b (a heartbeat path must be defined on every node)`,
      `${CONFIG_FILE}: cluster.timing: must be default or fast, not text ("slow")`,
      `${CONFIG_FILE}: service.vips[0].address: IPv6 is not supported: use an IPv4 address`,
      `${CONFIG_FILE}: nodes.a.interfaces.ext0.next_hop: 198.51.100.1 is outside 192.0.2.0/24, the subnet of ext0 on node a`,
      `${CONFIG_FILE}: nodes.b.interfaces.ext0.colour: unknown key`,
      `${CONFIG_FILE}: nodes.b.interfaces.int0.address: missing: every interface needs an address`,
    ]);
  });
});

describe('formatConfigError', () => {
  it('is "<file>: <field>: <reason>", or "<file>: <reason>" about the whole file', () => {
    assert.equal(formatConfigError({ file: '/etc/tandem.yaml', field: 'nodes.a.interfaces.ext0.next_hop', reason: 'IPv6 is not supported: use an IPv4 address' }),
      '/etc/tandem.yaml: nodes.a.interfaces.ext0.next_hop: IPv6 is not supported: use an IPv4 address');
    assert.equal(formatConfigError({ file: '/etc/tandem.yaml', field: '', reason: 'the configuration is empty' }), '/etc/tandem.yaml: the configuration is empty');
  });
});
