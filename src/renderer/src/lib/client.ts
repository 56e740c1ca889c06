/**
 * The renderer's contract client: over the Electron bridge when the preload provided one,
 * otherwise over a WebSocket to the engine host that served this page (browser mode).
 */
import {
  bridgeTransport,
  createClient,
  socketTransport,
  type Client,
  type SocketLike,
  type Transport,
} from '../../../shared/client';
import type { Bridge } from '../../../shared/shell';

declare global {
  interface Window {
    vrft?: Bridge;
  }
}

/** The session token from the page URL; the host refuses the WebSocket without it. */
export function sessionToken(): string | null {
  return new URLSearchParams(location.search).get('token');
}

function browserTransport(): Transport {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}/ws?token=${encodeURIComponent(sessionToken() ?? '')}`;
  return socketTransport(url, (u) => new WebSocket(u) as unknown as SocketLike);
}

export const client: Client = createClient(window.vrft ? bridgeTransport(window.vrft) : browserTransport());
export const dialogs = window.vrft?.dialogs;
