/**
 * A workspace on a full or read-only disk (issue 26, item 3), on a real small tmpfs mounted in a
 * user namespace (`unshare -rm`: no root needed). A training run whose checkpoint meets ENOSPC
 * stops with a message naming the disk, leaves no half checkpoint, keeps the last complete one
 * and the database intact, and resumes to the end once there is room; an import's thumbnails
 * that do not fit are one warning; a read-only workspace is refused with what to do.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tallyFault } from '../fault-reporter';
import { saveTinyModel } from '../support/tinyModel';
import { encodePng } from '../../src/main/data/png';

const namespaces = spawnSync('unshare', ['-rm', 'true']).status === 0;
if (!namespaces)
  console.warn('diskFull.test: skipped — this machine cannot make a user namespace (unshare -rm)');

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-diskfull-'));
const model = path.join(dir, 'model');
beforeAll(() => {
  saveTinyModel(model);
  mkdirSync(path.join(dir, 'many'));
  // Noise does not compress: each thumbnail is tens of kilobytes.
  for (let i = 0; i < 120; i++) {
    let x = (i + 1) * 2654435761;
    const rgb = new Uint8Array(300 * 300 * 3).map(() => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
    writeFileSync(path.join(dir, 'many', `${i}.png`), encodePng(300, 300, rgb));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vrft = 'node bin/vrft.js';
/** Runs `script` in a user namespace with a tmpfs of `size` at $W; returns its output. */
function onTmpfs(size: string, script: string): { code: number | null; out: string } {
  const mount = path.join(dir, `mnt-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync(
    'unshare',
    [
      '-rm',
      'bash',
      '-c',
      `set -u; W=${mount}; mkdir -p $W; mount -t tmpfs -o size=${size} tmpfs $W; ${script}`,
    ],
    { encoding: 'utf8', timeout: 240_000 },
  );
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const synth = `${vrft} synth --task detection --images 4 --seed 3 --size 64 --split novel --out $W/sw --dataset shapes --data $W/ws >/dev/null 2>&1`;
const rows = (table: string) =>
  `node -e "const D=require('better-sqlite3');const d=new D(process.argv[1],{readonly:true});console.log('${table}', d.prepare('SELECT count(*) n FROM ${table}').get().n, d.pragma('integrity_check',{simple:true}))" $W/ws/vrft.sqlite`;

describe.skipIf(!namespaces)('a full or read-only disk', () => {
  beforeEach(({ task }) => tallyFault(task, { group: 'disk full or read-only', cases: 1 }));

  it('a checkpoint that meets ENOSPC stops the run with a clear message; the last checkpoint and the database survive; it resumes to the end', () => {
    const config = path.join(dir, 'sft.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataset: 'shapes',
        model,
        batchSize: 2,
        learningRate: 0.003,
        steps: 40,
        checkpointEvery: 1,
      }),
    );
    const { out } = onTmpfs(
      '2m',
      `${synth}
       ${vrft} train --method sft --config ${config} --data $W/ws 2>&1 | grep -v '^step'; echo "train exit \${PIPESTATUS[0]}"
       echo "partial: $(ls $W/ws/runs/1/checkpoints | grep -c partial)"
       echo "complete: $(ls $W/ws/runs/1/checkpoints | grep -vc partial)"
       ${rows('metric')}
       mount -o remount,size=200m $W
       ${vrft} train --resume 1 --data $W/ws 2>&1 | grep -v '^step'; echo "resume exit \${PIPESTATUS[0]}"
       ${rows('checkpoint')}`,
    );
    // The checkpoint's files (ENOSPC) or the metrics' SQLite pages (SQLITE_FULL), whichever asks first.
    expect(out, out).toMatch(
      /run 1: failed: the disk holding \S+\/ws is full \((ENOSPC|SQLITE_FULL)\): nothing half-written was kept; free some space, then resume the run/,
    );
    expect(out).toContain('train exit 1');
    expect(out).toContain('partial: 0');
    expect(out).toMatch(/complete: [1-9]/);
    expect(out).toMatch(/metric \d+ ok/);
    expect(out).toMatch(/resuming at step \d+/);
    expect(out).toContain('run 1: completed');
    expect(out).toContain('resume exit 0');
    expect(out).not.toMatch(/\n\s+at /); // no stack trace
  }, 300_000);

  it('an import whose thumbnails do not fit says so once; the images and the database are intact', () => {
    const { out } = onTmpfs(
      '1m',
      `${synth}
       ${vrft} import ${path.join(dir, 'many')} --dataset many --data $W/ws 2>&1 | grep -v '^\\(hashing\\|writing\\|thumbnails\\):'; echo "exit \${PIPESTATUS[0]}"
       ${rows('image')}
       echo "leftovers: $(ls $W/ws/thumbnails | grep -c tmp-)"`,
    );
    expect(out).toContain('exit 0');
    expect(out).toMatch(/120 images/);
    expect(out).toMatch(
      /warning: The disk holding \S+ is full \(ENOSPC\): \d+ of \d+ thumbnails were not written/,
    );
    expect(out.match(/ENOSPC/g)).toHaveLength(1);
    expect(out).toMatch(/image 124 ok/);
    expect(out).toContain('leftovers: 0');
  }, 300_000);

  it('a read-only workspace is refused with what to do, and left as it was', () => {
    const { out } = onTmpfs(
      '8m',
      `${synth}
       before=$(cat $W/ws/vrft.sqlite* | sha256sum)
       mount -o remount,ro $W
       ${vrft} import ${path.join(dir, 'many')} --dataset many --data $W/ws 2>&1 | tail -1; echo "exit \${PIPESTATUS[0]}"
       [ "$before" = "$(cat $W/ws/vrft.sqlite* | sha256sum)" ] && echo "workspace unchanged"`,
    );
    expect(out).toMatch(
      /vrft: Cannot write the workspace \S+vrft\.sqlite: it is read-only here \(SQLITE_[A-Z_]+\)/,
    );
    expect(out).toMatch(/Make the folder writable, or choose another --data folder/);
    expect(out).toMatch(/exit [12]/);
    expect(out).toContain('workspace unchanged');
  }, 300_000);
});
