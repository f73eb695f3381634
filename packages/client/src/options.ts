/**
 * What `connect` accepts, and the SDK's own numbers: every default and internal limit has its one name here (the
 * wire protocol's limits are in protocol.ts). The README's option tables list the same values; units.test.ts
 * holds them to it.
 */
import { isRoomId, isSeq, MAX_HISTORY_LIMIT } from './protocol.js';

/** The defaults of ConnectOptions, keyed like the options they fill in. */
export const DEFAULTS = {
  /** Half API Gateway's 10-minute idle timeout. */
  heartbeatMs: 300_000,
  heartbeatTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  /** Longer than a read's: it includes waiting in the outbox, through a reconnect. */
  sendTimeoutMs: 30_000,
  /** One: each send waits for the previous one's acknowledgement, so one user's messages keep their order. */
  maxSendsInFlight: 1,
  /** Long enough for the concurrent deliveries of a burst to arrive; short enough not to be noticed. */
  repairDelayMs: 1_000,
  reconnect: {
    initialDelayMs: 500,
    maxDelayMs: 30_000,
    maxAttempts: Number.POSITIVE_INFINITY,
    maxFailedHandshakes: 8,
  },
  catchUp: {
    initial: 0,
  },
};

/** How an ordered stream (stream.ts) waits: these bound its memory and its reads, and are not options. */
export const STREAM_LIMITS = {
  /** Frames held back per stream waiting for a missing one; more are read from history when the gap is repaired. */
  maxBuffered: 1_000,
  /** Longest wait between reads of a seq still being written (the server settles one within 30 s). */
  maxRetryDelayMs: 5_000,
  /** Longest a fresh start waits for this client's sends in flight to be answered (see OrderedStream.catchUp). */
  ownSendsWaitMs: 5_000,
};

/** Catch-up reads the largest pages the protocol allows. */
export const CATCH_UP_PAGE_LIMIT = MAX_HISTORY_LIMIT;

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

export interface ReconnectOptions {
  /** Ceiling of the first retry's random delay; it doubles per failed attempt. Default 500. */
  initialDelayMs?: number | undefined;
  /** Largest ceiling. Default 30 000. */
  maxDelayMs?: number | undefined;
  /** Give up after this many attempts in a row without a connection. Default: never. */
  maxAttempts?: number | undefined;
  /**
   * Give up after this many handshakes in a row that failed without a visible cause. Browsers do not show a
   * refused handshake's HTTP status, so a 401 or 403 the token check could not foresee (a bad signature, a
   * revoked user) looks like a network failure; this bounds the retries. Not used where the status is visible
   * (`ws` in Node). Default 8.
   */
  maxFailedHandshakes?: number | undefined;
}

export interface CatchUpOptions {
  /**
   * On the first connection, hand over this many of the newest stored messages (room and direct): 0 to 100
   * (one page). Default 0.
   */
  initial?: number | undefined;
  /** Resume the room after this seq (say, `lastSeq` kept across a page reload) instead of the newest message. */
  afterSeq?: number | undefined;
  /** Likewise for direct messages (`lastDirectSeq`). */
  directAfterSeq?: number | undefined;
}

export interface ConnectOptions {
  /** The WebSocket API URL without query, e.g. `wss://abc123.execute-api.eu-west-1.amazonaws.com/prod`. */
  url: string;
  room: string;
  /** A fixed token; or pass `getToken`, called before every connection attempt. */
  token?: string | undefined;
  getToken?: (() => string | Promise<string>) | undefined;
  /** The WebSocket class; default `globalThis.WebSocket`. In Node pass `ws`'s default export. */
  WebSocket?: WebSocketFactory | undefined;
  /** Ping period, under API Gateway's 10-minute idle timeout; 0 turns it off. Default 300 000. */
  heartbeatMs?: number | undefined;
  /** A ping unanswered this long means the connection is dead. Default 10 000. */
  heartbeatTimeoutMs?: number | undefined;
  /** Deadline of a handshake. Default 10 000. */
  connectTimeoutMs?: number | undefined;
  /** Deadline of `history` and `members`, waiting for a connection included. Default 10 000. */
  requestTimeoutMs?: number | undefined;
  /** Deadline of `send` and `sendDirect`, waiting in the outbox included. Default 30 000. */
  sendTimeoutMs?: number | undefined;
  /**
   * Sends on the wire at once. At 1 (the default) a send goes out when the previous one is acknowledged, so this
   * user's messages are stored in the order sent; more allows that many at a time, in any order. Default 1.
   */
  maxSendsInFlight?: number | undefined;
  /** How long a message that arrived ahead of a missing one waits before the gap is read from history. Default 1 000. */
  repairDelayMs?: number | undefined;
  reconnect?: ReconnectOptions | undefined;
  /**
   * Catch-up and order (on by default). `false` turns both off: no history is read, and messages are handed over
   * as they arrive, in no particular order, and not at all when missed.
   */
  catchUp?: CatchUpOptions | false | undefined;
}

type Timing = Omit<typeof DEFAULTS, 'reconnect' | 'catchUp'>;

export interface ResolvedOptions extends Timing {
  url: string;
  room: string;
  getToken: () => string | Promise<string>;
  WebSocket: WebSocketFactory;
  reconnect: typeof DEFAULTS.reconnect;
  catchUp: ResolvedCatchUp | false;
}

export type ResolvedCatchUp = typeof DEFAULTS.catchUp & Pick<CatchUpOptions, 'afterSeq' | 'directAfterSeq'>;

/**
 * Fills in the defaults, and throws a TypeError for options that could never work. Those the server would refuse
 * must be caught here: a catch-up the server refuses would drop the connection and reconnect, forever.
 */
export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  const { url, room, token, getToken } = options;
  if ((token === undefined) === (getToken === undefined))
    throw new TypeError('pass either token or getToken');
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
  if (!WebSocket) throw new TypeError('no global WebSocket: pass one, e.g. `import WebSocket from "ws"`');
  if (!/^wss?:$/.test(new URL(url).protocol)) throw new TypeError('url must start with ws: or wss:');
  if (!isRoomId(room)) throw new TypeError('room must be 1-64 characters of [A-Za-z0-9_.:-]');
  const { reconnect, catchUp, ...timing } = DEFAULTS;
  const { maxSendsInFlight } = options;
  if (maxSendsInFlight !== undefined && !(Number.isInteger(maxSendsInFlight) && maxSendsInFlight >= 1)) {
    throw new TypeError('maxSendsInFlight must be a whole number, 1 or more');
  }
  return {
    ...withDefaults(timing, options),
    url,
    room,
    getToken: getToken ?? (() => token as string),
    WebSocket,
    reconnect: withDefaults(reconnect, options.reconnect),
    catchUp:
      options.catchUp === false
        ? false
        : resolveCatchUp({ ...options.catchUp, ...withDefaults(catchUp, options.catchUp) }),
  };
}

/** `defaults`, with the options given (not undefined) in place of theirs. */
function withDefaults<T extends object>(defaults: T, given: { [K in keyof T]?: T[K] | undefined } = {}): T {
  const resolved = { ...defaults };
  for (const key in defaults) resolved[key] = given[key] ?? defaults[key];
  return resolved;
}

function resolveCatchUp(catchUp: ResolvedCatchUp): ResolvedCatchUp {
  // The first catch-up reads the newest `initial` messages in one page.
  const { initial } = catchUp;
  if (!Number.isInteger(initial) || initial < 0 || initial > MAX_HISTORY_LIMIT) {
    throw new TypeError(`catchUp.initial must be a whole number from 0 to ${MAX_HISTORY_LIMIT}`);
  }
  for (const name of ['afterSeq', 'directAfterSeq'] as const) {
    const seq = catchUp[name];
    if (seq !== undefined && !isSeq(seq))
      throw new TypeError(`catchUp.${name} must be a seq: a whole number, 0 or more`);
  }
  return catchUp;
}
