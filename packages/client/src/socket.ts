/**
 * The part of the WebSocket API the client uses. The browser's `WebSocket` and the `ws` package both have it.
 * The `on*` handler properties are typed `unknown` so either implementation's own event types fit.
 */
export interface WebSocketLike {
  onopen: unknown;
  onclose: unknown;
  onmessage: unknown;
  onerror: unknown;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = new (url: string) => WebSocketLike;

/** `ws` (Node) also is an EventEmitter: it reports a refused handshake's HTTP status, and can drop a socket at once. */
interface NodeWebSocket {
  on(
    event: 'unexpected-response',
    listener: (request: unknown, response: { statusCode?: number }) => void,
  ): void;
  terminate(): void;
}

export interface SocketEnd {
  /** Whether the socket had opened before it ended. */
  opened: boolean;
  code: number;
  reason: string;
  /** The HTTP status of a refused handshake, when the implementation can tell (`ws` can, browsers cannot). */
  status: number | undefined;
}

export interface SocketHandlers {
  open(): void;
  message(text: string): void;
  end(end: SocketEnd): void;
}

const noop = () => {};

/** One connection attempt, with the browser and `ws` differences smoothed over. */
export class Socket {
  readonly seesHandshakeStatus: boolean;
  #opened = false;
  #status: number | undefined;
  readonly #ws: WebSocketLike;

  constructor(Factory: WebSocketFactory, url: string, handlers: SocketHandlers) {
    const ws = new Factory(url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#opened = true;
      handlers.open();
    };
    ws.onmessage = (event: { data: unknown }) => handlers.message(String(event.data));
    ws.onclose = (event: { code: number; reason: string }) =>
      handlers.end({ opened: this.#opened, code: event.code, reason: event.reason, status: this.#status });
    // A close event always follows an error; `ws` would throw an error nobody listens to.
    ws.onerror = noop;
    const node = asNode(ws);
    this.seesHandshakeStatus = node !== undefined;
    node?.on('unexpected-response', (_request, response) => {
      this.#status = response.statusCode;
      node.terminate();
    });
  }

  get opened(): boolean {
    return this.#opened;
  }

  send(text: string): void {
    this.#ws.send(text);
  }

  /**
   * Stops listening and closes the socket; no handler runs after this. Not `graceful`: the socket is presumed dead,
   * so `ws` drops it at once rather than waiting for a closing handshake that will never come.
   */
  abandon(graceful: boolean): void {
    const ws = this.#ws;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = noop;
    const node = asNode(ws);
    if (node && !graceful) node.terminate();
    else ws.close(1000);
  }
}

function asNode(ws: WebSocketLike): NodeWebSocket | undefined {
  const candidate = ws as Partial<NodeWebSocket>;
  return typeof candidate.on === 'function' && typeof candidate.terminate === 'function'
    ? (ws as unknown as NodeWebSocket)
    : undefined;
}
