/**
 * A power cut (SIGKILL) at every step of an upload, its installation and the After-reboot
 * choice leaves the node bootable with its configuration: each step is run in a process of its
 * own that kills itself at a named crash point, then the node "boots again" — the firmware
 * directory prepared and the store reconciled as the launcher and the daemon do at start — and
 * what it finds is either the state before the step or after it, never half of one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { put, tempDirs, testKey } from '../../adapters/firmware/fixtures.test-support.js';
import { FirmwareDir } from '../../adapters/firmware/slots.js';
import { checkTree } from '../../adapters/firmware/tree-check.js';
import { writeBundle } from '../../adapters/firmware/writer.js';
import { loadConfig } from '../../config/load.js';
import { planBoot } from '../../core/firmware/boot.js';
import { runningFirmware } from './identity.js';
import { FirmwareService } from './service.js';

const CHILD = fileURLToPath(new URL('./power-cut-child.test-support.js', import.meta.url));
const fresh = tempDirs('tandem-power-cut-');

interface Setup { readonly state: string; readonly config: string; readonly bundle: string; readonly configText: string }

async function setup(): Promise<Setup> {
  const root = fresh();
  const key = testKey();
  const tree = join(root, 'tree');
  put(tree, 'package.json', '{"name":"tandem","version":"1.0.0"}');
  put(tree, 'dist/cli/tandem.js', 'console.log(JSON.stringify({ ok: true, summary: "fixture" }));\n');
  put(tree, 'dist/data.bin', Buffer.alloc(512 * 1024, 7));
  const bundle = join(root, 'tandem-1.0.0.tfw');
  await writeBundle({
    tree, signingKey: key.privateKey, out: bundle,
    files: [{ path: 'dist/cli/tandem.js', mode: 0o644 }, { path: 'dist/data.bin', mode: 0o644 }, { path: 'package.json', mode: 0o644 }],
    fields: {
      version: '1.0.0', type: 'lts', published: '2026-12-01', notes: '', min_from: null,
      config_schema: { version: 1, migrations: [] }, ha_protocol: { min: 1, max: 1 }, releases: [],
      runtime: { node_abi: process.versions.modules, platform: process.platform, arch: process.arch }, built_at: '2026-12-01T00:00:00.000Z',
    },
  });
  const state = join(root, 'state');
  mkdirSync(join(state, 'store', 'firmware'), { recursive: true });
  writeFileSync(join(root, 'cluster.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  const pem = key.trusted.key.export({ type: 'spki', format: 'pem' }).toString();
  const configText = [
    '# the configuration a power cut must never touch',
    'cluster: { name: lab, key_file: cluster.key, ha_link: ha0 }',
    'firmware:',
    '  trusted_keys:',
    `    - ${JSON.stringify(pem)}`,
    'nodes:',
    `  a: { state_dir: ${JSON.stringify(state)}, interfaces: { ha0: { address: 192.0.2.11/24 } } }`,
    '',
  ].join('\n');
  const config = join(root, 'cluster.yaml');
  writeFileSync(config, configText);
  return { state, config, bundle, configText };
}

function runChild(s: Setup, crash: string | null): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  if (crash === null) delete env.TANDEM_CRASH_POINT; else env.TANDEM_CRASH_POINT = crash;
  const r = spawnSync(process.execPath, [CHILD, s.state, s.config, s.bundle], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** What a node finds when it boots again: leftovers removed, the store reconciled. */
async function bootAgain(s: Setup): Promise<FirmwareDir> {
  const dir = new FirmwareDir(s.state);
  dir.prepare();
  const loaded = loadConfig(s.config);
  assert.ok(loaded.ok, 'the configuration still loads');
  const service = new FirmwareService({
    nodeName: 'a', stateDir: s.state, configFile: s.config, config: () => loaded.config, dir, store: join(s.state, 'store', 'firmware'),
    running: runningFirmware(dir, {}), status: () => null, log: () => undefined,
  });
  await service.installFromStore();
  return dir;
}

const POINTS: readonly { point: string; slots: number; activated: boolean }[] = [
  // In the middle of the payload: staging and a partial bundle file, nothing else.
  { point: 'upload:receiving', slots: 0, activated: false },
  // Verified in staging, nothing published: the upload is as if it never happened.
  { point: 'upload:verified', slots: 0, activated: false },
  // The bundle is in the replicated store, no slot yet: the next start installs it.
  { point: 'upload:stored', slots: 1, activated: false },
  // The slot is complete; the store knows the bundle is installed only after the next start.
  { point: 'upload:installed', slots: 1, activated: false },
  // After reboot written: the choice stands.
  { point: 'activate:written', slots: 1, activated: true },
];

describe('power cuts during upload, installation and After reboot', () => {
  for (const row of POINTS) {
    it(`SIGKILL at ${row.point}: the node boots with its configuration, ${String(row.slots)} whole slot(s)${row.activated ? ', the choice kept' : ''}`, async () => {
      const s = await setup();
      const cut = runChild(s, row.point);
      assert.equal(cut.signal, 'SIGKILL', `the child died at ${row.point}: ${cut.stderr}`);
      const dir = await bootAgain(s);
      assert.equal(readFileSync(s.config, 'utf8'), s.configText, 'the configuration is untouched');
      assert.deepEqual(readdirSync(dir.stagingDir), [], 'no leftovers in staging');
      const slots = dir.slots();
      assert.equal(slots.length, row.slots);
      for (const slot of slots) assert.ok((await checkTree(dir.treeOf(slot.slot), slot.manifest.payload.files)).ok, `slot ${String(slot.slot)} is whole`);
      const boot = planBoot(dir.boot(), dir.activation(), (ref) => dir.holds(ref), Date.now(), { maxAttempts: 3, trialMs: 60_000, minUpMs: 0 });
      assert.equal(boot.action.kind, 'start');
      assert.equal((boot.action as { slot: { slot: number } }).slot.slot, row.activated ? 1 : 0, 'the launcher boots what was chosen, or the factory firmware');
      // And the operator can carry on: uploading again works or says the slot holds it already.
      const again = runChild(s, null);
      assert.ok(again.code === 0 || /already holds this bundle/.test(again.stderr), again.stderr);
    });
  }
});
