/**
 * A pure token bucket for the full-resync rate limit (SPEC §3: default 10 Mbit/s, settable).
 * Time is passed in (monotonic ms); the bucket never reads a clock.
 *
 * The caller asks `take(bucket, bytes, now)` before sending a chunk, keeps the returned bucket,
 * and sends the chunk `waitMs` later. The bucket schedules the send: its state is the level at
 * the scheduled time `at`, which may lie in the future, so a caller that asks again before it
 * sent is queued behind its earlier chunks. Guarantee: over any interval of t ms between two
 * scheduled sends, at most `rate × t / 1000 + burst` bytes are sent. A chunk larger than the
 * burst could not keep that promise, so it is refused: send in chunks of at most `burst` bytes.
 *
 * Levels are kept in byte·milliseconds (bytes × 1000), so that with integer rates, sizes and
 * times every computation is exact and `waitMs` is an integer.
 */

/** 10 Mbit/s in bytes per second (10 × 10⁶ bits / 8). */
export const DEFAULT_SYNC_RATE_BYTES_PER_SEC = 1_250_000;

/** A burst of 256 KiB: 0.2 s at the default rate, and four 64 KiB transfer chunks. */
export const DEFAULT_SYNC_BURST_BYTES = 256 * 1024;

export interface Bucket {
  /** Bytes per second; 0 = unlimited. */
  readonly rate: number;
  /** Largest level, bytes: what may go out at once after a pause. */
  readonly burst: number;
  /** Level at `at`, in byte·milliseconds (bytes × 1000). */
  readonly levelMilli: number;
  /** Time of the level (ms): the last scheduled send, possibly in the future. */
  readonly at: number;
}

export interface Take {
  readonly bucket: Bucket;
  /** How long to wait, from `now`, before sending the bytes (0 = send now). */
  readonly waitMs: number;
}

const nonNegative = (n: number): boolean => Number.isFinite(n) && n >= 0;

/** A full bucket at `now`. `rateBytesPerSec` 0 means unlimited (the burst is then ignored). */
export function initBucket(rateBytesPerSec: number, burstBytes: number, now: number): Bucket {
  if (!nonNegative(rateBytesPerSec)) throw new RangeError(`rate ${String(rateBytesPerSec)} is not a non-negative number`);
  if (rateBytesPerSec > 0 && !(Number.isFinite(burstBytes) && burstBytes > 0)) {
    throw new RangeError(`burst ${String(burstBytes)} must be a positive number of bytes`);
  }
  if (!Number.isFinite(now)) throw new RangeError('now is not a finite number');
  return { rate: rateBytesPerSec, burst: burstBytes, levelMilli: burstBytes * 1000, at: now };
}

/** Reserves `bytes` (≤ burst) at `now`; returns the new bucket and how long to wait before sending. */
export function take(bucket: Bucket, bytes: number, now: number): Take {
  if (!nonNegative(bytes)) throw new RangeError(`bytes ${String(bytes)} is not a non-negative number`);
  if (!Number.isFinite(now)) throw new RangeError('now is not a finite number');
  if (bucket.rate === 0) return { bucket, waitMs: 0 };
  if (bytes > bucket.burst) {
    throw new RangeError(`a chunk of ${bytes} bytes exceeds the burst of ${bucket.burst} bytes: send in chunks of at most the burst`);
  }
  const capMilli = bucket.burst * 1000;
  const needMilli = bytes * 1000;
  // Earliest moment we may look at: now, or the last scheduled send if that is later.
  const t = Math.max(now, bucket.at);
  const level = Math.min(capMilli, bucket.levelMilli + bucket.rate * (t - bucket.at));
  if (level >= needMilli) {
    return { bucket: { ...bucket, levelMilli: level - needMilli, at: t }, waitMs: t - now };
  }
  const sendAt = t + Math.ceil((needMilli - level) / bucket.rate);
  const atSend = Math.min(capMilli, level + bucket.rate * (sendAt - t));
  return { bucket: { ...bucket, levelMilli: atSend - needMilli, at: sendAt }, waitMs: sendAt - now };
}
