/**
 * Firmware slots on disk (SPEC §4). Under `<state_dir>/firmware/`:
 *
 *   slots/<N>/slot.json   what the slot holds: the verified manifest, its bundle, when and how
 *   slots/<N>/tree/       the unpacked payload: a built Tandem (package.json, dist/, node_modules/…)
 *   staging/<id>/         an installation being received; never booted, removed at start
 *   boot.json             the launcher's record (core/firmware/boot.ts), written by the launcher only
 *   next.json             the operator's "After reboot" choice, written by the firmware service only
 *   snapshots/<install>.json   the configuration as the node last ran it under that installation (the launcher's)
 *
 * A slot appears whole or not at all: the payload and slot.json are written and fsynced inside a
 * staging directory, which is then renamed to `slots/<N>` in one step. A slot is deleted the same
 * way backwards (renamed into staging, then removed), so a power cut never leaves half a slot
 * where the launcher could boot it. Slot 0 is the factory firmware, the installation the node
 * runs from; it is not a directory here.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Activation, BootRecord, SlotRef } from '../../core/firmware/boot.js';
import type { Manifest } from '../../core/firmware/types.js';
import { readJson, writeJsonAtomic } from '../state/store.js';

/** Slots 1…SLOT_COUNT hold uploaded firmware (the appliance has five). */
export const SLOT_COUNT = 5;

export interface SlotInfo {
  readonly version: 1;
  readonly slot: number;
  readonly install: string;
  readonly manifest: Manifest;
  /** The key the bundle was signed with. */
  readonly key_id: string;
  readonly bundle: {
    readonly sha256: string;
    readonly bytes: number;
    /** File name of the bundle in the replicated firmware store, or null when not kept. */
    readonly stored_as: string | null;
  };
  /** ISO 8601. */
  readonly installed_at: string;
  /** How it got here: uploaded on this node, or replicated from the primary. */
  readonly origin: 'upload' | 'replicated';
}

export class FirmwareDir {
  readonly root: string;
  readonly slotsDir: string;
  readonly stagingDir: string;
  readonly snapshotsDir: string;
  readonly bootFile: string;
  readonly nextFile: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, 'firmware');
    this.slotsDir = join(this.root, 'slots');
    this.stagingDir = join(this.root, 'staging');
    this.snapshotsDir = join(this.root, 'snapshots');
    this.bootFile = join(this.root, 'boot.json');
    this.nextFile = join(this.root, 'next.json');
  }

  /** Creates the directories and removes what interrupted installations and deletions left. */
  prepare(): string[] {
    for (const d of [this.root, this.slotsDir, this.stagingDir, this.snapshotsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const leftovers = readdirSync(this.stagingDir);
    for (const name of leftovers) rmSync(join(this.stagingDir, name), { recursive: true, force: true });
    return leftovers;
  }

  slotDir(slot: number): string { return join(this.slotsDir, String(slot)); }
  /** The firmware tree a slot boots (slot 0: the caller's installation). */
  treeOf(slot: number): string { return join(this.slotDir(slot), 'tree'); }

  /** The slot's record, or null when the slot is empty (or not readable as a slot). */
  slot(slot: number): SlotInfo | null {
    if (!Number.isInteger(slot) || slot < 1 || slot > SLOT_COUNT) return null;
    try {
      const info = readJson(join(this.slotDir(slot), 'slot.json')) as SlotInfo | undefined;
      return info?.version === 1 && info.slot === slot ? info : null;
    } catch {
      return null;
    }
  }

  slots(): SlotInfo[] {
    const out: SlotInfo[] = [];
    for (let n = 1; n <= SLOT_COUNT; n += 1) {
      const s = this.slot(n);
      if (s !== null) out.push(s);
    }
    return out;
  }

  /** Whether the slot holds exactly this installation (slot 0 always holds the factory firmware). */
  holds(ref: SlotRef): boolean {
    return ref.slot === 0 ? ref.install === 'factory' : this.slot(ref.slot)?.install === ref.install;
  }

  freeSlot(): number | null {
    for (let n = 1; n <= SLOT_COUNT; n += 1) if (!existsSync(this.slotDir(n))) return n;
    return null;
  }

  /**
   * A fresh staging directory for an installation; `tree/` inside it (not created: the payload
   * sink creates it) receives the payload.
   */
  newStaging(): { readonly dir: string; readonly tree: string; readonly install: string } {
    const install = randomBytes(8).toString('hex');
    const dir = join(this.stagingDir, install);
    mkdirSync(dir, { mode: 0o755 });
    return { dir, tree: join(dir, 'tree'), install };
  }

  /**
   * Makes a complete staging directory the slot's content in one rename. The payload must be
   * fsynced already; slot.json is written (atomically) here, then both directories are fsynced.
   */
  commitStaging(staging: { readonly dir: string }, info: SlotInfo): void {
    const target = this.slotDir(info.slot);
    if (existsSync(target)) throw new Error(`slot ${info.slot} is not empty`);
    writeJsonAtomic(join(staging.dir, 'slot.json'), info);
    renameSync(staging.dir, target);
    fsyncDir(this.slotsDir);
    fsyncDir(this.stagingDir);
  }

  /** Empties a slot: one rename out of sight, then the removal. */
  remove(slot: number): void {
    const dir = this.slotDir(slot);
    if (!existsSync(dir)) return;
    const aside = join(this.stagingDir, `deleted-${String(slot)}-${randomBytes(4).toString('hex')}`);
    renameSync(dir, aside);
    fsyncDir(this.slotsDir);
    rmSync(aside, { recursive: true, force: true });
  }

  boot(): BootRecord | null {
    const r = readJson(this.bootFile) as BootRecord | undefined;
    return r?.version === 1 ? r : null;
  }

  writeBoot(record: BootRecord): void { writeJsonAtomic(this.bootFile, record); }

  activation(): Activation | null {
    return (readJson(this.nextFile) as Activation | undefined) ?? null;
  }

  writeActivation(a: Activation): void { writeJsonAtomic(this.nextFile, a); }

  /** `{ activation, schema, text, at }`, written and read by the launcher. */
  snapshotFile(install: string): string { return join(this.snapshotsDir, `${install}.json`); }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
