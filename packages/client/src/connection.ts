/**
 * The connection's lifecycle: one WebSocket kept open, its states, and the decisions around it. A fresh token is
 * checked before every attempt, attempts are spaced by backoff, a heartbeat finds dead sockets, and the client
 * stops when a retry cannot help. The Socket adapter at the bottom hides the browser / `ws` differences.
 */
import type { ResolvedOptions, WebSocketFactory, WebSocketLike } from './options.js';
import { isRoomClaimEntry, roomAllowed } from './protocol.js';

// ---------------------------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------------------------

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * Why the client stopped: `client` (close() was called), `unauthorized` (401, or an expired token), `forbidden`
 * (403, or a default room outside the token's `rooms`), `bad-request` (400), `gave-up` (the attempt limits of
 * ReconnectOptions). Only `client` and `gave-up` are not about the token or the default room.
 */
export type CloseReason = 'client' | 'unauthorized' | 'forbidden' | 'bad-request' | 'gave-up';

export type StateChange =
  /** A handshake starts; attempt 1 is the first after the last connection that caught up (or ever). */
  | { state: 'connecting'; attempt: number }
  | { state: 'open' }
  /** No connection; attempt number `attempt` starts in `delayMs`. */
  | { state: 'reconnecting'; attempt: number; delayMs: number; reason: string }
  /** Final: the client will not connect again. `status` is the refused handshake's, when known. */
  | { state: 'closed'; reason: CloseReason; detail: string; status?: number };

/** Handshake statuses that no retry can fix. */
function refusal(status: number | undefined): CloseReason | undefined {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 400) return 'bad-request';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------------------------

export interface ConnectionHandlers {
  /** A new socket opened; `generation` names it in later calls to `abandon`. */
  open(generation: number): void;
  text(text: string): void;
  /** The open socket (or the attempt) is gone. */
  down(): void;
  state(change: StateChange): void;
  /** Every `heartbeatMs` while a socket is open: time to check that it is alive. */
  heartbeat(): void;
}

/**
 * Keeps one WebSocket open: a token per attempt, backoff between attempts, a heartbeat while open, and the
 * decision to stop when a retry cannot help (a refused or unusable token, or the attempt limits).
 */
export class Connection {
  readonly #options: ResolvedOptions;
  readonly #on: ConnectionHandlers;
  #state: ConnectionState = 'connecting';
  #socket: Socket | undefined;
  #generation = 0;
  #userId: string | undefined;
  /** The rooms the last token allows (its `rooms` claim); undefined: any. */
  #allowed: string[] | undefined;
  /** The token of the last attempt (the open socket's, while one is open), and when its handshake started. */
  #token = '';
  #startedAt = 0;
  /** Attempts since the last open socket. */
  #attempts = 0;
  #failedHandshakes = 0;
  /** The handshake deadline, or the delay before the next attempt. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  /** Removes the `online` and `visibilitychange` listeners (browsers). */
  readonly #unwatch: () => void;

  constructor(options: ResolvedOptions, handlers: ConnectionHandlers) {
    this.#options = options;
    this.#on = handlers;
    this.#unwatch = watchWakeUps(() => this.wake());
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get userId(): string | undefined {
    return this.#userId;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The open socket's token and when its handshake started: what its replacement is timed by (handover.ts). */
  get current(): { token: string; startedAt: number } {
    return { token: this.#token, startedAt: this.#startedAt };
  }

  /** Whether the token of the current connection allows `room` (the server would refuse its subscribe). */
  allows(room: string): boolean {
    return roomAllowed(this.#allowed, room);
  }

  start(): void {
    void this.#attempt();
  }

  /** Sends on the open socket; without one, does nothing (the outbox and requests send again on the next). */
  send(text: string): void {
    if (this.#state === 'open' && this.#socket?.opened) this.#socket.send(text);
  }

  /**
   * Socket `generation` proved itself (its catch-up is done): the next loss starts the backoff afresh. Not at open:
   * a socket that opens and is dropped again and again (a catch-up that keeps failing) must keep backing off.
   */
  healthy(generation: number): void {
    if (generation === this.#generation && this.#state === 'open') this.#attempts = 0;
  }

  /** While waiting to reconnect, tries now (the network came back, the page is visible again, a user asked). */
  wake(): void {
    if (this.#state !== 'reconnecting') return;
    clearTimeout(this.#timer);
    void this.#attempt();
  }

  /**
   * A handover is done: `socket`, opened with `token` and caught up, becomes the connection (a new generation)
   * and the old socket is closed with 1000. The state stays `open`, and the heartbeat runs on.
   */
  replace(socket: Socket, token: string, check: TokenCheck & { ok: true }, startedAt: number): number {
    const old = this.#socket;
    this.#socket = socket;
    this.#generation += 1;
    this.#token = token;
    this.#startedAt = startedAt;
    this.#userId = check.userId;
    this.#allowed = check.rooms;
    socket.listen(this.#handlers(socket));
    old?.abandon(true);
    return this.#generation;
  }

  /** Gives up on socket `generation`, presumed dead, and reconnects as if it had closed. */
  abandon(generation: number, reason: string): void {
    const socket = this.#socket;
    if (!socket || generation !== this.#generation) return;
    socket.abandon(false);
    this.#lost(socket, { opened: socket.opened, code: 1006, reason: '', status: undefined }, reason);
  }

  close(reason: CloseReason, detail: string, status?: number): void {
    if (this.#state === 'closed') return;
    const socket = this.#socket;
    this.#drop();
    this.#unwatch();
    socket?.abandon(reason === 'client');
    this.#setState({ state: 'closed', reason, detail, ...(status !== undefined && { status }) });
  }

  async #attempt(): Promise<void> {
    if (this.#isClosed()) return;
    this.#attempts += 1;
    this.#setState({ state: 'connecting', attempt: this.#attempts });
    let token: string;
    try {
      token = await this.#options.getToken();
    } catch (error) {
      this.#retry(`getToken failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (this.#isClosed()) return;
    const check = checkToken(token, this.#options.room, Date.now());
    if (!check.ok) {
      this.close(check.reason, check.detail);
      return;
    }
    this.#userId = check.userId;
    this.#allowed = check.rooms;
    this.#token = token;
    this.#startedAt = Date.now();
    let socket: Socket;
    try {
      socket = new Socket(this.#options.WebSocket, socketUrl(this.#options.url, token));
      socket.listen(this.#handlers(socket));
    } catch (error) {
      this.#retry(`the WebSocket could not be created: ${(error as Error).message}`);
      return;
    }
    this.#socket = socket;
    this.#generation += 1;
    const generation = this.#generation;
    this.#timer = setTimeout(
      () => this.abandon(generation, 'the handshake timed out'),
      this.#options.connectTimeoutMs,
    );
  }

  #handlers(socket: Socket): SocketHandlers {
    return {
      open: () => this.#opened(socket),
      message: (text) => this.#on.text(text),
      end: (end) => this.#lost(socket, end),
    };
  }

  #opened(socket: Socket): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#timer);
    this.#failedHandshakes = 0;
    this.#state = 'open';
    const { heartbeatMs } = this.#options;
    if (heartbeatMs > 0) this.#heartbeat = setInterval(() => this.#on.heartbeat(), heartbeatMs);
    // Before anyone hears of it, so that what a state listener sends goes out once.
    this.#on.open(this.#generation);
    this.#setState({ state: 'open' });
  }

  #lost(socket: Socket, end: SocketEnd, cause?: string): void {
    if (socket !== this.#socket) return;
    this.#drop();
    if (end.opened) {
      this.#retry(cause ?? `connection closed (${end.code}${end.reason ? ` ${end.reason}` : ''})`);
      return;
    }
    const refused = refusal(end.status);
    if (refused) {
      this.close(refused, `the handshake was refused with ${end.status}`, end.status);
      return;
    }
    // Where the status is invisible (browsers) a refusal looks like this too; a browser that knows it is offline
    // is not refused.
    const unexplained = !socket.seesHandshakeStatus && !knownOffline();
    if (unexplained) this.#failedHandshakes += 1;
    if (this.#failedHandshakes >= this.#options.reconnect.maxFailedHandshakes) {
      this.close('gave-up', `${this.#failedHandshakes} handshakes failed in a row`);
      return;
    }
    this.#retry(cause ?? `the handshake failed${end.status ? ` with ${end.status}` : ''}`);
  }

  #drop(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const hadSocket = this.#socket !== undefined;
    this.#socket = undefined;
    if (hadSocket) this.#on.down();
  }

  #retry(reason: string): void {
    if (this.#isClosed()) return;
    const { reconnect } = this.#options;
    if (this.#attempts >= reconnect.maxAttempts) {
      this.close('gave-up', `${this.#attempts} attempts failed in a row; last: ${reason}`);
      return;
    }
    const delayMs = backoffDelay(this.#attempts + 1, reconnect);
    this.#setState({ state: 'reconnecting', attempt: this.#attempts + 1, delayMs, reason });
    this.#timer = setTimeout(() => void this.#attempt(), delayMs);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #setState(change: StateChange): void {
    this.#state = change.state;
    this.#on.state(change);
  }
}

/** The URL of a connection attempt. No room in it: the client subscribes to its rooms on the open connection. */
export function socketUrl(base: string, token: string): string {
  const url = new URL(base);
  url.searchParams.set('token', token);
  return url.toString();
}

/**
 * Calls `wake` when a browser comes back online or its page becomes visible again: a reconnect then should not
 * wait out a backoff delay of up to `maxDelayMs`. Returns the function that stops watching; nothing to watch in Node.
 */
function watchWakeUps(wake: () => void): () => void {
  const target = globalThis as {
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
    document?: { visibilityState?: string };
  };
  if (typeof target.addEventListener !== 'function') return () => {};
  const onVisible = () => {
    if (target.document?.visibilityState !== 'hidden') wake();
  };
  target.addEventListener('online', wake);
  target.addEventListener('visibilitychange', onVisible);
  return () => {
    target.removeEventListener?.('online', wake);
    target.removeEventListener?.('visibilitychange', onVisible);
  };
}

function knownOffline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
}

/**
 * Exponential backoff with full jitter: after the n-th consecutive failure (n ≥ 1) wait a uniformly random time
 * in [0, min(max, initial · 2^(n-1))). The randomness spreads out the reconnects of many clients dropped at once.
 */
export function backoffDelay(
  failures: number,
  options: { initialDelayMs: number; maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}

// ---------------------------------------------------------------------------------------------------------------
// The token check before an attempt
// ---------------------------------------------------------------------------------------------------------------

export type TokenCheck =
  | { ok: true; userId: string | undefined; rooms?: string[] }
  | { ok: false; reason: 'unauthorized' | 'forbidden'; detail: string };

/**
 * Checks a connect token's claims without verifying it (only the server can): an expired token would be refused
 * with 401, which a browser cannot see, and one whose `rooms` claim excludes the default room `room` with
 * FORBIDDEN. Checking first keeps the client from retrying what cannot succeed.
 */
export function checkToken(token: string, room: string | undefined, nowMs: number): TokenCheck {
  const claims = decodeJwtPayload(token);
  if (!claims) return { ok: false, reason: 'unauthorized', detail: 'the token is not a JWT' };
  if (typeof claims.exp !== 'number')
    return { ok: false, reason: 'unauthorized', detail: 'the token has no exp' };
  if (claims.exp * 1000 <= nowMs)
    return { ok: false, reason: 'unauthorized', detail: 'the token has expired' };
  const { rooms } = claims;
  if (rooms !== undefined && !(Array.isArray(rooms) && rooms.every(isRoomClaimEntry)))
    return { ok: false, reason: 'unauthorized', detail: 'the token has a malformed rooms claim' };
  if (rooms && room !== undefined && !roomAllowed(rooms, room)) {
    return { ok: false, reason: 'forbidden', detail: `the token does not allow room "${room}"` };
  }
  return {
    ok: true,
    userId: typeof claims.sub === 'string' ? claims.sub : undefined,
    ...(rooms && { rooms }),
  };
}

/**
 * A JWT's claims, read without verifying it (only the server can): what a token says about its user (`sub`),
 * rooms and expiry. Undefined when the text is not a JWT with a JSON object payload.
 */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const json: unknown = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The socket adapter
// ---------------------------------------------------------------------------------------------------------------

/** `ws` (Node) also is an EventEmitter: it reports a refused handshake's HTTP status, and can drop a socket at once. */
interface NodeWebSocket {
  on(
    event: 'unexpected-response',
    listener: (request: unknown, response: { statusCode?: number }) => void,
  ): void;
  terminate(): void;
}

interface SocketEnd {
  /** Whether the socket had opened before it ended. */
  opened: boolean;
  code: number;
  reason: string;
  /** The HTTP status of a refused handshake, when the implementation can tell (`ws` can, browsers cannot). */
  status: number | undefined;
}

interface SocketHandlers {
  open(): void;
  message(text: string): void;
  end(end: SocketEnd): void;
}

const noop = () => {};

/**
 * One connection attempt, with the browser and `ws` differences smoothed over. Its handlers can change: a
 * handover's socket becomes the connection's.
 */
export class Socket {
  readonly seesHandshakeStatus: boolean;
  #opened = false;
  #status: number | undefined;
  readonly #ws: WebSocketLike;
  #on: SocketHandlers = { open: noop, message: noop, end: noop };

  constructor(Factory: WebSocketFactory, url: string) {
    const ws = new Factory(url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#opened = true;
      this.#on.open();
    };
    ws.onmessage = (event: { data: unknown }) => this.#on.message(String(event.data));
    ws.onclose = (event: { code: number; reason: string }) =>
      this.#on.end({ opened: this.#opened, code: event.code, reason: event.reason, status: this.#status });
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

  listen(handlers: SocketHandlers): void {
    this.#on = handlers;
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
