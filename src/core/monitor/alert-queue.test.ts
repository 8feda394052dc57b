import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { delivered, due, EMPTY_QUEUE, enqueue, failed, nextWake, retryDelayMs, type QueuedAlert } from './alert-queue.js';

const item = (id: string, webhook: number, nextAt = 0): QueuedAlert => ({ id, webhook, body: `{"id":"${id}"}`, attempts: 0, nextAt, lastError: null });

describe('the alert webhook queue', () => {
  it('backs off 1, 2, 4 … seconds, at most 5 minutes', () => {
    assert.deepEqual([1, 2, 3, 4, 9, 10, 20].map(retryDelayMs), [1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });

  it('delivers each webhook its alerts in order: a failing one holds the ones behind it', () => {
    let q = enqueue(EMPTY_QUEUE, [item('1', 0), item('2', 0), item('3', 1)], 100);
    assert.deepEqual(due(q, 0).map((i) => `${i.webhook}:${i.id}`), ['0:1', '1:3']);
    q = failed(q, '1', 0, 10_000, 'HTTP 503');
    assert.deepEqual(due(q, 10_500).map((i) => i.id), ['3'], 'the failed one waits its backoff, and holds 2');
    assert.deepEqual(due(q, 11_000).map((i) => i.id), ['1', '3']);
    assert.equal(q.items[0]?.lastError, 'HTTP 503');
    q = delivered(q, '1', 0);
    assert.deepEqual(due(q, 11_000).map((i) => i.id), ['2', '3']);
    assert.equal(nextWake(q), 0);
  });

  it('a full queue drops the oldest and counts them', () => {
    const q = enqueue(enqueue(EMPTY_QUEUE, [item('1', 0), item('2', 0)], 3), [item('3', 0), item('4', 0)], 3);
    assert.deepEqual(q.items.map((i) => i.id), ['2', '3', '4']);
    assert.equal(q.dropped, 1);
  });

  it('property: whatever fails and succeeds, each webhook receives its alerts in the order raised, none twice', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(2), fc.boolean()), { maxLength: 60 }), (steps) => {
      let q = enqueue(EMPTY_QUEUE, Array.from({ length: 20 }, (_, n) => item(String(n), n % 3)), 1000);
      const got: Record<number, number[]> = { 0: [], 1: [], 2: [] };
      let now = 0;
      for (const [webhook, ok] of steps) {
        now += 400_000;
        const head = due(q, now).find((i) => i.webhook === webhook);
        if (head === undefined) continue;
        if (ok) { got[webhook]?.push(Number(head.id)); q = delivered(q, head.id, webhook); } else q = failed(q, head.id, webhook, now, 'x');
      }
      for (const list of Object.values(got)) assert.deepEqual(list, [...list].sort((a, b) => a - b));
      assert.equal(new Set(Object.values(got).flat()).size, Object.values(got).flat().length);
    }));
  });
});
