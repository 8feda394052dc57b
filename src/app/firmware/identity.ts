/**
 * Which firmware this process is: the slot the launcher started it from (TANDEM_FIRMWARE_SLOT
 * and TANDEM_FIRMWARE_INSTALL), that slot's manifest, or the factory firmware (slot 0, this
 * installation's package.json version) when run without a launcher or from slot 0.
 */
import { join } from 'node:path';
import { FirmwareDir, type SlotInfo } from '../../adapters/firmware/slots.js';
import { readJson, writeJsonAtomic } from '../../adapters/state/store.js';
import { HA_PROTOCOL } from '../../core/compat.js';
import type { SlotRef } from '../../core/firmware/boot.js';
import type { FirmwareType, Manifest } from '../../core/firmware/types.js';
import type { FirmwareIdentity } from '../../core/ha/report.js';
import { INSTALL_ROOT, installedVersion } from './installation.js';

export interface RunningFirmware {
  readonly ref: SlotRef;
  readonly version: string;
  readonly type: FirmwareType;
  readonly published: string | null;
  /** Null for the factory firmware. */
  readonly manifest: Manifest | null;
  readonly slotInfo: SlotInfo | null;
  /** The tree this process runs from. */
  readonly tree: string;
}

export function runningFirmware(fw: FirmwareDir, env: NodeJS.ProcessEnv = process.env): RunningFirmware {
  const slot = Number(env.TANDEM_FIRMWARE_SLOT ?? '0');
  const info = Number.isInteger(slot) && slot > 0 ? fw.slot(slot) : null;
  if (info !== null && info.install === env.TANDEM_FIRMWARE_INSTALL) {
    return {
      ref: { slot, install: info.install }, version: info.manifest.version, type: info.manifest.type,
      published: info.manifest.published, manifest: info.manifest, slotInfo: info, tree: fw.treeOf(slot),
    };
  }
  return { ref: { slot: 0, install: 'factory' }, version: installedVersion(), type: 'factory', published: null, manifest: null, slotInfo: null, tree: INSTALL_ROOT };
}

export function identityOf(f: RunningFirmware): FirmwareIdentity {
  return { version: f.version, type: f.type, haMin: HA_PROTOCOL.min, haMax: HA_PROTOCOL.max };
}

/** `firmware` in `tandem status`: what runs, what boots next, the trial, the last fallback. */
export interface BootView {
  readonly slot: number;
  readonly version: string;
  readonly type: FirmwareType;
  readonly trial: { readonly slot: number; readonly attempts: number; readonly since: string } | null;
  /** The last After-reboot choice the launcher acted on (a cluster upgrade waits for its own). */
  readonly activation_handled: string | null;
  /** The launcher's outcome of that choice's installation: committed, failed (why), or null (on trial, or none). */
  readonly activation_outcome: { readonly state: 'committed' | 'failed'; readonly reason: string | null } | null;
  readonly last_fallback: { readonly at: string; readonly slot: number; readonly message: string } | null;
}

export function bootView(fw: FirmwareDir, running: RunningFirmware): BootView {
  const record = fw.boot();
  const fell = [...(record?.events ?? [])].reverse().find((e) => e.kind === 'fell-back');
  return {
    slot: running.ref.slot, version: running.version, type: running.type,
    trial: record?.trial === null || record?.trial === undefined ? null
      : { slot: record.trial.target.slot, attempts: record.trial.attempts, since: new Date(record.trial.since).toISOString() },
    last_fallback: fell === undefined ? null : { at: new Date(fell.at).toISOString(), slot: fell.slot, message: fell.message },
    activation_handled: record?.handled ?? null,
    activation_outcome: outcomeOf(fw),
  };
}

function outcomeOf(fw: FirmwareDir): BootView['activation_outcome'] {
  const record = fw.boot();
  const a = fw.activation();
  if (record === null || a === null || record.handled !== a.id) return null;
  const o = record.outcomes[a.install];
  if (a.install === 'factory') return { state: 'committed', reason: null };
  return o === undefined ? null : { state: o.state, reason: o.state === 'failed' ? o.reason : null };
}

const ANNOUNCED_FILE = 'fallback-announced.json';

/** Raises once, in the daemon that runs after it, the alert of a fallback the launcher made. */
export function announceFallback(fw: FirmwareDir, alert: (message: string) => void): void {
  const fell = [...(fw.boot()?.events ?? [])].reverse().find((e) => e.kind === 'fell-back');
  if (fell === undefined) return;
  const file = join(fw.root, ANNOUNCED_FILE);
  const seen = readJson(file) as { at?: number } | undefined;
  if (seen?.at === fell.at) return;
  alert(`firmware fallback: ${fell.message}`);
  writeJsonAtomic(file, { at: fell.at });
}
