/**
 * Starts the engine host as a plain Node child process (native modules stay under the Node that
 * npm built them for) and waits for it to report its URL over the IPC channel. The host stops by
 * itself when this channel closes, so it never outlives the shell.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface HostHandle {
  child: ChildProcess;
  port: number;
  token: string;
}

interface ReadyMessage {
  type: 'ready';
  url: string;
  port: number;
  token: string;
}

export function spawnHost(opts: {
  node: string;
  cli: string;
  dataDir?: string;
  env: NodeJS.ProcessEnv;
}): Promise<HostHandle> {
  const args = [opts.cli, 'serve', '--port', '0', ...(opts.dataDir ? ['--data', opts.dataDir] : [])];
  const child = spawn(opts.node, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], env: opts.env });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`Could not start the vrft engine (${opts.node}): ${error.message}`)),
    );
    child.once('exit', (code) =>
      reject(new Error(`The vrft engine stopped before it was ready (exit ${code}).\n${stderr.trim()}`)),
    );
    child.on('message', (message: ReadyMessage) => {
      if (message?.type === 'ready') resolve({ child, port: message.port, token: message.token });
    });
  });
}
