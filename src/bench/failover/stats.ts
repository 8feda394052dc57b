/** Order statistics of a benchmark cell (nearest-rank percentiles). */

export interface Summary {
  readonly n: number;
  readonly median: number;
  /** Only with at least 10 samples: fewer make a 90th percentile meaningless. */
  readonly p90: number | null;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile of sorted samples, q in (0, 1]. */
function rank(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary | null {
  if (samples.length === 0) return null;
  const s = [...samples].sort((x, y) => x - y);
  const mid = s.length / 2;
  const median = s.length % 2 === 1 ? (s[Math.floor(mid)] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  return {
    n: s.length,
    median,
    p90: s.length >= 10 ? rank(s, 0.9) : null,
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

/** Milliseconds as seconds with two decimals, e.g. 2712 → "2.71 s". */
export function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`;
}
