/** An engine host on a workspace, with the built trainer, and a contract client connected to it. */
import path from 'node:path';
import WebSocket from 'ws';
import { createClient, socketTransport, type Client, type SocketLike } from '../../src/shared/client';
import { startHost, type RunningHost } from '../../src/main/host/index';

export async function hostWithClient(
  dataDir: string,
  rendererDir: string,
): Promise<{ host: RunningHost; client: Client }> {
  const host = await startHost({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    rendererDir,
    version: 't',
    log: () => {},
    probeEngine: false,
    trainerScript: path.resolve('out/main/trainer.js'),
  });
  const client = createClient(
    socketTransport(
      `ws://127.0.0.1:${host.port}/ws?token=${host.token}`,
      (u) => new WebSocket(u) as unknown as SocketLike,
    ),
  );
  return { host, client };
}
