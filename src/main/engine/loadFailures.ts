/**
 * Why a backend could not be used, in words a user can act on. The native TensorFlow backends
 * download libtensorflow at install time and load CUDA at run time, so most failures are an
 * install that never finished or a missing system library.
 */
export type NativeBackendName = 'tfjs-node-gpu' | 'tfjs-node';

export const nativePackages: Record<NativeBackendName, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
};

const cudaRequirement = 'CUDA 11.2 + cuDNN 8.1';

export function notInstalledReason(name: NativeBackendName): string {
  const pkg = nativePackages[name];
  return name === 'tfjs-node-gpu'
    ? `not installed (optional dependency; its install downloads libtensorflow — on a machine with internet, run npm install ${pkg}; it needs ${cudaRequirement})`
    : `not installed (optional; its install downloads libtensorflow — on a machine with internet, run npm install ${pkg} to train on all CPU cores)`;
}

/** The first line of an error, without the stack. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? text).trim();
}

/** Translates an error thrown while loading a native backend package into what to do about it. */
export function explainLoadFailure(name: NativeBackendName, error: unknown): string {
  const pkg = nativePackages[name];
  const message = error instanceof Error ? error.message : String(error);
  // Most specific first: a message about a missing CUDA library may also name libtensorflow.
  const cuda =
    /\b(lib(?:cudart|cudnn|cublas|cublasLt|cufft|curand|cusolver|cusparse|nvinfer)[\w-]*?\.so(?:\.[\d.]+)?)/.exec(
      message,
    );
  if (cuda) return `${cuda[1]} not found — install ${cudaRequirement}`;
  const windowsCuda = /\b((?:cudart|cudnn|cublas)64_\w+\.dll)/i.exec(message);
  if (windowsCuda)
    return `${windowsCuda[1]} not found — install ${cudaRequirement} and put their bin folders on PATH`;
  const glibc = /GLIBC(?:XX)?_[\d.]+/.exec(message);
  if (glibc)
    return `needs a newer C library (${glibc[0]} not found) — use a newer Linux, or the wasm backend`;
  if (/NODE_MODULE_VERSION/.test(message)) {
    return `built for another version of Node.js (this is ${process.version}) — run npm rebuild ${pkg}`;
  }
  if (/incompatible architecture|wrong ELF class|not a valid Win32 application/i.test(message)) {
    return `built for another processor architecture (this is ${process.arch}) — reinstall ${pkg} on this machine`;
  }
  if (/libtensorflow|tfjs_binding\.node|tensorflow\.dll/i.test(message)) {
    return `installed, but the native TensorFlow library it downloads at install time is missing — on a machine with internet, run npm rebuild ${pkg}`;
  }
  if (/The specified module could not be found/i.test(message)) {
    return name === 'tfjs-node-gpu'
      ? `a library it needs is missing — install ${cudaRequirement} and put their bin folders on PATH`
      : `a library it needs is missing — install the Microsoft Visual C++ Redistributable, then run npm rebuild ${pkg}`;
  }
  const missingModule = /Cannot find module '([^']+)'/.exec(message);
  if (missingModule) {
    return `installed, but ${missingModule[1]} is missing — reinstall ${pkg} (npm install ${pkg})`;
  }
  return `failed to load: ${firstLine(error)}`;
}
