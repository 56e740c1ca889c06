/**
 * Fault cases of exports (issue 26): `vrft export`, `vrft export-model` and `vrft scale-out
 * export` pointed at what is already there — a file, a folder with files in it, a file where a
 * folder would go — or at a dataset, split or run that is not. Nothing may be overwritten (the
 * harness checks every file in the case's folder is unchanged) and the message names the path.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { FaultCase, FaultContext } from '../../support/faults';

const group = 'export';
const qwen = path.resolve('test', 'fixtures', 'qwen', 'qwen2-vl', 'checkpoint');

/** A folder in the case's folder holding a file of the user's. */
function folderWithNotes(ctx: FaultContext, name = 'out'): string {
  const dir = path.join(ctx.dir, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'notes.txt'), 'mine: keep\n');
  return dir;
}

/** A file of the user's in the case's folder. */
function notes(ctx: FaultContext, name = 'notes.txt'): string {
  const file = path.join(ctx.dir, name);
  writeFileSync(file, 'mine: keep\n');
  return file;
}

const exportTo = (ctx: FaultContext, format: string, out: string, ...flags: string[]) => [
  'export',
  '--dataset',
  'shapes',
  '--format',
  format,
  '--out',
  out,
  ...flags,
  '--data',
  ctx.data,
];

/**
 * A completed one-step SFT run of tiny-vlm in the case's workspace (run 1): the workspace becomes a
 * copy of the suite's trained one (trained once, not once per case).
 */
export async function trainedRun(ctx: FaultContext): Promise<string> {
  const from = await ctx.trainedWorkspace();
  rmSync(ctx.data, { recursive: true, force: true });
  cpSync(from, ctx.data, { recursive: true });
  // Checkpoint rows name their folders by absolute path: point them into this copy.
  const db = new Database(path.join(ctx.data, 'vrft.sqlite'));
  try {
    db.prepare('UPDATE checkpoint SET path = ? || substr(path, ?) WHERE path LIKE ?').run(
      ctx.data,
      from.length + 1,
      `${from}/%`,
    );
  } finally {
    db.close();
  }
  return '1';
}

/** Trains the one-step SFT run of `trainedRun` in the workspace at `data`. */
export async function trainOneStep(data: string, configDir: string): Promise<void> {
  const config = path.join(configDir, 'sft.json');
  writeFileSync(config, JSON.stringify({ dataset: 'shapes', steps: 1, batchSize: 1, checkpointEvery: 1 }));
  const child = spawn(
    process.execPath,
    ['bin/vrft.js', 'train', '--method', 'sft', '--config', config, '--data', data],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`vrft train failed: ${stderr}`);
}

/** A GRPO config of the Qwen fixture for scale-out. */
function scaleOutConfig(ctx: FaultContext): string {
  const file = path.join(ctx.dir, 'grpo.json');
  writeFileSync(file, JSON.stringify({ dataset: 'shapes', steps: 2, model: qwen }));
  return file;
}

const scaleOutTo = (ctx: FaultContext, out: string) => [
  'scale-out',
  'export',
  '--config',
  scaleOutConfig(ctx),
  '--out',
  out,
  '--data',
  ctx.data,
];

export const exportCases: FaultCase[] = [
  {
    group,
    name: 'export: COCO onto an existing file (no --force)',
    make: (ctx) => exportTo(ctx, 'coco', notes(ctx, 'shapes.json')),
    message: /shapes\.json already exists: choose another name, or pass --force/,
  },
  {
    group,
    name: 'export: Visual-RFT onto an existing file (no --force)',
    make: (ctx) => exportTo(ctx, 'visualrft', notes(ctx, 'train.json')),
    message: /train\.json already exists: choose another name, or pass --force/,
  },
  {
    group,
    name: 'export: VLM-R1 onto an existing file (no --force)',
    make: (ctx) => exportTo(ctx, 'vlmr1', notes(ctx, 'train.jsonl')),
    message: /train\.jsonl already exists: choose another name, or pass --force/,
  },
  {
    group,
    name: 'export: COCO into a folder already holding annotations.json',
    make: (ctx) => {
      const dir = folderWithNotes(ctx);
      notes(ctx, path.join('out', 'annotations.json'));
      return exportTo(ctx, 'coco', dir);
    },
    message: /out[/\\]annotations\.json already exists: choose another name, or pass --force/,
  },
  {
    group,
    name: 'export: YOLO into a non-empty folder',
    make: (ctx) => exportTo(ctx, 'yolo', folderWithNotes(ctx)),
    message: /out is not empty: export into a new or empty folder, or pass --force/,
  },
  {
    group,
    name: 'export: VOC into a non-empty folder',
    make: (ctx) => exportTo(ctx, 'voc', folderWithNotes(ctx)),
    message: /out is not empty: export into a new or empty folder, or pass --force/,
  },
  {
    group,
    name: 'export: LISA into a non-empty folder',
    make: (ctx) => exportTo(ctx, 'lisa', folderWithNotes(ctx)),
    message: /out is not empty: export into a new or empty folder, or pass --force/,
  },
  {
    group,
    name: 'export: YOLO onto a file',
    make: (ctx) => exportTo(ctx, 'yolo', notes(ctx)),
    message: /notes\.txt is a file: this format writes a folder/,
  },
  {
    group,
    name: 'export: a dataset that does not exist',
    make: (ctx) => [
      'export',
      '--dataset',
      'shapez',
      '--format',
      'coco',
      '--out',
      path.join(ctx.dir, 'x.json'),
      '--data',
      ctx.data,
    ],
    message: /there is no dataset named "shapez" in .*data/,
  },
  {
    group,
    name: 'export: a split that does not exist',
    make: (ctx) => exportTo(ctx, 'coco', path.join(ctx.dir, 'x.json'), '--split', 'novell'),
    message: /dataset "shapes" has no split named "novell"/,
  },
  {
    group,
    name: 'export: COCO to a path under a file',
    make: (ctx) => exportTo(ctx, 'coco', path.join(notes(ctx), 'x.json')),
    message: /notes\.txt is a file, not a folder: nothing can be written under it/,
  },
  {
    group,
    name: 'export: YOLO to a folder under a file',
    make: (ctx) => exportTo(ctx, 'yolo', path.join(notes(ctx), 'deeper', 'yolo')),
    message: /notes\.txt is a file, not a folder: nothing can be written under it/,
  },
  {
    group,
    name: 'export: COCO onto the workspace database, with --force',
    make: (ctx) => exportTo(ctx, 'coco', path.join(ctx.data, 'vrft.sqlite'), '--force'),
    message: /vrft\.sqlite is the workspace's own vrft\.sqlite .*Export somewhere else/,
  },
  {
    group,
    name: 'export: an unknown format',
    make: (ctx) => exportTo(ctx, 'csv', path.join(ctx.dir, 'x.csv')),
    message: /--format must be one of coco, .*got "csv"/,
  },
  {
    group,
    name: 'export-model: into a non-empty folder',
    make: async (ctx) => [
      'export-model',
      await trainedRun(ctx),
      '--out',
      folderWithNotes(ctx),
      '--data',
      ctx.data,
    ],
    message: /--out .*out is not empty: name a new or empty folder/,
    limit: 60,
  },
  {
    group,
    name: 'export-model: to a path under a file',
    make: async (ctx) => [
      'export-model',
      await trainedRun(ctx),
      '--out',
      path.join(notes(ctx), 'model'),
      '--data',
      ctx.data,
    ],
    message: /--out .*notes\.txt[/\\]model: .*notes\.txt is a file, not a folder/,
    limit: 60,
  },
  {
    group,
    name: 'export-model: a checkpoint the run does not have',
    make: async (ctx) => [
      'export-model',
      await trainedRun(ctx),
      '--checkpoint',
      '5',
      '--out',
      path.join(ctx.dir, 'model'),
      '--data',
      ctx.data,
    ],
    message: /run 1 has no checkpoint at step 5: its checkpoints are at steps 1/,
    limit: 60,
  },
  {
    group,
    name: 'export-model: a completed run whose model folder is gone',
    make: async (ctx) => {
      const run = await trainedRun(ctx);
      rmSync(path.join(ctx.data, 'runs', run, 'model'), { recursive: true });
      return ['export-model', run, '--out', path.join(ctx.dir, 'model'), '--data', ctx.data];
    },
    message:
      /run 1 is completed but its model folder .*runs[/\\]1[/\\]model is missing; export a checkpoint instead/,
    limit: 60,
  },
  {
    group,
    name: 'export-model: a run that does not exist',
    make: (ctx) => ['export-model', '7', '--out', path.join(ctx.dir, 'model'), '--data', ctx.data],
    message: /there is no run 7 in .*data/,
  },
  {
    group,
    name: 'scale-out export: into a non-empty folder',
    make: (ctx) => scaleOutTo(ctx, folderWithNotes(ctx)),
    message: /out is not empty: name a new or empty folder \(the export overwrites nothing\)/,
  },
  {
    group,
    name: 'scale-out export: onto a file',
    make: (ctx) => scaleOutTo(ctx, notes(ctx)),
    message: /--out .*notes\.txt: .*notes\.txt is a file/,
  },
  {
    group,
    name: 'scale-out export: to a path under a file',
    make: (ctx) => scaleOutTo(ctx, path.join(notes(ctx), 'project')),
    message: /--out .*notes\.txt[/\\]project: .*notes\.txt is a file, not a folder/,
  },
  {
    group,
    name: 'scale-out export: tiny-vlm, which TRL cannot load',
    make: (ctx) => {
      const file = path.join(ctx.dir, 'grpo.json');
      writeFileSync(file, JSON.stringify({ dataset: 'shapes', steps: 2 }));
      return [
        'scale-out',
        'export',
        '--config',
        file,
        '--out',
        path.join(ctx.dir, 'project'),
        '--data',
        ctx.data,
      ];
    },
    message: /tiny-vlm-base is vrft's own tiny-vlm, which TRL cannot load/,
  },
  {
    group,
    name: "export: YOLO into a run's folder of the workspace, with --force",
    make: (ctx) => exportTo(ctx, 'yolo', path.join(ctx.data, 'runs', '1'), '--force'),
    message: /is the workspace's own runs .*Export somewhere else/,
  },
  {
    group,
    name: 'export: COCO through a link to the workspace database, with --force',
    make: (ctx) => {
      const link = path.join(ctx.dir, 'coco.json');
      symlinkSync(path.join(ctx.data, 'vrft.sqlite'), link);
      return exportTo(ctx, 'coco', link, '--force');
    },
    message: /coco\.json is the workspace's own vrft\.sqlite/,
  },
];
