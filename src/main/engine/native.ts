/**
 * The project's optional native CPU kernels (native/kernels.cc, built by `npm install`'s
 * postinstall with node-gyp; `npm run build:native` builds them again). The wasm backend multiplies
 * on 128-bit wasm SIMD; the native product uses the CPU's own vector width (AVX-512, AVX2, SSE2 or
 * NEON) and reads the wasm heap in place. Each class of product runs natively only where a short
 * check at load (nativeChoice.ts) found it faster on this machine than the wasm path. Without them
 * (no compiler at install, an unknown platform, VRFT_NATIVE=0) the wasm kernels run alone, slower
 * but the same numbers to 1e-5. VRFT_NATIVE_ISA=avx2 (or sse2, …) runs a narrower product than
 * the CPU's widest, to measure what a machine without the wider one gets.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeKernels {
  /**
   * The instruction set the product runs on (avx512f, avx2, sse2, neon: the widest the CPU has, at
   * load); with a name, switches to that one if the CPU has it, else throws (tests run each).
   */
  isa(name?: string): string;
  /**
   * For each batch entry e: c[e·m·n + i·n + j] = Σ_k a[e·aBatch + i·aRow + k·aCol] · b[e·bBatch +
   * k·bRow + j·bCol]. Strides in values; a batch stride of 0 shares that operand.
   */
  gemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    aBatch: number,
    aRow: number,
    aCol: number,
    bBatch: number,
    bRow: number,
    bCol: number,
  ): void;
  /**
   * cols[pixel, (ky·kW + kx)·inC + ci] = the input value that filter tap reads (0 in padding), for
   * an NHWC convolution of geometry [batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW,
   * padTop, padLeft] (dilations 1).
   */
  im2col(x: Float32Array, cols: Float32Array, geometry: Int32Array): void;
  /** The transpose of im2col: dx = the columns summed back onto the input values they read. */
  col2im(dx: Float32Array, cols: Float32Array, geometry: Int32Array): void;
  /** y = GELU(x), tanh form, for each value (y as long as x). */
  gelu(x: Float32Array, y: Float32Array): void;
  /** dx = dy · GELU'(x) for each value. */
  geluGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** y = e^x for each value, to ~1 ulp over the whole float range (y as long as x). */
  exp(x: Float32Array, y: Float32Array): void;
  /**
   * The weights of a draw from softmax(logits / t), in double: weights[i] = e^(x/t − max/t);
   * out = [index of the first largest logit, max/t, Σ weights, Σ weight·(x/t − max/t)].
   */
  softmaxWeights(logits: Float32Array, t: number, weights: Float64Array, out: Float64Array): void;
  /** y = (x − μ)/√(σ² + ε)·γ + β over each row of `width` values. */
  layerNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    width: number,
    eps: number,
  ): void;
  /** The layer norm's gradients: dx per row, dγ and dβ summed over the rows. */
  layerNormGrad(
    x: Float32Array,
    gamma: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    width: number,
    eps: number,
  ): void;
}

/**
 * The kinds of work the native kernels can take over from the wasm path, each checked on its own:
 * an untransposed product (or one whose weights are shared by a batch), a product with a
 * transposed operand (every matMul gradient), a batch of products (attention's heads), a
 * convolution and its filter and input gradients, GELU and layer norm, each fused forward and
 * backward (./fused.ts), e^x (every log-softmax over a vocabulary), and the weights of drawing a
 * token (./softmaxWeights.ts).
 */
export const productClasses = [
  'product',
  'transposed',
  'batched',
  'conv',
  'convFilter',
  'convInput',
  'gelu',
  'layerNorm',
  'exp',
  'softmaxWeights',
] as const;
export type ProductClass = (typeof productClasses)[number];

/** What the load-time check measured for one class: the native time over the wasm path's. */
export interface ClassChoice {
  native: boolean;
  /** native ms / wasm ms at the check's shape: below 1 is a win. */
  ratio: number;
}

export interface NativeStatus {
  loaded: boolean;
  /** The instruction set in use, when loaded. */
  isa?: string;
  /** Why they are not in use, in words a user can act on. */
  reason?: string;
  /**
   * Where the platform's BLAS loaded: its product's time over ours (isa says which one runs: blas
   * when it measured faster).
   */
  blasRatio?: number;
  /** Per class, whether the native kernels run it and what the check measured (once it ran). */
  classes?: Partial<Record<ProductClass, ClassChoice>>;
}

const binary = path.join('native', 'build', 'Release', 'vrft_kernels.node');
const nativeFunctions = [
  'isa',
  'gemm',
  'im2col',
  'col2im',
  'gelu',
  'geluGrad',
  'exp',
  'softmaxWeights',
  'layerNorm',
  'layerNormGrad',
] as const;

/** The built addon, looked for above this module (out/main/…, the source tree, a bench bundle). */
function findBinary(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    // Electron cannot load a native module from inside app.asar; the packager unpacks it beside.
    const candidate = path.join(dir, binary).replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let loaded: { kernels?: NativeKernels; status: NativeStatus } | undefined;
/** off: never; measured: the classes the check chose (all until it runs); all: every class. */
let use: 'off' | 'measured' | 'all' = 'measured';
let choices: Partial<Record<ProductClass, ClassChoice>> | undefined;

function load(): { kernels?: NativeKernels; status: NativeStatus } {
  if (process.env.VRFT_NATIVE === '0') return { status: { loaded: false, reason: 'off: VRFT_NATIVE=0' } };
  const file = findBinary();
  if (file === undefined) {
    return {
      status: {
        loaded: false,
        reason: `${binary} is not built — run npm run build:native (needs python3, make and a C++ compiler); training runs ~2× slower without it`,
      },
    };
  }
  let kernels: NativeKernels;
  try {
    kernels = createRequire(import.meta.url)(file) as NativeKernels;
  } catch (error) {
    return {
      status: {
        loaded: false,
        reason: `${file} does not load (${(error as Error).message.split('\n')[0]}) — run npm run build:native`,
      },
    };
  }
  const missing = nativeFunctions.filter((name) => typeof kernels[name] !== 'function');
  if (missing.length > 0) {
    return {
      status: {
        loaded: false,
        reason: `${file} was built by an older vrft (no ${missing.join(', ')}) — run npm run build:native`,
      },
    };
  }
  const isa = process.env.VRFT_NATIVE_ISA?.trim();
  if (isa) {
    try {
      kernels.isa(isa);
    } catch {
      return {
        status: {
          loaded: false,
          reason: `VRFT_NATIVE_ISA=${isa}, but this CPU cannot run it (its widest: ${kernels.isa()}) — unset VRFT_NATIVE_ISA`,
        },
      };
    }
  }
  return { kernels, status: { loaded: true, isa: kernels.isa() } };
}

/** The loaded kernels, whether or not any class uses them (the check and tests need them). */
export function loadedNativeKernels(): NativeKernels | undefined {
  loaded ??= load();
  return loaded.kernels;
}

/**
 * The instruction sets this CPU can run the product on, widest first, then the platform's BLAS
 * where one loaded (tests and benches try each).
 */
export function nativeIsas(kernels: NativeKernels): string[] {
  const chosen = kernels.isa();
  const runs = (isa: string) => {
    try {
      return kernels.isa(isa) === isa;
    } catch {
      return false;
    }
  };
  // blas: the platform's own (Accelerate, or a system OpenBLAS), where the addon found one.
  const isas = ['avx512f', 'avx2', 'sse2', 'neon', 'baseline', 'blas'].filter(runs);
  kernels.isa(chosen);
  return isas;
}

/** The native kernels when they load and run this class of work here, else undefined. */
export function nativeKernels(work: ProductClass): NativeKernels | undefined {
  loaded ??= load();
  if (use === 'off') return undefined;
  if (use === 'measured' && choices?.[work]?.native === false) return undefined;
  return loaded.kernels;
}

export function nativeStatus(): NativeStatus {
  loaded ??= load();
  if (loaded.kernels && use === 'off') return { loaded: false, reason: 'off: disabled by the caller' };
  return choices === undefined ? loaded.status : { ...loaded.status, classes: { ...choices } };
}

/**
 * Turns the native kernels off (false), back to the classes the check chose (true), or onto every
 * class whatever the check found ('all': tests of their numbers, benches of each path).
 */
export function setNativeKernelsEnabled(on: boolean | 'all'): void {
  use = on === 'all' ? 'all' : on ? 'measured' : 'off';
}

/** Records the load-time check's outcome (nativeChoice.ts); undefined forgets it. */
export function setNativeChoices(
  measured: Partial<Record<ProductClass, ClassChoice>> | undefined,
  blasRatio?: number,
): void {
  choices = measured;
  if (loaded?.kernels) {
    loaded.status = { ...loaded.status, isa: loaded.kernels.isa() };
    if (blasRatio !== undefined) loaded.status.blasRatio = blasRatio;
  }
}

/**
 * A run keeps the check's outcome in `file` beside it, and a resumed run takes it back (on the same
 * instruction set): native and wasm kernels differ in the last bits and the check is timed, so on
 * a busy machine a second process could choose otherwise, and the resumed run would no longer be
 * the uninterrupted one bit for bit.
 */
export function keepNativeChoices(file: string, resume: boolean): void {
  const status = nativeStatus();
  if (!status.loaded || !status.classes || use !== 'measured') return;
  if (resume && existsSync(file)) {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as {
        isa?: string;
        classes?: Partial<Record<ProductClass, ClassChoice>>;
      };
      if (saved.isa === status.isa && saved.classes) {
        setNativeChoices({ ...status.classes, ...saved.classes });
        return;
      }
    } catch {
      // An unreadable file: this process's own check stands, and is kept instead.
    }
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ isa: status.isa, classes: status.classes })}\n`);
}

/** The check's outcome in a line: `avx2 for product 0.31×, …; wasm for convInput (native 1.2×)`. */
export function describeNativeUse(status: NativeStatus): string {
  if (!status.loaded) return `not used: ${status.reason ?? 'unknown'}`;
  const classes = Object.entries(status.classes ?? {}) as [ProductClass, ClassChoice][];
  if (classes.length === 0) return `${status.isa} for every product (not checked against wasm)`;
  const time = (c: ClassChoice) => `${c.ratio.toFixed(2)}× the wasm time`;
  const native = classes.filter(([, c]) => c.native).map(([name, c]) => `${name} ${time(c)}`);
  const wasm = classes.filter(([, c]) => !c.native).map(([name, c]) => `${name} (native took ${time(c)})`);
  const blas =
    status.blasRatio === undefined
      ? []
      : [
          `the platform's BLAS took ${status.blasRatio.toFixed(2)}× our product's time${status.isa === 'blas' ? ', so it multiplies' : ''}`,
        ];
  return [
    native.length > 0 ? `${status.isa} for ${native.join(', ')}` : `${status.isa} for nothing`,
    ...(wasm.length > 0 ? [`wasm for ${wasm.join(', ')}, where it measured faster`] : []),
    ...blas,
  ].join('; ');
}
