/**
 * The public client: `connect`, RoomcastClient and its events. It wires the parts together: the connection
 * (connection.ts), the calls waiting for answers (requests.ts) and the message streams that catch up
 * (catch-up.ts), and routes every frame the server sends to the part it concerns.
 */
import { catchUp, type FetchPage, MessageStream } from './catch-up.js';
import { Connection, type ConnectionState, type StateChange } from './connection.js';
import {
  type ConnectOptions,
  type ResolvedCatchUp,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import type {
  DirectFrame,
  ErrorFrame,
  HistoryFrame,
  MembersFrame,
  MessageFrame,
  PresenceFrame,
  ServerFrame,
} from './protocol.js';
import { Outbox, Requests, RoomcastError } from './requests.js';

export interface ClientEvents {
  /** A room message, once each; after a reconnect the missed ones come first, in message_id order. */
  message: MessageFrame;
  /** A direct message to or from this user, once each, likewise. */
  direct: DirectFrame;
  presence: PresenceFrame;
  /** Every members list received, the answers to `members()` included. */
  members: MembersFrame;
  /** An error frame that answers none of this client's requests. */
  error: ErrorFrame;
  state: StateChange;
}

export interface HistoryQuery {
  before?: string | undefined;
  after?: string | undefined;
  limit?: number | undefined;
  direct?: boolean | undefined;
}

/** Connects to a room and stays connected until `close()`; see the package README. */
export function connect(options: ConnectOptions): RoomcastClient {
  return new RoomcastClient(options);
}

export class RoomcastClient {
  readonly room: string;
  readonly #options: ResolvedOptions;
  readonly #events = new Emitter<ClientEvents>();
  readonly #connection: Connection;
  readonly #requests: Requests;
  readonly #outbox: Outbox;
  readonly #room: MessageStream<MessageFrame>;
  readonly #direct: MessageStream<DirectFrame>;

  constructor(options: ConnectOptions) {
    const resolved = resolveOptions(options);
    const { catchUp } = resolved;
    this.#options = resolved;
    this.room = resolved.room;
    this.#connection = new Connection(resolved, {
      open: (generation) => this.#opened(generation),
      text: (text) => this.#receive(text),
      down: () => this.#down(),
      state: (change) => this.#changed(change),
      heartbeat: () => this.#ping(),
    });
    const transmit = (frame: object) => this.#connection.send(JSON.stringify(frame));
    this.#requests = new Requests(transmit);
    this.#outbox = new Outbox(transmit, resolved.sendTimeoutMs);
    this.#room = new MessageStream(
      (frame) => this.#events.emit('message', frame),
      catchUp ? catchUp.after : undefined,
    );
    this.#direct = new MessageStream(
      (frame) => this.#events.emit('direct', frame),
      catchUp ? catchUp.directAfter : undefined,
    );
    // Listeners are attached after connect() returns; the first attempt starts right after that.
    queueMicrotask(() => this.#connection.start());
  }

  get state(): ConnectionState {
    return this.#connection.state;
  }

  /** The token's `sub`, once a token was read. */
  get userId(): string | undefined {
    return this.#connection.userId;
  }

  /** The newest room message id handed over: keep it to resume later with `catchUp.after`. */
  get lastMessageId(): string | undefined {
    return this.#room.newest;
  }

  get lastDirectId(): string | undefined {
    return this.#direct.newest;
  }

  on<K extends keyof ClientEvents>(name: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.#events.on(name, listener);
  }

  /** Resolves with the stored message once the server has it; rejects with a RoomcastError (`code`). */
  send(text: string, options: { clientMsgId?: string | undefined } = {}): Promise<MessageFrame> {
    return this.#whileUsable(() => this.#outbox.sendMessage(text, options.clientMsgId));
  }

  sendDirect(
    toUserId: string,
    text: string,
    options: { clientMsgId?: string | undefined } = {},
  ): Promise<DirectFrame> {
    return this.#whileUsable(() => this.#outbox.sendDirect(toUserId, text, options.clientMsgId));
  }

  history(query: HistoryQuery = {}): Promise<HistoryFrame> {
    return this.#whileUsable(() =>
      this.#requests.request({ action: 'getHistory', ...query }, this.#read(true)),
    );
  }

  members(): Promise<MembersFrame> {
    return this.#whileUsable(() => this.#requests.request({ action: 'listMembers' }, this.#read(true)));
  }

  close(): void {
    this.#connection.close('client', 'close() was called');
  }

  #opened(generation: number): void {
    this.#outbox.resend();
    this.#requests.resend();
    if (this.#options.catchUp) void this.#catchUp(generation, this.#options.catchUp);
  }

  async #catchUp(generation: number, options: ResolvedCatchUp): Promise<void> {
    this.#room.hold();
    this.#direct.hold();
    const read =
      (direct: boolean): FetchPage =>
      (query) =>
        this.#requests.request(
          { action: 'getHistory', ...query, ...(direct && { direct: true }) },
          this.#read(false),
        );
    try {
      const [room, direct] = await Promise.all([
        catchUp(this.#room, read(false), options),
        catchUp(this.#direct, read(true), options),
      ]);
      if (generation !== this.#connection.generation) return;
      for (const frame of [...room, ...direct]) this.#outbox.acknowledge(frame, this.userId);
      this.#room.release(room);
      this.#direct.release(direct);
    } catch (error) {
      // A connection that cannot catch up would hide the missed messages for good: start over on a new one.
      this.#connection.abandon(generation, `catch-up failed: ${(error as Error).message}`);
    }
  }

  #receive(text: string): void {
    const frame = parse(text);
    switch (frame?.action) {
      case 'message':
        this.#outbox.acknowledge(frame, this.userId);
        this.#room.live(frame);
        return;
      case 'direct':
        this.#outbox.acknowledge(frame, this.userId);
        this.#direct.live(frame);
        return;
      case 'presence':
        this.#events.emit('presence', frame);
        return;
      case 'members':
        this.#requests.settle(frame);
        this.#events.emit('members', frame);
        return;
      case 'history':
      case 'pong':
        this.#requests.settle(frame);
        return;
      case 'error':
        if (!this.#outbox.fail(frame) && !this.#requests.fail(frame)) this.#events.emit('error', frame);
        return;
    }
  }

  #ping(): void {
    const generation = this.#connection.generation;
    const timeoutMs = this.#options.heartbeatTimeoutMs;
    this.#requests.request({ action: 'ping' }, { timeoutMs, keep: false }).catch((error: RoomcastError) => {
      if (error.code === 'TIMEOUT') this.#connection.abandon(generation, `no pong within ${timeoutMs} ms`);
    });
  }

  #down(): void {
    this.#requests.connectionLost();
    // Live messages held for a catch-up that will not finish now are handed over as they are.
    this.#room.release([]);
    this.#direct.release([]);
  }

  #changed(change: StateChange): void {
    this.#events.emit('state', change);
    if (change.state !== 'closed') return;
    const error = new RoomcastError('CLOSED', `the client is closed: ${change.detail}`);
    this.#outbox.rejectAll(error);
    this.#requests.rejectAll(error);
    this.#events.clear();
  }

  #whileUsable<T>(call: () => Promise<T>): Promise<T> {
    return this.state === 'closed'
      ? Promise.reject(new RoomcastError('CLOSED', 'the client is closed'))
      : call();
  }

  #read(keep: boolean) {
    return { timeoutMs: this.#options.requestTimeoutMs, keep };
  }
}

function parse(text: string): ServerFrame | undefined {
  try {
    const frame: unknown = JSON.parse(text);
    if (typeof frame !== 'object' || frame === null) return undefined;
    if ('action' in frame) return frame as ServerFrame;
    // API Gateway's own frames have no action: {"message": "Internal server error", …} when a handler threw.
    const message = (frame as { message?: unknown }).message;
    return typeof message === 'string' ? { action: 'error', code: 'INTERNAL', message } : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------------

type Listeners<Events> = { [K in keyof Events]?: Set<(value: Events[K]) => void> };

/** A minimal typed event emitter that runs in browsers and Node alike. */
export class Emitter<Events> {
  readonly #listeners: Listeners<Events> = {};
  readonly #onListenerError: (error: unknown) => void;

  /** A listener that throws must not break the caller's bookkeeping; by default its error is rethrown later. */
  constructor(onListenerError: (error: unknown) => void = rethrowLater) {
    this.#onListenerError = onListenerError;
  }

  /** Returns a function that removes the listener. */
  on<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    const set = this.#listeners[name] ?? new Set();
    this.#listeners[name] = set;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<K extends keyof Events>(name: K, value: Events[K]): void {
    for (const listener of [...(this.#listeners[name] ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  clear(): void {
    for (const set of Object.values(this.#listeners) as Array<Set<unknown> | undefined>) set?.clear();
  }
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
