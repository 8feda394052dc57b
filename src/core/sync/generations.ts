import type { Generations } from './state.js';

/** The generation of a node that never held data: behind every other generation. */
export const GENESIS = 'genesis';
export const INITIAL_GENERATIONS: Generations = { current: GENESIS, history: [] };

/** How much history is kept: enough to recognise a peer that missed several generations. */
const MAX_HISTORY = 16;

export type GenerationRelation = 'same' | 'ahead' | 'behind' | 'diverged';

/**
 * Relation of `mine` to `theirs`: `behind` when their data contains mine (my current generation
 * is in their history, or I never held data), `ahead` the other way round, `diverged` when each
 * wrote a generation the other never saw: a split brain.
 */
export function compareGenerations(mine: Generations, theirs: Generations): GenerationRelation {
  if (mine.current === theirs.current) return 'same';
  if (mine.current === GENESIS || theirs.history.includes(mine.current)) return 'behind';
  if (theirs.current === GENESIS || mine.history.includes(theirs.current)) return 'ahead';
  return 'diverged';
}

/** Starts a new generation on top of the current one. */
export function nextGeneration(g: Generations, id: string): Generations {
  return { current: id, history: [g.current, ...g.history].slice(0, MAX_HISTORY) };
}
