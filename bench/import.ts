// Importing a 10,000-image folder: seconds, images per second and time per phase, then the first
// page of the dataset grid. Usage: node bench/ts.js bench/import.ts [images=10000] [WxH=64x48]
// (PNGs within 160 px are their own thumbnails; give a larger size to time thumbnail making.)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { importDataset } from '../src/main/data/formats';
import { encodePng } from '../src/main/data/png';
import { openStore, workspaceDbPath } from '../src/main/store/db';
import { pageImages } from '../src/main/store/images';

const count = Number(process.argv[2] ?? 10_000);
const [width, height] = (process.argv[3] ?? '64x48').split('x').map(Number) as [number, number];
const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-import-'));
try {
  const images = path.join(root, 'images');
  let start = performance.now();
  for (let i = 0; i < count; i++) {
    // Different content per image (so no two hash alike), 100 per sub-folder.
    const rgb = new Uint8Array(width * height * 3);
    for (let p = 0; p < rgb.length; p++) rgb[p] = (p * 31 + i * 17) & 255;
    rgb.set([i & 255, (i >> 8) & 255, (i >> 16) & 255]); // the image's number in its first pixel
    const dir = path.join(images, String(Math.floor(i / 100)).padStart(3, '0'));
    if (i % 100 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${String(i).padStart(5, '0')}.png`), encodePng(width, height, rgb));
  }
  console.log(
    `wrote ${count} PNGs (${width}×${height}) in ${((performance.now() - start) / 1000).toFixed(1)} s`,
  );

  const dataDir = path.join(root, 'workspace');
  const db = openStore(workspaceDbPath(dataDir));
  const phases = new Map<string, number>();
  let phase = '';
  let phaseStart = 0;
  start = performance.now();
  const report = await importDataset(db, {
    path: images,
    datasetName: 'bench',
    format: 'auto',
    dataDir,
    onProgress: (p) => {
      if (p.phase === phase) return;
      const now = performance.now();
      if (phase) phases.set(phase, now - phaseStart);
      [phase, phaseStart] = [p.phase, now];
    },
  });
  const total = (performance.now() - start) / 1000;
  phases.set(phase, performance.now() - phaseStart);
  console.log(
    `imported ${report.images} images (${report.format}, ${report.duplicates.length} duplicates, ` +
      `${report.skipped.length} skipped) in ${total.toFixed(1)} s: ${(report.images / total).toFixed(0)} images/s`,
  );
  for (const [name, ms] of phases) console.log(`  ${name.padEnd(10)} ${(ms / 1000).toFixed(2)} s`);

  const pages: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    pageImages(db, { datasetId: report.datasetId, offset: 0, limit: 100 });
    pages.push(performance.now() - t);
  }
  console.log(
    `first page (100 of ${count}, with box counts): ${pages[0]!.toFixed(1)} ms cold, ` +
      `${Math.min(...pages.slice(1)).toFixed(1)} ms warm`,
  );
  db.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}
