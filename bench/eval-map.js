// Times `vrft eval-map` against pycocotools on the same large files (5,000 images, 80 categories,
// ~50 detections per image), made by tools/reference/coco_bench.py, and checks the stats agree.
// Needs a Python with pycocotools: VRFT_PYTHON=/path/to/venv/bin/python node bench/eval-map.js
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const python = process.env.VRFT_PYTHON ?? 'python3';
const images = process.argv[2] ?? '5000';
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-map-'));
try {
  const ref = spawnSync(python, ['tools/reference/coco_bench.py', dir, '--images', images], {
    encoding: 'utf8',
  });
  if (ref.status !== 0) {
    console.error(`The reference needs pycocotools (${python}): ${ref.stderr.trim().split('\n').at(-1)}`);
    console.error('Set VRFT_PYTHON to a Python that has it (pip install pycocotools numpy).');
    process.exit(1);
  }
  const reference = JSON.parse(ref.stdout);
  const runs = [];
  let ours;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const run = spawnSync(
      process.execPath,
      [
        'bin/vrft.js',
        'eval-map',
        '--gt',
        path.join(dir, 'gt.json'),
        '--dt',
        path.join(dir, 'dt.json'),
        '--json',
      ],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      },
    );
    runs.push((performance.now() - start) / 1000);
    if (run.status !== 0) throw new Error(run.stderr);
    ours = JSON.parse(run.stdout);
  }
  const seconds = Math.min(...runs);
  const maxDiff = Math.max(...ours.stats.map((v, i) => Math.abs(v - reference.stats[i])));
  console.log(`case: ${images} images, 80 categories, ${reference.detections} detections`);
  console.log(`pycocotools (load + evaluate + accumulate + summarize): ${reference.seconds.toFixed(2)} s`);
  console.log(
    `vrft eval-map (whole command: node start, JSON parse, check, evaluate): best of 3 ${seconds.toFixed(2)} s (${runs.map((r) => r.toFixed(2)).join(', ')})`,
  );
  console.log(`speed-up: ${(reference.seconds / seconds).toFixed(1)}×`);
  console.log(
    `largest stat difference: ${maxDiff.toExponential(2)} (${maxDiff <= 1e-6 ? 'identical to 1e-6' : 'DIFFERENT'})`,
  );
  console.log(
    `AP ${ours.stats[0].toFixed(4)}  AP50 ${ours.stats[1].toFixed(4)}  AR100 ${ours.stats[8].toFixed(4)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
