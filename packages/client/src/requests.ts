/**
 * Calls to the server waiting for their answers, and how they fail. API Gateway runs requests concurrently, so
 * answers arrive in any order: reads are matched by the `ref` the SDK puts on them, sends (the outbox) by their
 * `client_msg_id`. Every call has a deadline; those that outlive a lost connection go out again on the next one.
 */
import { MAX_READS_IN_FLIGHT } from './options.js';
import {
  type DirectFrame,
  type ErrorCode,
  type ErrorFrame,
  type GetHistoryFrame,
  type HistoryFrame,
  type ListMembersFrame,
  MAX_CLIENT_FRAME_BYTES,
  type MembersFrame,
  type MessageFrame,
  type PingFrame,
  type PongFrame,
  type SendDirectFrame,
  type SendMessageFrame,
  type SubscribedFrame,
  type SubscribeFrame,
  type UnsubscribedFrame,
  type UnsubscribeFrame,
} from './protocol.js';

// ---------------------------------------------------------------------------------------------------------------
// How calls fail
// ---------------------------------------------------------------------------------------------------------------

/**
 * Why a request failed: a server error code, or one of the client's own. A `TIMEOUT`ed send may still have been
 * delivered (it then arrives as a `message` event); sending again with the same `clientMsgId` is safe.
 */
export type ClientErrorCode = ErrorCode | 'TIMEOUT' | 'CONNECTION_LOST' | 'CLOSED' | 'LISTENER_FAILED';

export class RoomcastError extends Error {
  override readonly name = 'RoomcastError';
  /**
   * A send's `client_msg_id`, on a send that timed out: the server may still store it, so send again with this
   * id (`send(text, { clientMsgId })`) to have it stored once, or wait for a `message` frame that carries it.
   */
  clientMsgId?: string;

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** The server's `error` frame, when the server refused the request. */
    readonly frame?: ErrorFrame,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static fromFrame(frame: ErrorFrame): RoomcastError {
    return new RoomcastError(frame.code, frame.message, frame);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pending calls
// ---------------------------------------------------------------------------------------------------------------

interface Entry<T> {
  frame: Parameters<Sendable>[0];
  /** Whether it has gone out (on some connection): only so many may be out at once. */
  sent: boolean;
  /** Whether the request survives a lost connection (sent again on the next one) or fails with it. */
  keep: boolean;
  resolve(value: T): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface PendingOptions {
  timeoutMs: number;
  keep: boolean;
}

interface Waiter {
  keys: Set<string>;
  done(): void;
}

/**
 * Whether a frame may go out on the open connection now: a frame about a room waits until the connection holds
 * the room (its subscribe was answered), or the server would refuse it.
 */
export type Sendable = (frame: { action: string; room_id?: string | undefined }) => boolean;

/** The room a frame acts in (a send or a read), if any: not `subscribe` and `unsubscribe`, which act on the connection. */
export function roomOf(frame: Parameters<Sendable>[0]): string | undefined {
  return frame.action.endsWith('ubscribe') ? undefined : frame.room_id;
}

/**
 * Requests waiting for their answer, by correlation key, in the order they were made. Each has a deadline; those
 * kept across connections are transmitted again whenever a new connection opens. At most `inFlight` are out at
 * once: the others wait their turn, oldest first. One that may not go out yet (`sendable`) neither goes out nor
 * takes a place among them.
 */

class PendingTable<T> {
  readonly #entries = new Map<string, Entry<T>>();
  /** Callers of `sentSettled`, each with the keys it still waits for. */
  readonly #waiters: Waiter[] = [];
  /** After a RATE_LIMITED answer nothing goes out before this (epoch ms): the client paces itself by the server. */
  #pausedUntil = 0;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #transmit: (frame: object) => void;
  readonly #sendable: Sendable;
  readonly #inFlight: number;
  /**
   * How many may be out now: `inFlight`, down to 1 after a RATE_LIMITED answer and back up by one per answered
   * entry, so that a client over its limit sends one frame at a time until the server keeps up again.
   */
  #window: number;

  /** `transmit` sends a frame now if a connection is open, and otherwise does nothing. */
  constructor(transmit: (frame: object) => void, sendable: Sendable, inFlight = Number.POSITIVE_INFINITY) {
    this.#transmit = transmit;
    this.#sendable = sendable;
    this.#inFlight = inFlight;
    this.#window = inFlight;
  }

  add(key: string, frame: Entry<T>['frame'], options: PendingOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => this.reject(key, new RoomcastError('TIMEOUT', `no answer within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      this.#entries.set(key, { frame, sent: false, keep: options.keep, resolve, reject, timer });
      this.#sendNext();
    });
  }

  /** The frame of the entry `key`, if there is one. */
  get(key: string): Entry<T>['frame'] | undefined {
    return this.#entries.get(key)?.frame;
  }

  /** Resolves once every entry sent so far is answered (or failed). */
  sentSettled(): Promise<void> {
    const keys = new Set([...this.#entries].filter(([, entry]) => entry.sent).map(([key]) => key));
    if (keys.size === 0) return Promise.resolve();
    return new Promise((done) => this.#waiters.push({ keys, done }));
  }

  resolve(key: string, value: T): boolean {
    if (this.#entries.has(key)) this.#window = Math.min(this.#inFlight, this.#window + 1);
    const entry = this.#settle(key);
    entry?.resolve(value);
    return entry !== undefined;
  }

  /**
   * The server refused the entry for now (RATE_LIMITED): it goes out again, in its turn, once `ms` have passed,
   * and nothing else goes out before that, so a client over its limit slows to the server's pace instead of
   * collecting refusals (which the server counts toward closing the connection). Its timeout keeps running.
   * False when there is no such entry.
   */
  retryAfter(key: string, ms: number): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    entry.sent = false;
    this.#window = 1;
    const until = Date.now() + ms;
    if (until > this.#pausedUntil) {
      this.#pausedUntil = until;
      clearTimeout(this.#resumeTimer);
      // The timer may fire a moment before Date.now() reaches `until`: it ends the pause itself.
      this.#resumeTimer = setTimeout(() => {
        this.#pausedUntil = 0;
        this.#sendNext();
      }, ms);
    }
    return true;
  }

  reject(key: string, error: Error): boolean {
    const entry = this.#settle(key);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** A new connection opened: send again what went out on a lost one, then what waits its turn. */
  resend(): void {
    // Within the window, as any sending: a reconnect after RATE_LIMITED must not send everything at once.
    let out = 0;
    for (const entry of this.#entries.values()) {
      // Not on this connection yet (its room is not held yet), or past the window: it goes out in its turn.
      if (!this.#sendable(entry.frame)) entry.sent = false;
      else if (out++ >= this.#window) entry.sent = false;
      else if (entry.sent) this.#transmit(entry.frame);
    }
    this.#sendNext();
  }

  /** Frames that could not go out before may now (a room was subscribed): sends what fits. */
  flush(): void {
    this.#sendNext();
  }

  /** The connection was lost: fail the requests that do not outlive it. */
  connectionLost(): void {
    for (const [key, entry] of this.#entries) {
      if (!entry.keep) this.reject(key, new RoomcastError('CONNECTION_LOST', 'the connection was lost'));
    }
  }

  /** Rejects the entries that act in `room` (say, a room left), or all of them without it. */
  rejectAll(error: Error, room?: string): void {
    if (room === undefined) clearTimeout(this.#resumeTimer);
    for (const [key, entry] of [...this.#entries]) {
      if (room === undefined || roomOf(entry.frame) === room) this.reject(key, error);
    }
  }

  #settle(key: string): Entry<T> | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    clearTimeout(entry.timer);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i] as Waiter;
      waiter.keys.delete(key);
      if (waiter.keys.size === 0) {
        this.#waiters.splice(i, 1);
        waiter.done();
      }
    }
    this.#sendNext();
    return entry;
  }

  /** Sends the oldest waiting entries while fewer than `inFlight` are out. */
  #sendNext(): void {
    if (Date.now() < this.#pausedUntil) return;
    let out = 0;
    for (const entry of this.#entries.values()) {
      if (out >= this.#window) return;
      if (!entry.sent && !this.#sendable(entry.frame)) continue;
      out += 1;
      if (entry.sent) continue;
      entry.sent = true;
      this.#transmit(entry.frame);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reads, by ref
// ---------------------------------------------------------------------------------------------------------------

/** The requests answered by a frame that echoes their `ref`, and the action of that answer. */
interface Replies {
  getHistory: HistoryFrame;
  listMembers: MembersFrame;
  ping: PongFrame;
  subscribe: SubscribedFrame;
  unsubscribe: UnsubscribedFrame;
}
type Request = GetHistoryFrame | ListMembersFrame | PingFrame | SubscribeFrame | UnsubscribeFrame;
type Reply = Replies[keyof Replies];
type Unreferenced<F> = F extends unknown ? Omit<F, 'ref'> : never;

/** Reads (`getHistory`, `listMembers`, `ping`, `subscribe`, `unsubscribe`), matched to their replies by `ref`. */
export class Requests {
  readonly #pending: PendingTable<Reply>;
  readonly #prefix: string;
  #next = 0;

  /**
   * `prefix` starts every ref: a handover's requests on its new connection have their own, so that a late answer
   * to one of them is never taken for the answer to another request.
   */
  constructor(transmit: (frame: object) => void, sendable: Sendable, prefix = 'r') {
    // Reads a client has out at once: more wait their turn (the server limits frames per connection).
    this.#pending = new PendingTable(transmit, sendable, MAX_READS_IN_FLIGHT);
    this.#prefix = prefix;
  }

  request<F extends Unreferenced<Request>>(frame: F, options: PendingOptions): Promise<Replies[F['action']]> {
    this.#next += 1;
    const ref = `${this.#prefix}${this.#next}`;
    const referenced = { ...frame, ref };
    return this.#pending.add(ref, referenced, options) as Promise<Replies[F['action']]>;
  }

  /** A reply frame; false when it answers none of ours (say, a `members` list nobody here asked for). */
  settle(frame: Reply): boolean {
    return frame.ref !== undefined && this.#pending.resolve(frame.ref, frame);
  }

  /** An error frame; false when it is not about a request (it has no `ref`). */
  fail(frame: ErrorFrame): boolean {
    const { ref } = frame;
    if (ref === undefined) return false;
    if (frame.code === 'RATE_LIMITED') this.#pending.retryAfter(ref, retryDelay(frame));
    else this.#pending.reject(ref, RoomcastError.fromFrame(frame));
    // A ref is always one of ours, also of a request given up on (it timed out, or its room was left): its late
    // answer is no news for the application.
    return true;
  }

  resend(): void {
    this.#pending.resend();
  }

  flush(): void {
    this.#pending.flush();
  }

  connectionLost(): void {
    this.#pending.connectionLost();
  }

  rejectAll(error: Error, room?: string): void {
    this.#pending.rejectAll(error, room);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sends, by client_msg_id: the outbox
// ---------------------------------------------------------------------------------------------------------------

/**
 * Sends waiting for the server to store them, by `client_msg_id`. A send made while no connection is open waits
 * here, and one in flight when a connection drops stays here: both go out again on the next connection with the
 * same `client_msg_id`, which the server stores and delivers once (a retry is answered with the first message).
 * API Gateway runs the frames of one connection concurrently, so sends on the wire together are stored in any
 * order: by default one goes out when the previous one is acknowledged.
 */
export class Outbox {
  readonly #pending: PendingTable<MessageFrame | DirectFrame>;
  readonly #timeoutMs: number;

  readonly #onTimeout: () => void;

  /** `onTimeout` hears of every send that timed out: the connection it went out on may be dead. */
  constructor(
    transmit: (frame: object) => void,
    sendable: Sendable,
    options: { timeoutMs: number; inFlight: number; onTimeout?: () => void },
  ) {
    this.#pending = new PendingTable(transmit, sendable, options.inFlight);
    this.#timeoutMs = options.timeoutMs;
    this.#onTimeout = options.onTimeout ?? (() => {});
  }

  sendMessage(room: string, message: string, clientMsgId = randomId()): Promise<MessageFrame> {
    const frame: SendMessageFrame = {
      action: 'sendMessage',
      room_id: room,
      message,
      client_msg_id: clientMsgId,
    };
    return this.#add(clientMsgId, frame) as Promise<MessageFrame>;
  }

  sendDirect(toUserId: string, message: string, clientMsgId = randomId()): Promise<DirectFrame> {
    const frame: SendDirectFrame = {
      action: 'sendDirect',
      to_user_id: toUserId,
      message,
      client_msg_id: clientMsgId,
    };
    return this.#add(clientMsgId, frame) as Promise<DirectFrame>;
  }

  /** A stored message seen live or in history: completes the send it answers when it is one of ours. */
  acknowledge(frame: MessageFrame | DirectFrame, me: string | undefined): void {
    const id = frame.client_msg_id;
    const sender = frame.action === 'message' ? frame.user_id : frame.from_user_id;
    // client_msg_id is unique per sender (and room) only: another user may well have used the same one, and a
    // system message may carry this user's name as its sender.
    if (
      id !== undefined &&
      sender === me &&
      !frame.system &&
      this.#pending.get(id)?.room_id === (frame as MessageFrame).room_id
    )
      this.#pending.resolve(id, frame);
  }

  /** An error frame; false when it is not about one of these sends. */
  fail(frame: ErrorFrame): boolean {
    if (frame.client_msg_id === undefined) return false;
    // Refused for now, not for good: the same send goes out again (the server stores it once).
    if (frame.code === 'RATE_LIMITED')
      return this.#pending.retryAfter(frame.client_msg_id, retryDelay(frame));
    return this.#pending.reject(frame.client_msg_id, RoomcastError.fromFrame(frame));
  }

  resend(): void {
    this.#pending.resend();
  }

  flush(): void {
    this.#pending.flush();
  }

  /** Resolves once every send that went out so far is acknowledged or failed, or after `maxWaitMs`. */
  sentSettled(maxWaitMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#pending.sentSettled(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxWaitMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  rejectAll(error: Error, room?: string): void {
    this.#pending.rejectAll(error, room);
  }

  #add(clientMsgId: string, frame: SendMessageFrame | SendDirectFrame): Promise<MessageFrame | DirectFrame> {
    if (this.#pending.get(clientMsgId)) {
      return Promise.reject(
        new RoomcastError('BAD_REQUEST', `a send with client_msg_id ${clientMsgId} is pending`),
      );
    }
    // Refused here: API Gateway would close the connection (1009), and a resend on every new one would loop.
    const bytes = encoder.encode(JSON.stringify(frame)).length;
    if (bytes > MAX_CLIENT_FRAME_BYTES) {
      return Promise.reject(
        new RoomcastError(
          'TOO_LARGE',
          `the message makes a ${bytes}-byte frame; at most ${MAX_CLIENT_FRAME_BYTES} bytes reach the server`,
        ),
      );
    }
    return this.#pending
      .add(clientMsgId, frame, { timeoutMs: this.#timeoutMs, keep: true })
      .catch((error: unknown) => {
        if (error instanceof RoomcastError && error.code === 'TIMEOUT') {
          error.clientMsgId = clientMsgId;
          this.#onTimeout();
        }
        throw error;
      });
  }
}

const encoder = new TextEncoder();

/** A random `client_msg_id`: 128 bits as 32 hex digits. `crypto.randomUUID` needs a secure context. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** How long a RATE_LIMITED request waits before it goes out again: what the server says, within 50 ms – 10 s. */
function retryDelay(frame: ErrorFrame): number {
  const asked = typeof frame.retry_after_ms === 'number' ? frame.retry_after_ms : 1000;
  return Math.min(10_000, Math.max(50, asked));
}
