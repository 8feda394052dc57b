/**
 * Strict semantic versions (SemVer 2.0.0, https://semver.org): MAJOR.MINOR.PATCH, no leading
 * zeros, an optional `-prerelease` of dot-separated identifiers, an optional `+build` that is
 * accepted and ignored (it carries no precedence). Firmware versions decide upgrades, downgrades
 * and support ends, so anything looser ("v1.2", "1.2", "01.2.3") is refused rather than guessed.
 *
 * Numbers above Number.MAX_SAFE_INTEGER are refused too: they could not be compared exactly.
 */

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers in order: numeric ones as numbers, the others as strings. Empty for a release. */
  readonly prerelease: readonly (string | number)[];
}

const NUMBER = '0|[1-9]\\d*';
/** A pre-release identifier: a number without leading zero, or alphanumerics with at least one non-digit. */
const PRE_ID = `(?:${NUMBER}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const BUILD_ID = '[0-9A-Za-z-]+';
const VERSION = new RegExp(
  `^(${NUMBER})\\.(${NUMBER})\\.(${NUMBER})` +
  `(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?` +
  `(?:\\+${BUILD_ID}(?:\\.${BUILD_ID})*)?$`,
);

function safeNumber(digits: string): number | null {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : null;
}

/** The version `text` denotes, or null when it is not a strict semantic version. */
export function parseVersion(text: string): Version | null {
  const m = VERSION.exec(text);
  if (m === null) return null;
  const major = safeNumber(m[1] ?? '');
  const minor = safeNumber(m[2] ?? '');
  const patch = safeNumber(m[3] ?? '');
  if (major === null || minor === null || patch === null) return null;
  const prerelease: (string | number)[] = [];
  if (m[4] !== undefined) {
    for (const id of m[4].split('.')) {
      if (/^\d+$/.test(id)) {
        const n = safeNumber(id);
        if (n === null) return null;
        prerelease.push(n);
      } else {
        prerelease.push(id);
      }
    }
  }
  return { major, minor, patch, prerelease };
}

export function isVersion(text: string): boolean {
  return parseVersion(text) !== null;
}

/** The canonical text of a version (without build metadata, which parsing drops). */
export function formatVersion(v: Version): string {
  const core = `${v.major}.${v.minor}.${v.patch}`;
  return v.prerelease.length === 0 ? core : `${core}-${v.prerelease.join('.')}`;
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** SemVer §11: numeric identifiers compare numerically and rank below alphanumeric ones, which compare in ASCII order. */
function compareIdentifiers(a: string | number, b: string | number): -1 | 0 | 1 {
  if (typeof a === 'number' && typeof b === 'number') return sign(a - b);
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  // The identifier alphabet is ASCII, so UTF-16 code unit order is ASCII order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** SemVer 2.0.0 precedence of two parsed versions: −1 when a < b, 0 when equal, 1 when a > b. */
export function compareParsed(a: Version, b: Version): -1 | 0 | 1 {
  const core = sign(a.major - b.major) || sign(a.minor - b.minor) || sign(a.patch - b.patch);
  if (core !== 0) return core;
  // A pre-release ranks below its release: 1.0.0-rc.1 < 1.0.0.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return sign(b.prerelease.length - a.prerelease.length);
  }
  const n = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < n; i++) {
    const c = compareIdentifiers(a.prerelease[i] ?? 0, b.prerelease[i] ?? 0);
    if (c !== 0) return c;
  }
  // Equal so far: the longer set of identifiers ranks higher (1.0.0-alpha < 1.0.0-alpha.1).
  return sign(a.prerelease.length - b.prerelease.length);
}

function parseOrThrow(text: string): Version {
  const v = parseVersion(text);
  if (v === null) throw new Error(`"${text}" is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE])`);
  return v;
}

/**
 * SemVer 2.0.0 precedence of two version texts: −1 when a < b, 0 when equal (build metadata
 * ignored), 1 when a > b. Throws on an invalid version: callers validate what they read first
 * (a manifest, a state file), so an invalid version here is a bug, not an input to judge.
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  return compareParsed(parseOrThrow(a), parseOrThrow(b));
}
