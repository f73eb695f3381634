import { backoffDelay } from './backoff.js';
import type { ResolvedOptions } from './options.js';
import { Socket, type SocketEnd } from './socket.js';
import { type CloseReason, type ConnectionState, refusal, type StateChange } from './state.js';
import { checkToken } from './token.js';

export interface ConnectionHandlers {
  /** A new socket opened; `generation` names it in later calls to `abandon`. */
  open(generation: number): void;
  text(text: string): void;
  /** The open socket (or the attempt) is gone. */
  down(): void;
  state(change: StateChange): void;
}

/**
 * Keeps one WebSocket open: a token per attempt, backoff between attempts, and the decision to stop when a retry
 * cannot help (a refused or unusable token, or the attempt limits).
 */
export class Connection {
  readonly #options: ResolvedOptions;
  readonly #on: ConnectionHandlers;
  #state: ConnectionState = 'connecting';
  #socket: Socket | undefined;
  #generation = 0;
  #userId: string | undefined;
  /** Attempts since the last open socket. */
  #attempts = 0;
  #failedHandshakes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ResolvedOptions, handlers: ConnectionHandlers) {
    this.#options = options;
    this.#on = handlers;
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

  start(): void {
    void this.#attempt();
  }

  /** Sends on the open socket; without one, does nothing (the outbox and requests send again on the next). */
  send(text: string): void {
    if (this.#state === 'open' && this.#socket?.opened) this.#socket.send(text);
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
    const url = new URL(this.#options.url);
    url.searchParams.set('token', token);
    url.searchParams.set('room_id', this.#options.room);
    let socket: Socket;
    try {
      socket = new Socket(this.#options.WebSocket, url.toString(), {
        open: () => this.#opened(socket),
        message: (text) => this.#on.text(text),
        end: (end) => this.#lost(socket, end),
      });
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

  #opened(socket: Socket): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#timer);
    this.#attempts = 0;
    this.#failedHandshakes = 0;
    this.#state = 'open';
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

function knownOffline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
}
