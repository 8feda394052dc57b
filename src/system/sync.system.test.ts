/**
 * System tests of data synchronization (issue 4): two real daemons in network namespaces
 * (src/lab) replicating their roots over the HA link — initial sync and the takeover veto, the
 * HA link cut (Outdated), split brain and its resolution, kill -9 in the middle of a resync, the
 * durability barrier, and hostile connections to the sync port. Each test builds its own lab and
 * removes it, also when it fails. Nothing is judged by how long it took: every wait is for a
 * condition, with a generous deadline; "no takeover" is checked over an observation window.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { NODE_ADDRESSES, REPO_ROOT, type Lab, type NodeName } from '../lab/lab.js';
import { assertSameAttrTree, attrTreeOf } from '../app/sync/sessions.test-support.js';
import {
  blockAddress, cannotRun, isolate, logLines, nodeTrees, rootEntries, rootsOf, sha256File, sleep, status, steady, syncStatus, tandem,
  treeHashes, unblock, VIP, waitFor, withLab, type LogLine, type SyncStatus,
} from './support.js';

const skip = cannotRun() ?? false;
const MiB = 1024 * 1024;
const EXT_ROUTER = '192.0.2.1';
const SYNC_PORT = 5405;

const peerOf = (n: NodeName): NodeName => (n === 'a' ? 'b' : 'a');
const addressOf = (cidr: string): string => cidr.split('/')[0] ?? cidr;

/** Writes `content` at `root/rel`, creating the parent directories. */
function put(root: string, rel: string, content: Uint8Array | string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
}

/** `count` files of `size` random bytes under `root/bulk/`; their relative paths. */
function bulk(root: string, count: number, size: number): string[] {
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const rel = `bulk/part-${String(i).padStart(2, '0')}.bin`;
    put(root, rel, randomBytes(size));
    paths.push(rel);
  }
  return paths;
}

/** Regular files directly in `dir` (name, size); none when it does not exist. */
function filesIn(dir: string): { name: string; size: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => ({ name: e.name, size: statSync(join(dir, e.name)).size }));
}

/** Transfers in flight (or interrupted) in a root: `.tandem-sync/incoming/*.part`. */
function partFiles(root: string): { name: string; size: number }[] {
  return filesIn(join(root, '.tandem-sync', 'incoming')).filter((f) => f.name.endsWith('.part'));
}

/** Waits until `node` (a secondary) is UpToDate with a live session from the primary. */
async function inSync(lab: Lab, node: NodeName, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${node} UpToDate with a live replication session`, timeoutMs, async () => {
    const s = await syncStatus(lab, node);
    return s.state === 'UpToDate' && s.session === 'live' && s.direction === 'receiving' ? true : undefined;
  });
}

/** Waits until both nodes hold the same data in every root. */
async function sameData(lab: Lab, what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(what, timeoutMs, async () => Promise.resolve(isDeepStrictEqual(nodeTrees(lab, 'a'), nodeTrees(lab, 'b')) ? true : undefined));
}

/** Waits until the client's pings to the VIP are answered by `node` (it followed the gratuitous ARP). */
async function clientFollows(lab: Lab, node: NodeName): Promise<void> {
  await waitFor(`the client answered by ${node}`, 10_000, async () => {
    const one = await lab.clientPing(VIP, { count: 1, waitMs: 300 });
    return one.replies[0]?.node === node ? true : undefined;
  });
  const ping = await lab.clientPing(VIP, { count: 5, intervalMs: 100 });
  assert.ok(ping.replies.every((r) => r.ok && r.node === node), `every reply from ${node}: ${JSON.stringify(ping.replies)}`);
}

type Trees = Record<string, Record<string, string>>;

/** The trees without the configuration the primary publishes into the `config` root itself. */
function written(trees: Trees): Trees {
  return { ...trees, config: Object.fromEntries(Object.entries(trees.config ?? {}).filter(([path]) => path !== 'cluster.yaml')) };
}

/** Both nodes hold the same trees, and they are the data the test wrote. */
function identicalTo(lab: Lab, original: Trees, why: string): void {
  const a = nodeTrees(lab, 'a');
  assert.deepEqual(nodeTrees(lab, 'b'), a, `identical trees on both nodes: ${why}`);
  assert.deepEqual(written(a), original, `the data written: ${why}`);
}

const since = (lines: readonly LogLine[], iso: string): LogLine[] => lines.filter((l) => l.time >= iso);

/** The HA core's `sync state X → Y` lines and the role changes, in order. */
function promotionAfterUpToDate(lines: readonly LogLine[]): void {
  const promoted = lines.findIndex((l) => l.event === 'role-change' && /→ primary/.test(l.msg));
  assert.ok(promoted >= 0, 'the node was promoted');
  const lastSync = lines.slice(0, promoted).filter((l) => /^sync state \w+ → \w+$/.test(l.msg)).at(-1);
  assert.match(lastSync?.msg ?? '(none)', /→ UpToDate$/, 'the last sync state reported before the promotion is UpToDate');
}

describe('data synchronization on real networking (namespaces)', { skip, concurrency: false }, () => {
  it('initial sync: no takeover while the secondary is Syncing, takeover once UpToDate, the old primary\'s data on the new one', () => withLab('default', async (lab) => {
    const a = rootsOf(lab, 'a');
    bulk(a.data, 16, MiB);
    put(a.data, 'notes/readme.txt', 'written before the cluster started\n');
    put(a.data, 'notes/deeper/empty.bin', '');
    put(a.config, 'site.yaml', 'site: lab\n');
    const original = nodeTrees(lab, 'a');
    await lab.start('a');
    await lab.start('b');
    const syncing = await waitFor('b Syncing from a', 30_000, async () => {
      const s = await syncStatus(lab, 'b');
      return s.state === 'Syncing' && s.progress !== null && s.progress.bytes_left > 4 * MiB ? s : undefined;
    });
    assert.equal(syncing.direction, 'receiving');
    assert.ok(syncing.progress !== null && syncing.progress.bytes_total >= 16 * MiB, `progress: ${JSON.stringify(syncing.progress)}`);
    // What an operator sees: `tandem status --json`.
    const cli = await tandem(lab, 'b', ['status', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const shown = (JSON.parse(cli.stdout) as { sync: SyncStatus }).sync;
    assert.equal(shown.state, 'Syncing');
    assert.ok(shown.progress !== null && shown.progress.files_left > 0 && shown.progress.files_total >= 18, JSON.stringify(shown.progress));
    assert.equal((await status(lab, 'a')).this_node.role, 'primary');
    await waitFor('a to serve the VIP', 10_000, async () => ((await lab.vipOwner()) === 'a' ? true : undefined));

    // a loses its next hop: the rule demands a takeover, b's resync vetoes it.
    await blockAddress(lab, 'a', EXT_ROUTER);
    const vetoed = await waitFor('the takeover vetoed on a', 20_000, async () => {
      const s = await status(lab, 'a');
      return s.takeover_veto !== null && /sync Syncing/.test(s.takeover_veto) ? s : undefined;
    });
    assert.equal(vetoed.this_node.role, 'primary');
    const b = await status(lab, 'b');
    assert.equal(b.sync.state, 'Syncing', 'the veto is observed while b is still syncing');
    assert.match(b.takeover_veto ?? '(none)', /sync Syncing/);
    assert.equal(await lab.vipOwner(), 'a');

    // As soon as b is UpToDate, the pending takeover happens.
    await waitFor('b to take over once UpToDate', 90_000, async () => ((await lab.vipOwner()) === 'b' ? true : undefined));
    await clientFollows(lab, 'b');
    const vetoes = logLines(lab, 'a').filter((l) => l.event === 'takeover-vetoed');
    assert.equal(vetoes.length, 1, `the veto is logged once: ${JSON.stringify(vetoes)}`);
    assert.match(vetoes[0]?.msg ?? '', /cannot take over \(sync Syncing\)/);
    promotionAfterUpToDate(logLines(lab, 'b'));
    assert.deepEqual(written(nodeTrees(lab, 'b')), original, 'the new primary holds the old primary\'s data');
    await inSync(lab, 'a');
    identicalTo(lab, original, 'after the takeover');
  }, { resyncRateMbit: 8, start: false }));

  it('attributes: modes, an owner, symlinks (one to /etc/passwd), an empty directory, identical on the secondary and after a takeover', () => withLab('default', async (lab) => {
    const a = rootsOf(lab, 'a');
    put(a.data, 'bin/tool', '#!/bin/sh\nexit 0\n');
    chmodSync(join(a.data, 'bin/tool'), 0o755);
    put(a.data, 'etc/app.conf', 'secret = 1\n');
    chmodSync(join(a.data, 'etc/app.conf'), 0o640);
    put(a.data, 'owned', 'owned by uid 1234\n');
    chownSync(join(a.data, 'owned'), 1234, 1234);
    symlinkSync('etc/app.conf', join(a.data, 'conf-link'));
    symlinkSync('/etc/passwd', join(a.data, 'passwd-link'));
    mkdirSync(join(a.data, 'spool/empty'), { recursive: true });
    const original = attrTreeOf(a.data);
    const passwd = sha256File('/etc/passwd');
    await lab.start('a');
    await lab.start('b');
    await inSync(lab, 'b');
    const b = rootsOf(lab, 'b');
    assertSameAttrTree(a.data, b.data, 'the secondary (lstat compare)');
    assert.equal(lstatSync(join(b.data, 'owned')).uid, 1234);
    assert.equal(readlinkSync(join(b.data, 'passwd-link')), '/etc/passwd', 'a link out of the root stays a link');
    assert.equal(sha256File('/etc/passwd'), passwd, 'never written through');

    const cli = await tandem(lab, 'b', ['takeover']);
    assert.equal(cli.code, 0, cli.stderr);
    await waitFor('b primary', 20_000, async () => ((await status(lab, 'b')).this_node.role === 'primary' ? true : undefined));
    await inSync(lab, 'a');
    assert.deepEqual(attrTreeOf(b.data), original, 'the new primary holds the same tree, attributes included');
    assertSameAttrTree(b.data, a.data, 'the new secondary');
  }, { start: false }));

  it('HA link cut with the redundant path up: Outdated, no takeover; heal: resync, UpToDate, then the pending takeover', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    const p = rootsOf(lab, primary);
    put(p.data, 'base/one.txt', 'one\n');
    put(p.data, 'base/two.txt', 'two\n');
    put(p.data, 'base/blob.bin', randomBytes(256 * 1024));
    await inSync(lab, secondary);
    await sameData(lab, 'the base files replicated');

    const cutAt = new Date().toISOString();
    await lab.cut(primary, 'ha0');
    // Outdated at once (apart from a live primary), recorded as outdated once the grace passed.
    const outdated = await waitFor(`${secondary} Outdated`, 15_000, async () => {
      const s = await status(lab, secondary);
      return s.sync.state === 'Outdated' && (s.sync as SyncStatus).outdated && s.cluster.redundant_heartbeat === 'degraded' ? s : undefined;
    });
    assert.equal(outdated.other_node?.reachable, true, 'the peer is alive on the redundant path');
    assert.equal(outdated.this_node.role, 'secondary');
    const rep = await syncStatus(lab, secondary);
    assert.ok(rep.session === 'closed' || rep.session === 'connecting', `no session: ${rep.session}`);
    assert.ok(since(logLines(lab, secondary), cutAt).some((l) => /^replication session closed/.test(l.msg)), 'the session closed');
    await waitFor(`${primary} to see the session closed`, 10_000, async () => ((await syncStatus(lab, primary)).session === 'closed' ? true : undefined));

    // Writes on the primary while the secondary cannot receive them: new, changed, removed.
    put(p.data, 'during-cut/new.bin', randomBytes(512 * 1024));
    put(p.data, 'base/one.txt', 'one, changed during the cut\n');
    unlinkSync(join(p.data, 'base/two.txt'));
    const expected = nodeTrees(lab, primary);

    // The primary loses its next hop meanwhile: the takeover is vetoed (the secondary is Outdated).
    await blockAddress(lab, primary, EXT_ROUTER);
    await waitFor(`the takeover vetoed on ${primary}`, 20_000, async () => {
      const v = (await status(lab, primary)).takeover_veto;
      return v !== null && /sync Outdated/.test(v) ? true : undefined;
    });
    await sleep(3000);
    assert.equal(await lab.vipOwner(), primary, 'no takeover while the secondary is Outdated');
    assert.equal((await status(lab, secondary)).sync.state, 'Outdated');
    assert.notDeepEqual(nodeTrees(lab, secondary), expected, 'the writes did not reach the secondary');

    const vetoes = since(logLines(lab, primary), cutAt).filter((l) => l.event === 'takeover-vetoed');
    assert.equal(vetoes.length, 1, `the veto is logged once: ${JSON.stringify(vetoes)}`);

    // Heal the HA link (the next hop stays lost): resync, UpToDate, then the pending takeover.
    const healAt = new Date().toISOString();
    await lab.heal(primary, 'ha0');
    await waitFor(`${secondary} to take over after its resync`, 60_000, async () => ((await lab.vipOwner()) === secondary ? true : undefined));
    await clientFollows(lab, secondary);
    promotionAfterUpToDate(since(logLines(lab, secondary), cutAt));
    // The resync sent what changed (two files, one removal, the new directory), not what the
    // secondary already held.
    const plan = since(logLines(lab, primary), healAt).map((l) => /^full resync: (\d+) files \((\d+) bytes\)/.exec(l.msg)).find((m) => m !== null);
    const changedBytes = statSync(join(p.data, 'during-cut/new.bin')).size + statSync(join(p.data, 'base/one.txt')).size;
    assert.deepEqual([Number(plan?.[1]), Number(plan?.[2])], [4, changedBytes], 'the resync plan');
    assert.deepEqual(nodeTrees(lab, secondary), expected, 'the new primary holds every write made during the cut');
    await inSync(lab, primary);
    assert.deepEqual(nodeTrees(lab, primary), expected);
  }));

  it('every path cut: both primary, both write; heal: SplitBrain, no replication; resolve keeps one side, preserves the other', () => withLab('default', async (lab) => {
    const first = await steady(lab);
    put(rootsOf(lab, first.primary).data, 'shared/common.txt', 'written while in HA\n');
    await inSync(lab, first.secondary);
    await sameData(lab, 'the common file replicated');

    await isolate(lab, first.primary);
    await waitFor('both nodes to serve', 15_000, async () => ((await lab.vipOwner()) === 'both' ? true : undefined));
    for (const n of ['a', 'b'] as const) {
      const r = rootsOf(lab, n);
      put(r.data, `only-${n}/file.txt`, `written on ${n} alone\n`);
      put(r.data, 'shared/common.txt', `changed on ${n} during the split\n`);
      put(r.data, `only-${n}/blob.bin`, randomBytes(300 * 1024));
      put(r.license, `license-${n}.key`, randomBytes(64));
    }
    const apart = { a: nodeTrees(lab, 'a'), b: nodeTrees(lab, 'b') };
    const healAt = new Date().toISOString();
    await unblock(lab, first.primary);

    for (const n of ['a', 'b'] as const) {
      await waitFor(`${n} to report SplitBrain`, 15_000, async () => ((await status(lab, n)).cluster.status === 'SplitBrain' ? true : undefined));
    }
    const survivor = await waitFor('one primary again', 15_000, async () => {
      const owner = await lab.vipOwner();
      return owner === 'a' || owner === 'b' ? owner : undefined;
    });
    const loser = peerOf(survivor);
    for (const n of ['a', 'b'] as const) {
      await waitFor(`${n}'s sync Diverged`, 10_000, async () => ((await syncStatus(lab, n)).state === 'Diverged' ? true : undefined));
      assert.ok(since(logLines(lab, n), healAt).some((l) => /split brain detected/.test(l.msg)), `${n} logs the split brain`);
    }
    // No replication in either direction while diverged.
    await sleep(3000);
    for (const n of ['a', 'b'] as const) {
      assert.deepEqual(nodeTrees(lab, n), apart[n], `${n}'s data unchanged while diverged`);
      const s = await status(lab, n);
      assert.equal(s.cluster.status, 'SplitBrain');
      assert.equal((s.sync as SyncStatus).session, 'closed');
    }

    const resolveAt = new Date().toISOString();
    const r = await tandem(lab, survivor, ['cluster', 'resolve-split-brain', '--keep', 'this']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('HA again on both', 30_000, async () =>
      ((await status(lab, 'a')).cluster.status === 'HA' && (await status(lab, 'b')).cluster.status === 'HA' ? true : undefined));
    await inSync(lab, loser, 60_000);
    assert.equal((await syncStatus(lab, survivor)).state, 'UpToDate');
    assert.equal(await lab.vipOwner(), survivor);

    // The discarded node's roots were moved aside whole: every byte of its files is there.
    for (const [name, dir] of rootEntries(lab, loser)) {
      const siblings = readdirSync(dirname(dir)).filter((e) => e.startsWith(`${basename(dir)}.diverged-`));
      assert.equal(siblings.length, 1, `one preserved copy of root ${name}: ${JSON.stringify(siblings)}`);
      assert.deepEqual(treeHashes(join(dirname(dir), siblings[0] ?? '')), apart[loser][name], `root ${name} preserved`);
    }
    // A full resync: every file of the survivor and every directory holding them (replicated
    // as entries of their own), sent to an empty root.
    const entries = (paths: readonly string[]): number =>
      new Set(paths.flatMap((p) => p.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/')))).size;
    const files = Object.values(apart[survivor]).reduce((n, t) => n + entries(Object.keys(t)), 0);
    const plan = since(logLines(lab, survivor), resolveAt).map((l) => /^full resync: (\d+) files/.exec(l.msg)).find((m) => m !== null);
    assert.equal(Number(plan?.[1]), files, 'the whole data set was sent');
    assert.deepEqual(nodeTrees(lab, survivor), apart[survivor], 'the kept data are untouched');
    assert.deepEqual(nodeTrees(lab, loser), apart[survivor], 'identical data on both nodes');
  }));

  it('every path cut, the primary frozen, replaced; thawed, it writes inside its freeze grace; heal: SplitBrain on both; resolve keeps the new primary, sets the other\'s write aside', () => withLab('default', async (lab) => {
    const { primary: old, secondary: fresh } = await steady(lab);
    put(rootsOf(lab, old).data, 'shared/common.txt', 'written while in HA\n');
    await inSync(lab, fresh);
    await sameData(lab, 'the common file replicated');

    await isolate(lab, old);
    await lab.freeze(old);
    await waitFor('the secondary to take over', 10_000, async () => ((await status(lab, fresh)).this_node.role === 'primary' ? true : undefined));
    put(rootsOf(lab, fresh).data, 'on-new-primary.txt', `written on ${fresh} after its takeover\n`);
    const healAt = new Date().toISOString();
    // Inside the old primary's freeze grace (300 ms with the default profile): it still holds the
    // role and has judged nothing; its write cannot be replicated (the replica fell silent).
    await lab.thaw(old);
    put(rootsOf(lab, old).data, 'on-old-primary.txt', `written on ${old} after its thaw\n`);
    await unblock(lab, old);
    const apart = { [old]: nodeTrees(lab, old), [fresh]: nodeTrees(lab, fresh) };

    for (const n of ['a', 'b'] as const) {
      await waitFor(`${n} to report SplitBrain`, 15_000, async () => ((await status(lab, n)).cluster.status === 'SplitBrain' ? true : undefined));
      await waitFor(`${n}'s sync Diverged`, 10_000, async () => ((await syncStatus(lab, n)).state === 'Diverged' ? true : undefined));
      assert.ok(since(logLines(lab, n), healAt).some((l) => /split brain detected/.test(l.msg)), `${n} logs the split brain`);
    }
    assert.ok(since(logLines(lab, old), healAt).some((l) => /a write could not be replicated: new data generation/.test(l.msg)),
      `${old} started a new generation at its unreplicated write`);
    assert.equal(await lab.vipOwner(), fresh, 'the newer term keeps serving');

    const r = await tandem(lab, fresh, ['cluster', 'resolve-split-brain', '--keep', 'this']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('HA again on both', 30_000, async () =>
      ((await status(lab, 'a')).cluster.status === 'HA' && (await status(lab, 'b')).cluster.status === 'HA' ? true : undefined));
    await inSync(lab, old, 60_000);
    // The old primary's write was set aside whole, never deleted; its data now equal the kept ones.
    const dir = rootsOf(lab, old).data;
    const siblings = readdirSync(dirname(dir)).filter((e) => e.startsWith(`${basename(dir)}.diverged-`));
    assert.equal(siblings.length, 1, `one preserved copy of the data root: ${JSON.stringify(siblings)}`);
    assert.deepEqual(treeHashes(join(dirname(dir), siblings[0] ?? '')), apart[old]?.data, 'the old primary\'s data preserved');
    assert.ok('on-old-primary.txt' in (apart[old]?.data ?? {}));
    assert.deepEqual(nodeTrees(lab, fresh), apart[fresh], 'the kept data are untouched');
    await sameData(lab, 'identical data on both nodes');
    assert.ok(!existsSync(join(dir, 'on-old-primary.txt')) && existsSync(join(dir, 'on-new-primary.txt')));
  }));

  it('kill -9 of the secondary in the middle of a resync: restarted, it resumes without resending complete files', () => withLab('default', async (lab) => {
    const a = rootsOf(lab, 'a');
    const b = rootsOf(lab, 'b');
    const files = bulk(a.data, 10, 2 * MiB);
    const original = nodeTrees(lab, 'a');
    await lab.start('a');
    await lab.start('b');
    // Kill b once a few files are stored and the next one is well short of complete.
    await waitFor('b in the middle of a file, 3 files stored', 60_000, async () => {
      if (filesIn(join(b.data, 'bulk')).length < 3) return undefined;
      return Promise.resolve(partFiles(b.data).some((f) => f.size > 0 && f.size < MiB) ? true : undefined);
    });
    await lab.kill('b');
    const killedAt = new Date().toISOString();
    assert.equal((await status(lab, 'a')).this_node.role, 'primary');
    const stored = treeHashes(b.data);
    for (const [path, hash] of Object.entries(stored)) assert.equal(hash, original.data?.[path], `${path} complete on b`);
    const remaining = files.filter((f) => !(f in stored));
    assert.ok(remaining.length >= 1 && remaining.length <= 7, `stored: ${Object.keys(stored).join(', ')}`);
    assert.ok(partFiles(b.data).length >= 1, 'the interrupted transfer is left over');

    await lab.start('b');
    await inSync(lab, 'b', 60_000);
    const bLog = since(logLines(lab, 'b'), killedAt);
    assert.ok(bLog.some((l) => /^root data: removed \d+ interrupted transfer/.test(l.msg)), 'the interrupted transfer was removed at start');
    assert.deepEqual(partFiles(b.data), []);
    const plan = since(logLines(lab, 'a'), killedAt).map((l) => /^full resync: (\d+) files \((\d+) bytes\)/.exec(l.msg)).find((m) => m !== null);
    assert.deepEqual([Number(plan?.[1]), Number(plan?.[2])], [remaining.length, remaining.length * 2 * MiB], 'only the files b did not hold were sent');
    assert.equal((await syncStatus(lab, 'b')).counters.files_received, remaining.length);
    identicalTo(lab, original, 'after the resumed resync');
  }, { resyncRateMbit: 16, start: false }));

  it('kill -9 of the primary in the middle of a resync: the secondary is not promoted; the primary returns and the resync completes', () => withLab('default', async (lab) => {
    const a = rootsOf(lab, 'a');
    const b = rootsOf(lab, 'b');
    bulk(a.data, 10, 2 * MiB);
    const original = nodeTrees(lab, 'a');
    await lab.start('a');
    await lab.start('b');
    await waitFor('b Syncing with 3 files stored', 60_000, async () =>
      ((await syncStatus(lab, 'b')).state === 'Syncing' && filesIn(join(b.data, 'bulk')).length >= 3 ? true : undefined));
    await lab.kill('a');
    const killedAt = new Date().toISOString();
    await waitFor('b to see a dead', 10_000, async () => ((await status(lab, 'b')).other_node?.reachable === false ? true : undefined));
    await waitFor('b to report its veto', 10_000, async () => {
      const v = (await status(lab, 'b')).takeover_veto;
      return v !== null && /sync Outdated/.test(v) ? true : undefined;
    });
    await sleep(3000);
    const s = await status(lab, 'b');
    assert.equal(s.this_node.role, 'secondary', 'an inconsistent copy is never promoted automatically');
    assert.equal(s.sync.state, 'Outdated');
    assert.equal((s.sync as SyncStatus).inconsistent, true);
    assert.equal(await lab.vipOwner(), null);
    const vetoes = since(logLines(lab, 'b'), killedAt).filter((l) => l.event === 'takeover-vetoed');
    assert.equal(vetoes.length, 1, `the veto is logged once: ${JSON.stringify(vetoes)}`);

    await lab.start('a');
    await waitFor('a primary again, serving', 30_000, async () =>
      ((await status(lab, 'a')).this_node.role === 'primary' && (await lab.vipOwner()) === 'a' ? true : undefined));
    await inSync(lab, 'b', 60_000);
    assert.equal((await syncStatus(lab, 'b')).inconsistent, false);
    identicalTo(lab, original, 'after the resync completed');
    assert.deepEqual(partFiles(b.data), []);
  }, { resyncRateMbit: 16, start: false }));

  it('tandem data barrier: stored on the secondary when it returns; refused on the secondary; times out with the HA link cut', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    await inSync(lab, secondary);
    const p = rootsOf(lab, primary);
    const s = rootsOf(lab, secondary);
    const written = ['records/0001.bin', 'records/0002.txt', 'audit/log.txt'];
    put(p.data, written[0] ?? '', randomBytes(3 * MiB));
    put(p.data, written[1] ?? '', 'a record\n');
    put(p.data, written[2] ?? '', 'line 1\n');
    const ok = await tandem(lab, primary, ['data', 'barrier', '--timeout', '30000'], 40_000);
    for (const f of written) {
      assert.ok(existsSync(join(s.data, f)), `${f} on the secondary when the barrier returned`);
      assert.equal(sha256File(join(s.data, f)), sha256File(join(p.data, f)), `${f} identical`);
    }
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`stored on ${secondary}`));

    // A file that only grew: only its tail crosses the link.
    const sentBefore = (await syncStatus(lab, primary)).counters.bytes_sent;
    appendFileSync(join(p.data, 'audit/log.txt'), 'line 2\n');
    const appended = await tandem(lab, primary, ['data', 'barrier', '--timeout', '30000'], 40_000);
    assert.equal(appended.code, 0, appended.stdout + appended.stderr);
    assert.equal(sha256File(join(s.data, 'audit/log.txt')), sha256File(join(p.data, 'audit/log.txt')));
    assert.equal((await syncStatus(lab, primary)).counters.bytes_sent - sentBefore, 'line 2\n'.length, 'only the appended bytes were sent');

    const refused = await tandem(lab, secondary, ['data', 'barrier', '--timeout', '2000']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout + refused.stderr, /not the primary/);

    await lab.cut(primary, 'ha0');
    await waitFor(`${secondary} Outdated`, 15_000, async () => ((await syncStatus(lab, secondary)).state === 'Outdated' ? true : undefined));
    await waitFor(`${primary}'s session closed`, 10_000, async () => ((await syncStatus(lab, primary)).session === 'closed' ? true : undefined));
    put(p.data, 'records/0003.txt', 'written with the HA link cut\n');
    const cut = await tandem(lab, primary, ['data', 'barrier', '--timeout', '3000'], 20_000);
    assert.equal(cut.code, 1);
    assert.match(cut.stdout + cut.stderr, /barrier not reached within 3000 ms: no replication session with the secondary/);
    assert.ok(!existsSync(join(s.data, 'records/0003.txt')));

    await lab.heal(primary, 'ha0');
    await inSync(lab, secondary, 30_000);
    const again = await tandem(lab, primary, ['data', 'barrier', '--timeout', '30000'], 40_000);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(sha256File(join(s.data, 'records/0003.txt')), sha256File(join(p.data, 'records/0003.txt')));
  }));

  it('garbage, a wrong key and a stranger with the key on the sync port: rejected, counted, nothing changes', () => withLab('default', async (lab) => {
    const { primary, secondary } = await steady(lab);
    put(rootsOf(lab, primary).data, 'kept.txt', 'kept\n');
    await inSync(lab, secondary);
    await sameData(lab, 'the file replicated');
    const trees = nodeTrees(lab, primary);
    const before = (await syncStatus(lab, primary)).counters.handshakes_rejected;
    const attackAt = new Date().toISOString();

    // The client reaches the primary's HA-link address through its ext0 address (weak host model).
    const target = addressOf(NODE_ADDRESSES[primary].ha0);
    const route = await lab.exec('client', ['ip', 'route', 'add', `${target}/32`, 'via', addressOf(NODE_ADDRESSES[primary].ext0)]);
    assert.equal(route.code, 0, route.stderr);
    const program = `
      import { connect } from 'node:net';
      import { randomBytes } from 'node:crypto';
      import { readFileSync } from 'node:fs';
      const { connectChannel } = await import(${JSON.stringify(`file://${join(REPO_ROOT, 'dist/adapters/sync/channel.js')}`)});
      const host = ${JSON.stringify(target)}, port = ${String(SYNC_PORT)};
      const out = {};
      out.garbage = await new Promise((resolve) => {
        let bytes = 0;
        const s = connect({ host, port }, () => { s.write('GET / HTTP/1.1\\r\\nHost: tandem\\r\\n\\r\\n'); });
        s.on('data', (d) => { bytes += d.length; });
        s.on('error', () => undefined);
        s.on('close', () => { resolve({ closedByServer: true, bytes }); });
        setTimeout(() => { s.destroy(); resolve({ closedByServer: false, bytes }); }, 8000).unref();
      });
      const hello = { cluster: 'lab', node: ${JSON.stringify(secondary)}, uuid: null, generations: { current: 'genesis', history: [] } };
      for (const [name, key] of [['wrongKey', randomBytes(32)], ['stranger', readFileSync(${JSON.stringify(join(lab.dir, 'cluster.key'))})]]) {
        try {
          const ch = await connectChannel({ host, port, key, hello, timeoutMs: 8000 });
          ch.close('test');
          out[name] = 'accepted';
        } catch (err) {
          out[name] = String(err.reason ?? err.message);
        }
      }
      console.log(JSON.stringify(out));`;
    const r = await lab.exec('client', [process.execPath, '--input-type=module', '-e', program], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { garbage: { closedByServer: boolean; bytes: number }; wrongKey: string; stranger: string };
    assert.deepEqual(out.garbage, { closedByServer: true, bytes: 0 }, 'garbage: the connection is dropped without an answer');
    assert.equal(out.wrongKey, 'bad-mac');
    assert.match(out.stranger, /must connect from its HA link address/);

    const after = await waitFor('the rejections counted', 10_000, async () => {
      const c = (await syncStatus(lab, primary)).counters.handshakes_rejected;
      const grew = (k: string): boolean => (c[k] ?? 0) >= (before[k] ?? 0) + 1;
      return grew('malformed') && grew('bad-mac') && grew('refused') ? c : undefined;
    });
    assert.ok(Object.keys(after).length >= 3);
    const client = '192.0.2.100';
    const warned = since(logLines(lab, primary), attackAt).filter((l) => l.msg.startsWith(`replication handshake from ${client} rejected`));
    assert.equal(warned.length, 3, JSON.stringify(warned));

    // Nothing changed: roles, cluster, the live session, the data.
    for (const n of ['a', 'b'] as const) assert.equal((await status(lab, n)).cluster.status, 'HA');
    assert.equal((await status(lab, primary)).this_node.role, 'primary');
    const sec = await syncStatus(lab, secondary);
    assert.equal(sec.state, 'UpToDate');
    assert.equal(sec.session, 'live');
    assert.ok(!since(logLines(lab, secondary), attackAt).some((l) => /replication session/.test(l.msg)), 'the session was never interrupted');
    assert.ok(!since(logLines(lab, primary), attackAt).some((l) => /replica .* connected/.test(l.msg)), 'no new session');
    assert.deepEqual(nodeTrees(lab, primary), trees);
    assert.deepEqual(nodeTrees(lab, secondary), trees);
  }));
});
