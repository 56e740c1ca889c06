/**
 * Ops the models call that run as one fused kernel where the engine has one (the wasm backend with
 * the native kernels, where the load-time check found it faster), and as TensorFlow.js's own
 * composite of element-wise ops everywhere else (cpu, tfjs-node, wasm alone). Both compute the
 * same function: the kernel tests hold them to 1e-5 of each other.
 */
import { geluGradKernelName, geluKernelName } from './kernels/gelu';
import { nativeKernels } from './native';
import { tf } from './tf';

tf.registerGradient({
  kernelName: geluKernelName,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({
    x: () => tf.engine().runKernel(geluGradKernelName, { x: saved[0]!, dy: dy as tf.Tensor }) as tf.Tensor,
  }),
});

/**
 * GELU, tanh approximation (as GPT-2 and PyTorch's approximate='tanh'): 0.5·x·(1 + tanh(z)) with
 * z = √(2/π)·(x + 0.044715·x³), written as the identical x·σ(2z) because wasm's Sigmoid is ~20×
 * faster than its Tanh (which took 5 % of a training step).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (x.dtype === 'float32' && tf.getKernel(geluKernelName, tf.getBackend()) && nativeKernels('gelu')) {
    return tf.engine().runKernel(geluKernelName, { x }) as T;
  }
  return tf.tidy(() => {
    // x·x·x, not tf.pow: wasm's Pow and its gradient (which also differentiates the exponent,
    // through a log) took a seventh of a training step.
    const cube = tf.mul(tf.mul(x, x), x);
    const twiceZ = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), 2 * Math.sqrt(2 / Math.PI));
    return tf.mul(x, tf.sigmoid(twiceZ));
  });
}
