/**
 * The public client: `connect`, RoomcastClient and its events. It wires the parts together: the connection
 * (connection.ts), the calls waiting for answers (requests.ts) and the ordered message streams (stream.ts), and
 * routes every frame the server sends to the part it concerns.
 */
import { Connection, type ConnectionState, type StateChange } from './connection.js';
import { type ConnectOptions, type ResolvedOptions, resolveOptions, STREAM_LIMITS } from './options.js';
import {
  type DirectFrame,
  type HistoryFrame,
  MAX_HISTORY_LIMIT,
  type MembersFrame,
  type MessageFrame,
  type PongFrame,
  type PresenceFrame,
  type ServerFrame,
} from './protocol.js';
import { Outbox, Requests, RoomcastError } from './requests.js';
import { OrderedStream, type Repair, type StreamReads } from './stream.js';

export interface ClientEvents {
  /** A room message: in seq order, each once, also across reconnects (unless `catchUp: false`). */
  message: MessageFrame;
  /** A direct message to or from this user, likewise in the order of this user's inbox. */
  direct: DirectFrame;
  /** Messages a stream read from history because live delivery missed them (or seqs it settled as empty). */
  repair: Repair;
  presence: PresenceFrame;
  /** Every members list received, the answers to `members()` included. */
  members: MembersFrame;
  /**
   * An error frame that answers none of this client's requests (its `code`, and the frame as `frame`), or a
   * listener that threw (`LISTENER_FAILED`, the thrown value as `cause`): listeners never break the client.
   */
  error: RoomcastError;
  state: StateChange;
  /** A connection opened after one was lost; catch-up follows (`recovered`). */
  reconnected: { downtimeMs: number };
  /** The catch-up after a reconnect finished: how many messages it handed over that live delivery had missed. */
  recovered: { room: number; direct: number };
}

export interface HistoryQuery {
  /** The messages after this seq, oldest first. */
  afterSeq?: number | undefined;
  /** The newest messages before this seq, newest first; without either cursor, the newest messages. */
  beforeSeq?: number | undefined;
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
  readonly #events = new Emitter<ClientEvents>((error, name) => this.#listenerFailed(error, name));
  readonly #connection: Connection;
  readonly #requests: Requests;
  readonly #outbox: Outbox;
  /** Undefined with `catchUp: false`: frames are then handed over as they come. */
  readonly #room: OrderedStream<MessageFrame> | undefined;
  readonly #direct: OrderedStream<DirectFrame> | undefined;
  /** The first pong of the current connection: where fresh streams start. */
  #joinedPong: Promise<PongFrame> | undefined;
  /** When the last open connection was lost; undefined before the first one opened, and while one is open. */
  #lostAt: number | undefined;
  #hasOpened = false;
  /** Messages the current catch-up handed over, per stream. */
  #caughtUp = { room: 0, direct: 0 };
  /** When a frame last arrived: the heartbeat pings only a connection that has been silent. */
  #lastFrameAt = 0;

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
      heartbeat: () => this.#heartbeat(),
    });
    const transmit = (frame: object) => this.#connection.send(JSON.stringify(frame));
    this.#requests = new Requests(transmit);
    this.#outbox = new Outbox(transmit, {
      timeoutMs: resolved.sendTimeoutMs,
      inFlight: resolved.maxSendsInFlight,
      // A send that got no answer in that long suggests a dead link: find out now, not at the next heartbeat.
      onTimeout: () => this.#checkAlive(),
    });
    if (catchUp) {
      const streamOptions = { repairDelayMs: resolved.repairDelayMs, ...STREAM_LIMITS };
      const repaired = (repair: Repair) => {
        if (repair.reason === 'reconnect') this.#caughtUp[repair.stream] += repair.recovered;
        this.#events.emit('repair', repair);
      };
      this.#room = new OrderedStream(
        'room',
        { deliver: (frame) => this.#events.emit('message', frame), repaired },
        this.#reads(false),
        streamOptions,
        catchUp.afterSeq,
      );
      this.#direct = new OrderedStream(
        'direct',
        { deliver: (frame) => this.#events.emit('direct', frame), repaired },
        this.#reads(true),
        streamOptions,
        catchUp.directAfterSeq,
      );
    }
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

  /** The room's last seq handed over (or settled empty): keep it to resume later with `catchUp.afterSeq`. */
  get lastSeq(): number | undefined {
    return this.#room?.position;
  }

  /** Likewise for direct messages, `catchUp.directAfterSeq`. */
  get lastDirectSeq(): number | undefined {
    return this.#direct?.position;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(name: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.#events.on(name, listener);
  }

  /** Like `on`, for the next event only. */
  once<K extends keyof ClientEvents>(name: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof ClientEvents>(name: K, listener: (value: ClientEvents[K]) => void): void {
    this.#events.off(name, listener);
  }

  /**
   * While waiting to reconnect, tries now instead of at the end of the delay (a Reconnect button; the client does
   * this itself when the browser comes back online or the page becomes visible). Does nothing otherwise.
   */
  reconnectNow(): void {
    this.#connection.wake();
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

  /** One page of history, as the server answers it (docs/protocol.md). */
  history({ afterSeq, beforeSeq, limit, direct }: HistoryQuery = {}): Promise<HistoryFrame> {
    const frame = {
      action: 'getHistory' as const,
      ...(afterSeq !== undefined && { after_seq: afterSeq }),
      ...(beforeSeq !== undefined && { before_seq: beforeSeq }),
      ...(limit !== undefined && { limit }),
      ...(direct !== undefined && { direct }),
    };
    return this.#whileUsable(() => this.#requests.request(frame, this.#read(true)));
  }

  members(): Promise<MembersFrame> {
    return this.#whileUsable(() => this.#requests.request({ action: 'listMembers' }, this.#read(true)));
  }

  close(): void {
    this.#connection.close('client', 'close() was called');
  }

  #opened(generation: number): void {
    this.#joinedPong = undefined;
    this.#lastFrameAt = Date.now();
    const reconnected = this.#hasOpened;
    this.#hasOpened = true;
    if (reconnected)
      this.#events.emit('reconnected', { downtimeMs: Date.now() - (this.#lostAt ?? Date.now()) });
    this.#lostAt = undefined;
    this.#outbox.resend();
    this.#requests.resend();
    if (this.#room && this.#direct) void this.#catchUp(generation, this.#room, this.#direct, reconnected);
    // Without catch-up there is nothing to prove: the open socket is the connection.
    else this.#connection.healthy(generation);
  }

  async #catchUp(
    generation: number,
    room: OrderedStream<MessageFrame>,
    direct: OrderedStream<DirectFrame>,
    reconnected: boolean,
  ): Promise<void> {
    const { initial } = this.#options.catchUp || { initial: 0 };
    this.#caughtUp = { room: 0, direct: 0 };
    try {
      await Promise.all([room.catchUp(initial), direct.catchUp(initial)]);
    } catch (error) {
      // A connection that cannot catch up would hide the missed messages: start over on a new one (after a
      // delay that keeps growing: a connection counts as made only once it has caught up).
      this.#connection.abandon(generation, `catch-up failed: ${(error as Error).message}`);
      return;
    }
    if (generation !== this.#connection.generation) return;
    this.#connection.healthy(generation);
    if (reconnected) this.#events.emit('recovered', { ...this.#caughtUp });
  }

  /** History reads for a stream's catch-up and repairs: they fail with the connection, and are made again. */
  #reads(direct: boolean): StreamReads {
    const read = async (query: { after_seq?: number; before_seq?: number; limit: number }) => {
      const page = await this.#requests.request(
        { action: 'getHistory', ...query, ...(direct && { direct: true }) },
        this.#read(false),
      );
      for (const frame of page.messages) this.#outbox.acknowledge(frame, this.userId);
      return page;
    };
    return {
      after: (afterSeq) => read({ after_seq: afterSeq, limit: MAX_HISTORY_LIMIT }),
      before: (beforeSeq, limit) =>
        read({ ...(beforeSeq !== undefined && { before_seq: beforeSeq }), limit }),
      ownSendsSettled: () => this.#outbox.sentSettled(STREAM_LIMITS.ownSendsWaitMs),
      joined: async () => {
        // One ping per connection answers both streams.
        this.#joinedPong ??= this.#requests.request({ action: 'ping' }, this.#read(false));
        const pong = await this.#joinedPong;
        return direct ? pong.joined_direct_seq : pong.joined_seq;
      },
    };
  }

  #receive(text: string): void {
    this.#lastFrameAt = Date.now();
    const frame = parse(text);
    switch (frame?.action) {
      case 'message':
        this.#outbox.acknowledge(frame, this.userId);
        if (this.#room) this.#room.live(frame);
        else this.#events.emit('message', frame);
        return;
      case 'direct':
        this.#outbox.acknowledge(frame, this.userId);
        if (this.#direct) this.#direct.live(frame);
        else this.#events.emit('direct', frame);
        return;
      case 'presence':
        this.#events.emit('presence', frame);
        return;
      case 'members':
        this.#requests.settle(frame);
        this.#room?.latest(frame.latest_seq);
        this.#events.emit('members', frame);
        return;
      case 'pong':
        this.#requests.settle(frame);
        if (frame.latest_seq !== undefined) this.#room?.latest(frame.latest_seq);
        if (frame.latest_direct_seq !== undefined) this.#direct?.latest(frame.latest_direct_seq);
        return;
      case 'history':
        this.#requests.settle(frame);
        return;
      case 'error':
        if (!this.#outbox.fail(frame) && !this.#requests.fail(frame))
          this.#events.emit('error', RoomcastError.fromFrame(frame));
        return;
    }
  }

  /** The heartbeat: a connection that has been silent for a heartbeat period is asked for a pong. */
  #heartbeat(): void {
    if (Date.now() - this.#lastFrameAt < this.#options.heartbeatMs) return;
    this.#ping();
  }

  /** Asks for a pong now: an unanswered one ends the connection within `heartbeatTimeoutMs`. */
  #checkAlive(): void {
    if (this.#connection.state === 'open') this.#ping();
  }

  #ping(): void {
    const generation = this.#connection.generation;
    const timeoutMs = this.#options.heartbeatTimeoutMs;
    this.#requests.request({ action: 'ping' }, { timeoutMs, keep: false }).catch((error: RoomcastError) => {
      if (error.code === 'TIMEOUT') this.#connection.abandon(generation, `no pong within ${timeoutMs} ms`);
      // The server has no record of this connection: nothing is delivered to it any more.
      if (error.code === 'FORBIDDEN')
        this.#connection.abandon(generation, 'the server forgot this connection');
    });
  }

  #down(): void {
    if (this.#hasOpened) this.#lostAt ??= Date.now();
    this.#requests.connectionLost();
  }

  #listenerFailed(error: unknown, name: keyof ClientEvents): void {
    const message = error instanceof Error ? error.message : String(error);
    if (name === 'error') {
      // Nowhere left to report it but the console; throwing would reach the socket's callback.
      console.error(`roomcast: an "error" listener threw: ${message}`);
      return;
    }
    this.#events.emit(
      'error',
      new RoomcastError('LISTENER_FAILED', `a "${String(name)}" listener threw: ${message}`, undefined, {
        cause: error,
      }),
    );
  }

  #changed(change: StateChange): void {
    this.#events.emit('state', change);
    if (change.state !== 'closed') return;
    const error = new RoomcastError('CLOSED', `the client is closed: ${change.detail}`);
    this.#room?.stop();
    this.#direct?.stop();
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
    // API Gateway's own frames have no action: {"message": "Internal server error", …} when a handler threw,
    // "Too Many Requests" when the stage's throttling refused a frame.
    const message = (frame as { message?: unknown }).message;
    if (typeof message !== 'string') return undefined;
    return { action: 'error', code: message === 'Too Many Requests' ? 'RATE_LIMITED' : 'INTERNAL', message };
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
  readonly #onListenerError: (error: unknown, name: keyof Events) => void;

  /**
   * A listener that throws must not break the caller's bookkeeping (a socket's callback, a stream's order): its
   * error goes to `onListenerError`, never up the stack.
   */
  constructor(onListenerError: (error: unknown, name: keyof Events) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Returns a function that removes the listener (as `off` does). */
  on<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    const set = this.#listeners[name] ?? new Set();
    this.#listeners[name] = set;
    set.add(listener);
    return () => this.off(name, listener);
  }

  /** Like `on`, for the next event only. */
  once<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    const off = this.on(name, (value) => {
      off();
      listener(value);
    });
    return off;
  }

  off<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): void {
    this.#listeners[name]?.delete(listener);
  }

  emit<K extends keyof Events>(name: K, value: Events[K]): void {
    for (const listener of [...(this.#listeners[name] ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        this.#onListenerError(error, name);
      }
    }
  }

  clear(): void {
    for (const set of Object.values(this.#listeners) as Array<Set<unknown> | undefined>) set?.clear();
  }
}
