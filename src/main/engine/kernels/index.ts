/**
 * The project's own kernels on the wasm backend: the ones it lacks for training
 * (UnsortedSegmentSum, the gradient of gather; Conv2DBackpropFilter, a convolution's filter
 * gradient), and fast versions of ones it runs slowly (transposed matMuls, Conv2DBackpropInput,
 * an Identity that does not copy, Sum over leading axes for bias gradients, GatherV2 by whole
 * rows), and, where the native kernels load (../native.ts), products, convolutions and e^x on the
 * CPU's own vector width.
 * Registered by initEngine when it picks wasm; unregisterWasmKernels restores the backend's own
 * (for benches).
 */
import { tf } from '../tf';
import { conv2dConfig } from './conv2d';
import { conv2dBackpropFilterConfig } from './conv2dBackpropFilter';
import { conv2dBackpropInputConfig } from './conv2dBackpropInput';
import { expConfig } from './exp';
import { gatherConfig } from './gather';
import { geluConfigs } from './gelu';
import { layerNormConfigs } from './layerNorm';
import { castConfig, identityConfig } from './identity';
import { matMulConfigs } from './matMul';
import { sumConfig } from './sum';
import { unsortedSegmentSumConfig } from './unsortedSegmentSum';

interface Installed {
  ours: tf.KernelConfig;
  /** The wasm backend's own kernel, when it has one. */
  original: tf.KernelConfig | undefined;
}

const installed = new Map<string, Installed>();

function wasmKernel(name: string): tf.KernelConfig | undefined {
  return tf.getKernel(name, 'wasm') as tf.KernelConfig | undefined;
}

function prepare(): void {
  if (installed.size > 0) return;
  const required = (name: string) => {
    const config = wasmKernel(name);
    if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel: is it loaded?`);
    return config;
  };
  const originals = {
    batchMatMul: required(tf.BatchMatMul),
    fusedMatMul: required(tf._FusedMatMul),
    transpose: required(tf.Transpose),
    conv2d: required(tf.Conv2D),
    sum: required(tf.Sum),
    gather: required(tf.GatherV2),
    cast: required(tf.Cast),
    exp: required(tf.Exp),
  };
  const ours = [
    unsortedSegmentSumConfig,
    conv2dBackpropFilterConfig(originals.batchMatMul),
    conv2dBackpropInputConfig({ batchMatMul: originals.batchMatMul, conv2d: originals.conv2d }),
    conv2dConfig(originals.conv2d),
    ...matMulConfigs(originals),
    identityConfig,
    castConfig(originals.cast),
    sumConfig(originals.sum),
    gatherConfig(originals.gather),
    expConfig(originals.exp),
    ...geluConfigs,
    ...layerNormConfigs,
  ];
  for (const config of ours) {
    installed.set(config.kernelName, { ours: config, original: wasmKernel(config.kernelName) });
  }
}

function swapIn(name: string, config: tf.KernelConfig | undefined): void {
  if (wasmKernel(name) === config) return;
  if (wasmKernel(name) !== undefined) tf.unregisterKernel(name, 'wasm');
  if (config !== undefined) tf.registerKernel(config);
}

/** Registers the project's kernels on the wasm backend (again is a no-op); returns their names. */
export function registerWasmKernels(): string[] {
  prepare();
  for (const [name, { ours }] of installed) swapIn(name, ours);
  return [...installed.keys()];
}

/** Puts the wasm backend's own kernels back (and removes the ones it never had). */
export function unregisterWasmKernels(): void {
  for (const [name, { original }] of installed) swapIn(name, original);
}

/** Whether the wasm backend currently runs the project's kernel of this name. */
export function isProjectKernel(name: string): boolean {
  const entry = installed.get(name);
  return entry !== undefined && wasmKernel(name) === entry.ours;
}
