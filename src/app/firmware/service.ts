/**
 * Firmware management on a running node (SPEC §4, the seed's "Basic Settings > System >
 * Firmwares"): upload a signed bundle into a free slot, read its upgrade notes, Test it, select it
 * for After reboot, delete it; Version details. One instance per daemon; the control socket, the
 * HTTPS API, the CLI and the console reach it through the operations table.
 *
 * An upload is verified while it streams (adapters/firmware/reader.ts): the payload goes into a
 * staging directory and the raw bundle beside it; only a bundle that verified completely becomes
 * a slot (one rename) and is put into the replicated firmware store, from which the other node
 * installs it into a slot of its own. Nothing of a refused bundle remains.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crashPoint } from '../../adapters/faults/crash-point.js';
import { KeyError, loadPublicKey, type TrustedKey } from '../../adapters/firmware/keys.js';
import { readBundle } from '../../adapters/firmware/reader.js';
import { BundleRefused } from '../../adapters/firmware/refusal.js';
import { stagingSink } from '../../adapters/firmware/sink.js';
import { fsyncDir, FirmwareDir, SLOT_COUNT, type SlotInfo } from '../../adapters/firmware/slots.js';
import { checkTree, type TreeCheck } from '../../adapters/firmware/tree-check.js';
import { readJson, writeJsonAtomic } from '../../adapters/state/store.js';
import type { TandemConfig } from '../../config/types.js';
import { HA_PROTOCOL } from '../../core/compat.js';
import { describeSlot, planBoot, previousOf, type SlotRef } from '../../core/firmware/boot.js';
import { dateOfEpochMs } from '../../core/firmware/calendar.js';
import { evaluateChecklist, type ChecklistItem } from '../../core/firmware/checklist.js';
import { issuesOf, MIN_FREE_SHARE } from '../monitor/issues.js';
import { checkUpgrade, supportStatus } from '../../core/firmware/policy.js';
import { compareVersions, isVersion } from '../../core/firmware/semver.js';
import { releaseOf, type Manifest, type Release } from '../../core/firmware/types.js';
import type { FirmwareIdentity } from '../../core/ha/report.js';
import { OpError, refuse } from '../api/operation.js';
import type { StatusView } from '../node-app.js';
import type { RunningFirmware } from './identity.js';
import { installedVersion } from './installation.js';
import type { ActivateReply, Check, FirmwareList, NodeVersion, SlotRow, SlotState, TestReport, UpgradeFlags, UploadResult } from './schemas.js';
import { runTree } from './run-tree.js';

/** Test: at least this share of the state directory's filesystem must stay free (the System monitor's rule too). */
export { MIN_FREE_SHARE };
/** The target's own configuration check gets this long. */
const CONFIG_CHECK_TIMEOUT_MS = 30_000;
const CHUNK = 1024 * 1024;

export interface FirmwareServiceOptions {
  readonly nodeName: string;
  readonly stateDir: string;
  readonly configFile: string;
  readonly config: () => TandemConfig;
  readonly dir: FirmwareDir;
  /** The replicated firmware root (state_dir/store/firmware). */
  readonly store: string;
  readonly running: RunningFirmware;
  /** The node's status now (roles, the peer's firmware). */
  readonly status: () => StatusView | null;
  /** What the System monitor lists as issues now (by default those of the status alone). */
  readonly issues?: () => string[];
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Core files waiting in the core directory (the checklist); null when unknown. */
  readonly coreFiles?: () => number | null;
  readonly now?: () => number;
  /** Test's license check for a target release (an LTS release needs a license issued for it). */
  readonly license?: (target: { readonly version: string; readonly type: string }) => { readonly status: 'pass' | 'fail' | 'skip'; readonly message: string };
}

interface Downgrade { readonly at: string; readonly from: string; readonly to: string }

/** Files of the firmware directory this service owns (boot.json and next.json: see slots.ts). */
const RELEASES_FILE = 'releases.json';
const SUPPORT_FILE = 'support.json';
const BUNDLES_FILE = 'bundles.json';

export class FirmwareService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: FirmwareServiceOptions) {}

  private now(): number { return (this.o.now ?? Date.now)(); }
  private today(): string { return dateOfEpochMs(this.now()); }

  /** One change at a time: uploads, activations and deletions never interleave. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ── list, notes ─────────────────────────────────────────────────────────────────────────────

  list(): FirmwareList {
    const d = this.o.dir;
    const record = d.boot();
    const next = this.afterReboot();
    const current = this.o.running.ref;
    const previous = previousOf(record);
    const rows: SlotRow[] = [{
      slot: 0, state: 'committed', version: installedVersion(), type: 'factory', published: null,
      current: current.slot === 0, after_reboot: next.slot === 0, previous: previous?.slot === 0, installed_at: null, origin: 'factory',
      key_id: null, bundle_sha256: null, failure: null,
    }];
    for (let n = 1; n <= SLOT_COUNT; n += 1) {
      const s = d.slot(n);
      if (s === null) {
        rows.push({ slot: n, state: 'empty', version: null, type: null, published: null, current: false, after_reboot: false, previous: false, installed_at: null, origin: null, key_id: null, bundle_sha256: null, failure: null });
        continue;
      }
      const outcome = record?.outcomes[s.install];
      const state: SlotState = record?.trial?.target.install === s.install ? 'trial'
        : outcome?.state ?? 'installed';
      rows.push({
        slot: n, state, version: s.manifest.version, type: s.manifest.type, published: s.manifest.published,
        current: current.install === s.install, after_reboot: next.install === s.install, previous: previous?.install === s.install,
        installed_at: s.installed_at, origin: s.origin, key_id: s.key_id, bundle_sha256: s.bundle.sha256,
        failure: outcome?.state === 'failed' ? outcome.reason : null,
      });
    }
    const events = (record?.events ?? []).map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, slot: e.slot, message: e.message }));
    return { node: this.o.nodeName, slots: rows, events };
  }

  /** What the launcher would boot next: its own decision on what is on disk now. */
  afterReboot(): SlotRef {
    const c = this.o.config();
    const d = planBoot(this.o.dir.boot(), this.o.dir.activation(), (ref) => this.o.dir.holds(ref), this.now(),
      { maxAttempts: c.firmware.trialAttempts, trialMs: c.firmware.trialTimeoutS * 1000, minUpMs: 0 });
    return d.action.kind === 'start' ? d.action.slot : d.action.kind === 'fall-back' ? d.action.from : d.record.good;
  }

  notes(slot: number): { readonly slot: number; readonly version: string; readonly notes: string } {
    const s = this.slotOrRefuse(slot);
    return { slot, version: s.manifest.version, notes: s.manifest.notes };
  }

  private slotOrRefuse(slot: number): SlotInfo {
    if (slot === 0) refuse(400, 'slot 0 is the factory firmware: it has no bundle (no notes, nothing to test)');
    const s = this.o.dir.slot(slot);
    if (s === null) refuse(404, `slot ${String(slot)} is empty (slots 1–${String(SLOT_COUNT)}; see tandem firmware list)`);
    return s as SlotInfo;
  }

  // ── upload and installation ─────────────────────────────────────────────────────────────────

  /** The keys this node accepts bundles from; a key that cannot be read is a refusal, not a skip. */
  trustedKeys(): TrustedKey[] {
    return this.o.config().firmware.trustedKeys.map((spec, i) => {
      try {
        return loadPublicKey(spec);
      } catch (err) {
        const reason = err instanceof KeyError ? err.message : String(err);
        throw new OpError(400, [`${this.o.configFile}: firmware.trusted_keys[${String(i)}]: ${reason}`]);
      }
    });
  }

  /**
   * An uploaded bundle, streamed: verified into staging, then a slot; the bundle file goes into
   * the replicated store. `size` (when known) only drives the progress lines.
   */
  upload(source: AsyncIterable<Uint8Array>, size: number | null, progress: (line: string) => void): Promise<UploadResult> {
    return this.exclusive(() => this.install(source, { kind: 'upload', size }, progress));
  }

  /**
   * Bundles in the replicated store that no slot was ever made from (arrived from the primary, or
   * an upload cut short). A bundle refused for what it is (not verifying, a duplicate) is marked
   * and not read again until it changes (a new name); one that only waits for this node (no free
   * slot, no room, no usable trusted key) stays unmarked and is tried at the next call (start,
   * the next replicated bundle).
   */
  installFromStore(progress: (line: string) => void = () => undefined): Promise<void> {
    return this.exclusive(async () => {
      const seen = this.bundlesSeen();
      const waiting = this.storedBundles().filter((name) => !Object.hasOwn(seen, name));
      if (waiting.length === 0) return;
      const blocked = this.storeBlocked();
      if (blocked !== null) {
        this.o.log('warn', `firmware bundle(s) ${waiting.join(', ')} in the replicated store wait: ${blocked}`);
        return;
      }
      for (const name of waiting) {
        if (this.o.dir.freeSlot() === null) {
          this.o.log('warn', `firmware bundle ${name} in the replicated store waits: all ${String(SLOT_COUNT)} slots hold firmware (delete one to install it)`);
          return;
        }
        // Destroyed whatever happens: an installation refused before reading would leave it open.
        const stream = createReadStream(join(this.o.store, name), { highWaterMark: CHUNK });
        try {
          const r = await this.install(stream, { kind: 'stored', name }, progress);
          this.o.log('info', `firmware ${r.version} from the replicated store installed in slot ${String(r.slot)}`);
        } catch (err) {
          const msg = err instanceof OpError ? err.messages.join('; ') : (err as Error).message;
          if (err instanceof OpError && err.status === 507) {
            this.o.log('warn', `firmware bundle ${name} in the replicated store waits: ${msg}`);
            continue;
          }
          this.o.log('error', `firmware bundle ${name} from the replicated store not installed: ${msg}`);
          this.markSeen(name, null);
        } finally {
          stream.destroy();
        }
      }
    });
  }

  /** Why this node cannot verify any bundle now (its trusted keys), or null. */
  private storeBlocked(): string | null {
    try {
      return this.trustedKeys().length === 0 ? 'no trusted firmware key is configured (firmware.trusted_keys)' : null;
    } catch (err) {
      return err instanceof OpError ? err.messages.join('; ') : (err as Error).message;
    }
  }

  private storedBundles(): string[] {
    try {
      return readdirSync(this.o.store).filter((n) => n.endsWith('.tfw')).sort();
    } catch {
      return [];
    }
  }

  private bundlesSeen(): Record<string, { readonly at: string; readonly slot: number | null }> {
    return (readJson(join(this.o.dir.root, BUNDLES_FILE)) as Record<string, { at: string; slot: number | null }> | undefined) ?? {};
  }

  private markSeen(name: string, slot: number | null): void {
    writeJsonAtomic(join(this.o.dir.root, BUNDLES_FILE), { ...this.bundlesSeen(), [name]: { at: new Date(this.now()).toISOString(), slot } });
  }

  private async install(
    source: AsyncIterable<Uint8Array>, from: { kind: 'upload'; size: number | null } | { kind: 'stored'; name: string },
    progress: (line: string) => void,
  ): Promise<UploadResult> {
    const keys = this.trustedKeys();
    const slot = this.o.dir.freeSlot();
    if (slot === null) refuse(409, `all ${String(SLOT_COUNT)} slots hold firmware: delete one first (tandem firmware delete SLOT; never the current or the after-reboot one)`);
    const staging = this.o.dir.newStaging();
    const bundleFile = join(staging.dir, 'bundle.tfw');
    const sink = await stagingSink(staging.tree);
    let fh: FileHandle | null = from.kind === 'upload' ? await open(bundleFile, 'wx', 0o600) : null;
    const hash = createHash('sha256');
    let bytes = 0;
    let nextReport = 0;
    // Bundle bytes read before the manifest verified and its room was checked wait here (copies:
    // the source may reuse its buffers): a bundle refused there has written nothing, and a full
    // disk gets the 507 that says what is needed rather than ENOSPC. That is the manifest and its
    // signature (bounded by the reader) and the rest of the chunk that carried them; null once written.
    let held: Buffer[] | null = [];
    // The bundle's bytes go to the bundle file (uploads) and are hashed as they pass to the reader.
    async function* tee(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        hash.update(chunk);
        if (fh !== null) {
          if (held !== null) held.push(Buffer.from(chunk));
          else await writeAll(fh, chunk);
        }
        bytes += chunk.length;
        if (bytes > CHUNK / 4) crashPoint('upload:receiving');
        if (from.kind === 'upload' && bytes >= nextReport) {
          progress(from.size === null ? `received ${mib(bytes)}` : `received ${mib(bytes)} of ${mib(from.size)}`);
          nextReport = bytes + Math.max(CHUNK * 8, Math.floor((from.size ?? 0) / 10));
        }
        yield chunk;
      }
    }
    try {
      const read = await readBundle(tee(), {
        trustedKeys: keys, sink,
        onManifest: async (m, keyId) => {
          progress(`manifest verified: Tandem ${m.version} (${m.type}, published ${m.published}), signed by trusted key ${keyId}`);
          this.roomFor(m);
          const first = held ?? [];
          held = null;
          if (fh !== null) for (const chunk of first) await writeAll(fh, chunk);
        },
      });
      crashPoint('upload:verified');
      if (fh !== null) { await fh.sync(); await fh.close(); fh = null; }
      const sha = hash.digest('hex');
      const same = this.o.dir.slots().find((s) => s.bundle.sha256 === sha);
      if (same !== undefined) refuse(409, `slot ${String(same.slot)} already holds this bundle (Tandem ${same.manifest.version})`);
      const m = read.manifest;
      // The store follows the primary: a secondary's copy would be removed by the next resync.
      const secondary = from.kind === 'upload' && this.o.status()?.this_node.role === 'secondary';
      if (secondary) progress('this node is the secondary: the firmware stays on this node only (upload on the primary to give it to both nodes)');
      const storedAs = from.kind === 'stored' ? from.name : secondary ? null : `tandem-${m.version}-${sha.slice(0, 16)}.tfw`;
      if (from.kind === 'upload' && storedAs !== null) {
        // Into the replicated store first: a cut here leaves a bundle that installFromStore finishes at the next start.
        renameSync(bundleFile, join(this.o.store, storedAs));
        fsyncDir(this.o.store);
        crashPoint('upload:stored');
      } else if (from.kind === 'upload') {
        // Not kept (stored_as null): a copy left in the slot would take the bundle's size for nothing.
        rmSync(bundleFile, { force: true });
      }
      const info: SlotInfo = {
        version: 1, slot: slot as number, install: staging.install, manifest: m, key_id: read.keyId,
        bundle: { sha256: sha, bytes: read.bytesRead, stored_as: storedAs },
        installed_at: new Date(this.now()).toISOString(), origin: from.kind === 'upload' ? 'upload' : 'replicated',
      };
      this.o.dir.commitStaging(staging, info);
      crashPoint('upload:installed');
      if (storedAs !== null) this.markSeen(storedAs, info.slot);
      this.learn([releaseOf(m), ...m.releases]);
      progress(`installed in slot ${String(info.slot)}: Tandem ${m.version} (${m.type}); read its notes (tandem firmware notes ${String(info.slot)}), then Test it`);
      return { slot: info.slot, version: m.version, type: m.type, key_id: read.keyId, bundle_sha256: sha, bytes: read.bytesRead };
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await sink.discard();
      rmSync(staging.dir, { recursive: true, force: true });
      if (err instanceof BundleRefused) throw new OpError(400, [`refused: ${err.message}`]);
      throw err;
    }
  }

  /** Refuses, before any payload byte is stored, a bundle that cannot fit (payload and bundle file). */
  private roomFor(m: Manifest): void {
    const fs = statfsSync(this.o.stateDir);
    const free = fs.bavail * fs.bsize;
    // The payload unpacked and the bundle kept beside it, plus a block per file.
    const needed = 2 * m.payload.bytes + 4096 * m.payload.files.length;
    if (needed > free) refuse(507, `not enough space in ${this.o.stateDir}: Tandem ${m.version} needs about ${mib(needed)}, ${mib(free)} free`);
  }

  /** Releases this node has learned of from bundles (later ones end the support of earlier ones). */
  knownReleases(): Release[] {
    return (readJson(join(this.o.dir.root, RELEASES_FILE)) as Release[] | undefined) ?? [];
  }

  private learn(releases: readonly Release[]): void {
    const known = this.knownReleases();
    const fresh = releases.filter((r) => isVersion(r.version) && !known.some((k) => k.version === r.version));
    if (fresh.length === 0) return;
    writeJsonAtomic(join(this.o.dir.root, RELEASES_FILE), [...known, ...fresh].sort((a, b) => compareVersions(a.version, b.version)));
  }

  // ── Test ────────────────────────────────────────────────────────────────────────────────────

  /** Every check, each on its own; changes nothing. */
  async test(slot: number, flags: UpgradeFlags): Promise<TestReport> {
    const s = this.slotOrRefuse(slot);
    const m = s.manifest;
    const checks: Check[] = [
      await this.checkSignature(s),
      this.checkRuntime(m),
      this.checkPolicy(s, flags),
      this.checkDisk(),
      await this.checkConfiguration(s),
      await this.checkTainted(),
      { id: 'license', ...(this.o.license?.({ version: m.version, type: m.type }) ?? { status: 'skip', message: 'no license service on this node: nothing to check' }) },
      this.checkProtocol(m),
    ];
    return { node: this.o.nodeName, slot, version: m.version, ok: checks.every((c) => c.status !== 'fail'), checks };
  }

  private async checkSignature(s: SlotInfo): Promise<Check> {
    const stored = s.bundle.stored_as === null ? null : join(this.o.store, s.bundle.stored_as);
    let signed: string;
    if (stored !== null && existsSync(stored)) {
      try {
        const r = await readBundle(createReadStream(stored, { highWaterMark: CHUNK }), { trustedKeys: this.trustedKeys() });
        signed = `signed by trusted key ${r.keyId}, bundle intact`;
      } catch (err) {
        if (err instanceof BundleRefused) return { id: 'signature', status: 'fail', message: `the bundle is refused now: ${err.message}` };
        if (err instanceof OpError) return { id: 'signature', status: 'fail', message: err.messages.join('; ') };
        throw err;
      }
    } else {
      signed = `bundle no longer kept; signed by key ${s.key_id} when installed`;
    }
    const tree = await checkTree(this.o.dir.treeOf(s.slot), s.manifest.payload.files);
    if (!tree.ok) return { id: 'signature', status: 'fail', message: `the installed files differ from the signed manifest: ${describeProblems(tree)}` };
    return { id: 'signature', status: 'pass', message: `${signed}; ${String(tree.files)} installed files match the manifest` };
  }

  private checkRuntime(m: Manifest): Check {
    const here = { node_abi: process.versions.modules, platform: process.platform, arch: process.arch };
    const r = m.runtime;
    if (r.node_abi !== here.node_abi || r.platform !== here.platform || r.arch !== here.arch) {
      return { id: 'runtime', status: 'fail', message: `built for Node.js ABI ${r.node_abi} on ${r.platform}-${r.arch}; this node runs ABI ${here.node_abi} on ${here.platform}-${here.arch}` };
    }
    return { id: 'runtime', status: 'pass', message: `built for this node's Node.js (ABI ${r.node_abi}, ${r.platform}-${r.arch})` };
  }

  private checkPolicy(s: SlotInfo, flags: UpgradeFlags): Check {
    const run = this.o.running;
    if (run.ref.install === s.install) return { id: 'policy', status: 'pass', message: `Tandem ${s.manifest.version} is the running firmware` };
    const v = checkUpgrade({ version: run.version, type: run.type }, s.manifest, flags);
    if (!v.ok) return { id: 'policy', status: 'fail', message: v.message };
    return { id: 'policy', status: v.kind === 'override' ? 'warn' : 'pass', message: v.message };
  }

  private checkDisk(): Check {
    const fs = statfsSync(this.o.stateDir);
    const share = fs.bavail / fs.blocks;
    const message = `${mib(fs.bavail * fs.bsize)} free of ${mib(fs.blocks * fs.bsize)} (${(share * 100).toFixed(1)} %) in ${this.o.stateDir}`;
    return share >= MIN_FREE_SHARE
      ? { id: 'disk', status: 'pass', message }
      : { id: 'disk', status: 'fail', message: `${message}: at least ${String(MIN_FREE_SHARE * 100)} % must stay free; delete unused slots or files` };
  }

  /** The running configuration, migrated and validated by the target's own code (it runs here, changing nothing). */
  private async checkConfiguration(s: SlotInfo): Promise<Check> {
    const r = await runTree(this.o.dir.treeOf(s.slot), ['config', 'check', '--json', '--config', this.o.configFile, '--node', this.o.nodeName], CONFIG_CHECK_TIMEOUT_MS);
    const reply = parseJson(r.stdout) as { ok?: boolean; summary?: string; errors?: string[] } | null;
    if (reply?.ok === true) return { id: 'configuration', status: 'pass', message: `Tandem ${s.manifest.version} reads this configuration: ${reply.summary ?? 'valid'}` };
    const errors = reply?.errors ?? [(r.stderr.trim() || r.stdout.trim() || `its configuration check exited with ${String(r.code)}`).split('\n')[0] ?? ''];
    return { id: 'configuration', status: 'fail', message: `Tandem ${s.manifest.version} refuses this configuration: ${errors.slice(0, 5).join('; ')}` };
  }

  private async checkTainted(): Promise<Check> {
    const t = await this.taint();
    return { id: 'tainted', status: t === null ? 'skip' : t.tainted ? 'fail' : 'pass', message: t?.detail ?? 'the factory firmware has no manifest to compare its files with' };
  }

  /** Whether the running firmware's files still are what its manifest says; null for the factory firmware. */
  async taint(): Promise<{ readonly tainted: boolean; readonly detail: string } | null> {
    const run = this.o.running;
    if (run.manifest === null) return null;
    const tree = await checkTree(run.tree, run.manifest.payload.files);
    return tree.ok
      ? { tainted: false, detail: `the running firmware (Tandem ${run.version}) matches its manifest (${String(tree.files)} files)` }
      : { tainted: true, detail: `the running firmware is tainted (files changed locally): ${describeProblems(tree)}` };
  }

  private checkProtocol(m: Manifest): Check {
    const status = this.o.status();
    if (status?.other_node === null || status === null) {
      return status === null ? { id: 'ha-protocol', status: 'warn', message: 'the node status is not available yet' } : { id: 'ha-protocol', status: 'skip', message: 'no other node is configured' };
    }
    const peer = status.other_node.firmware;
    const target = `${String(m.ha_protocol.min)}–${String(m.ha_protocol.max)}`;
    if (peer === null) return { id: 'ha-protocol', status: 'warn', message: `the other node (${status.other_node.name}) has not told its firmware since this node started: cannot compare with HA protocol ${target}` };
    const ok = m.ha_protocol.min <= peer.haMax && peer.haMin <= m.ha_protocol.max;
    const message = `Tandem ${m.version} speaks HA protocol ${target}; ${status.other_node.name} runs Tandem ${peer.version}, protocol ${String(peer.haMin)}–${String(peer.haMax)}`;
    return ok ? { id: 'ha-protocol', status: 'pass', message: `${message}: they can run side by side` } : { id: 'ha-protocol', status: 'fail', message: `${message}: no common version; the nodes could not talk to each other` };
  }

  // ── After reboot, delete ────────────────────────────────────────────────────────────────────

  /** "After reboot": the slot boots on trial at the next start, once its Test passed. */
  activate(slot: number, flags: UpgradeFlags): Promise<ActivateReply> {
    return this.exclusive(async () => {
      if (slot === 0) return this.activateFactory(flags);
      const report = await this.test(slot, flags);
      const failed = report.checks.filter((c) => c.status === 'fail');
      if (failed.length > 0) {
        return { ok: false, report, activation: null, messages: [`slot ${String(slot)} not selected: its Test failed`, ...failed.map((c) => `${c.id}: ${c.message}`)] };
      }
      const s = this.slotOrRefuse(slot);
      this.recordOverride(s, flags);
      const id = randomBytes(8).toString('hex');
      this.o.dir.writeActivation({ slot, install: s.install, id, at: this.now() });
      crashPoint('activate:written');
      const c = this.o.config().firmware;
      const msg = `slot ${String(slot)} (Tandem ${s.manifest.version}) boots after the next reboot, on trial: healthy within ${String(c.trialTimeoutS)} s and ${String(c.trialAttempts)} start(s), or the node falls back to ${describeSlot(this.o.dir.boot()?.good ?? this.o.running.ref)} by itself`;
      this.o.log('warn', msg);
      return { ok: true, report, activation: id, messages: [msg, 'reboot this node to upgrade: tandem reboot'] };
    });
  }

  /**
   * The previous firmware (previousOf) for After reboot, through `activate`: its Test and the
   * release policy apply as to any slot (going back to an older release needs `override`).
   */
  async activatePrevious(flags: UpgradeFlags): Promise<ActivateReply> {
    const ref = previousOf(this.o.dir.boot()) ?? refuse(409, 'no previous firmware: this node has committed only the firmware it runs');
    if (!this.o.dir.holds(ref)) refuse(409, `the previous firmware ${describeSlot(ref)} is no longer installed (deleted or replaced)`);
    return await this.activate(ref.slot, flags);
  }

  /** Back to the factory firmware (slot 0): always a downgrade from a release, so only with override. */
  private activateFactory(flags: UpgradeFlags): ActivateReply {
    if (this.o.running.ref.slot !== 0 && !flags.override) {
      return { ok: false, report: null, activation: null, messages: ['slot 0 is the factory firmware: going back to it from a release is a downgrade; add --override (recorded for good: the node is then unsupported)'] };
    }
    if (this.o.running.ref.slot !== 0) this.recordDowngrade(this.o.running.version, `${installedVersion()} (factory)`);
    const id = randomBytes(8).toString('hex');
    this.o.dir.writeActivation({ slot: 0, install: 'factory', id, at: this.now() });
    return { ok: true, report: null, activation: id, messages: ['slot 0 (the factory firmware) boots after the next reboot'] };
  }

  /** The slot being activated, not one found by its version: two slots may hold the same version (an LTS and a Feature build, a rebuild). */
  private recordOverride(target: SlotInfo, flags: UpgradeFlags): void {
    const run = this.o.running;
    if (run.ref.install === target.install) return;
    const v = checkUpgrade({ version: run.version, type: run.type }, target.manifest, flags);
    if (v.ok && v.records === 'downgrade') this.recordDowngrade(run.version, target.manifest.version);
  }

  private recordDowngrade(from: string, to: string): void {
    const record: Downgrade = { at: new Date(this.now()).toISOString(), from, to };
    const prior = this.downgrades();
    writeJsonAtomic(join(this.o.dir.root, SUPPORT_FILE), { downgrades: [...prior, record] });
    this.o.log('warn', `downgrade from ${from} to ${to} allowed by override: recorded for good; this node is unsupported from now on`);
  }

  private downgrades(): Downgrade[] {
    return (readJson(join(this.o.dir.root, SUPPORT_FILE)) as { downgrades?: Downgrade[] } | undefined)?.downgrades ?? [];
  }

  remove(slot: number): Promise<{ readonly ok: boolean; readonly messages: readonly string[] }> {
    return this.exclusive(() => {
      const s = this.slotOrRefuse(slot);
      if (this.o.running.ref.install === s.install) refuse(409, `slot ${String(slot)} is the running firmware: it cannot be deleted`);
      if (this.afterReboot().install === s.install) refuse(409, `slot ${String(slot)} is the after-reboot firmware: select another one first (tandem firmware activate SLOT)`);
      const record = this.o.dir.boot();
      if (record?.good.install === s.install) refuse(409, `slot ${String(slot)} is the committed firmware a trial falls back to: it cannot be deleted`);
      this.o.dir.remove(slot);
      const messages = [`slot ${String(slot)} (Tandem ${s.manifest.version}) deleted`];
      // The store follows the primary: only a primary (or a standalone node) removes the bundle for both.
      const role = this.o.status()?.this_node.role;
      if (s.bundle.stored_as !== null && role !== 'secondary' && !this.o.dir.slots().some((x) => x.bundle.stored_as === s.bundle.stored_as)) {
        rmSync(join(this.o.store, s.bundle.stored_as), { force: true });
        messages.push(`its bundle was removed from the replicated firmware store`);
      }
      this.o.log('info', messages.join('; '));
      return Promise.resolve({ ok: true, messages });
    });
  }

  // ── Upgrade checklist ───────────────────────────────────────────────────────────────────────

  /** The seed's upgrade checklist, each item with its state; `acks` confirms what cannot be checked. */
  checklist(acks: readonly string[]): ChecklistItem[] {
    const status = this.o.status();
    const exports = readJson(join(this.o.stateDir, CONFIG_EXPORTS_FILE)) as { last?: number | string } | undefined;
    return evaluateChecklist({
      now: this.now(),
      lastExportAt: typeof exports?.last === 'number' ? exports.last : typeof exports?.last === 'string' && Number.isFinite(Date.parse(exports.last)) ? Date.parse(exports.last) : null,
      monitorIssues: status === null ? ['the node is starting'] : (this.o.issues?.() ?? issuesOf(status)),
      cluster: status?.cluster.status ?? 'unknown',
      redundantHeartbeat: status?.cluster.redundant_heartbeat ?? null,
      coreFiles: this.o.coreFiles?.() ?? null,
      virtualization: virtualization(),
    }, acks);
  }

  // ── Version details ─────────────────────────────────────────────────────────────────────────

  async versions(): Promise<{ readonly nodes: readonly NodeVersion[] }> {
    const run = this.o.running;
    const known = this.knownReleases();
    const downgraded = this.downgrades().length > 0;
    const self: NodeVersion = {
      node: this.o.nodeName, this_node: true, version: run.version, type: run.type, published: run.published, slot: run.ref.slot,
      support: supportStatus({ version: run.version, type: run.type, published: run.published }, known, this.today(), downgraded),
      tainted: await this.taint(), downgraded, ha_protocol: HA_PROTOCOL,
    };
    const other = this.o.status()?.other_node ?? null;
    if (other === null) return { nodes: [self] };
    return { nodes: [self, this.peerVersion(other.name, other.firmware, known)] };
  }

  private peerVersion(name: string, fw: FirmwareIdentity | null, known: readonly Release[]): NodeVersion {
    if (fw === null) return { node: name, this_node: false, version: null, type: null, published: null, slot: null, support: null, tainted: null, downgraded: null, ha_protocol: null };
    const published = known.find((r) => r.version === fw.version && r.type === fw.type)?.published ?? null;
    return {
      node: name, this_node: false, version: fw.version, type: fw.type, published, slot: null,
      support: fw.type === 'factory' || published !== null ? supportStatus({ version: fw.version, type: fw.type, published }, known, this.today(), false) : null,
      tainted: null, downgraded: null, ha_protocol: { min: fw.haMin, max: fw.haMax },
    };
  }
}

/** Where `tandem config export` records its last export (read by the checklist). */
export const CONFIG_EXPORTS_FILE = 'config-exports.json';

let virt: string | null | undefined;

/** The virtualization this node runs under (systemd-detect-virt, else the CPU's hypervisor flag), or null. */
function virtualization(): string | null {
  if (virt !== undefined) return virt;
  const r = spawnSync('systemd-detect-virt', [], { encoding: 'utf8', timeout: 2000 });
  const out = typeof r.stdout === 'string' ? r.stdout.trim() : '';
  if (r.status === 0 && out !== '' && out !== 'none') virt = out;
  else if (r.error === undefined) virt = null;
  else {
    try { virt = /^flags\s*:.*\bhypervisor\b/m.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'hypervisor' : null; } catch { virt = null; }
  }
  return virt;
}

/** Writes all of `chunk`: a write may take fewer bytes than given (a nearly full disk), which is not an error by itself. */
async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let at = 0; at < chunk.length;) {
    const { bytesWritten } = await fh.write(chunk, at, chunk.length - at);
    if (bytesWritten === 0) throw new Error('the bundle file takes no more bytes (disk full?)');
    at += bytesWritten;
  }
}

function parseJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return null; }
}

function describeProblems(t: TreeCheck): string {
  return `${t.problems.join('; ')}${t.count > t.problems.length ? ` (and ${String(t.count - t.problems.length)} more)` : ''}`;
}

export function mib(bytes: number): string {
  return bytes >= 1024 * 1024 * 1024 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
