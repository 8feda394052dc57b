/**
 * The appliance's release policy (SPEC §4): how long a release is supported, whether a node is
 * supported today, and which firmware may be installed over which.
 *
 * Support end (the last supported day, inclusive):
 * - LTS: max(published + 3 years, next LTS published + 1 year). The "next LTS" is the LTS with
 *   the smallest version above this one among the releases known (the node's own manifest lists
 *   the releases its builder knew of; later bundles tell it more). None known: published + 3 years.
 * - Feature Release: max(published + 6 months, next release published + 2 months), where the
 *   "next release" is the release of any type with the smallest version above this one.
 * - "Only the latest Feature Release is supported" is read as an upgrade window: once a Feature
 *   Release with a higher version is known, this one is supported at most until 2 months after
 *   that later Feature Release was published — the same 2 months the formula grants after the
 *   next release, but as a cap, so it also cuts the 6 months short (a Feature Release superseded
 *   after one month ends 2 months later, not 6 months after its publication). With several later
 *   Feature Releases the earliest published one sets the cap. A later LTS release does not
 *   supersede a Feature Release this way (it only extends the window through the formula): a node
 *   on a Feature Release cannot move to an LTS release (no rollback from a Feature Release to an
 *   LTS release), so its upgrade path is the next Feature Release.
 *
 * Month arithmetic is calendar.ts's: a day the target month lacks becomes its last day (a Feature
 * Release of 2025-08-31 is supported at least until 2026-02-28; an LTS of 2024-02-29 until
 * 2027-02-28).
 *
 * Functions here throw on an invalid version or date (as compareVersions and the calendar do):
 * callers validate manifests and state files when they read them.
 */
import { addMonths, addYears, compareDates, isDate } from './calendar.js';
import { compareVersions, isVersion } from './semver.js';
import type { FirmwareType, Release, ReleaseType } from './types.js';

export interface SupportEnd {
  /** The last day of support, YYYY-MM-DD (UTC), inclusive. */
  readonly end: string;
  /** The rule that set it, for Version details: "LTS: 3 years after 2026-01-15". */
  readonly why: string;
}

const typeName = (type: ReleaseType): string => (type === 'lts' ? 'LTS' : 'Feature Release');

/** Releases above `version`, smallest version first; equal versions by publication (earliest first). */
function later(version: string, known: readonly Release[], type: ReleaseType | null): Release[] {
  return known
    .filter((r) => (type === null || r.type === type) && compareVersions(r.version, version) > 0)
    .sort((a, b) => compareVersions(a.version, b.version) || compareDates(a.published, b.published));
}

function check(release: Release): void {
  if (!isVersion(release.version)) throw new Error(`release "${release.version}": not a semantic version`);
  if (!isDate(release.published)) throw new Error(`release ${release.version}: publication date "${release.published}" is not a date`);
}

/** The later of two candidate ends; on a tie the first (the release's own rule reads simpler). */
function laterEnd(a: SupportEnd, b: SupportEnd | null): SupportEnd {
  return b !== null && compareDates(b.end, a.end) > 0 ? b : a;
}

/** When `release` stops being supported, given the releases known; see the module comment. */
export function supportEnd(release: Release, known: readonly Release[]): SupportEnd {
  check(release);
  for (const r of known) check(r);
  if (release.type === 'lts') {
    const own: SupportEnd = { end: addYears(release.published, 3), why: `LTS: 3 years after ${release.published}` };
    const next = later(release.version, known, 'lts')[0];
    return laterEnd(own, next === undefined ? null : {
      end: addYears(next.published, 1),
      why: `LTS: 1 year after ${next.version} (${next.published}), the next LTS`,
    });
  }
  const own: SupportEnd = { end: addMonths(release.published, 6), why: `Feature Release: 6 months after ${release.published}` };
  const next = later(release.version, known, null)[0];
  const formula = laterEnd(own, next === undefined ? null : {
    end: addMonths(next.published, 2),
    why: `Feature Release: 2 months after ${next.version} (${next.published}), the next release`,
  });
  // Only the latest Feature Release is supported: the earliest published later one caps the end.
  const laterFeatures = later(release.version, known, 'feature');
  const nextFeature = laterFeatures[0];
  if (nextFeature === undefined) return formula;
  const superseding = laterFeatures.reduce((a, b) => (compareDates(b.published, a.published) < 0 ? b : a));
  const cap: SupportEnd = {
    end: addMonths(superseding.published, 2),
    why: `Feature Release: 2 months after ${superseding.version} (${superseding.published}), ` +
      `${superseding === nextFeature ? 'the next' : 'a later'} Feature Release`,
  };
  // On a tie the cap is the rule that binds: the formula can never end later than it.
  return compareDates(cap.end, formula.end) <= 0 ? cap : formula;
}

/** The firmware a node runs, as Version details knows it. */
export interface RunningFirmware {
  readonly version: string;
  readonly type: FirmwareType;
  /** YYYY-MM-DD; null for the factory firmware, which has no manifest. */
  readonly published: string | null;
}

export interface SupportStatus {
  readonly supported: boolean;
  /** The last day of support, or null when there is none (factory firmware, downgraded). */
  readonly end: string | null;
  readonly why: string;
}

/**
 * Whether a node running `firmware` is supported on `today` (YYYY-MM-DD, UTC: the shell passes
 * dateOfEpochMs of its wall clock). `downgraded`: an override was recorded on this node (a
 * downgrade, or a Feature Release → LTS move); it voids support for good, whatever it runs since.
 */
export function supportStatus(
  firmware: RunningFirmware,
  known: readonly Release[],
  today: string,
  downgraded: boolean,
): SupportStatus {
  if (!isDate(today)) throw new Error(`today "${today}" is not a date`);
  if (downgraded) return { supported: false, end: null, why: 'unsupported (downgraded)' };
  if (firmware.type === 'factory') {
    return { supported: false, end: null, why: 'factory firmware: not a release; install a signed release' };
  }
  if (firmware.published === null) {
    // Every release's manifest carries its date; without one the support end cannot be known.
    return { supported: false, end: null, why: `${typeName(firmware.type)} ${firmware.version} has no publication date: its support end is unknown` };
  }
  const { end, why } = supportEnd({ version: firmware.version, type: firmware.type, published: firmware.published }, known);
  return compareDates(today, end) <= 0
    ? { supported: true, end, why: `supported until ${end} (${why})` }
    : { supported: false, end, why: `support ended on ${end} (${why})` };
}

/** What the upgrade rules need of the bundle to install. */
export interface UpgradeTarget {
  readonly version: string;
  readonly type: ReleaseType;
  /** The manifest's `min_from`: the lowest version it may be installed over, or null for any. */
  readonly min_from: string | null;
}

export interface UpgradeFlags {
  /** The operator overrides the downgrade rules (recorded for good: support is void afterwards). */
  readonly override: boolean;
  /** The operator asks to install the running version again. */
  readonly reinstall: boolean;
}

export type UpgradeRefusal = 'same-version' | 'downgrade' | 'feature-to-lts' | 'min-from' | 'invalid-version';

export type UpgradeVerdict =
  | {
    readonly ok: true;
    readonly kind: 'upgrade' | 'reinstall' | 'override';
    /** 'downgrade': the caller records the override for good; the node then shows "unsupported (downgraded)". */
    readonly records: 'downgrade' | null;
    readonly message: string;
  }
  | { readonly ok: false; readonly code: UpgradeRefusal; readonly message: string };

const RECORDED = 'the override is recorded for good and this node will show "unsupported (downgraded)"';

/**
 * Whether `target` may be installed over the running firmware `from`, in this order:
 * 1. versions must be semantic versions (the factory firmware's is not read);
 * 2. the factory firmware may move to any release;
 * 3. `min_from`: the running version must be at least the target's minimum — never overridable,
 *    it states what the target's upgrade code (state and data conversions) can start from;
 * 4. Feature Release → LTS is refused, even to a higher version; 5. a lower version is refused;
 *    both are allowed with `override` (kind 'override', records 'downgrade');
 * 6. the same version is refused unless `reinstall`;
 * 7. a higher version is an upgrade.
 * A flag that is not needed changes nothing: an upgrade with `override` set records nothing.
 */
export function checkUpgrade(
  from: { readonly version: string; readonly type: FirmwareType },
  target: UpgradeTarget,
  flags: UpgradeFlags,
): UpgradeVerdict {
  const invalid = (message: string): UpgradeVerdict => ({ ok: false, code: 'invalid-version', message });
  if (!isVersion(target.version)) return invalid(`the firmware to install has an invalid version "${target.version}"`);
  if (target.min_from !== null && !isVersion(target.min_from)) {
    return invalid(`${target.version}: its minimum version to upgrade from "${target.min_from}" is not a semantic version`);
  }
  const to = `${typeName(target.type)} ${target.version}`;

  // The factory firmware is what the node was installed with, not a release: it has no manifest,
  // its version belongs to no release line, so "older" or "newer" means nothing, and min_from
  // speaks of releases the target's upgrade code knows how to start from. Leaving the factory
  // firmware is the first install of a release; whether the configuration carries over is
  // checked separately (Test migrates and validates it under the target).
  if (from.type === 'factory') {
    return { ok: true, kind: 'upgrade', records: null, message: `install ${to} over the factory firmware ${from.version}` };
  }
  if (!isVersion(from.version)) return invalid(`this node runs an invalid version "${from.version}"`);
  const running = `${typeName(from.type)} ${from.version}`;

  if (target.min_from !== null && compareVersions(from.version, target.min_from) < 0) {
    return {
      ok: false, code: 'min-from',
      message: `${target.version} can only be installed over ${target.min_from} or later; this node runs ${from.version}`,
    };
  }
  const cmp = compareVersions(target.version, from.version);
  if (from.type === 'feature' && target.type === 'lts') {
    if (flags.override) {
      return { ok: true, kind: 'override', records: 'downgrade', message: `move from ${running} to ${to} by override: ${RECORDED}` };
    }
    return {
      ok: false, code: 'feature-to-lts',
      message: `no rollback from a Feature Release to an LTS release: this node runs ${running}, ${target.version} is an LTS release ` +
        '(an override is possible; it is recorded and voids support)',
    };
  }
  if (cmp < 0) {
    if (flags.override) {
      return { ok: true, kind: 'override', records: 'downgrade', message: `downgrade from ${running} to ${to} by override: ${RECORDED}` };
    }
    return {
      ok: false, code: 'downgrade',
      message: `${target.version} is older than the running ${from.version}: downgrades are refused ` +
        '(an override is possible; it is recorded and voids support)',
    };
  }
  if (cmp === 0) {
    if (flags.reinstall) return { ok: true, kind: 'reinstall', records: null, message: `reinstall ${to} over the running ${running}` };
    return {
      ok: false, code: 'same-version',
      message: `this node already runs ${from.version}; installing ${target.version} again is a reinstall (ask for it explicitly)`,
    };
  }
  return { ok: true, kind: 'upgrade', records: null, message: `upgrade from ${running} to ${to}` };
}
