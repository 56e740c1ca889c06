// Backend selection, the reasons a user reads when a faster backend is not used, and `vrft doctor`.
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/main/commands/command';
import { doctorCommand, formatDoctor, type DoctorReport } from '../../src/main/commands/doctor';
import {
  EngineError,
  engineLabel,
  explainLoadFailure,
  initEngine,
  isProjectKernel,
  tf,
} from '../../src/main/engine';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const savedEnv = process.env.VRFT_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.VRFT_BACKEND;
  else process.env.VRFT_BACKEND = savedEnv;
});

describe('initEngine', () => {
  it('picks the fastest backend that works and says why each faster one was not used', async () => {
    delete process.env.VRFT_BACKEND;
    const report = await initEngine();
    const gpu = report.tried.find((t) => t.name === 'tfjs-node-gpu');
    expect(report.tried[0]?.name).toBe('tfjs-node-gpu');
    if (!installed('@tensorflow/tfjs-node-gpu')) {
      expect(gpu).toEqual({
        name: 'tfjs-node-gpu',
        ok: false,
        reason:
          'not installed (optional dependency; its install downloads libtensorflow — on a machine with internet, run npm install @tensorflow/tfjs-node-gpu; it needs CUDA 11.2 + cuDNN 8.1)',
      });
    }
    if (!installed('@tensorflow/tfjs-node-gpu') && !installed('@tensorflow/tfjs-node')) {
      expect(report.backend).toBe('wasm');
      expect(report.tried.map((t) => [t.name, t.ok])).toEqual([
        ['tfjs-node-gpu', false],
        ['tfjs-node', false],
        ['wasm', true],
      ]);
      expect(report.tried[1]?.reason).toMatch(/^not installed .*npm install @tensorflow\/tfjs-node\b/);
      expect(report.simd).toBe(true);
      expect(report.threads).toBe(1);
      expect(report.kernels).toEqual([
        'UnsortedSegmentSum',
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'Conv2D',
        'BatchMatMul',
        '_FusedMatMul',
        'Identity',
        'Cast',
        'Sum',
        'GatherV2',
        'Exp',
        'VrftGelu',
        'VrftGeluGrad',
        'VrftLayerNorm',
        'VrftLayerNormGrad',
      ]);
      expect(tf.getBackend()).toBe('wasm');
      expect(isProjectKernel('UnsortedSegmentSum')).toBe(true);
    } else {
      expect(report.tried.at(-1)).toMatchObject({ name: report.backend, ok: true });
    }
    expect(report.memory.rssMB).toBeGreaterThan(0);
    expect(report.memory.heapMB).toBeGreaterThan(0);
    expect(report.memory.totalMB).toBeGreaterThan(report.memory.rssMB);
  });

  it('is idempotent: the same choice returns the same report, also when called concurrently', async () => {
    delete process.env.VRFT_BACKEND;
    const [first, second] = await Promise.all([initEngine(), initEngine()]);
    expect(second).toBe(first);
    expect(await initEngine()).toBe(first);
  });

  it('VRFT_BACKEND forces a backend and the faster ones are reported as not tried', async () => {
    process.env.VRFT_BACKEND = 'cpu';
    const report = await initEngine();
    expect(report.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(report.tried).toEqual([
      { name: 'tfjs-node-gpu', ok: false, reason: 'not tried: VRFT_BACKEND=cpu' },
      { name: 'tfjs-node', ok: false, reason: 'not tried: VRFT_BACKEND=cpu' },
      { name: 'wasm', ok: false, reason: 'not tried: VRFT_BACKEND=cpu' },
      { name: 'cpu', ok: true },
    ]);
    expect(tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0]).toBe(5);
    // options.force wins over the environment.
    expect((await initEngine({ force: 'wasm' })).backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('an unknown VRFT_BACKEND is an error naming the valid ones', async () => {
    process.env.VRFT_BACKEND = 'gpu';
    await expect(initEngine()).rejects.toThrow(EngineError);
    await expect(initEngine()).rejects.toThrow(
      'VRFT_BACKEND="gpu" is not a backend: use one of tfjs-node-gpu, tfjs-node, wasm, cpu, or unset it to pick the fastest that works',
    );
  });

  it.skipIf(installed('@tensorflow/tfjs-node-gpu'))(
    'a forced backend that cannot load is an error that says why, not a silent fallback',
    async () => {
      process.env.VRFT_BACKEND = 'tfjs-node-gpu';
      await expect(initEngine()).rejects.toThrow(
        /^VRFT_BACKEND=tfjs-node-gpu, but tfjs-node-gpu cannot be used: not installed .*unset VRFT_BACKEND/,
      );
      await expect(initEngine({ force: 'tfjs-node-gpu' })).rejects.toThrow(
        /^the tfjs-node-gpu backend cannot be used: not installed/,
      );
    },
  );
});

describe('explainLoadFailure', () => {
  const cases: [string, 'tfjs-node-gpu' | 'tfjs-node', string][] = [
    [
      'libcudart.so.11.0: cannot open shared object file: No such file or directory',
      'tfjs-node-gpu',
      'libcudart.so.11.0 not found — install CUDA 11.2 + cuDNN 8.1',
    ],
    [
      "Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file",
      'tfjs-node-gpu',
      'libcudnn.so.8 not found — install CUDA 11.2 + cuDNN 8.1',
    ],
    [
      'libtensorflow.so.2: cannot open shared object file: No such file or directory',
      'tfjs-node',
      'installed, but the native TensorFlow library it downloads at install time is missing — on a machine with internet, run npm rebuild @tensorflow/tfjs-node',
    ],
    [
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/lib/napi-v8/tfjs_binding.node. \nPlease run command ...',
      'tfjs-node-gpu',
      'installed, but the native TensorFlow library it downloads at install time is missing — on a machine with internet, run npm rebuild @tensorflow/tfjs-node-gpu',
    ],
    [
      "/lib/x86_64-linux-gnu/libm.so.6: version `GLIBC_2.29' not found (required by libtensorflow_framework.so.2)",
      'tfjs-node',
      'needs a newer C library (GLIBC_2.29 not found) — use a newer Linux, or the wasm backend',
    ],
    [
      'node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node was compiled against a different Node.js version using NODE_MODULE_VERSION 93.',
      'tfjs-node',
      `built for another version of Node.js (this is ${process.version}) — run npm rebuild @tensorflow/tfjs-node`,
    ],
    [
      "Cannot find module '@mapbox/node-pre-gyp'\nRequire stack:\n- /x/index.js",
      'tfjs-node',
      'installed, but @mapbox/node-pre-gyp is missing — reinstall @tensorflow/tfjs-node (npm install @tensorflow/tfjs-node)',
    ],
    ['something odd happened\n    at x (y.js:1:1)', 'tfjs-node', 'failed to load: something odd happened'],
  ];
  for (const [message, name, reason] of cases) {
    it(`${name}: ${message.split('\n')[0]}`, () => {
      expect(explainLoadFailure(name, new Error(message))).toBe(reason);
    });
  }
});

describe('vrft doctor', () => {
  const report: DoctorReport = {
    backend: 'wasm',
    tried: [
      {
        name: 'tfjs-node-gpu',
        ok: false,
        reason: 'libcudart.so.11.0 not found — install CUDA 11.2 + cuDNN 8.1',
      },
      { name: 'tfjs-node', ok: false, reason: 'not installed (optional)' },
      { name: 'wasm', ok: true },
    ],
    threads: 1,
    memory: { rssMB: 210, heapMB: 45, totalMB: 24036 },
    simd: true,
    kernels: ['UnsortedSegmentSum', 'BatchMatMul', '_FusedMatMul'],
    native: {
      loaded: true,
      isa: 'avx2',
      classes: { product: { native: true, ratio: 0.31 }, batched: { native: false, ratio: 1.2 } },
    },
    node: 'v20.20.0',
    platform: 'linux x64',
    matMulGflops: 27.34,
  };

  it('formats the backend, why each faster one was not used, threads, memory, Node and matMul speed', () => {
    expect(formatDoctor(report)).toBe(
      [
        'backend   wasm (SIMD on; threads off; project kernels: UnsortedSegmentSum, BatchMatMul, _FusedMatMul)',
        'not used  tfjs-node-gpu: libcudart.so.11.0 not found — install CUDA 11.2 + cuDNN 8.1',
        '          tfjs-node: not installed (optional)',
        'native    avx2 for product 0.31× the wasm time; wasm for batched (native took 1.20× the wasm time), where it measured faster',
        'threads   1',
        'memory    210 MB resident, 45 MB JS heap, 24,036 MB in the machine',
        'node      v20.20.0 (linux x64)',
        'matmul    256×256 · 256×256 float32: 27.3 GFLOP/s',
        '',
      ].join('\n'),
    );
  });

  it('labels the backend with the native ISA, and how many kinds of work it runs when not all', () => {
    const all = { product: { native: true, ratio: 0.3 }, conv: { native: true, ratio: 0.5 } };
    expect(engineLabel({ ...report, native: { loaded: true, isa: 'avx2', classes: all } })).toBe(
      'wasm + native avx2',
    );
    expect(engineLabel(report)).toBe('wasm + native avx2 (1 of 2 kinds)');
    const none = { product: { native: false, ratio: 1.3 } };
    expect(engineLabel({ ...report, native: { loaded: true, isa: 'sse2', classes: none } })).toBe('wasm');
    expect(engineLabel({ ...report, native: { loaded: false, reason: 'off' } })).toBe('wasm');
  });

  it('says why the native kernels are not used, and how to have them', () => {
    const reason = 'native/build/Release/vrft_kernels.node is not built — run npm run build:native';
    const text = formatDoctor({ ...report, native: { loaded: false, reason } });
    expect(text).toMatch(/\nnative {4}not used: .* run npm run build:native\n/);
  });

  it('runs on the backend it is asked for and prints JSON with a measured matMul speed', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await doctorCommand.run({ backend: 'cpu', json: true }, [])).toBe(0);
      const printed = JSON.parse(String(write.mock.calls[0]?.[0])) as DoctorReport;
      expect(printed.backend).toBe('cpu');
      expect(printed.node).toBe(process.version);
      expect(printed.matMulGflops).toBeGreaterThan(0.05);
      expect(printed.tried.map((t) => t.name)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']);
    } finally {
      write.mockRestore();
    }
  });

  it('prints the report as text by default', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await doctorCommand.run({ backend: 'wasm' }, [])).toBe(0);
      const text = String(write.mock.calls[0]?.[0]);
      expect(text).toMatch(/^backend {3}wasm \(SIMD on; threads off; project kernels: /);
      expect(text).toMatch(/\nmatmul {4}256×256 · 256×256 float32: \d+\.\d GFLOP\/s\n$/);
    } finally {
      write.mockRestore();
    }
  });

  it('an unknown --backend is a usage error naming the valid ones', async () => {
    await expect(doctorCommand.run({ backend: 'cuda' }, [])).rejects.toThrow(UsageError);
    await expect(doctorCommand.run({ backend: 'cuda' }, [])).rejects.toThrow(
      '--backend must be one of tfjs-node-gpu, tfjs-node, wasm, cpu, got "cuda"',
    );
  });
});
