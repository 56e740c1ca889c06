/** The backends, fastest first. Free of TensorFlow.js so commands can name them without loading it. */
export const backendNames = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof backendNames)[number];

export function isBackendName(value: string): value is BackendName {
  return (backendNames as readonly string[]).includes(value);
}
