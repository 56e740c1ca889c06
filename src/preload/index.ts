import { contextBridge, ipcRenderer } from 'electron';
import { buildBridge } from './bridge';

contextBridge.exposeInMainWorld(
  'vrft',
  buildBridge({
    invoke: (channel, ...args) => ipcRenderer.invoke(channel, ...args),
    on(channel, listener) {
      // The page never sees the IPC event object (it carries the sender).
      const wrapped = (_event: Electron.IpcRendererEvent, payload: unknown): void => listener(payload);
      ipcRenderer.on(channel, wrapped);
      return () => ipcRenderer.removeListener(channel, wrapped);
    },
  }),
);
