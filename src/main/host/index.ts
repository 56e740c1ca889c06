/** Starts the engine host: opens the workspace store and serves the contract over HTTP/WebSocket. */
import { aliveEveryMs } from '../../shared/contract';
import path from 'node:path';
import { damaged, makeWorkspaceFolder, openStore, workspaceDbPath, type Db } from '../store/db';
import { newToken } from './auth';
import { createDispatch } from './dispatch';
import { createHandlers } from './handlers';
import { JobSupervisor, type Broadcast } from './jobs';
import { RewardServers } from './scaleOutHandlers';
import { startServer, type ServerOptions } from './server';
import { lockWorkspace } from '../store/lock';
import { trainerScript } from '../train/runFiles';
import type { WatchOptions } from '../train/watchdog';

export interface HostOptions {
  host: string;
  port: number;
  dataDir: string;
  rendererDir: string;
  version: string;
  token?: string;
  log?: (line: string) => void;
  /** Find the tensor backend in the background (the status bar shows it); tests may skip it. */
  probeEngine?: boolean;
  /** The trainer process script; found beside the built host when absent. */
  trainerScript?: string;
  /** What one client may cost the host (server.ts `limits`); tests lower them. */
  limits?: ServerOptions['limits'];
  /** How often clients hear 'host.alive' (contract's aliveEveryMs); tests shorten it. */
  aliveEveryMs?: number;
  /** When a silent or slow-to-stop trainer is reported (train/watchdog.ts); tests shorten it. */
  trainerWatch?: WatchOptions;
}

export interface RunningHost {
  url: string;
  port: number;
  token: string;
  broadcast(event: string, payload: unknown): void;
  close(): Promise<void>;
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const log = options.log ?? ((line: string) => process.stderr.write(`vrft: ${line}\n`));
  makeWorkspaceFolder(options.dataDir);
  const lock = lockWorkspace(options.dataDir);
  let db: Db;
  try {
    db = openStore(workspaceDbPath(options.dataDir));
  } catch (error) {
    lock.release();
    throw error;
  }
  const token = options.token ?? newToken();
  let backend = 'unknown';
  let backendDetail: string | undefined;
  let broadcast: Broadcast = () => {};
  const jobs = new JobSupervisor(
    db,
    options.dataDir,
    () => options.trainerScript ?? trainerScript(import.meta.url),
    (event, payload) => broadcast(event, payload),
    log,
    options.trainerWatch,
  );
  const rewardServers = new RewardServers(
    db,
    options.dataDir,
    (event, payload) => broadcast(event, payload),
    log,
    options.trainerScript && path.join(path.dirname(options.trainerScript), 'recordWorker.js'),
  );
  const handlers = createHandlers({
    db,
    dataDir: options.dataDir,
    version: options.version,
    backend: () => backend,
    backendDetail: () => backendDetail,
    jobs,
    rewardServers,
    broadcast: (event, payload) => broadcast(event, payload),
    aliveEveryMs: options.aliveEveryMs,
    ...(options.trainerScript && {
      compareWorker: path.join(path.dirname(options.trainerScript), 'compareWorker.js'),
    }),
  });
  try {
    const server = await startServer({
      host: options.host,
      port: options.port,
      token,
      rendererDir: options.rendererDir,
      dispatch: createDispatch(
        handlers,
        log,
        (error) => damaged(workspaceDbPath(options.dataDir), error)?.message,
      ),
      log,
      limits: options.limits,
    });
    broadcast = server.broadcast;
    const alive = setInterval(() => server.broadcast('host.alive', {}), options.aliveEveryMs ?? aliveEveryMs);
    alive.unref();
    // Which backend training will get, found after the host is up so startup never waits for it.
    if (options.probeEngine !== false) {
      import('../engine')
        .then(async ({ describeNativeUse, engineLabel, initEngine }) => {
          const report = await initEngine();
          backend = engineLabel(report);
          const notUsed = report.tried.filter((t) => !t.ok).map((t) => `${t.name}: ${t.reason ?? ''}`);
          const native = report.native;
          if (native && !native.loaded) notUsed.push(`native kernels: ${native.reason ?? ''}`);
          backendDetail = [
            ...(native ? [`native kernels: ${describeNativeUse(native)}`] : []),
            ...notUsed.map((line) => `not used: ${line}`),
          ].join('\n');
          server.broadcast('engine.ready', { backend, detail: backendDetail, notUsed });
        })
        // Training reports its own failure; the host keeps serving with the backend 'unknown'.
        .catch((error: unknown) => log(`could not start the tensor engine: ${String(error)}`));
    }
    lock.describe(server.url.replace(/\?token=.*$/, ''));
    return {
      url: server.url,
      port: server.port,
      token,
      broadcast: server.broadcast,
      async close() {
        clearInterval(alive);
        await Promise.all([jobs.stopAll(), rewardServers.closeAll()]);
        await server.close();
        db.close();
        lock.release();
      },
    };
  } catch (error) {
    db.close();
    lock.release();
    throw error;
  }
}
