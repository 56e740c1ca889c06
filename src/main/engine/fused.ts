/**
 * Ops the models call that run as one fused kernel where the engine has one (the wasm backend with
 * the native kernels, where the load-time check found it faster), and as TensorFlow.js's own
 * composite of element-wise ops everywhere else (cpu, tfjs-node, wasm alone). Both compute the
 * same function: the kernel tests hold them to 1e-5 of each other.
 */
import { geluGradKernelName, geluKernelName } from './kernels/gelu';
import { layerNormGradKernelName, layerNormKernelName } from './kernels/layerNorm';
import { nativeKernels, type ProductClass } from './native';
import { tf } from './tf';

tf.registerGradient({
  kernelName: geluKernelName,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({
    x: () => tf.engine().runKernel(geluGradKernelName, { x: saved[0]!, dy: dy as tf.Tensor }) as tf.Tensor,
  }),
});

tf.registerGradient({
  kernelName: layerNormKernelName,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    // One kernel gives all three gradients, run here: TensorFlow.js calls each input's function
    // inside a tidy of its own, which would dispose the other two.
    const [dx, dGamma, dBeta] = tf
      .engine()
      .runKernel(
        layerNormGradKernelName,
        { x: saved[0]!, gamma: saved[1]!, dy: dy as tf.Tensor },
        attrs,
      ) as tf.Tensor[];
    return { x: () => dx!, gamma: () => dGamma!, beta: () => dBeta! };
  },
});

/**
 * Whether the fused kernel `name` runs here: the backend has it and the native kernels run this
 * class of work (measured faster at load).
 */
function fusedHere(name: string, work: ProductClass, ...tensors: tf.Tensor[]): boolean {
  return (
    tensors.every((t) => t.dtype === 'float32') &&
    tf.getKernel(name, tf.getBackend()) !== undefined &&
    nativeKernels(work) !== undefined
  );
}

/**
 * Layer norm over the last axis: (x − μ)/√(σ² + ε)·γ + β, σ² the biased variance (PyTorch's
 * nn.LayerNorm); γ and β are [width].
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): T {
  const width = x.shape.at(-1);
  if (
    gamma.shape.join() === `${width}` &&
    beta.shape.join() === `${width}` &&
    fusedHere(layerNormKernelName, 'layerNorm', x, gamma, beta)
  ) {
    return tf.engine().runKernel(layerNormKernelName, { x, gamma, beta }, { epsilon } as never) as T;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normed, gamma), beta) as T;
  });
}

/**
 * GELU, tanh approximation (as GPT-2 and PyTorch's approximate='tanh'): 0.5·x·(1 + tanh(z)) with
 * z = √(2/π)·(x + 0.044715·x³), written as the identical x·σ(2z) because wasm's Sigmoid is ~20×
 * faster than its Tanh (which took 5 % of a training step).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (fusedHere(geluKernelName, 'gelu', x)) {
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
