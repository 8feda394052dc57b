import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareVersions, formatVersion, isVersion, parseVersion, type Version } from './semver.js';

describe('parseVersion', () => {
  const valid: readonly { text: string; version: Version }[] = [
    { text: '0.0.0', version: { major: 0, minor: 0, patch: 0, prerelease: [] } },
    { text: '1.2.3', version: { major: 1, minor: 2, patch: 3, prerelease: [] } },
    { text: '10.20.30', version: { major: 10, minor: 20, patch: 30, prerelease: [] } },
    { text: '1.0.0-alpha', version: { major: 1, minor: 0, patch: 0, prerelease: ['alpha'] } },
    { text: '1.0.0-alpha.1', version: { major: 1, minor: 0, patch: 0, prerelease: ['alpha', 1] } },
    { text: '1.0.0-0.3.7', version: { major: 1, minor: 0, patch: 0, prerelease: [0, 3, 7] } },
    { text: '1.0.0-x.7.z.92', version: { major: 1, minor: 0, patch: 0, prerelease: ['x', 7, 'z', 92] } },
    { text: '1.0.0-x-y-z.--', version: { major: 1, minor: 0, patch: 0, prerelease: ['x-y-z', '--'] } },
    // An identifier with a letter may start with zeros: it is alphanumeric, not a number.
    { text: '1.0.0-0a.00b', version: { major: 1, minor: 0, patch: 0, prerelease: ['0a', '00b'] } },
    { text: '1.0.0+20130313144700', version: { major: 1, minor: 0, patch: 0, prerelease: [] } },
    { text: '1.0.0-beta+exp.sha.5114f85', version: { major: 1, minor: 0, patch: 0, prerelease: ['beta'] } },
    { text: '1.0.0+21AF26D3----117B344092BD', version: { major: 1, minor: 0, patch: 0, prerelease: [] } },
    // Build identifiers may have leading zeros.
    { text: '1.0.0+001', version: { major: 1, minor: 0, patch: 0, prerelease: [] } },
    { text: '9007199254740991.0.0', version: { major: 9007199254740991, minor: 0, patch: 0, prerelease: [] } },
  ];
  for (const row of valid) {
    it(`parses ${row.text}`, () => {
      assert.deepEqual(parseVersion(row.text), row.version);
      assert.equal(isVersion(row.text), true);
    });
  }

  const invalid: readonly { text: string; why: string }[] = [
    { text: '', why: 'empty' },
    { text: '1', why: 'no minor and patch' },
    { text: '1.2', why: 'no patch' },
    { text: '1.2.3.4', why: 'four numbers' },
    { text: 'v1.2.3', why: 'a "v" prefix' },
    { text: ' 1.2.3', why: 'leading space' },
    { text: '1.2.3 ', why: 'trailing space' },
    { text: '1.2.3\n', why: 'trailing newline' },
    { text: '01.2.3', why: 'leading zero in major' },
    { text: '1.02.3', why: 'leading zero in minor' },
    { text: '1.2.03', why: 'leading zero in patch' },
    { text: '1.2.3-01', why: 'leading zero in a numeric pre-release identifier' },
    { text: '1.2.3-', why: 'empty pre-release' },
    { text: '1.2.3-alpha..1', why: 'empty pre-release identifier' },
    { text: '1.2.3-alpha.', why: 'trailing dot in pre-release' },
    { text: '1.2.3+', why: 'empty build' },
    { text: '1.2.3+a..b', why: 'empty build identifier' },
    { text: '1.2.3-alpha_beta', why: 'underscore' },
    { text: '1.2.3-é', why: 'non-ASCII' },
    { text: '-1.2.3', why: 'negative' },
    { text: '1.-2.3', why: 'negative minor' },
    { text: '1.2.x', why: 'wildcard' },
    { text: '1.2.3+build+more', why: 'two plus signs' },
    { text: '9007199254740992.0.0', why: 'major beyond the exact integers' },
    { text: '1.0.0-9007199254740992', why: 'pre-release number beyond the exact integers' },
  ];
  for (const row of invalid) {
    it(`refuses ${JSON.stringify(row.text)} (${row.why})`, () => {
      assert.equal(parseVersion(row.text), null);
      assert.equal(isVersion(row.text), false);
    });
  }
});

describe('compareVersions: SemVer 2.0.0 precedence', () => {
  // The chain from SemVer §11, each strictly below the next.
  const specChain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2',
    '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
  const coreChain = ['1.0.0', '2.0.0', '2.1.0', '2.1.1'];
  for (const chain of [specChain, coreChain]) {
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        const a = chain[i]!;
        const b = chain[j]!;
        const expected = i < j ? -1 : i > j ? 1 : 0;
        it(`${a} ${expected < 0 ? '<' : expected > 0 ? '>' : '='} ${b}`, () => {
          assert.equal(compareVersions(a, b), expected);
        });
      }
    }
  }

  const rows: readonly { a: string; b: string; expected: -1 | 0 | 1; why: string }[] = [
    { a: '1.9.0', b: '1.10.0', expected: -1, why: 'numbers compare numerically, not as text' },
    { a: '1.0.10', b: '1.0.9', expected: 1, why: 'patch numerically' },
    { a: '2.0.0-alpha', b: '1.99.99', expected: 1, why: 'a pre-release of a higher core is still higher' },
    { a: '1.0.0-2', b: '1.0.0-10', expected: -1, why: 'numeric identifiers numerically' },
    { a: '1.0.0-10', b: '1.0.0-a', expected: -1, why: 'numeric below alphanumeric' },
    { a: '1.0.0-B', b: '1.0.0-a', expected: -1, why: 'ASCII order: upper case before lower case' },
    { a: '1.0.0-a-b', b: '1.0.0-a', expected: 1, why: 'ASCII: a longer identifier with the same start' },
    { a: '1.0.0-0a', b: '1.0.0-1', expected: 1, why: '"0a" is alphanumeric, above any number' },
    { a: '1.0.0+a', b: '1.0.0+b', expected: 0, why: 'build metadata ignored' },
    { a: '1.0.0-rc.1+x', b: '1.0.0-rc.1', expected: 0, why: 'build metadata ignored on a pre-release' },
    { a: '1.0.0-rc.1', b: '1.0.0+build', expected: -1, why: 'pre-release below the release with build metadata' },
  ];
  for (const row of rows) {
    it(`${row.a} vs ${row.b}: ${row.why}`, () => {
      assert.equal(compareVersions(row.a, row.b), row.expected);
      assert.equal(compareVersions(row.b, row.a), -row.expected || 0);
    });
  }

  it('throws on an invalid version, naming it', () => {
    assert.throws(() => compareVersions('1.2', '1.2.0'), /"1\.2" is not a semantic version/);
    assert.throws(() => compareVersions('1.2.0', 'latest'), /"latest" is not a semantic version/);
  });
});

describe('properties', () => {
  const id = fc.oneof(fc.nat({ max: 30 }), fc.constantFrom('alpha', 'beta', 'rc', 'x', 'B', '0a', '-'));
  const version = fc.record({
    major: fc.nat({ max: 3 }), minor: fc.nat({ max: 3 }), patch: fc.nat({ max: 3 }),
    prerelease: fc.array(id, { maxLength: 3 }),
  }).map(formatVersion);

  it('formatVersion ∘ parseVersion is the identity on canonical texts', () => {
    fc.assert(fc.property(version, (text) => {
      const v = parseVersion(text);
      assert.notEqual(v, null);
      assert.equal(formatVersion(v!), text);
    }));
  });

  it('compareVersions is a total order: antisymmetric and transitive', () => {
    fc.assert(fc.property(version, version, version, (a, b, c) => {
      assert.equal(compareVersions(a, b), -compareVersions(b, a) || 0);
      assert.equal(compareVersions(a, a), 0);
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0);
      // Only equal texts compare equal: the canonical form has no build metadata.
      assert.equal(compareVersions(a, b) === 0, a === b);
    }), { numRuns: 500 });
  });
});
