/**
 * The namespace lab on real namespaces (root only; every test is skipped, with the reason, otherwise). Node processes are stand-ins (`sleep`), so
 * these tests check the lab itself: topology, faults, process bookkeeping, clean-up.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { formatConfigError, loadConfig, readClusterKey } from '../config/load.js';
import { isRoot, Lab, listNamespaces, REPO_ROOT, VIP } from './lab.js';
import { procStat } from './run.js';

function skipReason(): string | false {
  if (!isRoot()) return 'network namespaces need root: run the tests as root to include the lab';
  for (const [cmd, args] of [['ip', ['netns', 'list']], ['nft', ['--version']], ['ping', ['-V']], ['arping', ['-V']]] as const) {
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0) return `the lab needs \`${cmd}\` (iproute2, nftables, iputils-ping, iputils-arping)`;
  }
  return false;
}
const skip = skipReason();

const base = skip === false ? mkdtempSync(join(tmpdir(), 'tandem-lab-test-')) : '';
let serial = 0;
/** A fresh lab in a temporary directory, with a stand-in node process. */
function newLab(extra: ConstructorParameters<typeof Lab>[0] = {}): Lab {
  serial++;
  return new Lab({ dir: join(base, `lab${serial}`), nodeCommand: ['sleep', '600'], startCheckMs: 100, stopTimeoutMs: 2000, ...extra });
}
const namespacesOf = (lab: Lab): string[] => listNamespaces().filter((n) => n.startsWith(`tdm${lab.id}-`));

async function reaches(lab: Lab, from: Parameters<Lab['ping']>[0], address: string): Promise<boolean> {
  return (await lab.ping(from, address, { count: 1, waitMs: 600 })).received === 1;
}

after(() => { if (base !== '') rmSync(base, { recursive: true, force: true }); });

describe('lab: a failing up removes what it created', () => {
  it('a failure in the middle of the topology leaves no namespace and no directory', { skip }, async () => {
    const lab = newLab({ onStep: (step) => { if (step === 'segments') throw new Error('injected failure'); } });
    await assert.rejects(lab.up({ start: false }), /up failed, everything it created was removed: injected failure/);
    assert.deepEqual(namespacesOf(lab), []);
    assert.equal(existsSync(lab.dir), false);
  });

  it('a node process that dies at start fails up, with its log in the message, and leaves nothing', { skip }, async () => {
    const lab = newLab({ nodeCommand: ['sh', '-c', 'echo config refused >&2; exit 3'] });
    await assert.rejects(lab.up({ start: true }), /node a exited right after start[\s\S]*config refused/);
    assert.deepEqual(namespacesOf(lab), []);
    assert.equal(existsSync(lab.dir), false);
  });

  it('refuses to build over namespaces of the same id it did not record', { skip }, async () => {
    const lab = newLab();
    const stray = `tdm${lab.id}-client`;
    spawnSync('ip', ['netns', 'add', stray]);
    try {
      await assert.rejects(lab.up({ start: false }), /exist but are not recorded/);
      assert.deepEqual(namespacesOf(lab), [stray]);
    } finally {
      spawnSync('ip', ['netns', 'del', stray]);
    }
  });
});

describe('lab: topology, faults, processes', () => {
  let lab: Lab;
  before(async () => {
    if (skip !== false) return;
    lab = newLab();
    await lab.up({ start: false });
  });
  after(async () => { if (skip === false) await lab.down(); });

  it('builds six namespaces and writes the cluster config, key and hooks', { skip }, async () => {
    assert.equal(namespacesOf(lab).length, 6);
    const s = await lab.status();
    assert.equal(s.up, true);
    assert.equal(s.vipOwner, null);
    const key = join(lab.dir, 'cluster.key');
    assert.equal(statSync(key).size, 32);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    // The configuration loader (src/config) accepts the file and reads the key.
    const loaded = loadConfig(lab.configPath);
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatConfigError).join('\n'));
    const cfg = loaded.config;
    assert.equal(readClusterKey(cfg).ok, true);
    assert.deepEqual({ ...cfg.cluster, keyFile: undefined, port: undefined },
      { name: 'lab', keyFile: undefined, haLink: 'ha0', heartbeat: ['ext0'], timing: 'default', port: undefined });
    assert.deepEqual(cfg.service.vips, [{ interface: 'ext0', address: '192.0.2.10', prefix: 24 }]);
    assert.equal(cfg.nodes.b?.stateDir, join(lab.dir, 'b'));
    assert.equal(cfg.nodes.a?.dataDir, join(lab.dir, 'a-data'));
    assert.deepEqual(cfg.nodes.a.interfaces.int0?.nextHops, [{ address: '198.51.100.1', weight: 1 }]);
    assert.deepEqual(cfg.commands.reboot.slice(-4), ['--dir', lab.dir, 'restart', 'self']);
    assert.deepEqual(cfg.commands.shutdown.slice(-2), ['stop', 'self']);
    assert.ok(cfg.service.onPrimary !== null);
    // The hook appends a line naming the node it ran in.
    assert.equal((await lab.exec('b', [cfg.service.onPrimary])).code, 0);
    assert.match(readFileSync(lab.hooksLog, 'utf8'), /^\S+Z b primary\n$/);
  });

  it('the client reaches the ext router; both nodes reach both routers', { skip }, async () => {
    assert.equal(await reaches(lab, 'client', '192.0.2.1'), true);
    for (const n of ['a', 'b'] as const) {
      assert.equal(await reaches(lab, n, '192.0.2.1'), true, `${n} → 192.0.2.1`);
      assert.equal(await reaches(lab, n, '198.51.100.1'), true, `${n} → 198.51.100.1`);
    }
  });

  it('a and b reach each other over ha0, ext0 and int0', { skip }, async () => {
    for (const addr of ['203.0.113.2', '192.0.2.12', '198.51.100.12']) assert.equal(await reaches(lab, 'a', addr), true, `a → ${addr}`);
    for (const addr of ['203.0.113.1', '192.0.2.11', '198.51.100.11']) assert.equal(await reaches(lab, 'b', addr), true, `b → ${addr}`);
  });

  it('cut sets a node interface down, heal brings it back; `all` covers the three', { skip }, async () => {
    await lab.cut('a', 'ha0');
    assert.equal((await lab.links('a')).find((l) => l.name === 'ha0')?.up, false);
    assert.equal(await reaches(lab, 'b', '203.0.113.1'), false);
    assert.equal(await reaches(lab, 'b', '192.0.2.11'), true, 'ext0 is untouched');
    await lab.heal('a', 'ha0');
    assert.equal(await reaches(lab, 'b', '203.0.113.1'), true);

    await lab.cut('b', 'all');
    assert.deepEqual((await lab.links('b')).map((l) => l.up), [false, false, false]);
    assert.deepEqual((await lab.status()).cut, { a: [], b: ['ha0', 'ext0', 'int0'] });
    await lab.heal('b', 'all');
    assert.deepEqual((await lab.links('b')).map((l) => l.up), [true, true, true]);
    assert.equal(await reaches(lab, 'a', '203.0.113.2'), true);
  });

  it('loss 100 drops pings on that interface only; loss 0 restores and removes the table', { skip }, async () => {
    await lab.loss('a', 'ext0', 100);
    assert.equal(await reaches(lab, 'client', '192.0.2.11'), false);
    assert.equal(await reaches(lab, 'a', '198.51.100.1'), true, 'int0 is untouched');
    await lab.loss('a', 'int0', 40);
    assert.match((await lab.exec('a', ['nft', 'list', 'ruleset'])).stdout, /oifname "int0" numgen random mod 100 < 40 drop/);
    await lab.loss('a', 'int0', 0);
    await lab.loss('a', 'ext0', 0);
    assert.equal(await reaches(lab, 'client', '192.0.2.11'), true);
    assert.equal((await lab.exec('a', ['nft', 'list', 'tables'])).stdout.trim(), '');
    assert.deepEqual((await lab.status()).loss, {});
    await assert.rejects(lab.loss('a', 'ext0', 101), /0–100/);
  });

  it('router-down makes both nodes lose the same next hop; router-up restores it', { skip }, async () => {
    await lab.routerDown('ext');
    assert.equal(await reaches(lab, 'a', '192.0.2.1'), false);
    assert.equal(await reaches(lab, 'b', '192.0.2.1'), false);
    assert.equal(await reaches(lab, 'a', '198.51.100.1'), true, 'the int router still answers');
    assert.deepEqual((await lab.status()).routersDown, ['ext']);
    await lab.routerUp('ext');
    assert.equal(await reaches(lab, 'a', '192.0.2.1'), true);
    assert.equal(await reaches(lab, 'b', '192.0.2.1'), true);
  });

  it('vipOwner, clientPing and clientArpMac follow the VIP when it moves with a gratuitous ARP', { skip }, async () => {
    await lab.exec('a', ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'ext0']);
    assert.equal(await lab.vipOwner(), 'a');
    const first = await lab.clientPing(VIP, { count: 3, intervalMs: 50 });
    assert.deepEqual(first.replies.map((r) => [r.seq, r.ok, r.node]), [[1, true, 'a'], [2, true, 'a'], [3, true, 'a']]);
    const arpA = await lab.clientArpMac(VIP);
    assert.equal(arpA.node, 'a');
    assert.equal(arpA.mac, arpA.macs.a);
    assert.notEqual(arpA.macs.a, arpA.macs.b);

    // Move it to b and announce it: the client's cache follows without asking.
    await lab.exec('a', ['ip', 'addr', 'del', '192.0.2.10/24', 'dev', 'ext0']);
    await lab.exec('b', ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'ext0']);
    assert.equal(await lab.vipOwner(), 'b');
    const garp = await lab.exec('b', ['arping', '-U', '-c', '1', '-I', 'ext0', '-s', VIP, VIP]);
    assert.equal(garp.code, 0, garp.stderr);
    assert.equal((await lab.clientArpMac(VIP)).node, 'b');
    const second = await lab.clientPing(VIP, { count: 2, intervalMs: 50 });
    assert.deepEqual(second.replies.map((r) => r.node), ['b', 'b']);

    await lab.exec('a', ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'ext0']);
    assert.equal(await lab.vipOwner(), 'both');
    await lab.exec('a', ['ip', 'addr', 'del', '192.0.2.10/24', 'dev', 'ext0']);
    await lab.exec('b', ['ip', 'addr', 'del', '192.0.2.10/24', 'dev', 'ext0']);
    assert.equal(await lab.vipOwner(), null);
    const none = await lab.clientPing(VIP, { count: 1, waitMs: 300 });
    assert.deepEqual(none.replies, [{ seq: 1, ok: false, rttMs: null, ttl: null, node: null, at: null }]);
  });

  it('start, freeze, thaw, kill, restart and stop keep the pid bookkeeping right', { skip }, async () => {
    const statePids = (): Record<string, number | undefined> => {
      const s = JSON.parse(readFileSync(join(lab.dir, 'state.json'), 'utf8')) as { processes: Record<string, { pid: number }> };
      return { a: s.processes.a?.pid, b: s.processes.b?.pid };
    };
    const pid = await lab.start('a');
    assert.equal(await lab.start('a'), pid, 'start is idempotent');
    assert.equal(lab.processState('a'), 'running');
    assert.equal(statePids().a, pid);
    assert.equal((await lab.exec('a', ['ip', 'netns', 'identify', String(pid)])).stdout.trim(), lab.ns('a'));

    await lab.freeze('a');
    assert.equal(lab.processState('a'), 'frozen');
    assert.equal(procStat(pid)?.state, 'T');
    await lab.thaw('a');
    assert.equal(lab.processState('a'), 'running');

    await lab.kill('a');
    assert.equal(lab.processState('a'), 'stopped');
    assert.equal(lab.pid('a'), null);
    assert.equal(statePids().a, undefined);
    await lab.kill('a'); // idempotent

    const second = await lab.restart('a');
    assert.notEqual(second, pid);
    // The CLI in another process, on the same state.json.
    const cli = join(REPO_ROOT, 'dist', 'lab', 'cli.js');
    await promisify(execFile)(process.execPath, [cli, '--dir', lab.dir, 'restart', 'a']);
    const third = lab.pid('a');
    assert.ok(third !== null && third !== second, 'the CLI restarted a');
    // The cluster config's reboot command, as a node runs it: `restart self` inside its namespace.
    const self = await lab.exec('a', [process.execPath, cli, '--dir', lab.dir, 'restart', 'self']);
    assert.equal(self.code, 0, self.stderr);
    const fourth = lab.pid('a');
    assert.ok(fourth !== null && fourth !== third, 'restart self restarted a');
    const outside = await promisify(execFile)(process.execPath, [cli, '--dir', lab.dir, 'stop', 'self']).catch((e: unknown) => e as { stderr: string });
    assert.match(outside.stderr, /not a node namespace/);
    assert.equal(lab.pid('a'), fourth);
    assert.ok(procStat(second) === null || procStat(second)?.state === 'Z', 'the old process is gone');
    assert.equal(lab.processState('a'), 'running');

    await lab.freeze('a');
    await lab.stop('a'); // a frozen process still stops
    assert.equal(lab.processState('a'), 'stopped');
    await lab.stop('a'); // idempotent
    assert.match(readFileSync(lab.logPath('a'), 'utf8'), /starting a at .*sleep 600/);
  });

  it('exec runs only in namespaces of this lab', { skip }, async () => {
    assert.equal((await lab.exec('rint', ['ip', '-br', 'addr', 'show', 'eth0'])).stdout.includes('198.51.100.1/24'), true);
    assert.throws(() => lab.resolveNs('tdmzzzzz-a'), /not a namespace of lab/);
  });

  it('down kills the processes, deletes the namespaces and the directory, and is idempotent', { skip }, async () => {
    const pids = [await lab.start('a'), await lab.start('b')];
    // A stray process in a namespace (say, a hook that hangs) is killed too.
    pids.push(Number((await lab.exec('client', ['sh', '-c', 'sleep 600 >/dev/null 2>&1 & echo $!'])).stdout));
    await lab.down();
    assert.deepEqual(namespacesOf(lab), []);
    assert.equal(existsSync(lab.dir), false);
    for (const p of pids) assert.ok(procStat(p) === null || procStat(p)?.state === 'Z', `pid ${p} is gone`);
    await lab.down();
  });
});
