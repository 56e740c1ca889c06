/**
 * GELU in its tanh form (PyTorch's approximate='tanh'),
 *
 *   gelu(x)  = ½x(1 + tanh(u)) = x·s,  s = σ(2u) = 1 / (1 + e^(−2u)),  u = √(2/π)(x + 0.044715x³)
 *   gelu'(x) = s + x·s(1 − s)·2√(2/π)(1 + 3·0.044715x²)
 *
 * (the logistic form needs one exp and no tanh, which costs twice as much in JavaScript),
 * as one wasm kernel each way. Built from tf ops it is ten kernels forward and more backward, each
 * a pass over the MLP's activations (a tenth of a tiny-vlm training step on wasm). The `gelu` op
 * runs the kernel where it is registered and the same composite formula elsewhere.
 */
import { tf } from '../tf';
import { input, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

export const geluKernelName = 'VrftGelu';
export const geluGradKernelName = 'VrftGeluGrad';

const c = Math.sqrt(2 / Math.PI);
const k = 0.044715;

function geluForward(args: KernelArgs): TensorInfo {
  const backend = wasmBackendOf(args);
  const x = input(args, 'x');
  const out = backend.makeOutput([...x.shape], 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const y = backend.typedArrayFromHeap(out) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    y[i] = v / (1 + Math.exp(-2 * c * (v + k * v * v * v)));
  }
  return out;
}

function geluBackward(args: KernelArgs): TensorInfo {
  const backend = wasmBackendOf(args);
  const x = input(args, 'x');
  const dy = input(args, 'dy');
  const out = backend.makeOutput([...x.shape], 'float32');
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    const s = 1 / (1 + Math.exp(-2 * c * (v + k * v * v * v)));
    dx[i] = g[i]! * (s + v * s * (1 - s) * 2 * c * (1 + 3 * k * v * v));
  }
  return out;
}

export const geluConfigs: tf.KernelConfig[] = [
  { kernelName: geluKernelName, backendName: 'wasm', kernelFunc: geluForward as tf.KernelFunc },
  { kernelName: geluGradKernelName, backendName: 'wasm', kernelFunc: geluBackward as tf.KernelFunc },
];

tf.registerGradient({
  kernelName: geluKernelName,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({
    x: () => tf.engine().runKernel(geluGradKernelName, { dy: dy as tf.Tensor, x: saved[0]! }) as tf.Tensor,
  }),
});

/** The same formula from tf ops, for backends without the kernel. */
function geluComposite<T extends tf.Tensor>(x: T): T {
  // x·x·x, not tf.pow: Pow's gradient also differentiates the exponent, through a log.
  const cube = tf.mul(tf.mul(x, x), x);
  const inner = tf.mul(tf.add(x, tf.mul(cube, k)), c);
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

/** GELU (tanh form), fused on wasm. */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (
    tf.getBackend() === 'wasm' &&
    tf.getKernel(geluKernelName, 'wasm') !== undefined &&
    x.dtype === 'float32'
  )
    return tf.engine().runKernel(geluKernelName, { x }) as T;
  return geluComposite(x);
}
