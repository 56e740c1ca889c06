/**
 * The load-time check that decides, per class of work, whether the native kernels or the wasm
 * path run it on this machine. A narrow or badly served vector unit (an AVX2 product built for
 * 512-bit registers, an emulated ISA) can make the native product slower than XNNPACK, so nothing
 * is assumed: each class is timed both ways at a shape tiny-vlm uses, the fastest of a dozen
 * alternated calls each, and leaves the native kernels only where wasm was clearly faster. Where
 * the platform's BLAS loaded, it is weighed against our product the same way. About 0.5 s, once
 * per process.
 */
import { gelu, layerNorm } from './fused';
import { softmaxWeights } from './softmaxWeights';
import { tf } from './tf';
import {
  loadedNativeKernels,
  nativeIsas,
  productClasses,
  setNativeChoices,
  setNativeKernelsEnabled,
  type ClassChoice,
  type ProductClass,
} from './native';

/** Each class's work at a tiny-vlm shape, as one tensor to wait for. */
function probes(): { run: Record<ProductClass, () => tf.Tensor>; inputs: tf.Tensor[] } {
  const x = tf.randomNormal([256, 128]);
  const w = tf.randomNormal([128, 128]);
  const dy = tf.randomNormal([256, 128]);
  const q = tf.randomNormal([32, 141, 32]);
  const k = tf.randomNormal([32, 141, 32]);
  const image = tf.randomNormal([2, 32, 32, 32]) as tf.Tensor4D;
  const filter = tf.randomNormal([3, 3, 32, 64]) as tf.Tensor4D;
  const dImage = tf.randomNormal([2, 16, 16, 64]) as tf.Tensor4D;
  const conv = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] } as const;
  const activations = tf.randomNormal([256, 512]);
  const gamma = tf.randomNormal([128]);
  const beta = tf.randomNormal([128]);
  // Logits as a log-softmax over a vocabulary exponentiates them (max-shifted), and a row of them
  // for a token's draw.
  const logits = tf.randomNormal([8, 8192]);
  const row = logits.dataSync().slice(0, 32768) as Float32Array;
  const weights = new Float64Array(row.length);
  const engine = tf.engine();
  const run: Record<ProductClass, () => tf.Tensor> = {
    product: () => tf.matMul(x, w),
    // xᵀ·dy and dy·Wᵀ, the two gradients of x·W.
    transposed: () => {
      tf.matMul(x, dy, true, false).dispose(); // the wasm backend computes as it is called
      return tf.matMul(dy, w, false, true);
    },
    // q·kᵀ over 32 heads (8 sequences × 4) of 141 tokens, as tiny-vlm trains.
    batched: () => tf.matMul(q, k, false, true),
    conv: () => tf.conv2d(image, filter, 2, 'same'),
    convFilter: () =>
      engine.runKernel(tf.Conv2DBackpropFilter, { x: image, dy: dImage }, {
        ...conv,
        filterShape: filter.shape,
      } as never) as tf.Tensor,
    convInput: () =>
      engine.runKernel(tf.Conv2DBackpropInput, { dy: dImage, filter }, {
        ...conv,
        inputShape: image.shape,
      } as never) as tf.Tensor,
    // Forward and backward, as training runs it.
    gelu: () => tf.grad((a: tf.Tensor) => gelu(a))(activations),
    layerNorm: () => {
      const [dx, dGamma, dBeta] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(a, g, b))([
        x,
        gamma,
        beta,
      ]);
      tf.dispose([dGamma!, dBeta!]);
      return dx!;
    },
    // Summed on the device: reading back every e^x (a 256 KiB copy) would weigh more in the timing
    // than the exps themselves, and swing the ratio from 0.1 to 0.7 between starts.
    exp: () => tf.tidy(() => tf.sum(tf.exp(logits))),
    softmaxWeights: () => tf.scalar(softmaxWeights(row, 1, weights).sum),
  };
  return { run, inputs: [x, w, dy, q, k, image, filter, dImage, activations, gamma, beta, logits] };
}

/**
 * The fastest single call of each of two ways to do the same work, alternating between them call
 * by call. On these machines a window's average moves by ±30 % between starts (garbage collection,
 * neighbours on the host: one class measured 0.18–0.78 across three), while noise only ever adds
 * time, so the fastest call of many is the steady estimate of what each costs.
 */
function fastestCalls(a: () => void, b: () => void, run: () => tf.Tensor, calls: number): [number, number] {
  const best = [Infinity, Infinity] as [number, number];
  const time = (which: 0 | 1) => {
    (which === 0 ? a : b)();
    const start = performance.now();
    const out = run();
    out.dataSync();
    best[which] = Math.min(best[which], performance.now() - start);
    out.dispose();
  };
  for (let call = 0; call < calls + 2; call++) {
    // The first two of each are warm-ups (kernels set up, heap grown), kept out of the minimum.
    const order: (0 | 1)[] = call % 2 === 0 ? [0, 1] : [1, 0];
    for (const which of order) time(which);
    if (call < 2) best.fill(Infinity);
  }
  return best;
}

/**
 * A margin for what noise is left: a class stays native unless wasm was clearly faster (within
 * it either serves), and the platform's BLAS replaces our product only where clearly faster.
 */
const nativeUnless = 1.1;
const blasBelow = 0.9;

let checked = false;

/**
 * Times each class natively and on the wasm path (the wasm backend and the project's kernels must
 * be registered) and records which runs it; once per process. Returns what it measured.
 */
export function chooseNativeWork(calls = 12): Partial<Record<ProductClass, ClassChoice>> {
  const native = loadedNativeKernels();
  if (!native) return {};
  if (checked) return {};
  checked = true;
  const { run, inputs } = probes();
  const measured: Partial<Record<ProductClass, ClassChoice>> = {};
  let blasRatio: number | undefined;
  const ratioOf = ([a, b]: [number, number]) => Math.round((a / b) * 1000) / 1000;
  try {
    const ours = native.isa();
    // VRFT_NATIVE_ISA names the product to run: nothing is chosen instead of it.
    if (!process.env.VRFT_NATIVE_ISA?.trim() && nativeIsas(native).includes('blas')) {
      // The platform's BLAS against our widest product at the MLP's training sizes (the bulk of a
      // step's products): at the small probes below, call overhead decided, and it flipped.
      setNativeKernelsEnabled('all');
      const [h, w1, g] = [
        tf.randomNormal([1024, 128]),
        tf.randomNormal([128, 512]),
        tf.randomNormal([1024, 512]),
      ];
      const mlp = () => (tf.matMul(h, w1).dispose(), tf.matMul(h, g, true, false));
      blasRatio = ratioOf(
        fastestCalls(
          () => native.isa('blas'),
          () => native.isa(ours),
          mlp,
          calls,
        ),
      );
      tf.dispose([h, w1, g]);
      native.isa(blasRatio < blasBelow ? 'blas' : ours);
    }
    for (const work of productClasses) {
      const ratio = ratioOf(
        fastestCalls(
          () => setNativeKernelsEnabled('all'),
          () => setNativeKernelsEnabled(false),
          run[work],
          calls,
        ),
      );
      measured[work] = { native: ratio < nativeUnless, ratio };
    }
  } finally {
    setNativeKernelsEnabled(true);
    tf.dispose(inputs);
  }
  setNativeChoices(measured, blasRatio);
  return measured;
}
