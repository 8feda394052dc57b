import type { InterfaceReach } from '../ha/report.js';

/**
 * The appliance's comparative next-hop rule: when more monitored addresses are reachable from
 * the secondary than from the primary, the primary is treated as unreachable. Equal
 * reachability (both lost the same router) changes nothing. Scores are weighted sums.
 */
export type ReachVerdict =
  | { readonly kind: 'not-comparable'; readonly reason: string }
  | { readonly kind: 'peer-better' | 'equal' | 'self-better'; readonly mine: number; readonly theirs: number };

export function compareReach(
  mine: readonly InterfaceReach[],
  theirs: readonly InterfaceReach[] | null,
): ReachVerdict {
  if (theirs === null) return { kind: 'not-comparable', reason: "peer's next-hop report is stale" };
  if (mine.length === 0) return { kind: 'not-comparable', reason: 'no next hops monitored' };
  if (mine.length !== theirs.length || !mine.every((m) => theirs.some((t) => t.interface === m.interface))) {
    return { kind: 'not-comparable', reason: 'the nodes monitor different interfaces' };
  }
  // Fix: weighted sums are comparable only when both nodes weight each interface alike. With
  // different totals (e.g. two targets on ext0 here, one there) the sums differed with both nodes
  // reaching everything, and a healthy primary was forced to hand over. Don't act on that.
  if (!mine.every((m) => theirs.some((t) => t.interface === m.interface && t.total === m.total))) {
    return { kind: 'not-comparable', reason: 'the nodes weight their next hops differently (totals differ)' };
  }
  if (!mine.every((r) => r.ready)) return { kind: 'not-comparable', reason: 'own next-hop view not judged yet' };
  if (!theirs.every((r) => r.ready)) return { kind: 'not-comparable', reason: "peer's next-hop view not judged yet" };
  const sum = (list: readonly InterfaceReach[]) => list.reduce((acc, r) => acc + r.score, 0);
  const m = sum(mine);
  const t = sum(theirs);
  return { kind: t > m ? 'peer-better' : t < m ? 'self-better' : 'equal', mine: m, theirs: t };
}
