/**
 * The public client: `connect`, RoomcastClient and its events. It wires the parts together: the connection
 * (connection.ts), the calls waiting for answers (requests.ts), the rooms it holds (room.ts) and the ordered
 * message streams (stream.ts), and routes every frame the server sends to the part it concerns.
 */
import { Connection, type ConnectionState, type StateChange } from './connection.js';
import { Emitter } from './events.js';
import { Handover, type HandoverReason } from './handover.js';
import {
  CATCH_UP_PAGE_LIMIT,
  type ConnectOptions,
  checkRoomId,
  MAX_RECENT_IDS,
  type ResolvedOptions,
  type RoomOptions,
  resolveOptions,
  resolveRoomOptions,
  STREAM_LIMITS,
} from './options.js';
import type {
  DirectFrame,
  HistoryFrame,
  MembersFrame,
  MessageFrame,
  PongFrame,
  PresenceFrame,
  ServerFrame,
} from './protocol.js';
import { Outbox, Requests, RoomcastError, roomOf, type Sendable } from './requests.js';
import {
  HeldRoom,
  type HistoryQuery,
  historyFrame,
  type Room,
  type RoomEvents,
  type RoomHost,
} from './room.js';
import { OrderedStream, RecentIds, type Repair, type StreamReads } from './stream.js';

export interface ClientEvents {
  /** A message of the default room: in seq order, each once, also across reconnects (unless `catchUp: false`). */
  message: MessageFrame;
  /** A direct message to or from this user, likewise in the order of this user's inbox. */
  direct: DirectFrame;
  /**
   * Messages the direct stream or the default room's stream read from history because live delivery missed them
   * (or seqs it settled as empty). Each room reports its own on `room.on('repair')`.
   */
  repair: Repair;
  /** A presence event of the default room. */
  presence: PresenceFrame;
  /** Every members list of the default room received, the answers to `members()` included. */
  members: MembersFrame;
  /**
   * An error frame that answers none of this client's requests (its `code`, and the frame as `frame`); the
   * default room refused by the server; or a listener that threw (`LISTENER_FAILED`, the thrown value as
   * `cause`): listeners never break the client.
   */
  error: RoomcastError;
  state: StateChange;
  /** A connection opened after one was lost; catch-up follows (`recovered`). */
  reconnected: { downtimeMs: number };
  /**
   * The catch-up after a reconnect finished: how many messages it handed over that live delivery had missed, in
   * the default room (`room`), the direct messages, and each room held (`rooms`, by id).
   */
  recovered: { room: number; direct: number; rooms: Record<string, number> };
  /**
   * For information only: the connection was replaced by a fresh one before its token expired (`token-expiry`)
   * or it reached `handover.maxAgeMs` (`max-age`), with no drop: no state change, nothing missed or repeated.
   * `durationMs` from the start (getToken) until the new connection took over.
   */
  handover: { reason: HandoverReason; durationMs: number };
}

/** Connects and stays connected until `close()`; see the package README. */
export function connect(options: ConnectOptions): RoomcastClient {
  return new RoomcastClient(options);
}

export class RoomcastClient {
  /** The default room (`room` in the options), if any. */
  readonly defaultRoom: string | undefined;
  readonly #options: ResolvedOptions;
  readonly #events = new Emitter<ClientEvents>();
  readonly #connection: Connection;
  readonly #requests: Requests;
  readonly #outbox: Outbox;
  /** The rooms held, by id. */
  readonly #rooms = new Map<string, HeldRoom>();
  /** Leaves under way, by room id: a room taken again is subscribed once its leave is done. */
  readonly #leaving = new Map<string, Promise<void>>();
  readonly #host: RoomHost;
  /** Undefined with `catchUp: false`: frames are then handed over as they come. */
  readonly #direct: OrderedStream<DirectFrame> | undefined;
  /** The first pong of the current connection: where the direct stream starts fresh. */
  #joinedPong: Promise<PongFrame> | undefined;
  /** When the last open connection was lost; undefined before the first one opened, and while one is open. */
  #lostAt: number | undefined;
  #hasOpened = false;
  /** Messages the current catch-up handed over, per stream. */
  #caughtUp: ClientEvents['recovered'] = { room: 0, direct: 0, rooms: {} };
  /** When a frame last arrived: the heartbeat pings only a connection that has been silent. */
  #lastFrameAt = 0;
  readonly #handover: Handover;
  /** With `catchUp: false`: the ids of recent messages, so that none is handed over twice. */
  readonly #recent: RecentIds | undefined;

  constructor(options: ConnectOptions) {
    const resolved = resolveOptions(options);
    const { catchUp } = resolved;
    this.#options = resolved;
    this.defaultRoom = resolved.room;
    this.#connection = new Connection(resolved, {
      open: (generation) => this.#opened(generation),
      text: (text) => this.#receive(text),
      down: () => this.#down(),
      state: (change) => this.#changed(change),
      heartbeat: () => this.#heartbeat(),
    });
    const transmit = (frame: object) => this.#connection.send(JSON.stringify(frame));
    // A frame acting in a room goes out once the connection holds the room, or the server would refuse it.
    const sendable: Sendable = (frame) => {
      const room = roomOf(frame);
      return room === undefined || this.#rooms.get(room)?.subscribed === true;
    };
    this.#requests = new Requests(transmit, sendable);
    this.#outbox = new Outbox(transmit, sendable, {
      timeoutMs: resolved.sendTimeoutMs,
      inFlight: resolved.maxSendsInFlight,
      // A send that got no answer in that long suggests a dead link: find out now, not at the next heartbeat.
      onTimeout: () => this.#checkAlive(),
    });
    this.#host = {
      options: resolved,
      connection: this.#connection,
      requests: this.#requests,
      outbox: this.#outbox,
      reads: (room, joined) => this.#reads({ room_id: room }, async () => joined()),
      flush: () => {
        this.#requests.flush();
        this.#outbox.flush();
      },
      leaving: (room, leave) => {
        if (leave) {
          const done = leave.catch(() => {});
          this.#leaving.set(room, done);
          void done.then(() => this.#leaving.get(room) === done && this.#leaving.delete(room));
        }
        return this.#leaving.get(room);
      },
      release: (room, error) => {
        if (this.#rooms.get(room.id) === room) this.#rooms.delete(room.id);
        this.#outbox.rejectAll(error, room.id);
        this.#requests.rejectAll(error, room.id);
      },
      repaired: (room, repair) => {
        if (repair.reason !== 'reconnect') return;
        const { rooms } = this.#caughtUp;
        rooms[room.id] = (rooms[room.id] ?? 0) + repair.recovered;
        if (room.id === this.defaultRoom) this.#caughtUp.room += repair.recovered;
      },
    };
    if (catchUp) {
      this.#direct = new OrderedStream(
        'direct',
        {
          deliver: (frame) => this.#events.emit('direct', frame),
          repaired: (repair) => {
            if (repair.reason === 'reconnect') this.#caughtUp.direct += repair.recovered;
            this.#events.emit('repair', repair);
          },
        },
        this.#reads({ direct: true }, async () => {
          // One ping per connection.
          this.#joinedPong ??= this.#requests.request({ action: 'ping' }, this.#read(false));
          return (await this.#joinedPong).joined_direct_seq;
        }),
        { repairDelayMs: resolved.repairDelayMs, ...STREAM_LIMITS },
        catchUp.directAfterSeq,
      );
    }
    this.#handover = new Handover({
      options: resolved,
      connection: this.#connection,
      receive: (text, channel) => this.#receive(text, channel),
      prepare: (channel, allows) => this.#prepareHandover(channel, allows),
      done: (event) => this.#events.emit('handover', event),
    });
    if (!catchUp) this.#recent = new RecentIds(MAX_RECENT_IDS);
    if (resolved.room !== undefined)
      this.room(
        resolved.room,
        catchUp && catchUp.afterSeq !== undefined ? { afterSeq: catchUp.afterSeq } : {},
      );
    for (const room of resolved.rooms) this.room(room);
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

  /** The ids of the rooms held. */
  get rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /** The default room's last seq handed over (or settled empty): keep it to resume later with `catchUp.afterSeq`. */
  get lastSeq(): number | undefined {
    return this.#defaultRoom()?.lastSeq;
  }

  /** Likewise for direct messages, `catchUp.directAfterSeq`. */
  get lastDirectSeq(): number | undefined {
    return this.#direct?.position;
  }

  /**
   * The room `id`, held from now on (subscribed on every connection) until `leave()`: the same object while it
   * is held. `options` say where its stream starts, the first time only.
   */
  room(id: string, options: RoomOptions = {}): Room {
    checkRoomId(id, 'room id');
    const held = this.#rooms.get(id);
    if (held) return held;
    const { catchUp } = this.#options;
    const start = resolveRoomOptions(options, catchUp ? catchUp.initial : 0);
    const forward =
      id === this.defaultRoom
        ? <K extends keyof RoomEvents>(name: K, value: RoomEvents[K]) =>
            this.#events.emit(name, value as ClientEvents[K])
        : undefined;
    const room = new HeldRoom(id, this.#host, start, forward);
    if (this.state === 'closed') {
      room.release(new RoomcastError('CLOSED', 'the client is closed'));
      return room;
    }
    this.#rooms.set(id, room);
    // Not open: the next connection subscribes every room held.
    if (this.state === 'open') this.#subscribe(room, this.#connection.generation);
    return room;
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

  /** Sends to the default room: resolves with the stored message once the server has it. */
  send(text: string, options: { clientMsgId?: string | undefined } = {}): Promise<MessageFrame> {
    return this.#inDefaultRoom((room) => room.send(text, options));
  }

  sendDirect(
    toUserId: string,
    text: string,
    options: { clientMsgId?: string | undefined } = {},
  ): Promise<DirectFrame> {
    return this.#whileUsable(() => this.#outbox.sendDirect(toUserId, text, options.clientMsgId));
  }

  /** One page of the default room's history, or with `direct: true` of the direct messages (docs/protocol.md). */
  history(query: HistoryQuery = {}): Promise<HistoryFrame> {
    if (!query.direct) return this.#inDefaultRoom((room) => room.history(query));
    const frame = historyFrame(query, { direct: true });
    return this.#whileUsable(() => this.#requests.request(frame, this.#read(true)));
  }

  /** The default room's members. */
  members(): Promise<MembersFrame> {
    return this.#inDefaultRoom((room) => room.members());
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
    void this.#catchUp(generation, reconnected);
  }

  /** Subscribes every room held and catches every stream up; the connection counts as made once all have. */
  async #catchUp(generation: number, reconnected: boolean): Promise<void> {
    const { initial } = this.#options.catchUp || { initial: 0 };
    const rooms = [...this.#rooms.values()];
    this.#caughtUp = { room: 0, direct: 0, rooms: Object.fromEntries(rooms.map((room) => [room.id, 0])) };
    try {
      await Promise.all([this.#direct?.catchUp(initial), ...rooms.map((room) => room.subscribe(generation))]);
    } catch (error) {
      this.#catchUpFailed(generation, error);
      return;
    }
    if (generation !== this.#connection.generation) return;
    this.#connection.healthy(generation);
    this.#handover.plan();
    if (reconnected) this.#events.emit('recovered', this.#caughtUp);
  }

  /**
   * A handover's catch-up on its new connection (`channel`, its requests), while this one still delivers: every
   * room held that has caught up is subscribed there after its position and read forward, and so is the direct
   * stream. Returns the swap: the rooms it holds become held on it, the others (taken meanwhile, or refused there)
   * are subscribed on it as on a new connection, and the calls in flight go out again on it.
   */
  async #prepareHandover(
    channel: Requests,
    allows: (room: string) => boolean,
  ): Promise<(generation: number) => void> {
    const read =
      (scope: { room_id: string } | { direct: true }) =>
      async (afterSeq: number): Promise<HistoryFrame> => {
        const query = {
          action: 'getHistory',
          ...scope,
          after_seq: afterSeq,
          limit: CATCH_UP_PAGE_LIMIT,
        } as const;
        const page = await channel.request(query, this.#read(false));
        this.#acknowledge(page);
        return page;
      };
    const { catchUp } = this.#options;
    // A room still on its first catch-up, or not allowed by the new token, is subscribed at the swap instead.
    const rooms = [...this.#rooms.values()].filter(
      (room) => room.subscribed && allows(room.id) && (!catchUp || room.lastSeq !== undefined),
    );
    const joined = await Promise.all([
      ...rooms.map((room) => room.prepare(channel, read({ room_id: room.id }))),
      this.#direct?.forward(read({ direct: true })),
    ]);
    return (generation) => {
      this.#joinedPong = undefined;
      const adopted = new Map(rooms.map((room, i) => [room, joined[i]]));
      const others: HeldRoom[] = [];
      for (const room of this.#rooms.values()) {
        const seq = adopted.get(room);
        if (seq === undefined) {
          room.down();
          others.push(room);
        } else room.adopt(generation, seq);
      }
      // What went out on the old connection and is still unanswered goes out again here: sends keep their
      // client_msg_id (stored once), reads their ref. Before the subscribes below, which go out once.
      this.#outbox.resend();
      this.#requests.resend();
      for (const room of others) this.#subscribe(room, generation);
      // Left during the handover: the new connection holds it all the same.
      for (const room of rooms) {
        if (!this.#rooms.has(room.id))
          this.#requests.request({ action: 'unsubscribe', room_id: room.id }, this.#read(false)).catch(noop);
      }
    };
  }

  /** A room taken while a connection is open. */
  #subscribe(room: HeldRoom, generation: number): void {
    room.subscribe(generation).catch((error: unknown) => this.#catchUpFailed(generation, error));
  }

  /**
   * A connection that cannot catch up would hide the missed messages: start over on a new one (after a delay that
   * keeps growing: a connection counts as made only once it has caught up).
   */
  #catchUpFailed(generation: number, error: unknown): void {
    this.#connection.abandon(generation, `catch-up failed: ${(error as Error).message}`);
  }

  /** History reads for a stream's catch-up and repairs: they fail with the connection, and are made again. */
  #reads(
    scope: { room_id: string } | { direct: true },
    joined: () => Promise<number | undefined>,
  ): StreamReads {
    const read = async (query: { after_seq?: number; before_seq?: number; limit: number }) => {
      const page = await this.#requests.request(
        { action: 'getHistory', ...scope, ...query },
        this.#read(false),
      );
      this.#acknowledge(page);
      return page;
    };
    return {
      after: (afterSeq) => read({ after_seq: afterSeq, limit: CATCH_UP_PAGE_LIMIT }),
      before: (beforeSeq, limit) =>
        read({ ...(beforeSeq !== undefined && { before_seq: beforeSeq }), limit }),
      ownSendsSettled: () => this.#outbox.sentSettled(STREAM_LIMITS.ownSendsWaitMs),
      joined,
    };
  }

  /** The stored messages of a page: each may answer one of this client's sends. */
  #acknowledge(page: HistoryFrame | undefined): void {
    for (const frame of page?.messages ?? []) this.#outbox.acknowledge(frame, this.userId);
  }

  /**
   * A frame of the connection, or of a handover's new connection (`handover`: its requests, which its answers
   * settle). Both deliver messages while they overlap; the streams take each once.
   */
  #receive(text: string, handover?: Requests): void {
    const requests = handover ?? this.#requests;
    if (!handover) this.#lastFrameAt = Date.now();
    const frame = parse(text);
    if (
      (frame?.action === 'message' || frame?.action === 'direct') &&
      this.#recent?.fresh(frame.message_id) === false
    )
      return;
    switch (frame?.action) {
      case 'message':
        this.#outbox.acknowledge(frame, this.userId);
        // A room not held (left, or never taken): its frames are dropped.
        this.#rooms.get(frame.room_id)?.receive(frame);
        return;
      case 'direct':
        this.#outbox.acknowledge(frame, this.userId);
        if (this.#direct) this.#direct.live(frame);
        else this.#events.emit('direct', frame);
        return;
      case 'presence':
        // The open connection brings the same ones (presence has no seq to tell them apart).
        if (!handover) this.#rooms.get(frame.room_id)?.receive(frame);
        return;
      case 'members':
        requests.settle(frame);
        this.#rooms.get(frame.room_id)?.receive(frame);
        return;
      case 'pong':
        requests.settle(frame);
        for (const [room, seq] of Object.entries(frame.latest_seqs ?? {})) this.#rooms.get(room)?.latest(seq);
        if (frame.latest_direct_seq !== undefined) this.#direct?.latest(frame.latest_direct_seq);
        return;
      case 'subscribed':
        this.#acknowledge(frame.history);
        requests.settle(frame);
        return;
      case 'history':
      case 'unsubscribed':
        requests.settle(frame);
        return;
      case 'error':
        // The token of this connection expired (a handover came too late: a device asleep, a skewed clock), and
        // the server closes it next: reconnect with a fresh token now. Its calls go out again there.
        if (frame.code === 'TOKEN_EXPIRED' && !handover) {
          this.#connection.abandon(this.#connection.generation, 'the token expired');
          return;
        }
        if (!(!handover && this.#outbox.fail(frame)) && !requests.fail(frame))
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
    this.#handover.stop();
    if (this.#hasOpened) this.#lostAt ??= Date.now();
    for (const room of this.#rooms.values()) room.down();
    this.#requests.connectionLost();
  }

  #changed(change: StateChange): void {
    this.#events.emit('state', change);
    if (change.state !== 'closed') return;
    const error = new RoomcastError('CLOSED', `the client is closed: ${change.detail}`);
    for (const room of [...this.#rooms.values()]) room.release(error);
    this.#direct?.stop();
    this.#outbox.rejectAll(error);
    this.#requests.rejectAll(error);
    this.#events.clear();
  }

  #defaultRoom(): HeldRoom | undefined {
    return this.defaultRoom === undefined ? undefined : this.#rooms.get(this.defaultRoom);
  }

  /** A call on the default room; rejects when there is none (BAD_REQUEST), or it was left. */
  #inDefaultRoom<T>(call: (room: Room) => Promise<T>): Promise<T> {
    return this.#whileUsable(() => {
      const room = this.#defaultRoom();
      if (room) return call(room);
      const why = this.defaultRoom === undefined ? 'no default room' : `room "${this.defaultRoom}" was left`;
      return Promise.reject(new RoomcastError('BAD_REQUEST', `${why}: use client.room(id)`));
    });
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

const noop = () => {};

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
