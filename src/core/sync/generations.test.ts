import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareGenerations, GENESIS, INITIAL_GENERATIONS, nextGeneration, type GenerationRelation } from './generations.js';
import type { Generations } from './state.js';

const g = (current: string, ...history: string[]): Generations => ({ current, history });

describe('compareGenerations', () => {
  const rows: readonly { name: string; mine: Generations; theirs: Generations; relation: GenerationRelation }[] = [
    { name: 'both never held data', mine: INITIAL_GENERATIONS, theirs: INITIAL_GENERATIONS, relation: 'same' },
    { name: 'the same generation', mine: g('a:1.1', GENESIS), theirs: g('a:1.1', GENESIS), relation: 'same' },
    { name: 'the same generation with different history lengths', mine: g('a:1.1'), theirs: g('a:1.1', GENESIS), relation: 'same' },
    { name: 'I never held data', mine: INITIAL_GENERATIONS, theirs: g('a:1.1', GENESIS), relation: 'behind' },
    { name: 'they never held data', mine: g('a:1.1', GENESIS), theirs: INITIAL_GENERATIONS, relation: 'ahead' },
    { name: 'my generation is in their history', mine: g('a:1.1', GENESIS), theirs: g('a:2.2', 'a:1.1', GENESIS), relation: 'behind' },
    { name: 'their generation is in my history', mine: g('b:3.1', 'a:2.2', 'a:1.1'), theirs: g('a:1.1', GENESIS), relation: 'ahead' },
    { name: 'several generations behind', mine: g('a:1.1'), theirs: g('b:4.1', 'b:3.1', 'a:2.2', 'a:1.1'), relation: 'behind' },
    { name: 'each wrote a generation the other never saw: split brain', mine: g('a:2.2', 'a:1.1'), theirs: g('b:2.1', 'a:1.1'), relation: 'diverged' },
    { name: 'diverged further down the line', mine: g('a:3.3', 'a:2.2', 'a:1.1'), theirs: g('b:4.2', 'b:2.1', 'a:1.1'), relation: 'diverged' },
    { name: 'no common history at all', mine: g('a:1.1'), theirs: g('b:1.1'), relation: 'diverged' },
  ];
  for (const row of rows) {
    it(`${row.relation}: ${row.name}`, () => {
      assert.equal(compareGenerations(row.mine, row.theirs), row.relation);
      const mirror = { same: 'same', ahead: 'behind', behind: 'ahead', diverged: 'diverged' } as const;
      assert.equal(compareGenerations(row.theirs, row.mine), mirror[row.relation]);
    });
  }
});

describe('nextGeneration', () => {
  const long = Array.from({ length: 16 }, (_, i) => `x:${16 - i}`);
  const rows: readonly { name: string; from: Generations; id: string; to: Generations }[] = [
    { name: 'from genesis', from: INITIAL_GENERATIONS, id: 'a:1.1', to: g('a:1.1', GENESIS) },
    { name: 'the current generation goes to the head of the history', from: g('a:1.1', GENESIS), id: 'a:2.2', to: g('a:2.2', 'a:1.1', GENESIS) },
    { name: 'history is bounded to 16, dropping the oldest', from: g('x:17', ...long), id: 'x:18', to: g('x:18', 'x:17', ...long.slice(0, 15)) },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(nextGeneration(row.from, row.id), row.to);
      assert.equal(compareGenerations(row.to, row.from), 'ahead');
    });
  }

  it('does not mutate its input', () => {
    const from = Object.freeze(g('a:1.1', GENESIS));
    nextGeneration(from, 'a:2.2');
    assert.deepEqual(from, g('a:1.1', GENESIS));
  });
});
