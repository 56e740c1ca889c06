/**
 * `vrft doctor`: which tensor backend this machine runs, why each faster one is not used, and how
 * fast a matMul is here; with `--model DIR [--config FILE]`, whether vrft can train that folder
 * (exit 1 naming what is wrong when not) and whether a training step fits what the backend has
 * (doctorModel.ts). The engine is imported on demand so other commands
 * start without it.
 */
import type { EngineReport } from '../engine';
import { backendNames } from '../engine/names';
import { describeNativeUse } from '../engine/native';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { oneOf, sizeFlag, UsageError, type Command, type Values } from './command';

export interface DoctorReport extends EngineReport {
  node: string;
  platform: string;
  /** GFLOP/s of a float32 256×256 · 256×256 matMul on the chosen backend. */
  matMulGflops: number;
}

function describeBackend(report: EngineReport): string {
  const details: string[] = [];
  if (report.simd !== undefined) details.push(report.simd ? 'SIMD on' : 'SIMD off');
  if (report.backend === 'wasm') details.push('threads off');
  if (report.kernels?.length) details.push(`project kernels: ${report.kernels.join(', ')}`);
  const caveat = report.tried.find((t) => t.name === report.backend)?.reason;
  if (caveat) details.push(caveat);
  return details.length > 0 ? `${report.backend} (${details.join('; ')})` : report.backend;
}

export function formatDoctor(report: DoctorReport): string {
  const rows: [string, string][] = [['backend', describeBackend(report)]];
  const notUsed = report.tried.filter((t) => !t.ok);
  notUsed.forEach((t, i) => rows.push([i === 0 ? 'not used' : '', `${t.name}: ${t.reason ?? 'unknown'}`]));
  // Which work the native kernels run here, and which the load-time check left on wasm.
  if (report.native) rows.push(['native', describeNativeUse(report.native)]);
  const { rssMB, heapMB, totalMB } = report.memory;
  rows.push(
    ['threads', String(report.threads)],
    [
      'memory',
      `${rssMB} MB resident, ${heapMB} MB JS heap, ${totalMB.toLocaleString('en-US')} MB in the machine`,
    ],
    ['node', `${report.node} (${report.platform})`],
    ['matmul', `256×256 · 256×256 float32: ${report.matMulGflops.toFixed(1)} GFLOP/s`],
  );
  const width = Math.max(...rows.map(([label]) => label.length));
  return `${rows.map(([label, text]) => `${label.padEnd(width)}  ${text}`).join('\n')}\n`;
}

/** Starts the engine (on `backend` if given) and measures it. */
export async function diagnose(backend?: EngineReport['backend']): Promise<DoctorReport> {
  const { initEngine, measureMatMulGflops } = await import('../engine');
  const report = await initEngine(backend === undefined ? {} : { force: backend });
  return {
    ...report,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    matMulGflops: measureMatMulGflops(256),
  };
}

async function doctor(values: Values): Promise<number> {
  const backend = values.backend === undefined ? undefined : oneOf(values, 'backend', backendNames);
  const model = typeof values.model === 'string' ? values.model : undefined;
  const config = typeof values.config === 'string' ? values.config : undefined;
  const image = sizeFlag(values, 'image');
  if (image && !model && !config)
    throw new UsageError('--image plans a step: give --model DIR or --config FILE');
  const report = await diagnose(backend);
  if (!model && !config) {
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatDoctor(report));
    return 0;
  }
  const { inspectForDoctor, modelDirOf, planModel, readRunConfig } = await import('./doctorModel');
  const { formatDamagedModel, formatModelPlan } = await import('./doctorReport');
  let plan;
  try {
    const dir = model ? path.resolve(model) : modelDirOf(readRunConfig(config!).config, config!);
    // The folder first, as `vrft train` checks it: a damaged one is reported, not planned.
    const { weights, damaged } = inspectForDoctor(dir);
    if (damaged) {
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ ...report, model: damaged })}\n`
          : `${formatDoctor(report)}\n${formatDamagedModel(damaged)}`,
      );
      for (const problem of damaged.problems) process.stderr.write(`vrft: ${problem}\n`);
      return 1;
    }
    plan = await planModel(dir, config ?? null, report, image, weights);
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ ...report, model: plan })}\n`
      : `${formatDoctor(report)}\n${formatModelPlan(plan)}`,
  );
  return 0;
}

export const doctorCommand: Command = {
  summary: 'which tensor backend runs here, how fast it is, and whether a model’s training step fits',
  usage:
    `vrft doctor [--backend ${backendNames.join('|')}] [--model DIR] [--config FILE] ` +
    '[--image WIDTHxHEIGHT] [--json]',
  flags: {
    backend: { type: 'string' },
    model: { type: 'string' },
    config: { type: 'string' },
    image: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: doctor,
};
