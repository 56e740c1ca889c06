/**
 * What the Electron shell adds beyond the contract: native dialogs, and the channel names the
 * preload and the shell agree on. Browser mode has none of this (the renderer asks for a path).
 */
import { z } from 'zod';
import type { ConnectionState } from './client';
import type { CallName, Envelope, EventName } from './contract';

export const openFileInput = z
  .object({
    title: z.string().max(200).optional(),
    filters: z.array(z.object({ name: z.string(), extensions: z.array(z.string()) })).optional(),
  })
  .strict();
export type OpenFileInput = z.infer<typeof openFileInput>;
export const openFolderInput = z.object({ title: z.string().max(200).optional() }).strict();
export type OpenFolderInput = z.infer<typeof openFolderInput>;

export const channels = {
  call: (name: CallName) => `vrft:call:${name}`,
  event: (name: EventName) => `vrft:event:${name}`,
  state: 'vrft:state',
  openFolder: 'vrft:dialog:open-folder',
  openFile: 'vrft:dialog:open-file',
} as const;

/** What the preload puts on `window.vrft`: one method per contract call, nothing generic. */
export interface Bridge {
  calls: Record<CallName, (input: unknown) => Promise<Envelope<unknown>>>;
  events: Record<EventName, (listener: (payload: unknown) => void) => () => void>;
  onState(listener: (state: ConnectionState) => void): () => void;
  dialogs: {
    openFolder(input?: OpenFolderInput): Promise<string | null>;
    openFile(input?: OpenFileInput): Promise<string | null>;
  };
}
