/**
 * The license (SPEC §5), judged purely: the fields a vendor signs, whether a license is valid on
 * a day, what the System Monitor and the alerts warn about ahead of its end, and whether it covers
 * an LTS firmware release. Days are UTC calendar days (`YYYY-MM-DD`); the caller passes the time.
 */
import { compareDates, dateOfEpochMs, daysBetween, isDate } from './firmware/calendar.js';

export const LIMIT_TYPES = ['hosts', 'sessions'] as const;
export type LimitType = (typeof LIMIT_TYPES)[number];

/** What a license says, as signed. */
export interface LicenseFields {
  readonly customer: string;
  readonly serial: string;
  readonly limit_type: LimitType;
  readonly limit: number;
  /** First and last day the license is valid on (both included). */
  readonly valid_from: string;
  readonly valid_to: string;
  /**
   * The LTS release lines the license is issued for, each `MAJOR.MINOR` ("2.4" covers every
   * 2.4.x LTS release). A Feature Release needs no such entry; an LTS release does.
   */
  readonly lts_releases: readonly string[];
}

export const LTS_LINE = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

export type LicenseState =
  | { readonly kind: 'valid'; readonly daysLeft: number }
  | { readonly kind: 'not-yet-valid'; readonly daysUntil: number }
  | { readonly kind: 'expired'; readonly daysAgo: number };

/** Whether the license is valid on the day of `nowMs`. */
export function licenseState(l: Pick<LicenseFields, 'valid_from' | 'valid_to'>, nowMs: number): LicenseState {
  const today = dateOfEpochMs(nowMs);
  if (compareDates(today, l.valid_from) < 0) return { kind: 'not-yet-valid', daysUntil: daysBetween(today, l.valid_from) };
  if (compareDates(today, l.valid_to) > 0) return { kind: 'expired', daysAgo: daysBetween(l.valid_to, today) };
  return { kind: 'valid', daysLeft: daysBetween(today, l.valid_to) };
}

/**
 * What to warn about (the System Monitor's issues, the alerts): an expired license, one not yet
 * valid, one ending within `warnDays`. Nothing for a license well within its validity, nor for
 * no license at all (the caller decides whether one is required).
 */
export function licenseWarnings(l: LicenseFields | null, nowMs: number, warnDays: number): string[] {
  if (l === null) return [];
  const s = licenseState(l, nowMs);
  switch (s.kind) {
    case 'expired': return [`the license (serial ${l.serial}) expired on ${l.valid_to}, ${plural(s.daysAgo, 'day')} ago: install a renewed license (tandem license install)`];
    case 'not-yet-valid': return [`the license (serial ${l.serial}) is valid only from ${l.valid_from} (in ${plural(s.daysUntil, 'day')})`];
    case 'valid':
      return s.daysLeft <= warnDays
        ? [`the license (serial ${l.serial}) expires on ${l.valid_to}, in ${plural(s.daysLeft, 'day')}: renew it`]
        : [];
  }
}

/** `2.4` for `2.4.1` (null for text that is no version). */
export function releaseLine(version: string): string | null {
  const m = /^(\d+)\.(\d+)\.\d+/.exec(version);
  return m === null ? null : `${m[1] ?? ''}.${m[2] ?? ''}`;
}

/** Firmware Test's license check: an LTS release needs a valid license issued for its line. */
export function licenseCovers(
  l: LicenseFields | null, target: { readonly version: string; readonly type: string }, nowMs: number,
): { readonly status: 'pass' | 'fail' | 'skip'; readonly message: string } {
  if (target.type !== 'lts') {
    if (l === null) return { status: 'skip', message: `Tandem ${target.version} is a Feature Release: it needs no license, and none is installed` };
    const s = licenseState(l, nowMs);
    return s.kind === 'valid'
      ? { status: 'pass', message: `Tandem ${target.version} is a Feature Release; the license (serial ${l.serial}) is valid until ${l.valid_to}` }
      : { status: 'pass', message: `Tandem ${target.version} is a Feature Release: it needs no license (the installed one is ${s.kind === 'expired' ? `expired since ${l.valid_to}` : `valid only from ${l.valid_from}`})` };
  }
  const line = releaseLine(target.version);
  if (l === null) return { status: 'fail', message: `Tandem ${target.version} is an LTS release: it needs a license issued for LTS ${line ?? target.version}, and no license is installed` };
  const s = licenseState(l, nowMs);
  if (s.kind === 'expired') return { status: 'fail', message: `Tandem ${target.version} is an LTS release: the license (serial ${l.serial}) expired on ${l.valid_to}` };
  if (s.kind === 'not-yet-valid') return { status: 'fail', message: `Tandem ${target.version} is an LTS release: the license (serial ${l.serial}) is valid only from ${l.valid_from}` };
  if (line === null || !l.lts_releases.includes(line)) {
    const issued = l.lts_releases.length === 0 ? 'no LTS release' : `LTS ${l.lts_releases.join(', ')}`;
    return { status: 'fail', message: `Tandem ${target.version} is an LTS release: the license (serial ${l.serial}) is issued for ${issued}, not for LTS ${line ?? target.version}` };
  }
  return { status: 'pass', message: `the license (serial ${l.serial}, ${l.customer}) is issued for LTS ${line} and valid until ${l.valid_to}` };
}

/** Field-level problems of license fields (beyond their types); empty when fine. */
export function fieldProblems(l: LicenseFields): string[] {
  const out: string[] = [];
  if (!isDate(l.valid_from)) out.push(`valid_from: ${l.valid_from} is not a date (YYYY-MM-DD)`);
  if (!isDate(l.valid_to)) out.push(`valid_to: ${l.valid_to} is not a date (YYYY-MM-DD)`);
  if (out.length === 0 && compareDates(l.valid_from, l.valid_to) > 0) out.push(`valid_to: ${l.valid_to} is before valid_from ${l.valid_from}`);
  for (const r of l.lts_releases) if (!LTS_LINE.test(r)) out.push(`lts_releases: ${r} is not a release line (MAJOR.MINOR, e.g. 2.4)`);
  return out;
}

const plural = (n: number, what: string): string => `${String(n)} ${what}${n === 1 ? '' : 's'}`;
