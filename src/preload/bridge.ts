/**
 * Builds the bridge from the contract's own lists, so the page gets exactly one method per call
 * and one subscription per event, each on its own channel, never a raw ipcRenderer.
 */
import { callNames, eventNames } from '../shared/contract';
import type { ConnectionState } from '../shared/client';
import { channels, type Bridge } from '../shared/shell';

export interface Ipc {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (payload: unknown) => void): () => void;
}

export function buildBridge(ipc: Ipc): Bridge {
  const calls = Object.fromEntries(
    callNames.map((name) => [name, (input: unknown) => ipc.invoke(channels.call(name), input)]),
  ) as Bridge['calls'];
  const events = Object.fromEntries(
    eventNames.map((name) => [
      name,
      (listener: (payload: unknown) => void) => ipc.on(channels.event(name), listener),
    ]),
  ) as Bridge['events'];
  return {
    calls,
    events,
    onState: (listener) => ipc.on(channels.state, (state) => listener(state as ConnectionState)),
    dialogs: {
      openFolder: (input = {}) => ipc.invoke(channels.openFolder, input) as Promise<string | null>,
      openFile: (input = {}) => ipc.invoke(channels.openFile, input) as Promise<string | null>,
    },
  };
}
