/**
 * The Electron shell: starts the engine host, opens one locked-down window, relays the page's
 * contract calls to the host and the host's events to the page, and offers native dialogs.
 * It owns no data; closing the window stops the host.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, session, type IpcMainInvokeEvent } from 'electron';
import WebSocket from 'ws';
import { socketTransport, type SocketLike, type Transport } from '../shared/client';
import { callNames, eventNames } from '../shared/contract';
import { channels, openFileInput, openFolderInput } from '../shared/shell';
import { spawnHost, type HostHandle } from './shell/hostProcess';
import { isAllowedRequest, isAppUrl, windowOptions } from './shell/window';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererFile = path.join(here, '../renderer/index.html');
const devServerUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;

let host: HostHandle | undefined;
let transport: Transport | undefined;
let window: BrowserWindow | undefined;

app.enableSandbox();

app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, rendererFile, devServerUrl)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, rendererFile, devServerUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

function fromOurPage(event: IpcMainInvokeEvent): boolean {
  return !!event.senderFrame && isAppUrl(event.senderFrame.url, rendererFile, devServerUrl);
}

function engineNode(): { node: string; env: NodeJS.ProcessEnv } {
  // A packaged app runs the host on Electron's own Node; in development, on the Node npm used.
  if (app.isPackaged) return { node: process.execPath, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } };
  return { node: process.env.npm_node_execpath ?? process.env.VRFT_NODE ?? 'node', env: process.env };
}

function relay(connection: Transport): void {
  for (const name of callNames) {
    ipcMain.handle(channels.call(name), (event, input: unknown) => {
      if (!fromOurPage(event)) throw new Error('Refused: the call did not come from the vrft window.');
      return connection.call(name, input);
    });
  }
  for (const name of eventNames) {
    connection.onEvent(name, (payload) => window?.webContents.send(channels.event(name), payload));
  }
  connection.onState((state) => window?.webContents.send(channels.state, state));

  ipcMain.handle(channels.openFolder, async (event, input: unknown) => {
    if (!fromOurPage(event) || !window) return null;
    const { title } = openFolderInput.parse(input ?? {});
    const result = await dialog.showOpenDialog(window, { title, properties: ['openDirectory'] });
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
  ipcMain.handle(channels.openFile, async (event, input: unknown) => {
    if (!fromOurPage(event) || !window) return null;
    const { title, filters } = openFileInput.parse(input ?? {});
    const result = await dialog.showOpenDialog(window, { title, filters, properties: ['openFile'] });
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
}

async function start(): Promise<void> {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.webRequest.onBeforeRequest((details, callback) => {
    callback({ cancel: !isAllowedRequest(details.url, devServerUrl) });
  });

  const { node, env } = engineNode();
  host = await spawnHost({ node, env, cli: path.join(here, 'cli.js'), dataDir: process.env.VRFT_DATA });
  host.child.on('exit', () => {
    if (!app.isReady() || !window) return;
    dialog.showErrorBox(
      'vrft engine stopped',
      'The vrft engine stopped unexpectedly. Your saved work is safe; restart vrft.',
    );
    app.quit();
  });
  const url = `ws://127.0.0.1:${host.port}/ws?token=${host.token}`;
  transport = socketTransport(url, (u) => new WebSocket(u) as unknown as SocketLike);
  relay(transport);

  window = new BrowserWindow(windowOptions(path.join(here, '../preload/index.cjs')));
  window.once('ready-to-show', () => window?.show());
  window.on('closed', () => (window = undefined));
  if (devServerUrl) await window.loadURL(devServerUrl);
  else await window.loadFile(rendererFile);
}

function stopHost(): void {
  transport?.close();
  if (host && host.child.exitCode === null) {
    host.child.removeAllListeners('exit');
    host.child.kill('SIGTERM');
  }
}

app.on('window-all-closed', () => app.quit());
app.on('will-quit', stopHost);

app
  .whenReady()
  .then(start)
  .catch((error: unknown) => {
    dialog.showErrorBox('vrft could not start', error instanceof Error ? error.message : String(error));
    stopHost();
    app.exit(1);
  });
