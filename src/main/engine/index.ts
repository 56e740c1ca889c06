/**
 * The tensor engine: the `tf` namespace the whole project uses, backend selection, and the
 * project's kernels. Only this folder touches TensorFlow.js's backend and kernel registries.
 */
export { tf } from './tf';
export { gelu, layerNorm } from './fused';
export { backendNames, isBackendName, type BackendName } from './names';
export {
  EngineError,
  engineLabel,
  initEngine,
  memoryNow,
  type EngineOptions,
  type EngineReport,
  type TriedBackend,
} from './backend';
export { explainLoadFailure, notInstalledReason } from './loadFailures';
export {
  describeNativeUse,
  keepNativeChoices,
  loadedNativeKernels,
  nativeIsas,
  nativeStatus,
  setNativeKernelsEnabled,
  type NativeStatus,
} from './native';
export { isProjectKernel, registerWasmKernels, unregisterWasmKernels } from './kernels';
export { matMulFlops, measureMatMulGflops, msPerCall } from './speed';
