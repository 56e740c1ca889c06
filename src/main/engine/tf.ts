/**
 * The one TensorFlow.js namespace the project uses. Everything outside engine/ imports `tf` from
 * here, so that only engine/ chooses backends and touches the kernel registry.
 */
export * as tf from '@tensorflow/tfjs';
