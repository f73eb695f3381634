import { isRoomId } from './protocol.js';
import type { WebSocketFactory } from './socket.js';

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
  /** On the first connection, hand over this many of the newest stored messages (room and direct). Default 0. */
  initial?: number | undefined;
  /** Resume the room after this message id (say, one kept across a page reload) instead of the newest one. */
  after?: string | undefined;
  /** Likewise for direct messages. */
  directAfter?: string | undefined;
  /** How far before the newest message seen each catch-up reads again. Default 10 000. */
  overlapMs?: number | undefined;
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
  reconnect?: ReconnectOptions | undefined;
  /** Catch-up after every reconnect (on by default); `false` turns it off. */
  catchUp?: CatchUpOptions | false | undefined;
}

export interface ResolvedOptions {
  url: string;
  room: string;
  getToken: () => string | Promise<string>;
  WebSocket: WebSocketFactory;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  sendTimeoutMs: number;
  reconnect: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number; maxFailedHandshakes: number };
  catchUp:
    | { initial: number; overlapMs: number; after?: string | undefined; directAfter?: string | undefined }
    | false;
}

export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  const { token, getToken } = options;
  if ((token === undefined) === (getToken === undefined))
    throw new TypeError('pass either token or getToken');
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
  if (!WebSocket) throw new TypeError('no global WebSocket: pass one, e.g. `import WebSocket from "ws"`');
  if (!/^wss?:$/.test(new URL(options.url).protocol)) throw new TypeError('url must start with ws: or wss:');
  if (!isRoomId(options.room)) throw new TypeError('room must be 1-64 characters of [A-Za-z0-9_.:-]');
  const catchUp = options.catchUp ?? {};
  return {
    url: options.url,
    room: options.room,
    getToken: getToken ?? (() => token as string),
    WebSocket,
    heartbeatMs: options.heartbeatMs ?? 300_000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    sendTimeoutMs: options.sendTimeoutMs ?? 30_000,
    reconnect: {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 500,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 30_000,
      maxAttempts: options.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY,
      maxFailedHandshakes: options.reconnect?.maxFailedHandshakes ?? 8,
    },
    catchUp: catchUp && {
      ...catchUp,
      initial: catchUp.initial ?? 0,
      overlapMs: catchUp.overlapMs ?? 10_000,
    },
  };
}
