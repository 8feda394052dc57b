/**
 * UTC calendar days as `YYYY-MM-DD` strings, with integer arithmetic only: the core has no clock
 * and constructs no Date, so support ends are computed from the dates in manifests and the day
 * the shell passes in (`dateOfEpochMs` of its wall clock).
 *
 * The calendar is the proleptic Gregorian one, years 0000–9999 (what four digits can write).
 * Functions taking date texts throw on an invalid one, as compareVersions does: callers validate
 * what they read first (parseDate / isDate), so an invalid date here is a bug.
 */

export interface CalendarDate {
  readonly y: number;
  /** 1–12. */
  readonly m: number;
  /** 1–31, within the month. */
  readonly d: number;
}

const MIN_YEAR = 0;
const MAX_YEAR = 9999;
const MS_PER_DAY = 86_400_000;

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function isValid(date: CalendarDate): boolean {
  const { y, m, d } = date;
  return Number.isInteger(y) && Number.isInteger(m) && Number.isInteger(d) &&
    y >= MIN_YEAR && y <= MAX_YEAR && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** The date `text` denotes, or null unless it is exactly `YYYY-MM-DD` and a real day (2025-02-29 is not). */
export function parseDate(text: string): CalendarDate | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) return null;
  const date = { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
  return isValid(date) ? date : null;
}

export function isDate(text: string): boolean {
  return parseDate(text) !== null;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** `YYYY-MM-DD`; throws a RangeError for a day that does not exist or a year outside 0000–9999. */
export function formatDate(date: CalendarDate): string {
  if (!isValid(date)) throw new RangeError(`not a calendar day: ${JSON.stringify(date)}`);
  return `${pad(date.y, 4)}-${pad(date.m, 2)}-${pad(date.d, 2)}`;
}

function parseOrThrow(text: string): CalendarDate {
  const date = parseDate(text);
  if (date === null) throw new RangeError(`"${text}" is not a date (YYYY-MM-DD, a real day)`);
  return date;
}

function wholeNumber(n: number, what: string): void {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} must be a whole number, got ${n}`);
}

/**
 * `date` moved by `n` calendar months (n may be negative). A day the target month does not have
 * becomes its last day — 2025-01-31 + 1 month = 2025-02-28 — the usual reading of "one month
 * after the 31st": it stays in the target month rather than spilling into the next.
 */
export function addMonths(date: string, n: number): string {
  wholeNumber(n, 'a number of months');
  const { y, m, d } = parseOrThrow(date);
  const index = y * 12 + (m - 1) + n;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  if (year < MIN_YEAR || year > MAX_YEAR) throw new RangeError(`${date} + ${n} months is outside years 0000–9999`);
  return formatDate({ y: year, m: month, d: Math.min(d, daysInMonth(year, month)) });
}

/** `date` moved by `n` years: 12·n months, so 2024-02-29 + 1 year = 2025-02-28 (+ 4 years = 2028-02-29). */
export function addYears(date: string, n: number): string {
  wholeNumber(n, 'a number of years');
  return addMonths(date, n * 12);
}

/** −1 when a is before b, 0 on the same day, 1 when a is after b. */
export function compareDates(a: string, b: string): -1 | 0 | 1 {
  parseOrThrow(a);
  parseOrThrow(b);
  // Fixed-width, zero-padded, most significant field first: text order is date order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The latest of the dates. */
export function maxDate(first: string, ...rest: readonly string[]): string {
  let latest = first;
  parseOrThrow(first);
  for (const date of rest) if (compareDates(date, latest) > 0) latest = date;
  return latest;
}

/** The earliest of the dates. */
export function minDate(first: string, ...rest: readonly string[]): string {
  let earliest = first;
  parseOrThrow(first);
  for (const date of rest) if (compareDates(date, earliest) < 0) earliest = date;
  return earliest;
}

/**
 * Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil): the year is counted
 * from March, so the leap day is the last day of its year and the day of the year follows from
 * the month by one linear formula; 400-year eras of 146 097 days absorb the century rules.
 */
function daysFromCivil({ y: year, m, d }: CalendarDate): number {
  const y = m <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400; // [0, 399]
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1; // [0, 365]
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy; // [0, 146096]
  return era * 146_097 + doe - 719_468;
}

/** The inverse of daysFromCivil (H. Hinnant's civil_from_days). */
function civilFromDays(days: number): CalendarDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097; // [0, 146096]
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365); // [0, 399]
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // [0, 365]
  const mp = Math.floor((5 * doy + 2) / 153); // [0, 11], March = 0
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

/**
 * The UTC day of a wall-clock time in milliseconds since the Unix epoch, as the shell reads it
 * (`Date.now()`); the core never reads a clock itself.
 */
export function dateOfEpochMs(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${ms}`);
  const date = civilFromDays(Math.floor(ms / MS_PER_DAY));
  if (date.y < MIN_YEAR || date.y > MAX_YEAR) throw new RangeError(`${ms} ms is outside years 0000–9999`);
  return formatDate(date);
}

/** Days from `a` to `b`: positive when b is later (2025-02-28 → 2025-03-01 is 1). */
export function daysBetween(a: string, b: string): number {
  return daysFromCivil(parseOrThrow(b)) - daysFromCivil(parseOrThrow(a));
}
