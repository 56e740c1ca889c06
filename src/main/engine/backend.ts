/**
 * Picks the fastest TensorFlow.js backend that works here: tfjs-node-gpu (CUDA), tfjs-node
 * (native, all cores), wasm (SIMD, with the project's kernels), then the pure-JS cpu backend.
 * VRFT_BACKEND, or options.force, names one instead. The report says why each better one was not
 * used, in words a user can act on.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { registerWasmKernels } from './kernels';
import { nativeStatus, type NativeStatus } from './native';
import { chooseNativeWork } from './nativeChoice';
import {
  explainLoadFailure,
  nativePackages,
  notInstalledReason,
  type NativeBackendName,
} from './loadFailures';
import { backendNames, isBackendName, type BackendName } from './names';
import { tf } from './tf';

export interface TriedBackend {
  name: BackendName;
  ok: boolean;
  /** Why it was not used; for the chosen one, a caveat if any. */
  reason?: string;
}

export interface EngineReport {
  backend: BackendName;
  /** The candidates in order of preference, up to and including the chosen one. */
  tried: TriedBackend[];
  threads: number;
  /** Process resident set and JS heap in use, and the machine's total memory, in MiB. */
  memory: { rssMB: number; heapMB: number; totalMB: number };
  /** wasm only: whether the SIMD binary runs. */
  simd?: boolean;
  /** wasm only: the kernels the project registered on it. */
  kernels?: string[];
  /** wasm only: whether the project's native CPU kernels run its products and convolutions. */
  native?: NativeStatus;
}

/**
 * The backend in a few words: `wasm + native avx2` where the native kernels run every class of
 * work, `wasm + native avx2 (4 of 6 kinds)` where the load-time check kept some on wasm, else its
 * name.
 */
export function engineLabel(report: EngineReport): string {
  const native = report.native;
  if (!native?.loaded) return report.backend;
  const classes = Object.values(native.classes ?? {});
  const used = classes.filter((c) => c.native).length;
  if (classes.length > 0 && used === 0) return report.backend;
  const part = used < classes.length ? ` (${used} of ${classes.length} kinds)` : '';
  return `${report.backend} + native ${native.isa}${part}`;
}

export interface EngineOptions {
  force?: BackendName;
}

/** A backend cannot be used as asked (an unknown name, a forced backend that fails to load). */
export class EngineError extends Error {}

interface Outcome {
  ok: boolean;
  reason?: string;
  threads?: number;
  simd?: boolean;
  kernels?: string[];
  native?: NativeStatus;
}

// Resolved at run time from the bundle's own location (out/main/*.js or the source file).
const requireHere = createRequire(import.meta.url);

function backendFromEnv(): BackendName | undefined {
  const value = process.env.VRFT_BACKEND?.trim();
  if (value === undefined || value === '') return undefined;
  if (!isBackendName(value)) {
    throw new EngineError(
      `VRFT_BACKEND="${value}" is not a backend: use one of ${backendNames.join(', ')}, or unset it to pick the fastest that works`,
    );
  }
  return value;
}

export function memoryNow(): EngineReport['memory'] {
  const usage = process.memoryUsage();
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  return { rssMB: mb(usage.rss), heapMB: mb(usage.heapUsed), totalMB: mb(os.totalmem()) };
}

function isMissing(error: unknown, specifier: string): boolean {
  const { code, message } = error as NodeJS.ErrnoException;
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${specifier}'`);
}

async function tryNative(name: NativeBackendName): Promise<Outcome> {
  const pkg = nativePackages[name];
  let entry: string;
  try {
    entry = requireHere.resolve(pkg);
  } catch (error) {
    if (isMissing(error, pkg)) return { ok: false, reason: notInstalledReason(name) };
    return { ok: false, reason: explainLoadFailure(name, error) };
  }
  try {
    // CommonJS packages that register the 'tensorflow' backend on the tfjs they require.
    requireHere(entry);
  } catch (error) {
    return { ok: false, reason: explainLoadFailure(name, error) };
  }
  if (!tf.findBackendFactory('tensorflow')) {
    return {
      ok: false,
      reason: `loaded, but registered itself on another copy of @tensorflow/tfjs — install ${pkg}@${tf.version.tfjs} to match @tensorflow/tfjs ${tf.version.tfjs}`,
    };
  }
  if (!(await tf.setBackend('tensorflow'))) {
    return { ok: false, reason: 'failed to start TensorFlow (see the warning above)' };
  }
  const outcome: Outcome = { ok: true, threads: os.availableParallelism() };
  if (
    name === 'tfjs-node-gpu' &&
    (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === false
  ) {
    outcome.reason =
      'loaded, but TensorFlow found no CUDA GPU and runs on the CPU — check nvidia-smi and that CUDA 11.2 + cuDNN 8.1 are installed';
  }
  return outcome;
}

async function tryWasm(): Promise<Outcome> {
  let dist: string;
  try {
    dist = path.join(path.dirname(requireHere.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  } catch {
    return { ok: false, reason: 'not installed — run npm install in the project folder' };
  }
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // Threads need worker support tfjs does not have in Node; SIMD is on wherever Node runs it.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const binary = simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
  if (!existsSync(path.join(dist, binary))) {
    return { ok: false, reason: `${binary} is missing from ${dist} — reinstall with npm install` };
  }
  wasm.setWasmPaths(dist + path.sep);
  if (!(await tf.setBackend('wasm'))) {
    return { ok: false, reason: `${binary} failed to start (see the warning above)` };
  }
  const kernels = registerWasmKernels();
  chooseNativeWork();
  return { ok: true, threads: wasm.getThreadsCount(), simd: Boolean(simd), kernels, native: nativeStatus() };
}

async function tryCpu(): Promise<Outcome> {
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: 'failed to start' };
  // The cpu backend's first write tells Node users to install tfjs-node; doctor says it better.
  (tf.backend() as { firstUse?: boolean }).firstUse = false;
  return { ok: true, threads: 1 };
}

const attempts: Record<BackendName, () => Promise<Outcome>> = {
  'tfjs-node-gpu': () => tryNative('tfjs-node-gpu'),
  'tfjs-node': () => tryNative('tfjs-node'),
  wasm: tryWasm,
  cpu: tryCpu,
};

/** How a forced backend was asked for, for messages. */
interface Forced {
  name: BackendName;
  byEnv: boolean;
}

async function select(force: Forced | undefined): Promise<EngineReport> {
  const tried: TriedBackend[] = [];
  for (const name of backendNames) {
    if (force !== undefined && name !== force.name) {
      if (backendNames.indexOf(name) < backendNames.indexOf(force.name)) {
        const asked = force.byEnv ? `VRFT_BACKEND=${force.name}` : `${force.name} was asked for`;
        tried.push({ name, ok: false, reason: `not tried: ${asked}` });
      }
      continue;
    }
    const outcome = await attempts[name]();
    tried.push({ name, ok: outcome.ok, ...(outcome.reason === undefined ? {} : { reason: outcome.reason }) });
    if (!outcome.ok) {
      if (force?.byEnv) {
        throw new EngineError(
          `VRFT_BACKEND=${name}, but ${name} cannot be used: ${outcome.reason} (unset VRFT_BACKEND to pick the fastest backend that works)`,
        );
      }
      if (force) throw new EngineError(`the ${name} backend cannot be used: ${outcome.reason}`);
      continue;
    }
    await tf.ready();
    const report: EngineReport = { backend: name, tried, threads: outcome.threads ?? 1, memory: memoryNow() };
    if (outcome.simd !== undefined) report.simd = outcome.simd;
    if (outcome.kernels !== undefined) report.kernels = outcome.kernels;
    if (outcome.native !== undefined) report.native = outcome.native;
    return report;
  }
  throw new EngineError(
    `no TensorFlow.js backend works here: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`,
  );
}

let current: { key: string; report: Promise<EngineReport> } | undefined;

/**
 * Chooses and starts the backend; calling it again with the same choice returns the same report.
 * A different force switches backends (tests compare wasm with cpu this way).
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineReport> {
  if (options.force !== undefined && !isBackendName(options.force)) {
    throw new EngineError(
      `"${String(options.force)}" is not a backend: use one of ${backendNames.join(', ')}`,
    );
  }
  const fromEnv = options.force === undefined ? backendFromEnv() : undefined;
  const name = options.force ?? fromEnv;
  const key = name ?? 'auto';
  if (current?.key === key) return current.report;
  const previous = current?.report.catch(() => undefined);
  const report = (async () => {
    await previous; // one switch at a time
    return select(name === undefined ? undefined : { name, byEnv: fromEnv !== undefined });
  })();
  current = { key, report };
  // A failure is not remembered: the next call tries again.
  report.catch(() => {
    if (current?.report === report) current = undefined;
  });
  return report;
}
