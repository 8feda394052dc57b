import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addMonths, addYears, compareDates, dateOfEpochMs, daysBetween, daysInMonth, formatDate, isDate,
  maxDate, minDate, parseDate,
} from './calendar.js';

describe('parseDate', () => {
  const rows: readonly { text: string; valid: boolean; why: string }[] = [
    { text: '2025-01-01', valid: true, why: 'a plain day' },
    { text: '2025-12-31', valid: true, why: 'the last day of the year' },
    { text: '2025-02-28', valid: true, why: 'February in a common year' },
    { text: '2025-02-29', valid: false, why: '2025 is no leap year' },
    { text: '2024-02-29', valid: true, why: '2024 is a leap year' },
    { text: '2100-02-29', valid: false, why: 'a century year not divisible by 400 is common' },
    { text: '2000-02-29', valid: true, why: 'a century year divisible by 400 is a leap year' },
    { text: '2024-02-30', valid: false, why: 'no February 30th' },
    { text: '2025-04-31', valid: false, why: 'April has 30 days' },
    { text: '2025-04-30', valid: true, why: 'the last day of April' },
    { text: '2025-13-01', valid: false, why: 'month 13' },
    { text: '2025-00-10', valid: false, why: 'month 0' },
    { text: '2025-01-00', valid: false, why: 'day 0' },
    { text: '2025-01-32', valid: false, why: 'day 32' },
    { text: '2025-1-01', valid: false, why: 'one-digit month' },
    { text: '2025-01-1', valid: false, why: 'one-digit day' },
    { text: '25-01-01', valid: false, why: 'two-digit year' },
    { text: '+02025-01-01', valid: false, why: 'expanded year' },
    { text: '2025/01/01', valid: false, why: 'slashes' },
    { text: '2025-01-01T00:00:00Z', valid: false, why: 'a time, not a day' },
    { text: ' 2025-01-01', valid: false, why: 'leading space' },
    { text: '2025-01-01\n', valid: false, why: 'trailing newline' },
    { text: '２０２５-01-01', valid: false, why: 'non-ASCII digits' },
    { text: '0000-01-01', valid: true, why: 'the first day four digits can write' },
    { text: '9999-12-31', valid: true, why: 'the last day four digits can write' },
  ];
  for (const row of rows) {
    it(`${row.valid ? 'accepts' : 'refuses'} ${JSON.stringify(row.text)}: ${row.why}`, () => {
      assert.equal(isDate(row.text), row.valid);
      const date = parseDate(row.text);
      if (row.valid) assert.equal(formatDate(date!), row.text);
      else assert.equal(date, null);
    });
  }

  it('formatDate pads and refuses a day that does not exist', () => {
    assert.equal(formatDate({ y: 7, m: 3, d: 9 }), '0007-03-09');
    assert.throws(() => formatDate({ y: 2025, m: 2, d: 29 }), RangeError);
    assert.throws(() => formatDate({ y: 10000, m: 1, d: 1 }), RangeError);
    assert.throws(() => formatDate({ y: 2025, m: 1.5, d: 1 }), RangeError);
  });
});

describe('addMonths and addYears: clamped to the end of the target month', () => {
  const months: readonly { date: string; n: number; expected: string; why: string }[] = [
    { date: '2025-01-15', n: 1, expected: '2025-02-15', why: 'a mid-month day stays' },
    { date: '2025-01-31', n: 1, expected: '2025-02-28', why: 'Jan 31 + 1 → the end of a common February' },
    { date: '2024-01-31', n: 1, expected: '2024-02-29', why: 'Jan 31 + 1 → the end of a leap February' },
    { date: '2025-08-31', n: 6, expected: '2026-02-28', why: 'Aug 31 + 6 → the next February' },
    { date: '2025-03-31', n: 1, expected: '2025-04-30', why: 'into a 30-day month' },
    { date: '2025-05-31', n: -1, expected: '2025-04-30', why: 'backwards into a 30-day month' },
    { date: '2025-03-31', n: -1, expected: '2025-02-28', why: 'backwards into February' },
    { date: '2025-11-30', n: 2, expected: '2026-01-30', why: 'across the year boundary' },
    { date: '2025-12-31', n: 1, expected: '2026-01-31', why: 'December to January' },
    { date: '2026-01-31', n: -1, expected: '2025-12-31', why: 'January back to December' },
    { date: '2025-01-01', n: -13, expected: '2023-12-01', why: 'more than a year back' },
    { date: '2025-06-15', n: 0, expected: '2025-06-15', why: 'zero months' },
    { date: '2099-12-31', n: 2, expected: '2100-02-28', why: '2100 is no leap year' },
    { date: '1999-12-31', n: 2, expected: '2000-02-29', why: '2000 is a leap year' },
    { date: '2025-02-28', n: 1, expected: '2025-03-28', why: 'a clamped day is not "the end of the month" afterwards' },
  ];
  for (const row of months) {
    it(`${row.date} ${row.n >= 0 ? '+' : '−'} ${Math.abs(row.n)} months = ${row.expected}: ${row.why}`, () => {
      assert.equal(addMonths(row.date, row.n), row.expected);
    });
  }

  const years: readonly { date: string; n: number; expected: string; why: string }[] = [
    { date: '2024-02-29', n: 1, expected: '2025-02-28', why: 'a leap day into a common year' },
    { date: '2024-02-29', n: 4, expected: '2028-02-29', why: 'a leap day into a leap year' },
    { date: '2096-02-29', n: 4, expected: '2100-02-28', why: '2100 is no leap year' },
    { date: '2096-02-29', n: 104, expected: '2200-02-28', why: 'nor is 2200' },
    { date: '1996-02-29', n: 4, expected: '2000-02-29', why: '2000 is' },
    { date: '2026-01-15', n: 3, expected: '2029-01-15', why: 'three years' },
    { date: '2026-12-31', n: 1, expected: '2027-12-31', why: 'the last day of the year' },
    { date: '2028-02-29', n: -4, expected: '2024-02-29', why: 'backwards' },
  ];
  for (const row of years) {
    it(`${row.date} ${row.n >= 0 ? '+' : '−'} ${Math.abs(row.n)} years = ${row.expected}: ${row.why}`, () => {
      assert.equal(addYears(row.date, row.n), row.expected);
    });
  }

  it('refuses an invalid date, a fractional count and a result beyond 9999', () => {
    assert.throws(() => addMonths('2025-02-29', 1), /"2025-02-29" is not a date/);
    assert.throws(() => addMonths('2025-01-01', 1.5), /whole number/);
    assert.throws(() => addYears('2025-01-01', 0.5), /whole number/);
    assert.throws(() => addYears('9999-06-01', 1), /outside years 0000–9999/);
    assert.throws(() => addMonths('0000-01-01', -1), /outside years 0000–9999/);
  });
});

describe('compareDates, maxDate, minDate, daysBetween', () => {
  it('compare days', () => {
    assert.equal(compareDates('2025-01-31', '2025-02-01'), -1);
    assert.equal(compareDates('2025-02-01', '2025-01-31'), 1);
    assert.equal(compareDates('2025-02-01', '2025-02-01'), 0);
    assert.equal(compareDates('2024-12-31', '2025-01-01'), -1);
    assert.throws(() => compareDates('2025-02-29', '2025-03-01'), RangeError);
  });

  it('take the latest and the earliest', () => {
    assert.equal(maxDate('2025-01-01'), '2025-01-01');
    assert.equal(maxDate('2025-01-01', '2027-03-01', '2026-12-31'), '2027-03-01');
    assert.equal(minDate('2025-01-01', '2027-03-01', '2024-12-31'), '2024-12-31');
    assert.throws(() => maxDate('2025-02-29'), RangeError);
    assert.throws(() => maxDate('2025-01-01', 'soon'), RangeError);
  });

  const rows: readonly { a: string; b: string; days: number; why: string }[] = [
    { a: '2025-01-01', b: '2025-01-01', days: 0, why: 'the same day' },
    { a: '2025-02-28', b: '2025-03-01', days: 1, why: 'over the end of a common February' },
    { a: '2024-02-28', b: '2024-03-01', days: 2, why: 'over a leap day' },
    { a: '2025-03-01', b: '2025-02-28', days: -1, why: 'backwards is negative' },
    { a: '2024-12-31', b: '2025-01-01', days: 1, why: 'over the year boundary' },
    { a: '2025-01-01', b: '2026-01-01', days: 365, why: 'a common year' },
    { a: '2024-01-01', b: '2025-01-01', days: 366, why: 'a leap year' },
    { a: '2100-01-01', b: '2101-01-01', days: 365, why: '2100 is common' },
    { a: '2000-01-01', b: '2001-01-01', days: 366, why: '2000 is a leap year' },
    { a: '2000-01-01', b: '2400-01-01', days: 146_097, why: 'one 400-year era' },
    { a: '1970-01-01', b: '2026-01-15', days: 20_468, why: 'from the epoch' },
  ];
  for (const row of rows) {
    it(`daysBetween(${row.a}, ${row.b}) = ${row.days}: ${row.why}`, () => {
      assert.equal(daysBetween(row.a, row.b), row.days);
    });
  }
});

describe('dateOfEpochMs', () => {
  const DAY = 86_400_000;
  const rows: readonly { ms: number; expected: string; why: string }[] = [
    { ms: 0, expected: '1970-01-01', why: 'the epoch' },
    { ms: DAY - 1, expected: '1970-01-01', why: 'the last millisecond of the first day' },
    { ms: DAY, expected: '1970-01-02', why: 'midnight starts the next day' },
    { ms: -1, expected: '1969-12-31', why: 'before the epoch rounds down, not towards zero' },
    { ms: -DAY, expected: '1969-12-31', why: 'exactly one day before' },
    { ms: -DAY - 1, expected: '1969-12-30', why: 'just over one day before' },
    { ms: 951_782_400_000, expected: '2000-02-29', why: 'a century leap day' },
    { ms: 1_709_164_800_000, expected: '2024-02-29', why: 'a leap day' },
    { ms: 1_735_689_599_999, expected: '2024-12-31', why: 'the last millisecond of 2024' },
    { ms: 1_735_689_600_000, expected: '2025-01-01', why: 'the first of 2025' },
    { ms: 4_107_542_400_000, expected: '2100-03-01', why: 'the day after 2100-02-28' },
    { ms: 1.5, expected: '1970-01-01', why: 'a fractional millisecond' },
  ];
  for (const row of rows) {
    it(`${row.ms} ms → ${row.expected}: ${row.why}`, () => {
      assert.equal(dateOfEpochMs(row.ms), row.expected);
    });
  }

  it('refuses what is not a time', () => {
    assert.throws(() => dateOfEpochMs(Number.NaN), RangeError);
    assert.throws(() => dateOfEpochMs(Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => dateOfEpochMs(253_402_300_800_000), /outside years 0000–9999/); // 10000-01-01
  });
});

describe('properties', () => {
  // Years 0000–9999: Date's own range covers it, so Date can serve as the oracle.
  // Date.UTC maps years 0–99 to 1900–1999, so the first day is set with setUTCFullYear.
  const FIRST = new Date(0);
  FIRST.setUTCFullYear(0, 0, 1);
  FIRST.setUTCHours(0, 0, 0, 0);
  const LAST = new Date(0);
  LAST.setUTCFullYear(9999, 11, 31);
  LAST.setUTCHours(23, 59, 59, 999);

  const oracle = (ms: number) => {
    const d = new Date(ms);
    const y = d.getUTCFullYear();
    return `${String(y).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
  };
  const epochMs = fc.integer({ min: FIRST.getTime(), max: LAST.getTime() });
  const date = epochMs.map((ms) => oracle(ms));

  it('dateOfEpochMs agrees with Date for every millisecond of years 0000–9999', () => {
    fc.assert(fc.property(epochMs, (ms) => {
      assert.equal(dateOfEpochMs(ms), oracle(ms));
    }), { numRuns: 2000 });
    assert.equal(dateOfEpochMs(FIRST.getTime()), '0000-01-01');
    assert.equal(dateOfEpochMs(LAST.getTime()), '9999-12-31');
  });

  it('daysBetween agrees with Date', () => {
    fc.assert(fc.property(date, date, (a, b) => {
      assert.equal(daysBetween(a, b), (Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
    }), { numRuns: 1000 });
  });

  it('addMonths yields a real day, in the target month, no later in it than the original day', () => {
    const inner = epochMs.filter((ms) => {
      const y = new Date(ms).getUTCFullYear();
      return y >= 100 && y <= 9899;
    }).map(oracle);
    fc.assert(fc.property(inner, fc.integer({ min: -1200, max: 1200 }), (start, n) => {
      const result = addMonths(start, n);
      const a = parseDate(start)!;
      const r = parseDate(result);
      assert.notEqual(r, null, `${start} + ${n} months gave ${result}`);
      // Exactly n months apart as (year, month) …
      assert.equal((r!.y * 12 + r!.m) - (a.y * 12 + a.m), n);
      // … on the same day, or the last day of a shorter month.
      assert.equal(r!.d, Math.min(a.d, daysInMonth(r!.y, r!.m)));
      // So it moved in the direction asked, by no more than n months of 31 days.
      const days = daysBetween(start, result);
      assert.equal(Math.sign(days), Math.sign(n), `${start} + ${n} months = ${result}`);
      assert.ok(Math.abs(days) <= 31 * Math.abs(n));
    }), { numRuns: 1000 });
  });

  it('addYears(d, n) is addMonths(d, 12·n)', () => {
    fc.assert(fc.property(date.filter((d) => d >= '0100' && d < '9900'), fc.integer({ min: -99, max: 99 }), (d, n) => {
      assert.equal(addYears(d, n), addMonths(d, 12 * n));
    }));
  });
});
