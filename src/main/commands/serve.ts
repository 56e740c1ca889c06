import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pkg from '../../../package.json';
import { openBrowser } from '../host/browser';
import { startHost } from '../host/index';
import { defaultDataDir } from '../host/paths';
import { UsageError, type Command, type Values } from './command';

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);

function parsePort(value: string | boolean | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || port > 65535) {
    throw new UsageError(`--port wants a whole number from 0 to 65535, got "${String(value)}"`);
  }
  return port;
}

async function serve(values: Values): Promise<number> {
  const port = parsePort(values.port);
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  // The bundle is out/main/cli.js; the renderer is built next to it.
  const rendererDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../renderer');
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    process.stderr.write(
      `vrft: the app is not built (no ${rendererDir}/index.html): run \`npm run build\` first.\n`,
    );
    return 1;
  }
  if (!loopback.has(host)) {
    process.stderr.write(
      `vrft: warning: listening on ${host}, not loopback: anyone on your network who has the URL's token can use this workspace.\n`,
    );
  }
  // VRFT_ALIVE_MS: how often clients hear the host is alive; the end-to-end tests shorten it.
  const aliveEveryMs = Number(process.env.VRFT_ALIVE_MS) || undefined;
  const running = await startHost({ host, port, dataDir, rendererDir, version: pkg.version, aliveEveryMs });
  process.stdout.write(`vrft is serving ${dataDir} at ${running.url}\n`);
  if (values.open && !openBrowser(running.url)) {
    process.stdout.write('vrft: no browser found on this machine: open the URL above in one.\n');
  }
  // Spawned by the Electron shell: report readiness, and stop when the shell goes away.
  process.send?.({ type: 'ready', url: running.url, port: running.port, token: running.token });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.once('disconnect', resolve);
  });
  await running.close();
  return 0;
}

export const serveCommand: Command = {
  summary: 'start the engine host and serve the app to a browser',
  usage: 'vrft serve [--port N] [--host H] [--data DIR] [--open]',
  flags: {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    open: { type: 'boolean' },
  },
  run: serve,
};
