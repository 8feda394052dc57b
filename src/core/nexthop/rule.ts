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

/** How the peer's monotonic clock maps onto ours: ours = theirs − offset, within ± errorMs. */
export interface ClockMap {
  readonly offset: number;
  readonly errorMs: number;
}

/**
 * The evidence rule (HA protocol 2), for a verdict of `peer-better`: on every interface where
 * the peer reaches more, this node's loss is its own only if every target the peer judges up
 * there answered a probe the peer sent after this node's loss began — mapped onto this clock
 * and later by more than the mapping's error bound plus `marginMs`.
 *
 * Why a shared router that died at D gives no evidence: it answered the peer's probe sent at P
 * only if that probe reached it before D, so P < D. This node dates its loss by the probe that
 * completed its run of misses (monitor.ts), which left after D unless random loss alone made
 * the whole run (at 30 % loss, 1 in 7·10^7 per miss: the same odds as a false "down" at all):
 * so P is older than this node's loss. The margin covers what the recorded send times do not
 * see (the time between the core emitting a probe and the prober sending it), the error bound
 * the clock mapping. However far apart the two nodes *notice* the loss (probe phase, miss
 * counting, clock skew), the peer's answers from before the death stay older than the loss.
 * A next hop that keeps answering the peer gives it answers newer than the loss within about
 * one probe interval (at once while it bursts on this node's suspicion): that is a handover.
 */
export function evidenceHolds(
  mine: readonly InterfaceReach[],
  theirs: readonly InterfaceReach[],
  map: ClockMap,
  marginMs: number,
): { readonly holds: boolean; readonly reason: string } {
  for (const m of mine) {
    const t = theirs.find((x) => x.interface === m.interface);
    if (t === undefined || t.score <= m.score) continue;
    const lost = m.lostSince ?? null;
    const answered = t.answeredAt ?? null;
    if (lost === null) return { holds: false, reason: `no loss start known on ${m.interface}` };
    if (answered === null) return { holds: false, reason: `the peer reports no answered probe on ${m.interface}` };
    const mapped = answered - map.offset;
    if (mapped - map.errorMs - marginMs <= lost) {
      return { holds: false, reason: `the peer's answers on ${m.interface} are not newer than this node's loss` };
    }
  }
  return { holds: true, reason: 'the peer got answers after this node lost them' };
}
