/// <reference lib="dom" />
// The chart path of the Curves component, bundled for the browser by bench/curves.ts: lines
// aligned, smoothed and drawn by uPlot, then grown one point a frame as a live run does.
import uPlot from 'uplot';
import { alignLines, palette, smooth } from '../../src/renderer/src/lib/curves';

declare global {
  interface Window {
    benchCurves(
      runs: number,
      steps: number,
      liveFrames: number,
      withRaw?: boolean,
    ): Promise<Record<string, number>>;
  }
}

window.benchCurves = async (runs, steps, liveFrames, withRaw = false) => {
  // As the component draws them: the faint raw line under the smoothed one only for short lines.
  const lines2 = (y: (number | null)[]) => (withRaw ? [y, smooth(y, 0.6)] : [smooth(y, 0.6)]);
  const lines = Array.from({ length: runs }, (_, r) => ({
    x: Array.from({ length: steps }, (_, i) => i + 1),
    y: Array.from({ length: steps }, (_, i) => Math.sin(i / 300 + r) + Math.random() * 0.3),
  }));
  const target = document.createElement('div');
  document.body.append(target);
  const t0 = performance.now();
  const [x, ...ys] = alignLines(lines);
  const data = [x, ...ys.flatMap(lines2)] as uPlot.AlignedData;
  const t1 = performance.now();
  const series: uPlot.Series[] = [{}];
  ys.forEach((_, i) =>
    series.push(...(withRaw ? [{ stroke: `${palette[i % 10]}55` }] : []), { stroke: palette[i % 10] }),
  );
  const chart = new uPlot({ width: 900, height: 240, scales: { x: { time: false } }, series }, data, target);
  // The draw is synchronous; a frame later it is on screen.
  await new Promise((resolve) => requestAnimationFrame(resolve));
  const t2 = performance.now();
  // The control: frames with no work at all (a loaded machine is late without any chart).
  const idle: number[] = [];
  let last = performance.now();
  for (let f = 0; f < 60; f++) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    idle.push(now - last);
    last = now;
  }
  // Live: one more point per run per frame, the chart redrawn each time.
  const frames: number[] = [];
  const busy: number[] = [];
  last = performance.now();
  for (let f = 0; f < liveFrames; f++) {
    const n = x.length + f + 1;
    lines.forEach((l) => {
      l.x.push(n);
      l.y.push(Math.random());
    });
    const work = performance.now();
    const [nx, ...nys] = alignLines(lines);
    chart.setData([nx, ...nys.flatMap(lines2)] as uPlot.AlignedData);
    busy.push(performance.now() - work);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  const late = (list: number[]) => list.filter((f) => f > 1000 / 60 + 4).length;
  busy.sort((a, b) => a - b);
  frames.sort((a, b) => a - b);
  return {
    prepareMs: t1 - t0,
    drawnMs: t2 - t0,
    liveMedianFrameMs: frames[Math.floor(frames.length / 2)]!,
    liveP95FrameMs: frames[Math.floor(frames.length * 0.95)]!,
    liveDroppedFrames: late(frames),
    idleDroppedFrames: late(idle),
    liveMedianWorkMs: busy[Math.floor(busy.length / 2)]!,
  };
};
