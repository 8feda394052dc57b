import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InterfaceReach } from '../ha/report.js';
import { compareReach, type ReachVerdict } from './rule.js';

/** `ext0:1/1` = interface ext0, score 1 of total 1, ready; a trailing `?` = not ready. */
function reach(...items: string[]): InterfaceReach[] {
  return items.map((item) => {
    const m = /^(\w+):([\d.]+)\/([\d.]+)(\?)?$/.exec(item);
    if (m === null) throw new Error(`bad reach ${item}`);
    return { interface: m[1]!, score: Number(m[2]), total: Number(m[3]), ready: m[4] === undefined };
  });
}

describe('compareReach: the comparative next-hop rule', () => {
  type Expect = ReachVerdict['kind'] | { readonly kind: 'not-comparable'; readonly reason: RegExp };
  const rows: readonly { name: string; mine: InterfaceReach[]; theirs: InterfaceReach[] | null; expect: Expect; scores?: [number, number] }[] = [
    // Comparable views.
    { name: 'both reach everything: equal', mine: reach('ext0:1/1', 'int0:1/1'), theirs: reach('ext0:1/1', 'int0:1/1'), expect: 'equal', scores: [2, 2] },
    { name: 'both lost the same router: equal, nothing happens', mine: reach('ext0:0/1', 'int0:1/1'), theirs: reach('ext0:0/1', 'int0:1/1'), expect: 'equal', scores: [1, 1] },
    { name: 'both lost everything: equal', mine: reach('ext0:0/1', 'int0:0/1'), theirs: reach('ext0:0/1', 'int0:0/1'), expect: 'equal', scores: [0, 0] },
    { name: 'the peer reaches more: peer-better', mine: reach('ext0:0/1', 'int0:1/1'), theirs: reach('ext0:1/1', 'int0:1/1'), expect: 'peer-better', scores: [1, 2] },
    { name: 'this node reaches more: self-better', mine: reach('ext0:1/1', 'int0:1/1'), theirs: reach('ext0:1/1', 'int0:0/1'), expect: 'self-better', scores: [2, 1] },
    { name: 'each lost a different router: equal totals', mine: reach('ext0:0/1', 'int0:1/1'), theirs: reach('ext0:1/1', 'int0:0/1'), expect: 'equal', scores: [1, 1] },
    { name: 'interfaces matched by name, not by position', mine: reach('int0:1/1', 'ext0:0/1'), theirs: reach('ext0:1/1', 'int0:1/1'), expect: 'peer-better', scores: [1, 2] },
    { name: 'weights: a heavy target outweighs a light one', mine: reach('ext0:2/3'), theirs: reach('ext0:1/3'), expect: 'self-better', scores: [2, 1] },
    { name: 'weights: two light targets balance one heavy', mine: reach('ext0:2/3', 'int0:0/1'), theirs: reach('ext0:1/3', 'int0:1/1'), expect: 'equal', scores: [2, 2] },
    { name: 'weights: the weighted sums decide', mine: reach('ext0:1/3', 'int0:1/1'), theirs: reach('ext0:3/3', 'int0:0/1'), expect: 'peer-better', scores: [2, 3] },
    { name: 'weights: fractional weights compare exactly', mine: reach('ext0:0.5/1.5'), theirs: reach('ext0:1/1.5'), expect: 'peer-better', scores: [0.5, 1] },
    // Not comparable: the rule is not evaluated at all.
    { name: 'stale peer report', mine: reach('ext0:0/1'), theirs: null, expect: { kind: 'not-comparable', reason: /stale/ } },
    { name: 'no next hops monitored', mine: [], theirs: [], expect: { kind: 'not-comparable', reason: /no next hops/ } },
    { name: 'own view not judged yet', mine: reach('ext0:0/1?'), theirs: reach('ext0:1/1'), expect: { kind: 'not-comparable', reason: /own next-hop view not judged/ } },
    { name: 'own view partly judged', mine: reach('ext0:0/1', 'int0:0/1?'), theirs: reach('ext0:1/1', 'int0:1/1'), expect: { kind: 'not-comparable', reason: /own next-hop view not judged/ } },
    { name: "peer's view not judged yet", mine: reach('ext0:0/1'), theirs: reach('ext0:1/1?'), expect: { kind: 'not-comparable', reason: /peer's next-hop view not judged/ } },
    { name: 'different interfaces', mine: reach('ext0:0/1'), theirs: reach('ext1:1/1'), expect: { kind: 'not-comparable', reason: /different interfaces/ } },
    { name: 'the peer monitors one interface more', mine: reach('ext0:0/1'), theirs: reach('ext0:1/1', 'int0:1/1'), expect: { kind: 'not-comparable', reason: /different interfaces/ } },
    { name: 'the peer monitors one interface less', mine: reach('ext0:0/1', 'int0:0/1'), theirs: reach('ext0:1/1'), expect: { kind: 'not-comparable', reason: /different interfaces/ } },
    { name: 'the peer reports nothing', mine: reach('ext0:0/1'), theirs: [], expect: { kind: 'not-comparable', reason: /different interfaces/ } },
    // Both reach everything, but the peer weights its targets higher: raw sums would call it better.
    { name: 'weights: different totals on an interface', mine: reach('ext0:1/1', 'int0:1/1'), theirs: reach('ext0:2/2', 'int0:1/1'),
      expect: { kind: 'not-comparable', reason: /weight/ } },
  ];
  for (const row of rows) {
    const kind = typeof row.expect === 'string' ? row.expect : row.expect.kind;
    it(`${kind}: ${row.name}`, () => {
      const verdict = compareReach(row.mine, row.theirs);
      assert.equal(verdict.kind, kind);
      if (typeof row.expect !== 'string') {
        assert.ok(verdict.kind === 'not-comparable');
        assert.match(verdict.reason, row.expect.reason);
      } else {
        assert.ok(verdict.kind !== 'not-comparable');
        if (row.scores) assert.deepEqual([verdict.mine, verdict.theirs], row.scores);
      }
    });
  }

  it('is antisymmetric on comparable views', () => {
    for (const row of rows) {
      if (row.theirs === null) continue;
      const ab = compareReach(row.mine, row.theirs).kind;
      const ba = compareReach(row.theirs, row.mine).kind;
      const mirror = { 'peer-better': 'self-better', 'self-better': 'peer-better', equal: 'equal' } as const;
      if (ab !== 'not-comparable' && ba !== 'not-comparable') assert.equal(ba, mirror[ab], row.name);
    }
  });
});
