/** Small statistics helpers: percentiles by nearest rank, rounding for the result files. */

/** Rounds to `digits` decimals (numbers in results stay readable). */
export function round(value, digits = 2) {
  if (value === undefined || value === null || !Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The p-th percentile (0..100) of already sorted samples, nearest rank. */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** count, min, p50, p90, p99, max and mean of the samples (ms unless said otherwise). */
export function summarize(samples, digits = 2) {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0 };
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return {
    count: sorted.length,
    min: round(sorted[0], digits),
    p50: round(percentileSorted(sorted, 50), digits),
    p90: round(percentileSorted(sorted, 90), digits),
    p99: round(percentileSorted(sorted, 99), digits),
    max: round(sorted[sorted.length - 1], digits),
    mean: round(mean, digits),
  };
}

export function median(samples) {
  return percentileSorted([...samples].sort((a, b) => a - b), 50);
}

/** Runs `work(i)` for every i < count with at most `concurrency` in flight; resolves with elapsed ms. */
export async function pool(count, concurrency, work) {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
  return performance.now() - started;
}

/** Wall-clock time in ms with sub-millisecond resolution (comparable with timestamps other processes write). */
export function wallNow() {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
