/**
 * What `connect` accepts, and the SDK's own numbers: every default and internal limit has its one name here (the
 * wire protocol's limits are in protocol.ts). The README's option tables list the same values; units.test.ts
 * holds them to it.
 */
import { isRoomId, isSeq, MAX_HISTORY_LIMIT } from './protocol.js';

/** The defaults of ConnectOptions, keyed like the options they fill in. */
export const DEFAULTS = {
  /**
   * A connection silent this long is asked for a pong: a dead link is found within about 35 s (Socket.IO: 25 s
   * pings + 20 s). A connection that receives frames sends no pings; an idle one sends one per period (each a
   * billed API Gateway message and a Lambda invocation: see the README).
   */
  heartbeatMs: 25_000,
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
    maxFailedHandshakes: Number.POSITIVE_INFINITY,
  },
  catchUp: {
    initial: 0,
  },
  handover: {
    /** A minute of slack for clock skew and a slow handover; a third of a short token's lifetime (below). */
    refreshMarginMs: 60_000,
    /** API Gateway closes every connection after 2 hours. */
    maxAgeMs: 7_200_000,
    /** Time for a handover, and for its retries after a failure (a refused handshake, a timeout). */
    maxAgeLeadMs: 120_000,
  },
};

/** How a handover (handover.ts) is timed: not options. */
export const HANDOVER_LIMITS = {
  /**
   * A short token is refreshed once this fraction of its lifetime (`exp - iat`) is left, if that is less than
   * `refreshMarginMs`: a 90-second token 30 s before its `exp`, not 60 s (a third of its life, not two thirds).
   */
  maxRefreshFraction: 1 / 3,
};

/** The longest delay setTimeout takes (about 24.8 days); a longer one would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** With `catchUp: false`: the ids of this many recent messages are kept, so none is handed over twice. */
export const MAX_RECENT_IDS = 1_000;

/** How an ordered stream (stream.ts) waits: these bound its memory and its reads, and are not options. */
export const STREAM_LIMITS = {
  /** Frames held back per stream waiting for a missing one; more are read from history when the gap is repaired. */
  maxBuffered: 1_000,
  /** Longest wait between reads of a seq still being written (the server settles one within 30 s). */
  maxRetryDelayMs: 5_000,
  /** Longest a fresh start waits for this client's sends in flight to be answered (see OrderedStream.catchUp). */
  ownSendsWaitMs: 5_000,
};

/** Reads (history, members, pings) a client has on the wire at once; more wait their turn. */
export const MAX_READS_IN_FLIGHT = 16;

/** Catch-up reads the largest pages the protocol allows. */
export const CATCH_UP_PAGE_LIMIT = MAX_HISTORY_LIMIT;

/**
 * Connections in a row on which the server refused a room's subscribe with FORBIDDEN although the token allows the
 * room: the first is taken for a connection the server forgot (it reconnects), the second as a refusal for good.
 */
export const MAX_SUBSCRIBE_REFUSALS = 2;

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
  /**
   * Give up after this many attempts in a row without a connection that caught up. Default: never. After the
   * first few the attempts come every `maxDelayMs`, and at once when the browser comes back online or the page
   * becomes visible.
   */
  maxAttempts?: number | undefined;
  /**
   * Give up after this many handshakes in a row that failed without a visible cause. Browsers do not show a
   * refused handshake's HTTP status, so a 401 or 403 the token check could not foresee (a bad signature, a
   * revoked user) looks like a network failure; set this to stop retrying such a token (`getToken` is asked
   * again before every attempt, so a fresh token usually fixes it). Not used where the status is visible (`ws` in
   * Node). Default: never.
   */
  maxFailedHandshakes?: number | undefined;
}

/**
 * When the client replaces its connection by a fresh one (a handover: the second connection catches up before the
 * first closes, so the application sees no drop): before the token expires, and before the connection reaches the
 * age at which API Gateway closes it.
 */
export interface HandoverOptions {
  /**
   * With `getToken`: this long before the connection's token expires (`exp`), hand over to a connection with a
   * fresh token, since the server closes a connection whose token has expired. At most a third of the token's
   * lifetime (`exp - iat`). A fixed `token` is not refreshed. Default 60 000.
   */
  refreshMarginMs?: number | undefined;
  /** The age at which the server closes a connection (API Gateway: 2 hours); Infinity: none. Default 7 200 000. */
  maxAgeMs?: number | undefined;
  /** Hand over this long before a connection reaches `maxAgeMs`; at most half of it. Default 120 000. */
  maxAgeLeadMs?: number | undefined;
}

export interface CatchUpOptions {
  /**
   * On the first connection, hand over this many of the newest stored messages (of each room, on its first
   * subscribe, unless `client.room` says otherwise, and of the direct messages): 0 to 100 (one page). Default 0.
   */
  initial?: number | undefined;
  /**
   * Resume the default room after this seq (say, `lastSeq` kept across a page reload) instead of the newest
   * message.
   */
  afterSeq?: number | undefined;
  /** Likewise for direct messages (`lastDirectSeq`). */
  directAfterSeq?: number | undefined;
}

/** Where a room's stream starts, given to `client.room(id, options)` the first time the room is taken. */
export interface RoomOptions {
  /** Resume after this seq (the room's `lastSeq`, kept across a page reload) instead of the newest message. */
  afterSeq?: number | undefined;
  /** On its first subscribe, hand over this many of the room's newest stored messages: 0 to 100. */
  initial?: number | undefined;
}

export interface ConnectOptions {
  /** The WebSocket API URL without query, e.g. `wss://abc123.execute-api.eu-west-1.amazonaws.com/prod`. */
  url: string;
  /**
   * The default room: subscribed at once, and what `send`, `history`, `members`, `lastSeq` and the `message`,
   * `presence` and `members` events of the client are about. Without it the client starts with no room.
   */
  room?: string | undefined;
  /** More rooms to subscribe at once, each as `client.room(id)` would. */
  rooms?: readonly string[] | undefined;
  /** A fixed token; or pass `getToken`, called before every connection attempt. */
  token?: string | undefined;
  getToken?: (() => string | Promise<string>) | undefined;
  /** The WebSocket class; default `globalThis.WebSocket`. In Node pass `ws`'s default export. */
  WebSocket?: WebSocketFactory | undefined;
  /**
   * How long a connection may be silent before it is asked for a pong; 0 turns the heartbeat off (API Gateway
   * then closes an idle connection after 10 minutes). Default 25 000.
   */
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
  handover?: HandoverOptions | undefined;
  /**
   * Catch-up and order (on by default). `false` turns both off: no history is read, and messages are handed over
   * as they arrive, in no particular order, and not at all when missed.
   */
  catchUp?: CatchUpOptions | false | undefined;
}

type Timing = Omit<typeof DEFAULTS, 'reconnect' | 'catchUp' | 'handover'>;

export interface ResolvedOptions extends Timing {
  url: string;
  room: string | undefined;
  rooms: readonly string[];
  getToken: () => string | Promise<string>;
  /** Whether `getToken` was given: a fixed token cannot be refreshed. */
  refreshable: boolean;
  WebSocket: WebSocketFactory;
  reconnect: typeof DEFAULTS.reconnect;
  handover: typeof DEFAULTS.handover;
  catchUp: ResolvedCatchUp | false;
}

export type ResolvedCatchUp = typeof DEFAULTS.catchUp & Pick<CatchUpOptions, 'afterSeq' | 'directAfterSeq'>;

/**
 * Fills in the defaults, and throws a TypeError for options that could never work. Those the server would refuse
 * must be caught here: a catch-up the server refuses would drop the connection and reconnect, forever.
 */
export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('connect() takes an options object');
  const { url, room, rooms = [], token, getToken } = options;
  if ((token === undefined) === (getToken === undefined))
    throw new TypeError('pass either token or getToken');
  if (token !== undefined && (typeof token !== 'string' || token === ''))
    throw new TypeError('token must be a non-empty string');
  if (getToken !== undefined && typeof getToken !== 'function')
    throw new TypeError('getToken must be a function');
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
  if (!WebSocket) throw new TypeError('no global WebSocket: pass one, e.g. `import WebSocket from "ws"`');
  if (typeof url !== 'string' || !URL.canParse(url) || !/^wss?:$/.test(new URL(url).protocol))
    throw new TypeError(`url must be a ws: or wss: URL, got ${JSON.stringify(url)}`);
  if (room !== undefined) checkRoomId(room, 'room');
  if (!Array.isArray(rooms)) throw new TypeError('rooms must be an array of room ids');
  for (const id of rooms) checkRoomId(id, 'rooms');
  const { reconnect, catchUp, handover, ...timing } = DEFAULTS;
  const resolvedTiming = withDefaults(timing, options);
  const resolvedReconnect = withDefaults(reconnect, options.reconnect);
  const resolvedHandover = withDefaults(handover, options.handover);
  checkNumbers(resolvedTiming, resolvedReconnect, resolvedHandover);
  return {
    ...resolvedTiming,
    url,
    room,
    rooms,
    getToken: getToken ?? (() => token as string),
    refreshable: getToken !== undefined,
    WebSocket,
    reconnect: resolvedReconnect,
    handover: resolvedHandover,
    catchUp:
      options.catchUp === false
        ? false
        : resolveCatchUp({ ...options.catchUp, ...withDefaults(catchUp, options.catchUp) }),
  };
}

/** Every number option in its range, or a TypeError that names it: a bad one would only fail later, obscurely. */
function checkNumbers(
  timing: Timing,
  reconnect: typeof DEFAULTS.reconnect,
  handover: typeof DEFAULTS.handover,
): void {
  const wholeAtLeast = (name: string, value: number, min: number, infinite = false) => {
    const ok = (infinite && value === Number.POSITIVE_INFINITY) || (Number.isInteger(value) && value >= min);
    if (!ok)
      throw new TypeError(`${name} must be a whole number, ${min} or more${infinite ? ', or Infinity' : ''}`);
  };
  wholeAtLeast('heartbeatMs', timing.heartbeatMs, 0);
  wholeAtLeast('heartbeatTimeoutMs', timing.heartbeatTimeoutMs, 1);
  wholeAtLeast('connectTimeoutMs', timing.connectTimeoutMs, 1);
  wholeAtLeast('requestTimeoutMs', timing.requestTimeoutMs, 1);
  wholeAtLeast('sendTimeoutMs', timing.sendTimeoutMs, 1);
  wholeAtLeast('maxSendsInFlight', timing.maxSendsInFlight, 1);
  wholeAtLeast('repairDelayMs', timing.repairDelayMs, 0);
  wholeAtLeast('reconnect.initialDelayMs', reconnect.initialDelayMs, 1);
  wholeAtLeast('reconnect.maxDelayMs', reconnect.maxDelayMs, reconnect.initialDelayMs);
  wholeAtLeast('reconnect.maxAttempts', reconnect.maxAttempts, 1, true);
  wholeAtLeast('reconnect.maxFailedHandshakes', reconnect.maxFailedHandshakes, 1, true);
  wholeAtLeast('handover.refreshMarginMs', handover.refreshMarginMs, 1);
  wholeAtLeast('handover.maxAgeMs', handover.maxAgeMs, 2, true);
  wholeAtLeast('handover.maxAgeLeadMs', handover.maxAgeLeadMs, 1);
  // A longer lead would replace a connection soon after it opened, again and again.
  if (handover.maxAgeLeadMs > handover.maxAgeMs / 2)
    throw new TypeError('handover.maxAgeLeadMs must be at most half of handover.maxAgeMs');
}

/** `defaults`, with the options given (not undefined) in place of theirs. */
function withDefaults<T extends object>(defaults: T, given: { [K in keyof T]?: T[K] | undefined } = {}): T {
  const resolved = { ...defaults };
  for (const key in defaults) resolved[key] = given[key] ?? defaults[key];
  return resolved;
}

function resolveCatchUp(catchUp: ResolvedCatchUp): ResolvedCatchUp {
  checkInitial(catchUp.initial, 'catchUp.initial');
  checkSeq(catchUp.afterSeq, 'catchUp.afterSeq');
  checkSeq(catchUp.directAfterSeq, 'catchUp.directAfterSeq');
  return catchUp;
}

/** A room id, or a TypeError that names the option it came from. */
export function checkRoomId(room: unknown, name: string): void {
  if (!isRoomId(room)) throw new TypeError(`${name} must be 1-64 characters of [A-Za-z0-9_.:-]`);
}

/** The options of `client.room(id, options)`; a missing `initial` is the client's `catchUp.initial`. */
export function resolveRoomOptions(
  options: RoomOptions,
  initial: number,
): { afterSeq?: number; initial: number } {
  if (typeof options !== 'object' || options === null) throw new TypeError('room options must be an object');
  const resolved = { ...options, initial: options.initial ?? initial };
  checkInitial(resolved.initial, 'initial');
  checkSeq(resolved.afterSeq, 'afterSeq');
  return resolved as { afterSeq?: number; initial: number };
}

// The first catch-up reads the newest `initial` messages in one page.
function checkInitial(initial: number, name: string): void {
  if (!Number.isInteger(initial) || initial < 0 || initial > MAX_HISTORY_LIMIT)
    throw new TypeError(`${name} must be a whole number from 0 to ${MAX_HISTORY_LIMIT}`);
}

function checkSeq(seq: number | undefined, name: string): void {
  if (seq !== undefined && !isSeq(seq))
    throw new TypeError(`${name} must be a seq: a whole number, 0 or more`);
}
