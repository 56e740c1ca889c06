// Compare budget: opening a comparison of two runs with 700 evaluation answers each < 300 ms —
// the table (compare.table, no draws) and the first page of side-by-side answers (compare.answers),
// through a real host; then how long the Δ intervals take (1000 draws, in a worker thread) and a
// second opening (cached). Prints figures; asserts nothing.
// Usage: npm run build && node bench/ts.js bench/compare.ts
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { addAnnotation } from '../src/main/store/annotations';
import { addCategory } from '../src/main/store/categories';
import { createDataset } from '../src/main/store/datasets';
import { openStore, transaction, workspaceDbPath } from '../src/main/store/db';
import { saveEvaluation, type PredictionInput } from '../src/main/store/evaluations';
import { addImage } from '../src/main/store/images';
import { createRun } from '../src/main/store/runs';
import { createSplit } from '../src/main/store/splits';
import { hostWithClient } from '../test/support/host';

const imageCount = 140;
const names = ['hexagon', 'diamond', 'heart', 'ring', 'arrow'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-compare-'));
try {
  const data = path.join(dir, 'data');
  const db = openStore(workspaceDbPath(data));
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const { datasetId, splitId, categories, images } = transaction(db, () => {
    const datasetId = createDataset(db, { name: 'bench' }).id;
    const categories = names.map((name) => addCategory(db, { datasetId, name }).id);
    const images = Array.from({ length: imageCount }, (_, i) =>
      addImage(db, {
        datasetId,
        path: path.join(dir, `${i}.png`),
        sha256: String(i),
        width: 128,
        height: 128,
      }),
    );
    for (const imageId of images) {
      const x = 10 + 80 * random();
      addAnnotation(db, {
        imageId,
        categoryId: categories[Math.floor(random() * 5)]!,
        box: { x1: x, y1: x, x2: x + 30, y2: x + 30 },
      });
    }
    const splitId = createSplit(db, { datasetId, name: 'eval', kind: 'eval', imageIds: images });
    return { datasetId, splitId, categories, images };
  });
  for (const name of ['base', 'RFT']) {
    const runId = createRun(db, { kind: 'eval', name, datasetId, splitId, config: {} });
    const predictions: PredictionInput[] = images.flatMap((imageId) =>
      categories.map((categoryId) => {
        const x = 10 + 80 * random();
        return {
          imageId,
          categoryId,
          box: random() < 0.5 ? { x1: x, y1: x, x2: x + 30, y2: x + 30 } : null,
          score: random(),
          completion: `<think>…</think><answer>[{"Position": [${x}, ${x}, ${x + 30}, ${x + 30}]}]</answer>`,
        };
      }),
    );
    const perCategory = Object.fromEntries(names.map((n) => [n, { ap: 0.1, ap50: 0.2 }]));
    saveEvaluation(db, { runId, splitId, metrics: { AP: 0.1, AP50: 0.2 }, perCategory }, predictions);
  }
  db.close();
  const { host, client } = await hostWithClient(data, dir);
  const runIds = [1, 2];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await Promise.all([
      client.call('compare.table', { runIds, resamples: 0 }),
      client.call('compare.answers', { runIds }),
    ]);
    console.log(
      `open: table + first page of answers, 2 runs × ${imageCount * 5} answers: ${(performance.now() - t).toFixed(0)} ms`,
    );
  }
  let t = performance.now();
  await client.call('compare.table', { runIds, resamples: 1000 });
  console.log(`Δ interval, 1000 draws (worker thread): ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  await client.call('compare.table', { runIds, resamples: 1000 });
  console.log(`the same comparison opened again (measured once): ${(performance.now() - t).toFixed(0)} ms`);
  client.close();
  await host.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
