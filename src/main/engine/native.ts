/**
 * The project's optional native CPU kernels (native/kernels.cc, built by `npm install`'s
 * postinstall with node-gyp; `npm run build:native` builds them again). The wasm backend multiplies
 * on 128-bit wasm SIMD; the native product uses the CPU's own vector width (AVX-512 or AVX2 where
 * it has them) and reads the wasm heap in place, several times faster. Without them (no compiler
 * at install, an unknown platform, VRFT_NATIVE=0) the wasm kernels run alone, slower but the same
 * numbers to 1e-5.
 */
import { existsSync } from 'node:fs';
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
}

export interface NativeStatus {
  loaded: boolean;
  /** The instruction set in use, when loaded. */
  isa?: string;
  /** Why they are not in use, in words a user can act on. */
  reason?: string;
}

const binary = path.join('native', 'build', 'Release', 'vrft_kernels.node');

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
let enabled = true;

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
  try {
    const kernels = createRequire(import.meta.url)(file) as NativeKernels;
    return { kernels, status: { loaded: true, isa: kernels.isa() } };
  } catch (error) {
    return {
      status: {
        loaded: false,
        reason: `${file} does not load (${(error as Error).message.split('\n')[0]}) — run npm run build:native`,
      },
    };
  }
}

/** The native kernels when they load and are enabled, else undefined. */
export function nativeKernels(): NativeKernels | undefined {
  loaded ??= load();
  return enabled ? loaded.kernels : undefined;
}

export function nativeStatus(): NativeStatus {
  loaded ??= load();
  if (loaded.kernels && !enabled) return { loaded: false, reason: 'off: disabled by the caller' };
  return loaded.status;
}

/** Turns the native kernels off and on again (tests and benches compare both paths). */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}
