import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkUpgrade, supportEnd, supportStatus, type UpgradeFlags, type UpgradeVerdict } from './policy.js';
import type { FirmwareType, Release, ReleaseType } from './types.js';

const lts = (version: string, published: string): Release => ({ version, type: 'lts', published });
const fr = (version: string, published: string): Release => ({ version, type: 'feature', published });

describe('supportEnd: LTS', () => {
  const rows: readonly { name: string; release: Release; known: Release[]; end: string; why: string }[] = [
    { name: 'no later LTS known: 3 years', release: lts('1.0.0', '2026-01-15'), known: [],
      end: '2029-01-15', why: 'LTS: 3 years after 2026-01-15' },
    { name: 'published on a leap day: 3 years later February has 28 days', release: lts('1.0.0', '2024-02-29'), known: [],
      end: '2027-02-28', why: 'LTS: 3 years after 2024-02-29' },
    { name: 'published on the last day of the year', release: lts('1.0.0', '2025-12-31'), known: [],
      end: '2028-12-31', why: 'LTS: 3 years after 2025-12-31' },
    { name: 'the next LTS came late: 1 year after it', release: lts('1.0.0', '2026-01-15'), known: [lts('2.0.0', '2028-06-01')],
      end: '2029-06-01', why: 'LTS: 1 year after 2.0.0 (2028-06-01), the next LTS' },
    { name: 'the next LTS came early: the 3 years stand', release: lts('1.0.0', '2026-01-15'), known: [lts('2.0.0', '2026-06-01')],
      end: '2029-01-15', why: 'LTS: 3 years after 2026-01-15' },
    { name: 'both rules give the same day: the own rule is named', release: lts('1.0.0', '2026-01-15'), known: [lts('2.0.0', '2028-01-15')],
      end: '2029-01-15', why: 'LTS: 3 years after 2026-01-15' },
    { name: 'the next LTS published on a leap day', release: lts('1.0.0', '2025-06-01'), known: [lts('2.0.0', '2028-02-29')],
      end: '2029-02-28', why: 'LTS: 1 year after 2.0.0 (2028-02-29), the next LTS' },
    { name: 'Feature Releases do not extend an LTS', release: lts('1.0.0', '2026-01-15'), known: [fr('1.1.0', '2028-12-01'), fr('1.2.0', '2029-01-10')],
      end: '2029-01-15', why: 'LTS: 3 years after 2026-01-15' },
    { name: 'the next LTS is the smallest version above, not the latest published', release: lts('1.0.0', '2026-01-15'),
      known: [lts('3.0.0', '2030-01-01'), lts('2.0.0', '2028-06-01')],
      end: '2029-06-01', why: 'LTS: 1 year after 2.0.0 (2028-06-01), the next LTS' },
    { name: 'versions compare numerically (1.10.0 is above 1.9.0)', release: lts('1.9.0', '2026-01-15'),
      known: [lts('1.10.0', '2028-07-01'), lts('1.8.0', '2030-01-01')],
      end: '2029-07-01', why: 'LTS: 1 year after 1.10.0 (2028-07-01), the next LTS' },
    { name: 'older LTS releases and the release itself are not "next"', release: lts('2.0.0', '2026-01-15'),
      known: [lts('1.0.0', '2028-01-01'), lts('2.0.0', '2026-01-15')],
      end: '2029-01-15', why: 'LTS: 3 years after 2026-01-15' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(supportEnd(row.release, row.known), { end: row.end, why: row.why });
    });
  }
});

describe('supportEnd: Feature Release', () => {
  const rows: readonly { name: string; release: Release; known: Release[]; end: string; why: string }[] = [
    { name: 'no later release known: 6 months', release: fr('1.1.0', '2026-01-15'), known: [],
      end: '2026-07-15', why: 'Feature Release: 6 months after 2026-01-15' },
    { name: 'published 2025-08-31: 6 months end on the last day of February', release: fr('1.1.0', '2025-08-31'), known: [],
      end: '2026-02-28', why: 'Feature Release: 6 months after 2025-08-31' },
    { name: 'published 2023-08-31: 6 months end on a leap day', release: fr('1.1.0', '2023-08-31'), known: [],
      end: '2024-02-29', why: 'Feature Release: 6 months after 2023-08-31' },
    { name: 'published 2025-12-31: 6 months end in June, on its 30th', release: fr('1.1.0', '2025-12-31'), known: [],
      end: '2026-06-30', why: 'Feature Release: 6 months after 2025-12-31' },
    { name: 'the next release is a late LTS: 2 months after it', release: fr('1.1.0', '2026-01-15'), known: [lts('2.0.0', '2026-06-20')],
      end: '2026-08-20', why: 'Feature Release: 2 months after 2.0.0 (2026-06-20), the next release' },
    { name: 'the next release is an early LTS: the 6 months stand', release: fr('1.1.0', '2026-01-15'), known: [lts('2.0.0', '2026-02-01')],
      end: '2026-07-15', why: 'Feature Release: 6 months after 2026-01-15' },
    { name: 'only the latest Feature Release: an early next one cuts the 6 months to its 2 months',
      release: fr('1.1.0', '2026-01-15'), known: [fr('1.2.0', '2026-03-01')],
      end: '2026-05-01', why: 'Feature Release: 2 months after 1.2.0 (2026-03-01), the next Feature Release' },
    { name: 'a late next Feature Release: 2 months after it (the formula and the cap agree)',
      release: fr('1.1.0', '2026-01-15'), known: [fr('1.2.0', '2026-06-20')],
      end: '2026-08-20', why: 'Feature Release: 2 months after 1.2.0 (2026-06-20), the next Feature Release' },
    { name: 'the next Feature Release on a month end: clamped', release: fr('1.1.0', '2025-12-01'), known: [fr('1.2.0', '2025-12-31')],
      end: '2026-02-28', why: 'Feature Release: 2 months after 1.2.0 (2025-12-31), the next Feature Release' },
    { name: 'the next Feature Release on 2023-12-31: 2 months end on a leap day', release: fr('1.1.0', '2023-10-01'), known: [fr('1.2.0', '2023-12-31')],
      end: '2024-02-29', why: 'Feature Release: 2 months after 1.2.0 (2023-12-31), the next Feature Release' },
    { name: 'published 2025-08-31 and superseded on 2025-12-31: both end 2026-02-28, the cap is named',
      release: fr('1.1.0', '2025-08-31'), known: [fr('1.2.0', '2025-12-31')],
      end: '2026-02-28', why: 'Feature Release: 2 months after 1.2.0 (2025-12-31), the next Feature Release' },
    { name: 'a later LTS, then a later Feature Release long after: the 6 months stand',
      release: fr('1.1.0', '2026-01-15'), known: [lts('2.0.0', '2026-03-01'), fr('2.1.0', '2026-09-01')],
      end: '2026-07-15', why: 'Feature Release: 6 months after 2026-01-15' },
    { name: 'a late LTS extends; a Feature Release after it caps no earlier than that',
      release: fr('1.1.0', '2026-01-15'), known: [lts('2.0.0', '2026-06-20'), fr('2.1.0', '2026-07-01')],
      end: '2026-08-20', why: 'Feature Release: 2 months after 2.0.0 (2026-06-20), the next release' },
    { name: 'a later LTS, then a quick Feature Release: its 2 months cap the LTS extension',
      release: fr('1.1.0', '2026-01-15'), known: [lts('2.0.0', '2026-06-20'), fr('2.1.0', '2026-06-10')],
      end: '2026-08-10', why: 'Feature Release: 2 months after 2.1.0 (2026-06-10), the next Feature Release' },
    { name: 'several later Feature Releases: the earliest published caps (a hotfix after the next line)',
      release: fr('1.1.0', '2026-01-15'), known: [fr('1.1.1', '2026-04-01'), fr('1.2.0', '2026-03-01')],
      end: '2026-05-01', why: 'Feature Release: 2 months after 1.2.0 (2026-03-01), a later Feature Release' },
    { name: 'the hotfix of an older line is itself superseded by the newer line',
      release: fr('1.1.1', '2026-04-01'), known: [fr('1.1.0', '2026-01-15'), fr('1.2.0', '2026-03-01')],
      end: '2026-05-01', why: 'Feature Release: 2 months after 1.2.0 (2026-03-01), the next Feature Release' },
    { name: 'older releases do not count', release: fr('1.2.0', '2026-03-01'), known: [fr('1.1.0', '2026-01-15'), lts('1.0.0', '2025-01-01')],
      end: '2026-09-01', why: 'Feature Release: 6 months after 2026-03-01' },
    { name: 'a pre-release is below its release: 1.2.0 supersedes 1.2.0-rc.1',
      release: fr('1.2.0-rc.1', '2026-02-01'), known: [fr('1.2.0', '2026-03-01')],
      end: '2026-05-01', why: 'Feature Release: 2 months after 1.2.0 (2026-03-01), the next Feature Release' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(supportEnd(row.release, row.known), { end: row.end, why: row.why });
    });
  }

  it('throws on an invalid version or date, in the release or among the known', () => {
    assert.throws(() => supportEnd(fr('1.1', '2026-01-15'), []), /"1\.1": not a semantic version/);
    assert.throws(() => supportEnd(fr('1.1.0', '2025-02-29'), []), /"2025-02-29" is not a date/);
    assert.throws(() => supportEnd(fr('1.1.0', '2026-01-15'), [fr('next', '2026-02-01')]), /"next": not a semantic version/);
  });
});

describe('supportStatus', () => {
  const known = [lts('1.0.0', '2026-01-15'), fr('1.1.0', '2026-03-01'), fr('1.2.0', '2026-05-01')];
  const rows: readonly {
    name: string; version: string; type: FirmwareType; published: string | null; today: string; downgraded?: boolean;
    supported: boolean; end: string | null; why: string;
  }[] = [
    { name: 'an LTS within its support', version: '1.0.0', type: 'lts', published: '2026-01-15', today: '2027-01-01',
      supported: true, end: '2029-01-15', why: 'supported until 2029-01-15 (LTS: 3 years after 2026-01-15)' },
    { name: 'an LTS on its last day of support', version: '1.0.0', type: 'lts', published: '2026-01-15', today: '2029-01-15',
      supported: true, end: '2029-01-15', why: 'supported until 2029-01-15 (LTS: 3 years after 2026-01-15)' },
    { name: 'an LTS the day after', version: '1.0.0', type: 'lts', published: '2026-01-15', today: '2029-01-16',
      supported: false, end: '2029-01-15', why: 'support ended on 2029-01-15 (LTS: 3 years after 2026-01-15)' },
    { name: 'a superseded Feature Release within its 2 months', version: '1.1.0', type: 'feature', published: '2026-03-01', today: '2026-07-01',
      supported: true, end: '2026-07-01', why: 'supported until 2026-07-01 (Feature Release: 2 months after 1.2.0 (2026-05-01), the next Feature Release)' },
    { name: 'a superseded Feature Release after them, within its own 6 months', version: '1.1.0', type: 'feature', published: '2026-03-01', today: '2026-07-02',
      supported: false, end: '2026-07-01', why: 'support ended on 2026-07-01 (Feature Release: 2 months after 1.2.0 (2026-05-01), the next Feature Release)' },
    { name: 'the latest Feature Release', version: '1.2.0', type: 'feature', published: '2026-05-01', today: '2026-07-02',
      supported: true, end: '2026-11-01', why: 'supported until 2026-11-01 (Feature Release: 6 months after 2026-05-01)' },
    { name: 'downgraded: unsupported for good, within the dates', version: '1.2.0', type: 'feature', published: '2026-05-01', today: '2026-07-02', downgraded: true,
      supported: false, end: null, why: 'unsupported (downgraded)' },
    { name: 'downgraded to the factory firmware', version: '0.1.0', type: 'factory', published: null, today: '2026-07-02', downgraded: true,
      supported: false, end: null, why: 'unsupported (downgraded)' },
    { name: 'factory firmware', version: '0.1.0', type: 'factory', published: null, today: '2026-07-02',
      supported: false, end: null, why: 'factory firmware: not a release; install a signed release' },
    { name: 'a release without a publication date', version: '1.2.0', type: 'feature', published: null, today: '2026-07-02',
      supported: false, end: null, why: 'Feature Release 1.2.0 has no publication date: its support end is unknown' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const status = supportStatus({ version: row.version, type: row.type, published: row.published }, known, row.today, row.downgraded ?? false);
      assert.deepEqual(status, { supported: row.supported, end: row.end, why: row.why });
    });
  }

  it('a Feature Release published 2025-08-31 is supported through 2026-02-28, not on 2026-03-01', () => {
    const firmware = { version: '3.1.0', type: 'feature' as const, published: '2025-08-31' };
    assert.equal(supportStatus(firmware, [], '2026-02-28', false).supported, true);
    assert.equal(supportStatus(firmware, [], '2026-03-01', false).supported, false);
  });

  it('an LTS published 2024-02-29 is supported through 2027-02-28', () => {
    const firmware = { version: '3.0.0', type: 'lts' as const, published: '2024-02-29' };
    assert.equal(supportStatus(firmware, [], '2027-02-28', false).supported, true);
    assert.deepEqual(supportStatus(firmware, [], '2027-03-01', false),
      { supported: false, end: '2027-02-28', why: 'support ended on 2027-02-28 (LTS: 3 years after 2024-02-29)' });
  });

  it('refuses an invalid today', () => {
    assert.throws(() => supportStatus({ version: '1.0.0', type: 'lts', published: '2026-01-15' }, [], '2026-13-01', false), /today "2026-13-01"/);
  });
});

describe('checkUpgrade: every type and direction, with every flag', () => {
  type Outcome = 'upgrade' | 'reinstall' | 'override' | 'same-version' | 'downgrade' | 'feature-to-lts';
  const version = { older: '1.1.0', same: '1.2.0', newer: '1.3.0' } as const;
  const rows: readonly {
    from: ReleaseType; to: ReleaseType; target: keyof typeof version;
    none: Outcome; override: Outcome; reinstall: Outcome; both: Outcome;
  }[] = [
    { from: 'lts', to: 'lts', target: 'newer', none: 'upgrade', override: 'upgrade', reinstall: 'upgrade', both: 'upgrade' },
    { from: 'lts', to: 'lts', target: 'same', none: 'same-version', override: 'same-version', reinstall: 'reinstall', both: 'reinstall' },
    { from: 'lts', to: 'lts', target: 'older', none: 'downgrade', override: 'override', reinstall: 'downgrade', both: 'override' },
    { from: 'lts', to: 'feature', target: 'newer', none: 'upgrade', override: 'upgrade', reinstall: 'upgrade', both: 'upgrade' },
    { from: 'lts', to: 'feature', target: 'same', none: 'same-version', override: 'same-version', reinstall: 'reinstall', both: 'reinstall' },
    { from: 'lts', to: 'feature', target: 'older', none: 'downgrade', override: 'override', reinstall: 'downgrade', both: 'override' },
    { from: 'feature', to: 'feature', target: 'newer', none: 'upgrade', override: 'upgrade', reinstall: 'upgrade', both: 'upgrade' },
    { from: 'feature', to: 'feature', target: 'same', none: 'same-version', override: 'same-version', reinstall: 'reinstall', both: 'reinstall' },
    { from: 'feature', to: 'feature', target: 'older', none: 'downgrade', override: 'override', reinstall: 'downgrade', both: 'override' },
    // No rollback from a Feature Release to an LTS, whatever the versions; reinstall does not help.
    { from: 'feature', to: 'lts', target: 'newer', none: 'feature-to-lts', override: 'override', reinstall: 'feature-to-lts', both: 'override' },
    { from: 'feature', to: 'lts', target: 'same', none: 'feature-to-lts', override: 'override', reinstall: 'feature-to-lts', both: 'override' },
    { from: 'feature', to: 'lts', target: 'older', none: 'feature-to-lts', override: 'override', reinstall: 'feature-to-lts', both: 'override' },
  ];
  const flagSets: readonly (readonly ['none' | 'override' | 'reinstall' | 'both', UpgradeFlags])[] = [
    ['none', { override: false, reinstall: false }],
    ['override', { override: true, reinstall: false }],
    ['reinstall', { override: false, reinstall: true }],
    ['both', { override: true, reinstall: true }],
  ];
  const outcome = (v: UpgradeVerdict): Outcome => (v.ok ? v.kind : v.code === 'min-from' || v.code === 'invalid-version' ? assert.fail(v.message) : v.code);

  for (const row of rows) {
    for (const [name, flags] of flagSets) {
      const expected = row[name];
      it(`${row.from} 1.2.0 → ${row.to} ${version[row.target]} (${row.target}), flags ${name}: ${expected}`, () => {
        const v = checkUpgrade({ version: '1.2.0', type: row.from }, { version: version[row.target], type: row.to, min_from: null }, flags);
        assert.equal(outcome(v), expected);
        // Only an override records anything; the message names both versions.
        if (v.ok) assert.equal(v.records, v.kind === 'override' ? 'downgrade' : null);
        assert.match(v.message, /1\.2\.0/);
        assert.ok(v.message.includes(version[row.target]), v.message);
      });
    }
  }
});

describe('checkUpgrade: messages, min_from, factory firmware, invalid versions', () => {
  const none: UpgradeFlags = { override: false, reinstall: false };
  const all: UpgradeFlags = { override: true, reinstall: true };
  type Expect = { ok: true; kind: 'upgrade' | 'reinstall' | 'override'; records: 'downgrade' | null; message: RegExp } |
    { ok: false; code: string; message: RegExp };
  const rows: readonly {
    name: string; from: { version: string; type: FirmwareType }; target: { version: string; type: ReleaseType; min_from: string | null };
    flags?: UpgradeFlags; expect: Expect;
  }[] = [
    { name: 'an upgrade names both releases', from: { version: '1.1.0', type: 'lts' }, target: { version: '1.2.0', type: 'feature', min_from: null },
      expect: { ok: true, kind: 'upgrade', records: null, message: /^upgrade from LTS 1\.1\.0 to Feature Release 1\.2\.0$/ } },
    { name: 'Feature Release → higher LTS: refused, saying why', from: { version: '1.3.0', type: 'feature' }, target: { version: '2.0.0', type: 'lts', min_from: null },
      expect: { ok: false, code: 'feature-to-lts', message: /^no rollback from a Feature Release to an LTS release: this node runs Feature Release 1\.3\.0, 2\.0\.0 is an LTS release/ } },
    { name: 'Feature Release → LTS by override: recorded', from: { version: '1.3.0', type: 'feature' }, target: { version: '1.0.0', type: 'lts', min_from: null },
      flags: { override: true, reinstall: false },
      expect: { ok: true, kind: 'override', records: 'downgrade', message: /Feature Release 1\.3\.0 to LTS 1\.0\.0 by override: the override is recorded for good.*unsupported \(downgraded\)/ } },
    { name: 'a downgrade: refused, the override offered', from: { version: '1.2.0', type: 'lts' }, target: { version: '1.1.9', type: 'lts', min_from: null },
      expect: { ok: false, code: 'downgrade', message: /^1\.1\.9 is older than the running 1\.2\.0: downgrades are refused \(an override is possible; it is recorded and voids support\)$/ } },
    { name: 'a downgrade to a pre-release of the running version', from: { version: '1.2.0', type: 'lts' }, target: { version: '1.2.0-rc.2', type: 'lts', min_from: null },
      expect: { ok: false, code: 'downgrade', message: /1\.2\.0-rc\.2 is older than the running 1\.2\.0/ } },
    { name: 'from a pre-release to its release: an upgrade', from: { version: '1.2.0-rc.2', type: 'feature' }, target: { version: '1.2.0', type: 'feature', min_from: null },
      expect: { ok: true, kind: 'upgrade', records: null, message: /1\.2\.0-rc\.2 to Feature Release 1\.2\.0/ } },
    { name: 'the same version: refused, reinstall offered', from: { version: '1.2.0', type: 'feature' }, target: { version: '1.2.0', type: 'feature', min_from: null },
      expect: { ok: false, code: 'same-version', message: /^this node already runs 1\.2\.0; installing 1\.2\.0 again is a reinstall/ } },
    { name: 'build metadata does not make another version', from: { version: '1.2.0+b1', type: 'feature' }, target: { version: '1.2.0+b2', type: 'feature', min_from: null },
      expect: { ok: false, code: 'same-version', message: /1\.2\.0\+b1.*1\.2\.0\+b2/ } },
    { name: 'reinstall', from: { version: '1.2.0', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.0.0' },
      flags: { override: false, reinstall: true },
      expect: { ok: true, kind: 'reinstall', records: null, message: /^reinstall LTS 1\.2\.0 over the running LTS 1\.2\.0$/ } },
    // min_from: never overridable.
    { name: 'min_from not met', from: { version: '1.0.3', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.1.0' },
      expect: { ok: false, code: 'min-from', message: /^1\.2\.0 can only be installed over 1\.1\.0 or later; this node runs 1\.0\.3$/ } },
    { name: 'min_from not met: override and reinstall do not help', from: { version: '1.0.3', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.1.0' },
      flags: all, expect: { ok: false, code: 'min-from', message: /can only be installed over 1\.1\.0 or later/ } },
    { name: 'min_from is checked before the Feature → LTS rule (no override offered where none helps)',
      from: { version: '1.0.3', type: 'feature' }, target: { version: '2.0.0', type: 'lts', min_from: '1.1.0' },
      flags: all, expect: { ok: false, code: 'min-from', message: /this node runs 1\.0\.3/ } },
    { name: 'min_from exactly met', from: { version: '1.1.0', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.1.0' },
      expect: { ok: true, kind: 'upgrade', records: null, message: /upgrade/ } },
    { name: 'a pre-release of min_from is below it', from: { version: '1.1.0-rc.1', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.1.0' },
      expect: { ok: false, code: 'min-from', message: /this node runs 1\.1\.0-rc\.1/ } },
    { name: 'a downgrade by override still honours min_from', from: { version: '1.3.0', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.1.0' },
      flags: all, expect: { ok: true, kind: 'override', records: 'downgrade', message: /downgrade from LTS 1\.3\.0 to LTS 1\.2\.0 by override/ } },
    // The factory firmware may move to any release.
    { name: 'factory → LTS', from: { version: '0.1.0', type: 'factory' }, target: { version: '1.0.0', type: 'lts', min_from: null },
      expect: { ok: true, kind: 'upgrade', records: null, message: /^install LTS 1\.0\.0 over the factory firmware 0\.1\.0$/ } },
    { name: 'factory → a release with a "lower" version: not compared', from: { version: '9.0.0', type: 'factory' }, target: { version: '1.0.0', type: 'feature', min_from: null },
      expect: { ok: true, kind: 'upgrade', records: null, message: /Feature Release 1\.0\.0 over the factory firmware 9\.0\.0/ } },
    { name: 'factory → the "same" version: not a reinstall', from: { version: '1.0.0', type: 'factory' }, target: { version: '1.0.0', type: 'lts', min_from: null },
      expect: { ok: true, kind: 'upgrade', records: null, message: /factory firmware/ } },
    { name: 'factory: min_from does not apply', from: { version: '0.1.0', type: 'factory' }, target: { version: '1.2.0', type: 'lts', min_from: '1.1.0' },
      expect: { ok: true, kind: 'upgrade', records: null, message: /factory firmware/ } },
    { name: 'factory: its version need not be a semantic version', from: { version: 'factory-2026.01', type: 'factory' }, target: { version: '1.2.0', type: 'lts', min_from: null },
      expect: { ok: true, kind: 'upgrade', records: null, message: /factory firmware factory-2026\.01/ } },
    { name: 'factory: an override records nothing', from: { version: '0.1.0', type: 'factory' }, target: { version: '1.2.0', type: 'lts', min_from: null },
      flags: all, expect: { ok: true, kind: 'upgrade', records: null, message: /factory firmware/ } },
    // Invalid versions.
    { name: 'an invalid target version', from: { version: '1.0.0', type: 'lts' }, target: { version: '1.2', type: 'lts', min_from: null },
      expect: { ok: false, code: 'invalid-version', message: /the firmware to install has an invalid version "1\.2"/ } },
    { name: 'an invalid running version', from: { version: 'v1.0.0', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: null },
      expect: { ok: false, code: 'invalid-version', message: /this node runs an invalid version "v1\.0\.0"/ } },
    { name: 'an invalid min_from', from: { version: '1.0.0', type: 'lts' }, target: { version: '1.2.0', type: 'lts', min_from: '1.x' },
      expect: { ok: false, code: 'invalid-version', message: /1\.2\.0: its minimum version to upgrade from "1\.x" is not a semantic version/ } },
    { name: 'an invalid target version, even over the factory firmware', from: { version: '0.1.0', type: 'factory' }, target: { version: 'latest', type: 'lts', min_from: null },
      expect: { ok: false, code: 'invalid-version', message: /"latest"/ } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const v = checkUpgrade(row.from, row.target, row.flags ?? none);
      const { message, ...rest } = row.expect;
      const { message: got, ...gotRest } = v;
      assert.deepEqual(gotRest, rest);
      assert.match(got, message);
    });
  }
});
