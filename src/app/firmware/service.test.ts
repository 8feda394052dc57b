/**
 * The firmware service on real files: real signed bundles (writeBundle over fixture trees whose
 * `dist/cli/tandem.js` is a small node script), streamed from disk in 1 MiB chunks into a real
 * state directory, a real configuration (parseConfig of YAML with the test key inline), the
 * target's own CLI run by Test, and a tmpfs for the free-space rules. Nothing is mocked but the
 * node status (the HA core's view: only the role and the peer's firmware are read here).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync, copyFileSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  rmSync, statSync, statfsSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BUILT_AT, headMembers, manifestFor, rawTar, sha, tempDirs, testKey, type TestKey,
} from '../../adapters/firmware/fixtures.test-support.js';
import { FirmwareDir, SLOT_COUNT } from '../../adapters/firmware/slots.js';
import { writeBundle, type BundleFile } from '../../adapters/firmware/writer.js';
import { parseConfig } from '../../config/parse.js';
import type { TandemConfig } from '../../config/types.js';
import { FACTORY, freshRecord, type SlotRef } from '../../core/firmware/boot.js';
import type { Manifest, ReleaseType } from '../../core/firmware/types.js';
import type { FirmwareIdentity, Role } from '../../core/ha/report.js';
import { OpError } from '../api/operation.js';
import type { StatusView } from '../node-app.js';
import { loadCompat } from './build.js';
import { REFUSED_BY_TARGET, writeFirmwareTree, type FirmwareFixture } from './fixture-firmware.test-support.js';
import { runningFirmware, type RunningFirmware } from './identity.js';
import { installedVersion } from './installation.js';
import { FirmwareList, TestReport, type Check, type UpgradeFlags } from './schemas.js';
import { FirmwareService, MIN_FREE_SHARE } from './service.js';
import { offlineFirmwareService } from './offline.js';

const freshDir = tempDirs('tandem-fw-service-');
const KEY = testKey('vendor key');
const OTHER_KEY = testKey('someone else');
const CHUNK = 1024 * 1024;
/** The service's clock: 2026-04-01, a month after the fixtures' publication date. */
const NOW = Date.parse('2026-04-01T12:00:00.000Z');
const RUNTIME = { node_abi: process.versions.modules, platform: process.platform, arch: process.arch };
const NONE: UpgradeFlags = { override: false, reinstall: false };

const pemOf = (k: TestKey): string => k.trusted.key.export({ type: 'spki', format: 'pem' }).toString();

// ── bundles ──────────────────────────────────────────────────────────────────────────────────

interface BundleSpec extends Partial<FirmwareFixture> {
  readonly version?: string;
  readonly type?: ReleaseType;
  readonly notes?: string;
  readonly signer?: TestKey;
  /** A payload file of this many random bytes (payload/big.bin), so the bundle streams in several chunks. */
  readonly bigBytes?: number;
}

interface Built {
  readonly file: string;
  readonly tree: string;
  readonly files: readonly BundleFile[];
  readonly manifest: Manifest;
  readonly sha256: string;
  readonly size: number;
}

/** A real signed bundle of a fixture tree; the manifest's compatibility comes from the tree's compat module, as a build reads it. */
async function bundle(spec: BundleSpec = {}): Promise<Built> {
  const dir = freshDir();
  const tree = join(dir, 'tree');
  const version = spec.version ?? '1.0.0';
  const files = writeFirmwareTree(tree, {
    name: spec.name ?? `fixture ${version}`, version, ...spec,
    extra: spec.bigBytes === undefined ? [] : [{ path: 'big.bin', data: randomBytes(spec.bigBytes) }],
  });
  const file = join(dir, `tandem-${version}.tfw`);
  const w = await writeBundle({
    tree, files, out: file, signingKey: (spec.signer ?? KEY).privateKey,
    fields: {
      version, type: spec.type ?? 'lts', published: '2026-03-01', notes: spec.notes ?? `Tandem ${version}: fixture notes.\n`,
      min_from: null, ...await loadCompat(tree), releases: [], runtime: RUNTIME, built_at: BUILT_AT,
    },
  });
  return { file, tree, files, manifest: w.manifest, sha256: sha(readFileSync(file)), size: w.bytes };
}

/** Flips the low bit of the byte at `at`. */
function flip(bytes: Buffer, at: number): void {
  bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at);
}

/** A bundle file holding `bytes` (a tampered or crafted one). */
function bundleFile(bytes: Uint8Array): string {
  const file = join(freshDir(), 'crafted.tfw');
  writeFileSync(file, bytes);
  return file;
}

// ── a node ───────────────────────────────────────────────────────────────────────────────────

/** The configuration file of node `a`, parsed as the daemon parses it (trusted keys inline PEM). */
function configText(stateDir: string, trusted: readonly TestKey[]): string {
  const keys = trusted.length === 0 ? ' []' : `\n${trusted.map((k) => `    - |\n${pemOf(k).trimEnd().split('\n').map((l) => `      ${l}`).join('\n')}`).join('\n')}`;
  return [
    'cluster:', '  name: lab', '  key_file: cluster.key', '  ha_link: ha0',
    'nodes:', '  a:', `    state_dir: ${stateDir}`, '    interfaces:', '      ha0: { address: 203.0.113.1/30 }',
    'firmware:', `  trusted_keys:${keys}`, '  trial_timeout_s: 60', '  trial_attempts: 2', '',
  ].join('\n');
}

interface Node {
  readonly stateDir: string;
  readonly configFile: string;
  readonly config: TandemConfig;
  readonly dir: FirmwareDir;
  readonly store: string;
  readonly svc: FirmwareService;
  readonly logs: { level: string; message: string }[];
  readonly progress: string[];
}

interface NodeOptions {
  /** Defaults to a fresh temporary directory. */
  readonly stateDir?: string;
  readonly trusted?: readonly TestKey[];
  readonly running?: RunningFirmware;
  readonly status?: () => StatusView | null;
}

function node(o: NodeOptions = {}): Node {
  const base = freshDir();
  const stateDir = o.stateDir ?? join(base, 'state');
  mkdirSync(stateDir, { recursive: true });
  const configFile = join(base, 'tandem.yaml');
  writeFileSync(configFile, configText(stateDir, o.trusted ?? [KEY]));
  const parsed = parseConfig(readFileSync(configFile, 'utf8'), configFile);
  if (!parsed.ok) assert.fail(JSON.stringify(parsed.errors));
  const dir = new FirmwareDir(stateDir);
  dir.prepare();
  const store = join(stateDir, 'store', 'firmware');
  mkdirSync(store, { recursive: true });
  const n: Omit<Node, 'svc'> = { stateDir, configFile, config: parsed.config, dir, store, logs: [], progress: [] };
  return { ...n, svc: serviceOf(n, o) };
}

/** Another service over the same node's files: the daemon after a restart (another running firmware, another status). */
function serviceOf(n: Omit<Node, 'svc'>, o: Pick<NodeOptions, 'running' | 'status'> = {}): FirmwareService {
  return new FirmwareService({
    nodeName: 'a', stateDir: n.stateDir, configFile: n.configFile, config: () => n.config, dir: n.dir, store: n.store,
    running: o.running ?? runningFirmware(n.dir, {}), status: o.status ?? (() => statusView('standalone', null)),
    log: (level, message) => { n.logs.push({ level, message }); }, now: () => NOW,
  });
}

/** The node with its configuration trusting `trusted` instead (rewritten and parsed again), and a service reading it. */
function withTrusted(n: Node, trusted: readonly TestKey[]): Node {
  writeFileSync(n.configFile, configText(n.stateDir, trusted));
  const parsed = parseConfig(readFileSync(n.configFile, 'utf8'), n.configFile);
  if (!parsed.ok) assert.fail(JSON.stringify(parsed.errors));
  const m: Omit<Node, 'svc'> = { ...n, config: parsed.config };
  return { ...m, svc: serviceOf(m) };
}

/** The firmware a daemon started by the launcher from `slot` runs (what identity.ts reads from its environment). */
function runningFrom(n: Node, slot: number): RunningFirmware {
  const r = runningFirmware(n.dir, { TANDEM_FIRMWARE_SLOT: String(slot), TANDEM_FIRMWARE_INSTALL: n.dir.slot(slot)?.install ?? '' });
  assert.equal(r.ref.slot, slot);
  return r;
}

/**
 * The node status as the service reads it: this node's role and the other node with its firmware.
 * The rest of StatusView is the HA core's and the replication's, which the service never reads.
 */
function statusView(role: Role, peer: { readonly firmware: FirmwareIdentity | null } | null): StatusView {
  const part: Pick<StatusView, 'this_node' | 'other_node'> = {
    this_node: { name: 'a', role, reason: 'test', role_since_ms: 0, serving: role !== 'secondary', term: 1, starting: false, leaving: null, firmware: null },
    other_node: peer === null ? null : { name: 'b', role: 'secondary', reachable: true, last_heard_ms_ago: 100, firmware: peer.firmware },
  };
  return part as StatusView;
}

async function upload(n: Node, file: string, svc = n.svc): Promise<Awaited<ReturnType<FirmwareService['upload']>>> {
  return svc.upload(createReadStream(file, { highWaterMark: CHUNK }), statSync(file).size, (line) => { n.progress.push(line); });
}

/** What an installation may leave behind: slot directories, staging entries, store files. */
function onDisk(n: Node): { slots: string[]; staging: string[]; store: string[] } {
  return { slots: readdirSync(n.dir.slotsDir).sort(), staging: readdirSync(n.dir.stagingDir).sort(), store: readdirSync(n.store).sort() };
}

/** Every file under `root`, relative, sorted. */
function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(root, join(d, e.name)));
    }
  };
  walk(root);
  return out.sort();
}

/** Bytes of the regular files under `root`. */
function bytesUnder(root: string): number {
  return filesUnder(root).reduce((a, f) => a + statSync(join(root, f)).size, 0);
}

const statuses = (checks: readonly Check[]): Record<string, string> => Object.fromEntries(checks.map((c) => [c.id, c.status]));
const check = (checks: readonly Check[], id: Check['id']): Check => checks.find((c) => c.id === id) ?? assert.fail(`no ${id} check`);

/** Asserts `p` rejects with an OpError of `status` whose first message matches. */
async function refused(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof OpError, `not an OpError: ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.match(err.messages[0] ?? '', message);
    return true;
  });
}

// ── upload ───────────────────────────────────────────────────────────────────────────────────

describe('FirmwareService: upload', () => {
  it('a good bundle, streamed in 1 MiB chunks, becomes slot 1: slot.json, the tree byte for byte, the bundle in the store, list, notes', async () => {
    const b = await bundle({ version: '1.0.0', type: 'lts', bigBytes: 3 * CHUNK + 100 });
    const n = node();
    const r = await upload(n, b.file);
    assert.deepEqual(r, { slot: 1, version: '1.0.0', type: 'lts', key_id: KEY.trusted.id, bundle_sha256: b.sha256, bytes: b.size });

    const storedAs = `tandem-1.0.0-${b.sha256.slice(0, 16)}.tfw`;
    const info = n.dir.slot(1) ?? assert.fail('slot 1 is empty');
    assert.match(info.install, /^[0-9a-f]{16}$/);
    assert.deepEqual({ ...info, install: '' }, {
      version: 1, slot: 1, install: '', manifest: b.manifest, key_id: KEY.trusted.id,
      bundle: { sha256: b.sha256, bytes: b.size, stored_as: storedAs }, installed_at: new Date(NOW).toISOString(), origin: 'upload',
    });
    // The slot holds slot.json and the tree, and the tree exactly the payload: same files, bytes and modes.
    assert.deepEqual(readdirSync(n.dir.slotDir(1)).sort(), ['slot.json', 'tree']);
    const tree = n.dir.treeOf(1);
    assert.deepEqual(filesUnder(tree), b.files.map((f) => f.path).sort());
    for (const f of b.files) {
      assert.ok(readFileSync(join(tree, f.path)).equals(readFileSync(join(b.tree, f.path))), f.path);
      assert.equal(lstatSync(join(tree, f.path)).mode & 0o777, f.mode, f.path);
    }
    // The bundle itself is in the replicated store (the other node installs from there), nothing in staging.
    assert.deepEqual(onDisk(n), { slots: ['1'], staging: [], store: [storedAs] });
    assert.ok(readFileSync(join(n.store, storedAs)).equals(readFileSync(b.file)));
    assert.ok(n.progress.some((l) => l === `manifest verified: Tandem 1.0.0 (lts, published 2026-03-01), signed by trusted key ${KEY.trusted.id}`), n.progress.join('\n'));
    assert.match(n.progress.at(-1) ?? '', /^installed in slot 1: Tandem 1\.0\.0 \(lts\)/);
    assert.deepEqual(n.svc.knownReleases(), [{ version: '1.0.0', type: 'lts', published: '2026-03-01' }]);

    const list = FirmwareList.parse(n.svc.list());
    assert.deepEqual(list.slots[0], {
      slot: 0, state: 'committed', version: installedVersion(), type: 'factory', published: null, current: true, after_reboot: true, previous: false,
      installed_at: null, origin: 'factory', key_id: null, bundle_sha256: null, failure: null,
    });
    assert.deepEqual(list.slots[1], {
      slot: 1, state: 'installed', version: '1.0.0', type: 'lts', published: '2026-03-01', current: false, after_reboot: false, previous: false,
      installed_at: new Date(NOW).toISOString(), origin: 'upload', key_id: KEY.trusted.id, bundle_sha256: b.sha256, failure: null,
    });
    assert.deepEqual(list.slots.slice(2).map((s) => [s.slot, s.state]), [[2, 'empty'], [3, 'empty'], [4, 'empty'], [5, 'empty']]);
    assert.deepEqual(list.events, []);

    assert.deepEqual(n.svc.notes(1), { slot: 1, version: '1.0.0', notes: 'Tandem 1.0.0: fixture notes.\n' });
    assert.throws(() => n.svc.notes(0), (e: unknown) => e instanceof OpError && e.status === 400);
    assert.throws(() => n.svc.notes(2), (e: unknown) => e instanceof OpError && e.status === 404 && /slot 2 is empty/.test(e.message));
  });

  /** Each refusal: the bundle, the node's trusted keys, and the message. */
  const refusals: readonly { name: string; make: () => Promise<string>; trusted?: readonly TestKey[]; message: RegExp }[] = [
    {
      name: 'a payload byte changed (the sink already wrote most of that file)',
      make: async () => {
        const b = await bundle({ bigBytes: 2 * CHUNK });
        const bytes = readFileSync(b.file);
        const big = readFileSync(join(b.tree, 'big.bin'));
        const at = bytes.indexOf(big.subarray(0, 64));
        assert.ok(at > 0);
        flip(bytes, at + big.length - 1);
        return bundleFile(bytes);
      },
      message: /^refused: payload\/big\.bin: sha256 mismatch \(declared [0-9a-f]{12}…, got [0-9a-f]{12}…\)$/,
    },
    {
      name: 'a manifest byte changed',
      make: async () => {
        const bytes = readFileSync((await bundle({ notes: 'Fixture notes.\n' })).file);
        const at = bytes.indexOf('Fixture notes');
        bytes.write('f', at, 'latin1');
        return bundleFile(bytes);
      },
      message: /^refused: manifest\.sig: .*the manifest or its signature was altered/,
    },
    {
      name: 'a truncated bundle',
      make: async () => {
        const bytes = readFileSync((await bundle({ bigBytes: CHUNK })).file);
        return bundleFile(bytes.subarray(0, Math.floor(bytes.length / 2)));
      },
      message: /^refused: truncated inside payload\/big\.bin/,
    },
    {
      name: 'signed with a key this node does not trust',
      make: async () => (await bundle({ signer: OTHER_KEY })).file,
      message: new RegExp(`^refused: manifest\\.sig: signed with key ${OTHER_KEY.trusted.id}, which is not trusted \\(trusted: ${KEY.trusted.id} `),
    },
    {
      name: 'no trusted key configured',
      make: async () => (await bundle()).file,
      trusted: [],
      message: /^refused: no trusted firmware key is configured: signing can never be off/,
    },
    {
      name: 'a signed manifest whose path escapes the tree',
      make: () => Promise.resolve(bundleFile(rawTar([...headMembers(manifestFor([{ path: '../escape.js', data: 'x' }], { runtime: RUNTIME }), KEY.privateKey)]))),
      message: /^refused: manifest\.json: payload\.files\[0\]\.path "\.\.\/escape\.js": a '\.\.' segment escapes the tree$/,
    },
  ];
  for (const r of refusals) {
    it(`refused, and nothing remains: ${r.name}`, async () => {
      const n = node({ trusted: r.trusted ?? [KEY] });
      const file = await r.make();
      await refused(upload(n, file), 400, r.message);
      assert.deepEqual(onDisk(n), { slots: [], staging: [], store: [] });
      assert.deepEqual(n.svc.knownReleases(), []);
      assert.equal(n.dir.freeSlot(), 1);
    });
  }

  it('the same bundle twice is refused (409) and changes nothing', async () => {
    const b = await bundle({ bigBytes: CHUNK });
    const n = node();
    await upload(n, b.file);
    const before = onDisk(n);
    await refused(upload(n, b.file), 409, /^slot 1 already holds this bundle \(Tandem 1\.0\.0\)$/);
    assert.deepEqual(onDisk(n), before);
  });

  it(`with all ${String(SLOT_COUNT)} slots full, a sixth bundle is refused (409)`, async () => {
    const n = node();
    for (let i = 1; i <= SLOT_COUNT; i += 1) assert.equal((await upload(n, (await bundle({ version: `1.0.${String(i)}` })).file)).slot, i);
    const before = onDisk(n);
    await refused(upload(n, (await bundle({ version: '1.0.9' })).file), 409, /^all 5 slots hold firmware: delete one first/);
    assert.deepEqual(onDisk(n), before);
  });

  it('on a secondary the upload stays on this node: no bundle in the store (the store follows the primary), none kept in the slot', async () => {
    const b = await bundle();
    const n = node({ status: () => statusView('secondary', { firmware: null }) });
    assert.equal((await upload(n, b.file)).slot, 1);
    assert.equal(n.dir.slot(1)?.bundle.stored_as, null);
    assert.deepEqual(onDisk(n), { slots: ['1'], staging: [], store: [] });
    // stored_as null means "not kept": a copy left beside the slot would be dead weight nothing reads.
    assert.deepEqual(readdirSync(n.dir.slotDir(1)).sort(), ['slot.json', 'tree']);
    assert.ok(n.progress.some((l) => l.startsWith('this node is the secondary: the firmware stays on this node only')), n.progress.join('\n'));
    assert.match(check((await n.svc.test(1, NONE)).checks, 'signature').message, /^bundle no longer kept; signed by key [0-9a-f]{16} when installed; 3 installed files match the manifest$/);
  });
});

// ── Test ─────────────────────────────────────────────────────────────────────────────────────

describe('FirmwareService: Test', () => {
  it('a good target from the factory firmware: every check passes or has nothing to check', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.0.0' })).file);
    const report = TestReport.parse(await n.svc.test(1, NONE));
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => c.id), ['signature', 'runtime', 'policy', 'disk', 'configuration', 'tainted', 'license', 'ha-protocol']);
    // disk depends on the machine's /tmp; the tmpfs tests below pin it down.
    const { disk: _disk, ...rest } = statuses(report.checks);
    assert.deepEqual(rest, { signature: 'pass', runtime: 'pass', policy: 'pass', configuration: 'pass', tainted: 'skip', license: 'skip', 'ha-protocol': 'skip' });
    const msg = (id: Check['id']): string => check(report.checks, id).message;
    assert.equal(msg('signature'), `signed by trusted key ${KEY.trusted.id}, bundle intact; 3 installed files match the manifest`);
    assert.equal(msg('runtime'), `built for this node's Node.js (ABI ${RUNTIME.node_abi}, ${RUNTIME.platform}-${RUNTIME.arch})`);
    assert.equal(msg('policy'), `install LTS 1.0.0 over the factory firmware ${installedVersion()}`);
    // The target's own CLI answered (the fixture's summary), not this checkout's.
    assert.equal(msg('configuration'), 'Tandem 1.0.0 reads this configuration: fixture');
    assert.equal(msg('tainted'), 'the factory firmware has no manifest to compare its files with');
    assert.equal(msg('ha-protocol'), 'no other node is configured');
  });

  /** What changes on disk after the install, and what the signature check says. */
  const changes: readonly { name: string; change: (n: Node) => void; status: Check['status']; message: RegExp }[] = [
    { name: 'a file of the tree edited', change: (n) => { appendFileSync(join(n.dir.treeOf(1), 'dist/cli/tandem.js'), '// patched\n'); }, status: 'fail',
      message: /^the installed files differ from the signed manifest: dist\/cli\/tandem\.js: \d+ bytes, the manifest says \d+$/ },
    { name: 'a file of the tree replaced by one of the same size', change: (n) => { const f = join(n.dir.treeOf(1), 'package.json'); writeFileSync(f, readFileSync(f, 'utf8').replace('tandem', 'TANDEM')); }, status: 'fail',
      message: /^the installed files differ from the signed manifest: package\.json: content changed \(sha256 differs from the manifest\)$/ },
    { name: 'a file added to the tree', change: (n) => { writeFileSync(join(n.dir.treeOf(1), 'dist/extra.js'), 'x'); }, status: 'fail',
      message: /^the installed files differ from the signed manifest: dist\/extra\.js: not part of the firmware$/ },
    { name: 'a file removed from the tree', change: (n) => { unlinkSync(join(n.dir.treeOf(1), 'dist/core/compat.js')); }, status: 'fail',
      message: /^the installed files differ from the signed manifest: dist\/core\/compat\.js: missing$/ },
    { name: 'the stored bundle altered', change: (n) => { const f = join(n.store, readdirSync(n.store)[0] ?? ''); const b = readFileSync(f); flip(b, 600); writeFileSync(f, b); }, status: 'fail',
      message: /^the bundle is refused now: manifest\.sig: .*altered/ },
    { name: 'the stored bundle gone (the tree still checks)', change: (n) => { rmSync(join(n.store, readdirSync(n.store)[0] ?? '')); }, status: 'pass',
      message: /^bundle no longer kept; signed by key [0-9a-f]{16} when installed; 3 installed files match the manifest$/ },
  ];
  for (const c of changes) {
    it(`signature after install: ${c.name} → ${c.status}`, async () => {
      const n = node();
      await upload(n, (await bundle()).file);
      c.change(n);
      const report = await n.svc.test(1, NONE);
      const sig = check(report.checks, 'signature');
      assert.equal(sig.status, c.status, sig.message);
      assert.match(sig.message, c.message);
      assert.equal(report.ok, c.status !== 'fail');
    });
  }

  it("a target whose own CLI refuses the configuration fails the configuration check with the target's message", async () => {
    const n = node();
    await upload(n, (await bundle({ configCheck: 'refuses' })).file);
    const report = await n.svc.test(1, NONE);
    assert.equal(report.ok, false);
    assert.deepEqual(check(report.checks, 'configuration'), { id: 'configuration', status: 'fail', message: `Tandem 1.0.0 refuses this configuration: ${REFUSED_BY_TARGET}` });
  });

  it('release policy against a running Feature Release 1.1.0 (slot 1), with and without override / reinstall', async () => {
    const n = node();
    const targets: readonly BundleSpec[] = [
      { version: '1.1.0', type: 'feature' },
      { version: '1.0.0', type: 'lts' },
      { version: '1.0.5', type: 'feature' },
      // Same version, another build (its notes differ): a reinstall candidate.
      { version: '1.1.0', type: 'feature', notes: 'Rebuilt.\n' },
      { version: '1.2.0', type: 'feature' },
    ];
    for (const t of targets) await upload(n, (await bundle(t)).file);
    const svc = serviceOf(n, { running: runningFrom(n, 1) });
    const rows: readonly { slot: number; flags: UpgradeFlags; status: Check['status']; message: RegExp }[] = [
      { slot: 1, flags: NONE, status: 'pass', message: /^Tandem 1\.1\.0 is the running firmware$/ },
      { slot: 2, flags: NONE, status: 'fail', message: /^no rollback from a Feature Release to an LTS release: this node runs Feature Release 1\.1\.0/ },
      { slot: 2, flags: { override: true, reinstall: false }, status: 'warn', message: /^move from Feature Release 1\.1\.0 to LTS 1\.0\.0 by override: the override is recorded/ },
      { slot: 3, flags: NONE, status: 'fail', message: /^1\.0\.5 is older than the running 1\.1\.0: downgrades are refused/ },
      { slot: 3, flags: { override: true, reinstall: false }, status: 'warn', message: /^downgrade from Feature Release 1\.1\.0 to Feature Release 1\.0\.5 by override/ },
      { slot: 4, flags: NONE, status: 'fail', message: /^this node already runs 1\.1\.0; installing 1\.1\.0 again is a reinstall/ },
      { slot: 4, flags: { override: false, reinstall: true }, status: 'pass', message: /^reinstall Feature Release 1\.1\.0 over the running Feature Release 1\.1\.0$/ },
      { slot: 5, flags: NONE, status: 'pass', message: /^upgrade from Feature Release 1\.1\.0 to Feature Release 1\.2\.0$/ },
    ];
    for (const r of rows) {
      const report = await svc.test(r.slot, r.flags);
      const policy = check(report.checks, 'policy');
      assert.equal(policy.status, r.status, `slot ${String(r.slot)}: ${policy.message}`);
      assert.match(policy.message, r.message);
      // A running release has a manifest: its files are checked against it (not tainted here).
      assert.deepEqual(check(report.checks, 'tainted'), { id: 'tainted', status: 'pass', message: 'the running firmware (Tandem 1.1.0) matches its manifest (3 files)' });
    }
    // Test changes nothing, whatever the flags: no override is recorded by a Test.
    assert.equal((await svc.versions()).nodes[0]?.downgraded, false);
    assert.equal(existsSync(n.dir.nextFile), false);
  });

  it('a running firmware whose files changed is tainted', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.1.0', type: 'feature' })).file);
    await upload(n, (await bundle({ version: '1.2.0', type: 'feature' })).file);
    const svc = serviceOf(n, { running: runningFrom(n, 1) });
    appendFileSync(join(n.dir.treeOf(1), 'dist/cli/tandem.js'), '// hot fix\n');
    const tainted = check((await svc.test(2, NONE)).checks, 'tainted');
    assert.equal(tainted.status, 'fail');
    assert.match(tainted.message, /^the running firmware is tainted \(files changed locally\): dist\/cli\/tandem\.js: /);
    assert.equal((await svc.versions()).nodes[0]?.tainted?.tainted, true);
  });

  const protocol: readonly { name: string; status: () => StatusView | null; result: Check['status']; message: RegExp }[] = [
    { name: 'a peer speaking 1–1 (no overlap with 2–2)', status: () => statusView('primary', { firmware: { version: '1.0.0', type: 'lts', haMin: 1, haMax: 1 } }), result: 'fail',
      message: /^Tandem 2\.0\.0 speaks HA protocol 2–2; b runs Tandem 1\.0\.0, protocol 1–1: no common version; the nodes could not talk to each other$/ },
    { name: 'a peer speaking 1–2', status: () => statusView('primary', { firmware: { version: '1.5.0', type: 'lts', haMin: 1, haMax: 2 } }), result: 'pass',
      message: /^Tandem 2\.0\.0 speaks HA protocol 2–2; b runs Tandem 1\.5\.0, protocol 1–2: they can run side by side$/ },
    { name: 'a peer that has not told its firmware', status: () => statusView('primary', { firmware: null }), result: 'warn', message: /^the other node \(b\) has not told its firmware/ },
    { name: 'no status yet (the daemon starts)', status: () => null, result: 'warn', message: /^the node status is not available yet$/ },
    { name: 'a standalone node', status: () => statusView('standalone', null), result: 'skip', message: /^no other node is configured$/ },
  ];
  for (const p of protocol) {
    it(`ha-protocol of a target speaking 2–2 (from its compat module): ${p.name} → ${p.result}`, async () => {
      const n = node({ status: p.status });
      await upload(n, (await bundle({ version: '2.0.0', haProtocol: { min: 2, max: 2 } })).file);
      assert.deepEqual(n.dir.slot(1)?.manifest.ha_protocol, { min: 2, max: 2 });
      const c = check((await n.svc.test(1, NONE)).checks, 'ha-protocol');
      assert.equal(c.status, p.result, c.message);
      assert.match(c.message, p.message);
    });
  }
});

// ── free space (tmpfs) ───────────────────────────────────────────────────────────────────────

describe('FirmwareService: free space, on an 8 MiB tmpfs state directory', () => {
  let mnt = '';
  before(() => {
    mnt = mkdtempSync(join(tmpdir(), 'tandem-fw-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
  });
  after(() => {
    // Also after a failure: a mount left behind would outlive the test run.
    try { execFileSync('umount', [mnt]); } catch { /* not mounted */ }
    rmSync(mnt, { recursive: true, force: true });
  });
  /** A fresh state directory on the tmpfs (emptied between tests: each sees the whole 8 MiB). */
  const stateOnTmpfs = (): string => {
    for (const e of readdirSync(mnt)) rmSync(join(mnt, e), { recursive: true, force: true });
    return join(mnt, 'state');
  };
  /** Fills the tmpfs until `leave` bytes are free. */
  const fillTo = (leave: number): string => {
    const fs = statfsSync(mnt);
    const file = join(mnt, 'filler');
    writeFileSync(file, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - leave)));
    return file;
  };

  it(`the disk check fails once less than ${String(MIN_FREE_SHARE * 100)} % of the filesystem would stay free`, async () => {
    const n = node({ stateDir: stateOnTmpfs() });
    await upload(n, (await bundle()).file);
    assert.equal(check((await n.svc.test(1, NONE)).checks, 'disk').status, 'pass');
    const filler = fillTo(512 * 1024);
    const report = await n.svc.test(1, NONE);
    const disk = check(report.checks, 'disk');
    assert.equal(disk.status, 'fail');
    assert.match(disk.message, /^0\.\d MiB free of 8\.0 MiB \(\d\.\d %\) in .*: at least 10 % must stay free; delete unused slots or files$/);
    assert.equal(report.ok, false);
    rmSync(filler);
    assert.equal(check((await n.svc.test(1, NONE)).checks, 'disk').status, 'pass');
  });

  /** Bundles that cannot fit: refused with 507 from the manifest, before the payload is read or anything of the bundle is written. */
  const tooBig: readonly { name: string; payload: number; leave: number | null }[] = [
    { name: 'a payload larger than the whole filesystem', payload: 5 * CHUNK, leave: null },
    // Less free space than one 1 MiB chunk of the upload: a bundle byte written before the
    // check would fail with ENOSPC (or be cut short) instead of the 507 that says what is needed.
    { name: 'a nearly full filesystem', payload: 2 * CHUNK, leave: 600 * 1024 },
  ];
  for (const t of tooBig) {
    it(`an upload that cannot fit is refused (507) before any of it is stored: ${t.name}`, async () => {
      const b = await bundle({ bigBytes: t.payload });
      const n = node({ stateDir: stateOnTmpfs() });
      if (t.leave !== null) fillTo(t.leave);
      const free = statfsSync(mnt).bfree;
      let pulled = 0;
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of createReadStream(b.file, { highWaterMark: CHUNK })) {
          pulled += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      }
      // What the upload had written when its manifest verified (the room is checked right after).
      let stagedAtManifest: number | null = null;
      const progress = (line: string): void => { if (line.startsWith('manifest verified')) stagedAtManifest = bytesUnder(n.dir.stagingDir); };
      await refused(n.svc.upload(counted(), b.size, progress), 507, /^not enough space in .*: Tandem 1\.0\.0 needs about \d+\.\d MiB, \d+\.\d MiB free$/);
      assert.equal(stagedAtManifest, 0);
      // The reader stopped at the manifest: one chunk of a bundle of several.
      assert.equal(pulled, CHUNK);
      assert.deepEqual(onDisk(n), { slots: [], staging: [], store: [] });
      assert.equal(statfsSync(mnt).bfree, free);
    });
  }
});

// ── After reboot, delete ─────────────────────────────────────────────────────────────────────

describe('FirmwareService: activate and remove', () => {
  it('activate is refused while Test fails: nothing is written', async () => {
    const n = node();
    await upload(n, (await bundle({ configCheck: 'refuses' })).file);
    const reply = await n.svc.activate(1, NONE);
    assert.equal(reply.ok, false);
    assert.equal(reply.activation, null);
    assert.deepEqual(reply.messages, ['slot 1 not selected: its Test failed', `configuration: Tandem 1.0.0 refuses this configuration: ${REFUSED_BY_TARGET}`]);
    assert.equal(existsSync(n.dir.nextFile), false);
    assert.deepEqual(n.svc.afterReboot(), { slot: 0, install: 'factory' });
  });

  it('activate of a slot that passes Test writes next.json: the launcher boots it next, on trial', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.0.0' })).file);
    await upload(n, (await bundle({ version: '1.0.1' })).file);
    const reply = await n.svc.activate(2, NONE);
    assert.equal(reply.ok, true, reply.messages.join('\n'));
    const install = n.dir.slot(2)?.install ?? assert.fail('slot 2 empty');
    assert.deepEqual(n.dir.activation(), { slot: 2, install, id: reply.activation, at: NOW });
    assert.deepEqual(n.svc.afterReboot(), { slot: 2, install });
    assert.equal(reply.messages[0], 'slot 2 (Tandem 1.0.1) boots after the next reboot, on trial: healthy within 60 s and 2 start(s), or the node falls back to slot 0 (factory) by itself');
    const rows = n.svc.list().slots;
    assert.deepEqual(rows.map((r) => r.after_reboot), [false, false, true, false, false, false]);
    assert.deepEqual(rows.map((r) => r.current), [true, false, false, false, false, false]);
  });

  it('a downgrade by override: refused without it; with it, activate records it and the node is unsupported (downgraded) from then on', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.1.0', type: 'feature' })).file);
    await upload(n, (await bundle({ version: '1.0.5', type: 'feature' })).file);
    const svc = serviceOf(n, { running: runningFrom(n, 1) });
    const self = async (): Promise<unknown> => { const v = (await svc.versions()).nodes[0]; return { support: v?.support, downgraded: v?.downgraded }; };
    assert.deepEqual(await self(), { support: { supported: true, end: '2026-09-01', why: 'supported until 2026-09-01 (Feature Release: 6 months after 2026-03-01)' }, downgraded: false });

    const refusedReply = await svc.activate(2, NONE);
    assert.equal(refusedReply.ok, false);
    assert.match(refusedReply.messages[1] ?? '', /^policy: 1\.0\.5 is older than the running 1\.1\.0: downgrades are refused/);
    assert.equal(existsSync(n.dir.nextFile), false);
    assert.deepEqual(await self(), { support: { supported: true, end: '2026-09-01', why: 'supported until 2026-09-01 (Feature Release: 6 months after 2026-03-01)' }, downgraded: false });

    const reply = await svc.activate(2, { override: true, reinstall: false });
    assert.equal(reply.ok, true, reply.messages.join('\n'));
    assert.equal(check(reply.report?.checks ?? [], 'policy').status, 'warn');
    assert.equal(n.dir.activation()?.slot, 2);
    assert.deepEqual(await self(), { support: { supported: false, end: null, why: 'unsupported (downgraded)' }, downgraded: true });
    assert.ok(n.logs.some((l) => l.message === 'downgrade from 1.1.0 to 1.0.5 allowed by override: recorded for good; this node is unsupported from now on'));
    // For good: a later service (the daemon after the reboot, running the older firmware) still says so.
    assert.deepEqual((await serviceOf(n, { running: runningFrom(n, 2) }).versions()).nodes[0]?.support?.why, 'unsupported (downgraded)');
  });

  it('a Feature Release → LTS move by override is recorded even when another slot holds the same version number', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.1.0', type: 'feature' })).file);
    await upload(n, (await bundle({ version: '1.1.0', type: 'lts' })).file);
    const svc = serviceOf(n, { running: runningFrom(n, 1) });
    const reply = await svc.activate(2, { override: true, reinstall: false });
    assert.equal(reply.ok, true, reply.messages.join('\n'));
    assert.match(check(reply.report?.checks ?? [], 'policy').message, /^move from Feature Release 1\.1\.0 to LTS 1\.1\.0 by override/);
    assert.deepEqual((await svc.versions()).nodes[0]?.support?.why, 'unsupported (downgraded)');
  });

  it('activate previous: the committed slot before the current one (the console\'s rescue path), through activate and its policy', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.0.0', type: 'feature' })).file);
    await upload(n, (await bundle({ version: '1.1.0', type: 'feature' })).file);
    await refused(n.svc.activatePrevious(NONE), 409, /^no previous firmware/);
    const ref = (slot: number): SlotRef => ({ slot, install: n.dir.slot(slot)?.install ?? assert.fail(`slot ${String(slot)} empty`) });
    // The launcher committed slot 2 after slot 1: slot 1 is the previous firmware.
    n.dir.writeBoot({ ...freshRecord(), good: ref(2), previous: ref(1), current: ref(2) });
    const svc = serviceOf(n, { running: runningFrom(n, 2) });
    assert.deepEqual(svc.list().slots.map((r) => r.previous), [false, true, false, false, false, false]);
    const refusedReply = await svc.activatePrevious(NONE);
    assert.equal(refusedReply.ok, false);
    assert.match(refusedReply.messages.join('\n'), /1\.0\.0 is older than the running 1\.1\.0: downgrades are refused/);
    const reply = await svc.activatePrevious({ override: true, reinstall: false });
    assert.equal(reply.ok, true, reply.messages.join('\n'));
    assert.deepEqual(svc.afterReboot(), ref(1));
    // On trial of slot 2 from slot 1: the previous firmware is the one the trial falls back to.
    n.dir.writeBoot({ ...freshRecord(), good: ref(1), current: ref(2), trial: { target: ref(2), activation: 'x', attempts: 1, since: NOW, from: ref(1) } });
    assert.deepEqual(svc.list().slots.map((r) => r.previous), [false, true, false, false, false, false]);
    // A previous firmware deleted meanwhile is said so.
    n.dir.writeBoot({ ...freshRecord(), good: ref(2), previous: { slot: 3, install: 'gone' }, current: ref(2) });
    await refused(svc.activatePrevious(NONE), 409, /^the previous firmware slot 3 is no longer installed/);
  });

  it('without a daemon: the same service on the slot store activates the previous firmware (factory), logged in the node\'s log', async () => {
    const n = node();
    await upload(n, (await bundle({ version: '1.0.0', type: 'feature' })).file);
    const install = n.dir.slot(1)?.install ?? assert.fail('slot 1 empty');
    n.dir.writeBoot({ ...freshRecord(), good: { slot: 1, install }, previous: FACTORY, current: { slot: 1, install } });
    const offline = offlineFirmwareService(n.configFile, 'a');
    assert.equal(offline.list().slots.find((r) => r.current)?.slot, 1, 'the firmware the launcher started last runs');
    assert.equal((await offline.activatePrevious(NONE)).ok, false, 'leaving a release for the factory firmware needs override');
    const reply = await offline.activatePrevious({ override: true, reinstall: false });
    assert.equal(reply.ok, true, reply.messages.join('\n'));
    assert.deepEqual(n.dir.activation()?.slot, 0);
    assert.deepEqual(serviceOf(n, { running: runningFrom(n, 1) }).afterReboot(), FACTORY);
    assert.match(readFileSync(join(n.stateDir, 'logs', 'tandem.log'), 'utf8'), /\(console, daemon not running\) downgrade from 1\.0\.0 to .* \(factory\) allowed by override/);
  });

  it('remove refuses the running, the after-reboot and the committed slot; removes another with its store bundle', async () => {
    const n = node();
    for (const v of ['1.0.1', '1.0.2', '1.0.3', '1.0.4']) await upload(n, (await bundle({ version: v })).file);
    const ref = (slot: number): SlotRef => ({ slot, install: n.dir.slot(slot)?.install ?? assert.fail(`slot ${String(slot)} empty`) });
    // The launcher committed slot 3 (its record), the operator chose slot 2 for after reboot, slot 1 runs.
    n.dir.writeBoot({ ...freshRecord(), good: ref(3), current: ref(3) });
    n.dir.writeActivation({ slot: 2, install: ref(2).install, id: 'choice', at: NOW });
    const svc = serviceOf(n, { running: runningFrom(n, 1) });
    await refused(svc.remove(1), 409, /^slot 1 is the running firmware: it cannot be deleted$/);
    await refused(svc.remove(2), 409, /^slot 2 is the after-reboot firmware: select another one first/);
    await refused(svc.remove(3), 409, /^slot 3 is the committed firmware a trial falls back to: it cannot be deleted$/);
    await refused(svc.remove(0), 400, /^slot 0 is the factory firmware/);
    const storedAs = n.dir.slot(4)?.bundle.stored_as ?? assert.fail('slot 4 keeps no bundle');
    assert.deepEqual(await svc.remove(4), { ok: true, messages: ['slot 4 (Tandem 1.0.4) deleted', 'its bundle was removed from the replicated firmware store'] });
    assert.deepEqual(onDisk(n).slots, ['1', '2', '3']);
    assert.equal(existsSync(join(n.store, storedAs)), false);
    assert.equal(onDisk(n).store.length, 3);
    assert.deepEqual(onDisk(n).staging, []);
    await refused(svc.remove(4), 404, /^slot 4 is empty/);
  });

  it('remove on a secondary keeps the bundle in the store (the primary owns the store)', async () => {
    const n = node();
    await upload(n, (await bundle()).file);
    const storedAs = n.dir.slot(1)?.bundle.stored_as ?? assert.fail('no bundle kept');
    const svc = serviceOf(n, { status: () => statusView('secondary', { firmware: null }) });
    assert.deepEqual(await svc.remove(1), { ok: true, messages: ['slot 1 (Tandem 1.0.0) deleted'] });
    assert.deepEqual(onDisk(n), { slots: [], staging: [], store: [storedAs] });
  });
});

// ── the replicated store ─────────────────────────────────────────────────────────────────────

describe('FirmwareService: installFromStore', () => {
  it('a bundle replication dropped into the store is installed once; a refused one is not retried', async () => {
    const n = node();
    const good = await bundle({ version: '1.3.0', bigBytes: 2 * CHUNK });
    copyFileSync(good.file, join(n.store, 'tandem-1.3.0-from-primary.tfw'));
    const bad = readFileSync((await bundle({ version: '1.4.0' })).file);
    flip(bad, bad.length - 1100);
    writeFileSync(join(n.store, 'tandem-1.4.0-broken.tfw'), bad);

    await n.svc.installFromStore();
    const info = n.dir.slot(1) ?? assert.fail('not installed');
    assert.deepEqual({ version: info.manifest.version, origin: info.origin, stored_as: info.bundle.stored_as, sha256: info.bundle.sha256 },
      { version: '1.3.0', origin: 'replicated', stored_as: 'tandem-1.3.0-from-primary.tfw', sha256: good.sha256 });
    assert.deepEqual(filesUnder(n.dir.treeOf(1)), good.files.map((f) => f.path).sort());
    assert.deepEqual(onDisk(n), { slots: ['1'], staging: [], store: ['tandem-1.3.0-from-primary.tfw', 'tandem-1.4.0-broken.tfw'] });
    assert.deepEqual(n.logs.map((l) => l.level), ['info', 'error']);
    assert.equal(n.logs[0]?.message, 'firmware 1.3.0 from the replicated store installed in slot 1');
    assert.match(n.logs[1]?.message ?? '', /^firmware bundle tandem-1\.4\.0-broken\.tfw from the replicated store not installed: refused: /);

    // Again (another replicated file, a restart): nothing new, and the refused bundle is not read again.
    await n.svc.installFromStore();
    await serviceOf(n).installFromStore();
    assert.equal(n.logs.length, 2);
    assert.deepEqual(onDisk(n).slots, ['1']);
    // The replicated bundle is the primary's: Test re-verifies it where it lies.
    assert.match(check((await n.svc.test(1, NONE)).checks, 'signature').message, /^signed by trusted key [0-9a-f]{16}, bundle intact;/);
  });

  /** What keeps a node from taking a replicated bundle for a while, and what ends it. */
  const waits: readonly { name: string; block: (n: Node) => Promise<Node>; log: string; unblock: (n: Node) => Promise<Node> }[] = [
    {
      name: 'all slots full, then one deleted',
      block: async (n) => {
        for (let i = 1; i <= SLOT_COUNT; i += 1) await upload(n, (await bundle({ version: `1.0.${String(i)}` })).file);
        return n;
      },
      log: 'firmware bundle tandem-1.2.0-from-primary.tfw in the replicated store waits: all 5 slots hold firmware (delete one to install it)',
      unblock: async (n) => { await n.svc.remove(5); return n; },
    },
    {
      name: 'no trusted key configured, then the key configured (the daemon after a reload)',
      block: (n) => Promise.resolve(withTrusted(n, [])),
      log: 'firmware bundle(s) tandem-1.2.0-from-primary.tfw in the replicated store wait: no trusted firmware key is configured (firmware.trusted_keys)',
      unblock: (n) => Promise.resolve(withTrusted(n, [KEY])),
    },
  ];
  for (const w of waits) {
    it(`a replicated bundle waits, unmarked, while this node cannot take it: ${w.name}`, async () => {
      const n = await w.block(node());
      copyFileSync((await bundle({ version: '1.2.0' })).file, join(n.store, 'tandem-1.2.0-from-primary.tfw'));
      await n.svc.installFromStore();
      assert.equal(n.dir.slots().some((s) => s.manifest.version === '1.2.0'), false);
      assert.deepEqual(n.logs.at(-1), { level: 'warn', message: w.log });
      assert.deepEqual(onDisk(n).staging, []);
      const m = await w.unblock(n);
      await m.svc.installFromStore();
      assert.equal(m.dir.slots().find((s) => s.manifest.version === '1.2.0')?.origin, 'replicated', m.logs.map((l) => l.message).join('\n'));
    });
  }
});
