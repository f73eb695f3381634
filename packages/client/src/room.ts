/**
 * Rooms: one connection holds any number of them. Each room the client holds is subscribed on every connection
 * (`subscribe`, with a catch-up page after its stream's position) and has its own ordered stream and events; the
 * client routes the room's frames to it, and drops those of rooms it does not hold.
 */
import type { Connection } from './connection.js';
import { Emitter } from './events.js';
import {
  CATCH_UP_PAGE_LIMIT,
  MAX_SUBSCRIBE_REFUSALS,
  type ResolvedOptions,
  STREAM_LIMITS,
} from './options.js';
import type { HistoryFrame, MembersFrame, MessageFrame, PresenceFrame, SubscribedFrame } from './protocol.js';
import { type ClientErrorCode, type Outbox, type Requests, RoomcastError } from './requests.js';
import { OrderedStream, type Repair, type StreamReads } from './stream.js';

export interface RoomEvents {
  /** The room's messages: in seq order, each once, also across reconnects (unless `catchUp: false`). */
  message: MessageFrame;
  presence: PresenceFrame;
  /** Every members list of the room received, the answers to `members()` included. */
  members: MembersFrame;
  /** The room's stream read history because live delivery missed something. */
  repair: Repair;
  /**
   * The server refused the room for good (`FORBIDDEN`, `TOO_MANY_ROOMS`): the room is no longer held. Or one of
   * the room's listeners threw (`LISTENER_FAILED`).
   */
  error: RoomcastError;
}

export interface HistoryQuery {
  /** The messages after this seq, oldest first. */
  afterSeq?: number | undefined;
  /** The newest messages before this seq, newest first; without either cursor, the newest messages. */
  beforeSeq?: number | undefined;
  limit?: number | undefined;
  /** The user's direct messages instead of a room's (the client's `history` only). */
  direct?: boolean | undefined;
}

/** A room the client holds: `client.room(id)`. */
export interface Room {
  readonly id: string;
  /**
   * Resolves once the room is subscribed and its stream has caught up for the first time (`lastSeq` is known);
   * rejects with a RoomcastError when the server refused the room (`FORBIDDEN`, `TOO_MANY_ROOMS`), or with
   * `CLOSED` when the room was left or the client closed first.
   */
  readonly ready: Promise<void>;
  /** Whether the open connection holds the room now (its subscribe was answered on it). */
  readonly subscribed: boolean;
  /** The room's last seq handed over (or settled empty): keep it to resume later with `{ afterSeq }`. */
  readonly lastSeq: number | undefined;
  on<K extends keyof RoomEvents>(name: K, listener: (value: RoomEvents[K]) => void): () => void;
  once<K extends keyof RoomEvents>(name: K, listener: (value: RoomEvents[K]) => void): () => void;
  off<K extends keyof RoomEvents>(name: K, listener: (value: RoomEvents[K]) => void): void;
  /** Resolves with the stored message once the server has it; rejects with a RoomcastError (`code`). */
  send(text: string, options?: { clientMsgId?: string | undefined }): Promise<MessageFrame>;
  /** One page of the room's history, as the server answers it. */
  history(query?: Omit<HistoryQuery, 'direct'>): Promise<HistoryFrame>;
  members(): Promise<MembersFrame>;
  /**
   * Stops holding the room: no more events (also of frames still on their way), calls still pending reject with
   * `CLOSED`. Resolves once the server answered `unsubscribed` (at once without a connection).
   */
  leave(): Promise<void>;
}

/** What a room needs of its client. */
export interface RoomHost {
  readonly options: ResolvedOptions;
  readonly connection: Connection;
  readonly requests: Requests;
  readonly outbox: Outbox;
  /** History reads for a stream of `room`, with the stream's `joined`. */
  reads(room: string, joined: () => number | undefined): StreamReads;
  /** The room is subscribed on the open connection: its frames that waited may go out. */
  flush(): void;
  /** The leave of `room` under way, if any; with `leave`, records it. */
  leaving(room: string, leave?: Promise<void>): Promise<void> | undefined;
  /** The room is no longer held: forget it, and fail its calls still pending with `error`. */
  release(room: HeldRoom, error: RoomcastError): void;
  repaired(room: HeldRoom, repair: Repair): void;
}

const noop = () => {};

/** The answers to a subscribe that no retry on the same terms can change (FORBIDDEN: see `subscribe`). */
const REFUSALS: readonly ClientErrorCode[] = ['TOO_MANY_ROOMS', 'BAD_REQUEST', 'UNKNOWN_ACTION', 'FORBIDDEN'];

/** The `getHistory` frame of a query, for a room or the direct messages. */
export function historyFrame(
  { afterSeq, beforeSeq, limit }: HistoryQuery,
  scope: { room_id: string } | { direct: true },
) {
  return {
    action: 'getHistory' as const,
    ...scope,
    ...(afterSeq !== undefined && { after_seq: afterSeq }),
    ...(beforeSeq !== undefined && { before_seq: beforeSeq }),
    ...(limit !== undefined && { limit }),
  };
}

export class HeldRoom extends Emitter<RoomEvents> implements Room {
  readonly id: string;
  readonly ready: Promise<void>;
  readonly #host: RoomHost;
  /** The client's own events, for the default room. */
  readonly #forward: (<K extends keyof RoomEvents>(name: K, value: RoomEvents[K]) => void) | undefined;
  /** Undefined with `catchUp: false`: frames are then handed over as they come. */
  readonly #stream: OrderedStream<MessageFrame> | undefined;
  readonly #initial: number;
  #settle = { resolve: noop, reject: noop as (error: RoomcastError) => void };
  /** Generation of the connection whose subscribe was answered; undefined while no open connection holds it. */
  #heldOn: number | undefined;
  /** The room's newest seq as the subscribe on this connection found it. */
  #joined: number | undefined;
  /** The history page of that subscribe, and the `after_seq` it was asked for (none: the newest messages). */
  #page: { frame: HistoryFrame; after: number | undefined } | undefined;
  /** The subscribe request on its way, if any. */
  #subscribing: Promise<unknown> | undefined;
  /** Connections in a row that refused the subscribe with FORBIDDEN. */
  #refusals = 0;
  /** Why the room is no longer held. */
  #gone: RoomcastError | undefined;
  #left: Promise<void> | undefined;

  constructor(
    id: string,
    host: RoomHost,
    start: { afterSeq?: number; initial: number },
    forward?: <K extends keyof RoomEvents>(name: K, value: RoomEvents[K]) => void,
  ) {
    super();
    this.id = id;
    this.#host = host;
    this.#forward = forward;
    this.#initial = start.initial;
    this.ready = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // An application that never looks at `ready` must not get an unhandled rejection.
    this.ready.catch(noop);
    if (!host.options.catchUp) return;
    const reads = host.reads(id, () => this.#joined);
    this.#stream = new OrderedStream(
      'room',
      {
        deliver: (frame) => this.emit('message', frame),
        repaired: (repair) => {
          host.repaired(this, repair);
          this.emit('repair', { ...repair, room: id });
        },
      },
      {
        ...reads,
        // The first page of a catch-up may have come with the subscribe's answer.
        after: (afterSeq) => this.#take(afterSeq) ?? reads.after(afterSeq),
        before: (beforeSeq, limit) => this.#take(undefined, beforeSeq) ?? reads.before(beforeSeq, limit),
      },
      { repairDelayMs: host.options.repairDelayMs, ...STREAM_LIMITS },
      start.afterSeq,
    );
  }

  get subscribed(): boolean {
    return this.#heldOn !== undefined;
  }

  get lastSeq(): number | undefined {
    return this.#stream?.position;
  }

  send(text: string, options: { clientMsgId?: string | undefined } = {}): Promise<MessageFrame> {
    return this.#whileHeld(() => this.#host.outbox.sendMessage(this.id, text, options.clientMsgId));
  }

  history(query: Omit<HistoryQuery, 'direct'> = {}): Promise<HistoryFrame> {
    const frame = historyFrame(query, { room_id: this.id });
    return this.#whileHeld(() => this.#host.requests.request(frame, this.#read(true)));
  }

  members(): Promise<MembersFrame> {
    return this.#whileHeld(() =>
      this.#host.requests.request({ action: 'listMembers', room_id: this.id }, this.#read(true)),
    );
  }

  leave(): Promise<void> {
    if (this.#left) return this.#left;
    const subscribing = this.#subscribing;
    const open = this.#host.connection.state === 'open';
    this.release(new RoomcastError('CLOSED', `room "${this.id}" was left`));
    this.#left = (async () => {
      // A subscribe still on its way must not take effect after the unsubscribe.
      await subscribing;
      // Without a connection there is nothing to undo: the next one does not subscribe the room.
      if (!open || this.#host.connection.state !== 'open') return;
      await this.#host.requests
        .request({ action: 'unsubscribe', room_id: this.id }, this.#read(false))
        .catch((error: RoomcastError) => {
          // Lost with the connection, which the next one does not subscribe to the room.
          if (error.code !== 'CONNECTION_LOST' && error.code !== 'CLOSED') throw error;
        });
    })();
    this.#host.leaving(this.id, this.#left);
    return this.#left;
  }

  // -------------------------------------------------------------------------------------------------------------
  // For the client
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Subscribes on connection `generation`, then catches the stream up (the first time, from the newest messages;
   * after that, from its position). Rejects when that failed in a way a new connection may mend; a refusal for
   * good releases the room instead.
   */
  async subscribe(generation: number): Promise<void> {
    const { connection, requests } = this.#host;
    await this.#host.leaving(this.id);
    if (this.#gone || generation !== connection.generation) return;
    if (!connection.allows(this.id)) {
      this.#refuse(new RoomcastError('FORBIDDEN', `the token does not allow room "${this.id}"`));
      return;
    }
    const stream = this.#stream;
    const after = stream?.position;
    // A fresh start reads forward from `initial` seqs below the room's newest (OrderedStream.catchUp), which the
    // answer tells: no page with the subscribe. A return catches up in the same round trip.
    const page = stream && after !== undefined && { after_seq: after, limit: CATCH_UP_PAGE_LIMIT };
    const subscribing = requests.request(
      { action: 'subscribe', room_id: this.id, ...page },
      this.#read(false),
    );
    this.#subscribing = subscribing.catch(noop);
    let answer: Awaited<typeof subscribing>;
    try {
      answer = await subscribing;
    } catch (error) {
      if (this.#gone) return;
      const { code } = error as RoomcastError;
      // FORBIDDEN for a room the token allows: the first time, most likely a connection the server forgot.
      const refused =
        REFUSALS.includes(code) && (code !== 'FORBIDDEN' || ++this.#refusals >= MAX_SUBSCRIBE_REFUSALS);
      if (!refused) throw error;
      this.#refuse(error as RoomcastError);
      return;
    }
    if (this.#gone || generation !== connection.generation) return;
    this.#refusals = 0;
    this.#heldOn = generation;
    this.#joined = answer.latest_seq;
    this.#page = answer.history && { frame: answer.history, after };
    this.#host.flush();
    try {
      await stream?.catchUp(this.#initial);
    } catch (error) {
      // Left meanwhile: its reads were cut short, and nothing is missing.
      if (!this.#gone) throw error;
    } finally {
      this.#page = undefined;
    }
    if (generation === connection.generation) this.#settle.resolve();
  }

  /**
   * A handover: subscribes on the new connection (`channel`, its requests) after the stream's position, and reads
   * forward there (`read`), while the open connection still delivers. Resolves with the room's newest seq as that
   * subscribe found it, or undefined when the new connection refused the room: the swap then subscribes it the
   * usual way, which decides what the refusal means.
   */
  async prepare(channel: Requests, read: StreamReads['after']): Promise<number | undefined> {
    const after = this.#stream?.position;
    const page = after !== undefined && { after_seq: after, limit: CATCH_UP_PAGE_LIMIT };
    let answer: SubscribedFrame;
    try {
      answer = await channel.request({ action: 'subscribe', room_id: this.id, ...page }, this.#read(false));
    } catch (error) {
      if (REFUSALS.includes((error as RoomcastError).code)) return undefined;
      throw error;
    }
    let first = answer.history;
    await this.#stream?.forward((seq) => {
      const served = first && seq === after ? Promise.resolve(first) : read(seq);
      first = undefined;
      return served;
    });
    return answer.latest_seq;
  }

  /** The handover is done: its new connection, `generation`, holds the room since `prepare`. */
  adopt(generation: number, joined: number): void {
    this.#heldOn = generation;
    this.#joined = joined;
    this.#refusals = 0;
  }

  /** The connection was lost: nothing is subscribed any more. */
  down(): void {
    this.#heldOn = undefined;
    this.#page = undefined;
  }

  /** A frame of the room. */
  receive(frame: MessageFrame | PresenceFrame | MembersFrame): void {
    if (frame.action === 'message') {
      if (this.#stream) this.#stream.live(frame);
      else this.emit('message', frame);
      return;
    }
    if (frame.action === 'members') this.latest(frame.latest_seq);
    this.emit(frame.action, frame as PresenceFrame & MembersFrame);
  }

  /** The room's newest seq, from a heartbeat or a members list. */
  latest(seq: number): void {
    this.#stream?.latest(seq);
  }

  /** No longer held: no reads, no events; `ready` (if pending) and the room's calls reject with `error`. */
  release(error: RoomcastError): void {
    if (this.#gone) return;
    this.#gone = error;
    this.#heldOn = undefined;
    this.#stream?.stop();
    this.#host.release(this, error);
    this.#settle.reject(error);
    this.clear();
  }

  #refuse(error: RoomcastError): void {
    this.emit('error', error);
    this.release(error);
  }

  /** The subscribe's page, when it answers this read: a forward one after `after`, or the newest before `before`. */
  #take(after: number | undefined, before?: number): Promise<HistoryFrame> | undefined {
    const page = this.#page;
    if (!page || page.after !== after) return undefined;
    // The newest messages, read after the subscribe: some may be newer than the read wants.
    if (before !== undefined && page.frame.messages.some((frame) => frame.seq >= before)) return undefined;
    this.#page = undefined;
    return Promise.resolve(page.frame);
  }

  /** To the room's listeners, and the client's for the default room. */
  override emit<K extends keyof RoomEvents>(name: K, value: RoomEvents[K]): void {
    // A read on its way when the room was left may still hand over frames: they are not the room's any more.
    if (this.#gone && name !== 'error') return;
    super.emit(name, value);
    this.#forward?.(name, value);
  }

  #whileHeld<T>(call: () => Promise<T>): Promise<T> {
    return this.#gone ? Promise.reject(this.#gone) : call();
  }

  #read(keep: boolean) {
    return { timeoutMs: this.#host.options.requestTimeoutMs, keep };
  }
}
