import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_SYNC_BURST_BYTES, DEFAULT_SYNC_RATE_BYTES_PER_SEC, initBucket, take, type Bucket } from './ratelimit.js';

/** Runs a sender: chunk i is asked for at `asks[i]` (ms), sent at ask + waitMs. Returns send times. */
function schedule(bucket: Bucket, chunks: readonly { gapMs: number; bytes: number }[], start = 0): number[] {
  let b = bucket;
  let now = start;
  const sends: number[] = [];
  for (const c of chunks) {
    now += c.gapMs;
    const r = take(b, c.bytes, now);
    assert.ok(r.waitMs >= 0);
    b = r.bucket;
    sends.push(now + r.waitMs);
  }
  return sends;
}

describe('token bucket: table', () => {
  const rows: readonly { name: string; rate: number; burst: number; steps: [number, number][]; waits: number[] }[] = [
    { name: 'a full bucket lets the burst through at once', rate: 1000, burst: 500, steps: [[0, 500]], waits: [0] },
    { name: 'then waits for the refill', rate: 1000, burst: 500, steps: [[0, 500], [0, 100]], waits: [0, 100] },
    { name: 'a second chunk asked before the first was sent queues behind it', rate: 1000, burst: 500, steps: [[0, 500], [0, 500], [0, 500]], waits: [0, 500, 1000] },
    { name: 'a pause refills, up to the burst only', rate: 1000, burst: 500, steps: [[0, 500], [10_000, 500], [0, 1]], waits: [0, 0, 1] },
    { name: 'partial refill', rate: 2000, burst: 1000, steps: [[0, 1000], [250, 1000]], waits: [0, 250] },
    { name: 'waits round up to whole ms', rate: 3, burst: 1, steps: [[0, 1], [0, 1]], waits: [0, 334] },
    { name: 'zero bytes pass an idle bucket', rate: 1, burst: 1, steps: [[0, 0], [0, 1], [0, 0]], waits: [0, 0, 0] },
    { name: 'zero bytes queue behind a scheduled chunk', rate: 1, burst: 1, steps: [[0, 1], [0, 1], [0, 0]], waits: [0, 1000, 1000] },
    { name: 'rate 0 is unlimited', rate: 0, burst: 0, steps: [[0, 1e9], [0, 1e9]], waits: [0, 0] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      let b = initBucket(row.rate, row.burst, 1_000);
      let now = 1_000;
      const waits = row.steps.map(([gap, bytes]) => {
        now += gap;
        const r = take(b, bytes, now);
        b = r.bucket;
        return r.waitMs;
      });
      assert.deepEqual(waits, row.waits);
    });
  }

  it('refuses a chunk larger than the burst, and invalid arguments', () => {
    const b = initBucket(1000, 500, 0);
    assert.throws(() => take(b, 501, 0), /exceeds the burst/);
    assert.throws(() => take(b, -1, 0), RangeError);
    assert.throws(() => initBucket(-1, 1, 0), RangeError);
    assert.throws(() => initBucket(1, 0, 0), /burst/);
    assert.throws(() => initBucket(1, 1, NaN), RangeError);
  });

  it('does not mutate its input and tolerates a clock that steps back', () => {
    const b = Object.freeze(initBucket(1000, 500, 100));
    const r = take(b, 500, 50);
    assert.equal(b.levelMilli, 500_000);
    assert.equal(r.waitMs, 50, 'the bucket is at 100: wait until then');
  });

  it('holds the default 10 Mbit/s over a long transfer', () => {
    const chunk = 64 * 1024;
    const n = 200; // 12.5 MiB
    const sends = schedule(initBucket(DEFAULT_SYNC_RATE_BYTES_PER_SEC, DEFAULT_SYNC_BURST_BYTES, 0), Array.from({ length: n }, () => ({ gapMs: 0, bytes: chunk })));
    const seconds = sends.at(-1)! / 1000;
    const rate = (n * chunk - DEFAULT_SYNC_BURST_BYTES) / seconds;
    assert.ok(rate <= DEFAULT_SYNC_RATE_BYTES_PER_SEC, `${rate} B/s`);
    assert.ok(rate > DEFAULT_SYNC_RATE_BYTES_PER_SEC * 0.99, `${rate} B/s: the limit is not needlessly strict`);
  });
});

describe('token bucket: properties', () => {
  const params = fc.record({
    rate: fc.integer({ min: 1, max: 5_000_000 }),
    burst: fc.integer({ min: 1, max: 2_000_000 }),
    start: fc.integer({ min: -1e9, max: 1e12 }),
  });
  const chunks = (burst: number): fc.Arbitrary<{ gapMs: number; bytes: number }[]> => fc.array(
    fc.record({ gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5_000 })), bytes: fc.integer({ min: 0, max: burst }) }),
    { maxLength: 60 },
  );

  it('never lets more than rate × t + burst bytes through in any interval t', () => {
    fc.assert(fc.property(params.chain((p) => fc.tuple(fc.constant(p), chunks(p.burst))), ([p, cs]) => {
      const sends = schedule(initBucket(p.rate, p.burst, p.start), cs, p.start);
      for (let i = 0; i < sends.length; i++) {
        assert.ok(i === 0 || sends[i]! >= sends[i - 1]!, 'sends are in order');
        let sum = 0;
        for (let j = i; j < sends.length; j++) {
          sum += cs[j]!.bytes;
          const allowed = (p.rate * (sends[j]! - sends[i]!)) / 1000 + p.burst;
          assert.ok(sum <= allowed + 1e-6, `${sum} bytes in ${sends[j]! - sends[i]!} ms > ${allowed}`);
        }
      }
    }), { numRuns: 500 });
  });

  it('waits no longer than needed: a chunk is sent at once when a full burst has accumulated', () => {
    fc.assert(fc.property(params.chain((p) => fc.tuple(fc.constant(p), chunks(p.burst))), ([p, cs]) => {
      let b = initBucket(p.rate, p.burst, p.start);
      let now = p.start;
      for (const c of cs) {
        const r = take(b, c.bytes, now);
        b = r.bucket;
        now += r.waitMs;
      }
      // After a pause long enough to refill completely, the burst goes out with no wait.
      const idle = now + Math.ceil((p.burst * 1000) / p.rate);
      assert.equal(take(b, p.burst, idle).waitMs, 0);
    }), { numRuns: 300 });
  });
});
