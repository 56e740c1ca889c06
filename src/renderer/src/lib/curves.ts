/**
 * What the charts draw, before uPlot draws it: lines aligned on one x axis, TensorBoard's debiased
 * exponential smoothing, and durations for a time axis. Pure functions, so a bench can time them.
 */

export interface Line {
  x: number[];
  y: (number | null)[];
}

/**
 * Lines on one x axis (the union of their x, ascending), each with null where it has no point:
 * uPlot's data layout [x, y1, y2, …]. Each line's x must ascend.
 */
export function alignLines(lines: readonly Line[]): [number[], ...(number | null)[][]] {
  if (lines.length === 1) return [lines[0]!.x, lines[0]!.y];
  // Runs logged at the same steps (the usual overlay) need no merge.
  const first = lines[0]!.x;
  if (
    lines.every((l) => l.x === first || (l.x.length === first.length && l.x.every((x, i) => x === first[i])))
  )
    return [first, ...lines.map((l) => l.y)];
  const xs = [...new Set(lines.flatMap((l) => l.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((line) => {
    const y = new Array<number | null>(xs.length).fill(null);
    line.x.forEach((x, i) => (y[index.get(x)!] = line.y[i] ?? null));
    return y;
  });
  return [xs, ...ys];
}

/**
 * Debiased exponential moving average (TensorBoard's): weight 0 is the raw line; nulls and
 * non-finite values are skipped and stay gaps.
 */
export function smooth(y: readonly (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return [...y];
  let last = 0;
  let count = 0;
  return y.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    count++;
    return last / (1 - weight ** count);
  });
}

/** 75 → "1m15s", 3725 → "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Distinct colours for up to ten lines on a dark panel, then they repeat. */
export const palette = [
  '#6ea8fe',
  '#f0a35e',
  '#5ccf8a',
  '#e36bd1',
  '#e8d44b',
  '#5ed3e8',
  '#f06a6a',
  '#a98bf5',
  '#b8c26b',
  '#c9c9c9',
];
