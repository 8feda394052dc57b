/**
 * Which firmware this process is: the slot the launcher started it from (TANDEM_FIRMWARE_SLOT
 * and TANDEM_FIRMWARE_INSTALL), that slot's manifest, or the factory firmware (slot 0, this
 * installation's package.json version) when run without a launcher or from slot 0.
 */
import { FirmwareDir, type SlotInfo } from '../../adapters/firmware/slots.js';
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
