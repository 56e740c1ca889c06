/**
 * `vrft scale-out export` and `vrft reward-server` without Python: what the export writes (every
 * GRPO setting under TRL's name, accelerate / DeepSpeed configs for N GPUs, the dataset with
 * stable sample ids), what it refuses, and the server's protocol — vrft's rewards for a batch,
 * rollouts recorded once a round is whole with TRL's advantages, TRL's logs as metrics and
 * warnings, checkpoints and the end of training, the token, and bad requests.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupAdvantages } from '../../src/main/train/grpo/advantages';
import { scoreCompletion } from '../../src/main/rewards/registry';
import { readPlan } from '../../src/main/scaleOut/plan';
import { pinned } from '../../src/main/scaleOut/project';
import { startRewardServer, type RewardServer } from '../../src/main/scaleOut/server';
import { openStore, workspaceDbPath, type Db } from '../../src/main/store/db';
import { countRollouts, listRollouts } from '../../src/main/store/rollouts';
import { getRun, listCheckpoints, listMetrics, listRunWarnings } from '../../src/main/store/runs';
import { shapesWorkspace, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-scale-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const qwen2 = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
const data = path.join(dir, 'ws');

function config(name: string, fields: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ dataset: 'shapes', model: qwen2, steps: 3, ...fields }));
  return file;
}

function exportRun(name: string, fields: Record<string, unknown>, ...flags: string[]) {
  const out = path.join(dir, name);
  const r = vrft(
    'scale-out',
    'export',
    '--config',
    config(name, fields),
    '--out',
    out,
    '--data',
    data,
    '--json',
    ...flags,
  );
  return {
    ...r,
    out,
    result: r.code === 0 ? (JSON.parse(r.stdout) as { runId: number; url: string }) : undefined,
  };
}

/** GRPOConfig's keyword arguments as train.py writes them (one per line). */
function grpoArgs(trainPy: string): Record<string, string> {
  const block = /args = GRPOConfig\(\n([\s\S]*?)\n\)/.exec(trainPy)![1]!;
  return Object.fromEntries(
    [...block.matchAll(/^ {4}(\w+)=(.*?),(?: {2}#.*)?$/gm)].map((m) => [m[1]!, m[2]!.trim()]),
  );
}

beforeAll(() => {
  shapesWorkspace(data, 4);
}, 60_000);

describe('vrft scale-out export', () => {
  it('maps every GRPO setting to TRL by name, and writes the project', () => {
    const { code, stderr, stdout, out, result } = exportRun(
      'mapped',
      {
        promptsPerStep: 4,
        numGenerations: 8,
        beta: 0.02,
        epsilon: 0.25,
        epsilonHigh: 0.28,
        lossType: 'dr_grpo',
        scaleRewards: 'batch',
        numIterations: 2,
        temperature: 0.9,
        topP: 0.95,
        maxCompletionLength: 300,
        learningRate: 2e-6,
        schedule: 'cosine',
        warmupSteps: 5,
        weightDecay: 0.01,
        maxGradNorm: 0.5,
        seed: 7,
        maskTruncated: true,
        checkpointEvery: 10,
        gradientCheckpointing: true,
        rewards: { iou: 2, format: 0.5 },
        lora: { r: 64, lora_alpha: 128, lora_dropout: 0.05 },
      },
      '--gpus',
      '4',
      '--deepspeed',
      'zero3',
      '--vllm',
    );
    expect(code, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1); // one JSON document
    expect(result!.url).toBe('http://127.0.0.1:8765');
    const train = readFileSync(path.join(out, 'train.py'), 'utf8');
    expect(grpoArgs(train)).toMatchObject({
      max_steps: '6', // 3 steps × μ 2
      num_generations: '8',
      per_device_train_batch_size: '8', // 4 prompts × G 8 over 4 GPUs
      gradient_accumulation_steps: '1',
      steps_per_generation: '1',
      num_iterations: '2',
      beta: '0.02',
      epsilon: '0.25',
      epsilon_high: '0.28',
      loss_type: '"dr_grpo"',
      scale_rewards: '"batch"',
      mask_truncated_completions: 'True',
      temperature: '0.9',
      top_p: '0.95',
      top_k: '0',
      max_completion_length: '300',
      learning_rate: '0.000002',
      lr_scheduler_type: '"cosine"',
      warmup_steps: '10',
      weight_decay: '0.01',
      max_grad_norm: '0.5',
      seed: '7',
      reward_weights: '[2, 0.5]',
      gradient_checkpointing: 'True',
      save_steps: '20',
      log_completions: 'True',
      use_vllm: 'True',
      vllm_mode: '"colocate"',
    });
    expect(train).toContain('r=64,');
    expect(train).toContain('lora_alpha=128,');
    expect(train).toContain('lora_dropout=0.05,');
    // vrft's default adapters: the language model's seven linears, never the vision tower.
    expect(train).toContain(
      'target_modules="^(?!.*visual).*\\\\.(down_proj|gate_proj|k_proj|o_proj|q_proj|up_proj|v_proj)$"',
    );
    const accelerate = readFileSync(path.join(out, 'accelerate.yaml'), 'utf8');
    expect(accelerate).toMatch(/^num_processes: 4$/m);
    expect(accelerate).toMatch(/^distributed_type: DEEPSPEED$/m);
    expect(accelerate).toMatch(/^ {2}zero_stage: 3$/m);
    const requirements = readFileSync(path.join(out, 'requirements.txt'), 'utf8');
    for (const [name, version] of Object.entries(pinned))
      expect(requirements).toContain(`${name}==${version}`);
    expect(statSync(path.join(out, 'launch.sh')).mode & 0o111).toBeTruthy();
    expect(readFileSync(path.join(out, 'launch.sh'), 'utf8')).toContain(
      'accelerate launch --config_file accelerate.yaml',
    );
    expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toContain(
      `vrft reward-server --run ${result!.runId}`,
    );
    // reward.json holds the run's token: readable by its owner only.
    expect(statSync(path.join(out, 'reward.json')).mode & 0o077).toBe(0);
  });

  it("pins what CI's venv trains with (.ci/requirements-trl.txt)", () => {
    const ci = readFileSync('.ci/requirements-trl.txt', 'utf8');
    for (const name of ['torch', 'trl', 'transformers', 'peft', 'accelerate', 'datasets', 'pillow'] as const)
      expect(ci).toMatch(new RegExp(`^${name}==${pinned[name].replaceAll('.', '\\.')}$`, 'm'));
  });

  it('writes each prompt once with a stable sample id, its image beside it, as the plan has it', () => {
    const { out, result } = exportRun('dataset', { promptsPerStep: 2, numGenerations: 2 });
    const rows = readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sample_id: string; image: string; prompt: { content: unknown[] }[] });
    const plan = readPlan(data, result!.runId);
    expect(rows.map((r) => r.sample_id)).toEqual(plan.samples.map((s) => s.sampleId));
    expect(new Set(rows.map((r) => r.sample_id)).size).toBe(rows.length);
    for (const row of rows) {
      expect(existsSync(path.join(out, 'data', row.image))).toBe(true);
      expect(row.prompt[0]!.content[0]).toEqual({ type: 'image' });
    }
    // Qwen2-VL asks in Visual-RFT's words and answers on 0–1000.
    expect(plan.samples[0]!.prompt).toMatch(/^Detect all objects belonging to the category/);
    expect(plan.samples[0]!.context.frame).toBe('norm1000');
    expect(readdirSync(path.join(out, 'data', 'images')).length).toBe(4);
    // A second export of the same config asks the same questions under the same ids.
    const again = exportRun('dataset-again', { promptsPerStep: 2, numGenerations: 2 });
    expect(readFileSync(path.join(again.out, 'data', 'train.jsonl'), 'utf8')).toBe(
      readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8'),
    );
  });

  it("takes a hub id: Qwen2.5-VL asks in VLM-R1's words, in pixels of the resized input", () => {
    const { code, stderr, out, result } = exportRun('hub', {
      model: 'Qwen/Qwen2.5-VL-3B-Instruct',
      numGenerations: 2,
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/is not a folder here: train.py loads it on the training machine/);
    expect(readFileSync(path.join(out, 'train.py'), 'utf8')).toContain('"Qwen/Qwen2.5-VL-3B-Instruct"');
    const plan = readPlan(data, result!.runId);
    expect(plan.samples[0]!.prompt).toMatch(/bbox_2d/);
    expect(plan.samples[0]!.context.frame).toBe('resized');
  });

  it('refuses, with what to do, and leaves nothing behind', () => {
    const before = runCount();
    const cases: [string, Record<string, unknown>, string[], RegExp][] = [
      ['tiny', { model: 'resources/models/tiny-vlm-base' }, [], /tiny-vlm, which TRL cannot load/],
      ['adapter', { model: path.resolve('test/fixtures/qwen/qwen2-vl/lora') }, [], /holds LoRA adapters/],
      ['hubless', { model: 'someone/some-model' }, [], /neither a local model folder nor a hub id/],
      ['typo', { numGeneration: 4 }, [], /unknown key "numGeneration" \(did you mean "numGenerations"\?\)/],
      [
        'uneven',
        { promptsPerStep: 3, numGenerations: 2 },
        ['--gpus', '4'],
        /6 completions per step .* do not split into 4 GPU/,
      ],
      ['nosplit', { split: 'nope' }, [], /has no split named "nope"/],
      ['ds', {}, ['--deepspeed', 'zero4'], /--deepspeed must be one of none, zero2, zero3/],
    ];
    for (const [name, fields, flags, message] of cases) {
      const r = exportRun(name, fields, ...flags);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(existsSync(r.out), name).toBe(false);
    }
    const taken = path.join(dir, 'taken');
    rmSync(taken, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', taken]);
    writeFileSync(path.join(taken, 'keep.txt'), 'mine');
    const r = vrft('scale-out', 'export', '--config', config('t', {}), '--out', taken, '--data', data);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not empty/);
    expect(readFileSync(path.join(taken, 'keep.txt'), 'utf8')).toBe('mine');
    expect(runCount()).toBe(before);
  });
});

function runCount(): number {
  const db = openStore(workspaceDbPath(data));
  try {
    return (db.prepare('SELECT count(*) AS n FROM run').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('the reward server', () => {
  let db: Db;
  let server: RewardServer;
  let runId: number;
  let token: string;
  const G = 2;
  const post = (route: string, body: unknown, auth = token) =>
    fetch(`${server.url}${route}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    const { result, out } = exportRun('served', { promptsPerStep: 2, numGenerations: G, lora: { r: 2 } });
    runId = result!.runId;
    token = (JSON.parse(readFileSync(path.join(out, 'reward.json'), 'utf8')) as { token: string }).token;
    db = openStore(workspaceDbPath(data));
    server = await startRewardServer(db, readPlan(data, runId), {
      host: '127.0.0.1',
      port: 0,
      recordWorker: path.resolve('out/main/recordWorker.js'),
    });
  });
  afterAll(async () => {
    await server.close();
    db.close();
  });

  /** A perfect answer and a wrong one for a sample, in Visual-RFT's format on 0–1000. */
  function answers(sampleId: string): string[] {
    const s = readPlan(data, runId).samples.find((x) => x.sampleId === sampleId)!;
    const { width, height } = s.context.image;
    const boxes = s.solution.boxes!.map(
      (b) =>
        `{'Position': [${Math.round((b.x1 / width) * 1000)}, ${Math.round((b.y1 / height) * 1000)}, ` +
        `${Math.round((b.x2 / width) * 1000)}, ${Math.round((b.y2 / height) * 1000)}], 'Confidence': 0.9}`,
    );
    return [`<think>I see them.</think><answer>[${boxes.join(', ')}]</answer>`, 'no idea'];
  }

  it("scores a batch with vrft's rewards, and records the round only when every process has posted", async () => {
    const plan = readPlan(data, runId);
    const [a, b] = plan.samples.filter((s) => s.solution.boxes!.length > 0);
    // Two processes, one group each (TRL's global batch order: process 0's rows, then process 1's).
    const parts = [a!, b!].map((s) =>
      answers(s.sampleId).map((completion) => ({ sample_id: s.sampleId, completion, tokens: 9 })),
    );
    const first = await post('/v1/score', { step: 0, process: 0, processes: 2, items: parts[0] });
    expect(first.status).toBe(200);
    const reply = (await first.json()) as { components: Record<string, number[]>; total: number[] };
    const expected = parts[0]!.map((item) =>
      scoreCompletion(item.completion, a!.solution, a!.context, plan.rewards),
    );
    expect(reply.total).toEqual(expected.map((e) => e.total));
    expect(reply.components.iou).toEqual(expected.map((e) => e.components.iou));
    expect(reply.total[0]).toBeGreaterThan(2.5); // the perfect answer: iou ≈ 1, confidence 0.9, format 1
    await server.flushed();
    expect(countRollouts(db, runId)).toBe(0); // half a round
    expect(getRun(db, runId)!.status).toBe('running');
    await post('/v1/score', { step: 0, process: 1, processes: 2, items: parts[1] });
    await server.flushed();
    const rollouts = listRollouts(db, runId, 1);
    expect(rollouts).toHaveLength(4);
    const totals = [...parts[0]!, ...parts[1]!].map(
      (item, i) =>
        scoreCompletion(item.completion, (i < 2 ? a : b)!.solution, (i < 2 ? a : b)!.context, plan.rewards)
          .total,
    );
    const { advantages } = groupAdvantages(totals, G, 'group');
    const byCompletion = (key: string, completion: string) =>
      rollouts.find((r) => r.promptKey === key && r.completion === completion)!;
    [...parts[0]!, ...parts[1]!].forEach((item, i) => {
      const r = byCompletion(item.sample_id, item.completion);
      expect(r.advantage).toBeCloseTo(advantages[i]!, 10);
      expect(r.reward).toBe(totals[i]);
      expect(r.sampleIndex).toBe(i % G);
      expect(r.tokens).toBe(9);
    });
    expect(listMetrics(db, runId, 'format/ok_rate')).toEqual([
      { step: 1, key: 'format/ok_rate', value: 0.5 },
    ]);
  });

  it("keeps TRL's log entries as metrics, warnings beside them, checkpoints and the end", async () => {
    const logs = {
      loss: 0.5,
      reward: 1.25,
      'completions/mean_length': 9,
      frac_reward_zero_std: 1,
      epoch: 0.5,
    };
    for (let step = 1; step <= 10; step++) expect((await post('/v1/log', { step, logs })).status).toBe(200);
    await server.flushed();
    expect(listMetrics(db, runId, 'loss').map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(listMetrics(db, runId, 'epoch')).toEqual([]); // TRL's bookkeeping, not a curve
    // Ten steps where every group had identical rewards: vrft's zero-std warning, as a local run's.
    expect(listRunWarnings(db, runId).map((w) => w.kind)).toContain('zero-std');
    await post('/v1/event', { event: 'checkpoint', step: 10, path: '/cluster/output/checkpoint-10' });
    expect(listCheckpoints(db, runId).map((c) => [c.step, c.path])).toEqual([
      [10, '/cluster/output/checkpoint-10'],
    ]);
    await post('/v1/event', { event: 'train_end', step: 10 });
    expect(getRun(db, runId)!.status).toBe('completed');
  });

  it('answers a wrong token 401, and a bad request 400 saying what is wrong', async () => {
    expect((await post('/v1/score', { step: 0, items: [] }, 'not-the-token')).status).toBe(401);
    expect((await fetch(`${server.url}/v1/health`)).status).toBe(401);
    const cases: [unknown, RegExp][] = [
      ['{not json', /not JSON/],
      [{ step: -1, items: [] }, /"step" must be a whole number/],
      [
        { step: 0, items: [{ sample_id: 'image 999: cat', completion: 'x' }] },
        /is not one of run \d+'s prompts/,
      ],
      [{ step: 0, items: [{ sample_id: 3, completion: 'x' }] }, /items\[0\]\.sample_id must be a string/],
      [
        { step: 0, process: 2, processes: 2, items: [] },
        /"process" must be a whole number below "processes"/,
      ],
    ];
    for (const [body, message] of cases) {
      const r = await post('/v1/score', body);
      expect(r.status, String(message)).toBe(400);
      expect(((await r.json()) as { error: string }).error).toMatch(message);
    }
    expect((await post('/v1/nothing', {})).status).toBe(404);
    expect((await post('/v1/event', { event: 'explode' })).status).toBe(400);
  });
});

describe('vrft reward-server', () => {
  it('--json prints one JSON document once it listens; Ctrl-C stops it', async () => {
    const { result } = exportRun('cli', { numGenerations: 2 });
    const child = spawn(
      process.execPath,
      [
        'bin/vrft.js',
        'reward-server',
        '--run',
        String(result!.runId),
        '--data',
        data,
        '--port',
        '0',
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    while (!stdout.includes('\n')) await new Promise((r) => setTimeout(r, 50));
    const doc = JSON.parse(stdout) as { url: string; runId: number; port: number };
    expect(doc.runId).toBe(result!.runId);
    expect((await fetch(`${doc.url}/v1/health`)).status).toBe(401);
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it('says which run was not exported for scale-out', () => {
    const r = vrft('reward-server', '--run', '99', '--data', data);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/run 99 was not exported for scale-out/);
  });
});
