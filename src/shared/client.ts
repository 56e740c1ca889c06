/**
 * The contract client, the same over every transport: the Electron bridge, a WebSocket from the
 * browser, or a WebSocket from Node (the Electron shell's relay, tests). Calls resolve to the output
 * or throw a ContractError carrying the host's error code and message.
 */
import type {
  CallInput,
  CallName,
  CallOutput,
  Envelope,
  EventName,
  EventPayload,
  WireMessage,
} from './contract';
import type { ErrorCode } from './errors';
import type { Bridge } from './shell';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface Transport {
  call(name: string, input: unknown): Promise<Envelope<unknown>>;
  onEvent(name: string, listener: (payload: unknown) => void): () => void;
  onState(listener: (state: ConnectionState) => void): () => void;
  close(): void;
}

export class ContractError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}

export interface Client {
  call<N extends CallName>(name: N, input: CallInput<N>): Promise<CallOutput<N>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  onState(listener: (state: ConnectionState) => void): () => void;
  close(): void;
}

export function createClient(transport: Transport): Client {
  return {
    async call(name, input) {
      const result = await transport.call(name, input);
      if (!result.ok) throw new ContractError(result.error.code, result.error.message);
      return result.value as never;
    },
    on: (event, listener) => transport.onEvent(event, listener as (payload: unknown) => void),
    onState: (listener) => transport.onState(listener),
    close: () => transport.close(),
  };
}

/** The part of the WebSocket API that both the browser's and the `ws` package's share. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface SocketOptions {
  /** Waits between reconnection attempts; the last one repeats. */
  retryDelaysMs?: number[];
  /** How long a call may wait for a connection before it fails as 'unavailable'. */
  callTimeoutMs?: number;
}

const OPEN = 1;

function unavailable(message: string): Envelope<never> {
  return { ok: false, error: { code: 'unavailable', message } };
}

/** A WebSocket transport that reconnects on its own; calls made while it is down wait for it. */
export function socketTransport(
  url: string,
  openSocket: (url: string) => SocketLike,
  options: SocketOptions = {},
): Transport {
  const delays = options.retryDelaysMs ?? [250, 500, 1000, 2000, 4000];
  const callTimeoutMs = options.callTimeoutMs ?? 15_000;
  interface Pending {
    message: string;
    sent: boolean;
    resolve: (result: Envelope<unknown>) => void;
    /** Runs only while the call waits for a connection; a sent call may take as long as it takes. */
    timer?: ReturnType<typeof setTimeout>;
  }
  const pending = new Map<number, Pending>();
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const stateListeners = new Set<(state: ConnectionState) => void>();
  let state: ConnectionState = 'connecting';
  let socket: SocketLike | undefined;
  let attempt = 0;
  let nextId = 1;
  let closed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  function setState(next: ConnectionState): void {
    if (next === state) return;
    state = next;
    for (const listener of stateListeners) listener(next);
  }

  function connect(): void {
    const ws = openSocket(url);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setState('connected');
      for (const entry of pending.values()) {
        if (!entry.sent) {
          clearTimeout(entry.timer);
          ws.send(entry.message);
          entry.sent = true;
        }
      }
    };
    ws.onmessage = (event) => receive(String(event.data));
    ws.onerror = () => {};
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = undefined;
      // Calls already sent may or may not have run; tell their callers rather than guess.
      for (const [id, entry] of pending) {
        if (entry.sent) {
          clearTimeout(entry.timer);
          pending.delete(id);
          entry.resolve(unavailable('Lost the connection to the vrft engine while waiting for an answer.'));
        }
      }
      if (closed) return setState('closed');
      setState('reconnecting');
      const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1000;
      attempt += 1;
      retryTimer = setTimeout(connect, delay);
    };
  }

  function receive(text: string): void {
    let message: WireMessage;
    try {
      message = JSON.parse(text) as WireMessage;
    } catch {
      return;
    }
    if ('event' in message) {
      for (const listener of eventListeners.get(message.event) ?? []) listener(message.payload);
      return;
    }
    const entry = pending.get(message.id);
    if (!entry) return;
    clearTimeout(entry.timer);
    pending.delete(message.id);
    entry.resolve(message.result);
  }

  connect();

  return {
    call(name, input) {
      if (closed) return Promise.resolve(unavailable('The connection to the vrft engine is closed.'));
      const id = nextId++;
      const message = JSON.stringify({ id, call: name, input });
      return new Promise((resolve) => {
        if (socket?.readyState === OPEN) {
          socket.send(message);
          pending.set(id, { message, sent: true, resolve });
          return;
        }
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(unavailable(`Could not reach the vrft engine for ${name}; is it still running?`));
        }, callTimeoutMs);
        pending.set(id, { message, sent: false, resolve, timer });
      });
    },
    onEvent(name, listener) {
      const set = eventListeners.get(name) ?? new Set();
      eventListeners.set(name, set);
      set.add(listener);
      return () => set.delete(listener);
    },
    onState(listener) {
      stateListeners.add(listener);
      listener(state);
      return () => stateListeners.delete(listener);
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      socket?.close();
      setState('closed');
    },
  };
}

/** The transport inside the Electron window: the preload's bridge, one method per call. */
export function bridgeTransport(bridge: Bridge): Transport {
  return {
    call(name, input) {
      const method = bridge.calls[name as keyof Bridge['calls']];
      if (!method) {
        return Promise.resolve({
          ok: false,
          error: { code: 'unknown_call', message: `There is no call named "${name}".` },
        });
      }
      return method(input);
    },
    onEvent: (name, listener) => bridge.events[name as keyof Bridge['events']]?.(listener) ?? (() => {}),
    onState(listener) {
      listener('connected');
      return bridge.onState(listener);
    },
    close: () => {},
  };
}
