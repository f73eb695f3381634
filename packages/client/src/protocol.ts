/**
 * The roomcast wire protocol: every frame both ways, the ids, the limits and the error codes. Dependency-free, so
 * the SDK, the server (which validates client frames against these types with zod) and any other client share one
 * definition. `@roomcast/client/protocol`; docs/protocol.md describes it in prose.
 */

// ---------------------------------------------------------------------------------------------------------------
// Ids and limits
// ---------------------------------------------------------------------------------------------------------------

/** Room ids: 1–64 characters of `[A-Za-z0-9_.:-]`, safe in URLs, keys and logs. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isRoomId(value: unknown): value is string {
  return typeof value === 'string' && ROOM_ID_PATTERN.test(value);
}

/**
 * The `rooms` claim of a connect token: which rooms a connection may hold. An entry is a room id (that room) or a
 * prefix pattern `<prefix>*` (every room whose id starts with the prefix: `team-42:*`; `*` alone: every room).
 * `*` is not a room-id character, so the two never clash; a token with an entry that is neither is invalid.
 */
const ROOM_CLAIM_PATTERN = /^[A-Za-z0-9_.:-]{0,63}\*$/;

/** Whether `entry` may stand in a `rooms` claim: a room id or a prefix pattern. */
export function isRoomClaimEntry(entry: unknown): entry is string {
  return isRoomId(entry) || (typeof entry === 'string' && ROOM_CLAIM_PATTERN.test(entry));
}

/** Whether a `rooms` claim (undefined: the token has none) allows `roomId`. */
export function roomAllowed(rooms: readonly string[] | undefined, roomId: string): boolean {
  if (rooms === undefined) return true;
  return rooms.some((entry) =>
    entry.endsWith('*') ? roomId.startsWith(entry.slice(0, -1)) : entry === roomId,
  );
}

/**
 * Message ids are ULIDs: 26 Crockford base32 characters, the first 10 the milliseconds since the epoch, the other
 * 16 random. They name a message; its order is its `seq`.
 */
export const MESSAGE_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * Every stored message has a `seq` in its stream (a room, or a user's direct-message inbox): 1, 2, 3, … in the
 * order they were stored, each number used once. A number can stay empty for good (its write failed); history
 * says which ones are settled (`through_seq`).
 */
export function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Most messages one getHistory frame returns, and how many when it names no `limit`. */
export const MAX_HISTORY_LIMIT = 100;
export const DEFAULT_HISTORY_LIMIT = 50;

/**
 * The largest frame a client may send: API Gateway's 32 KB frame limit. A bigger message goes in fragments, which
 * browsers never send; past it API Gateway closes the connection (1009), so clients refuse such a frame themselves.
 */
export const MAX_CLIENT_FRAME_BYTES = 32 * 1024;

/** `client_msg_id` and `ref`: 1–64 characters chosen by the client, echoed on the answer. */
export const MAX_CORRELATION_ID_CHARS = 64;

// ---------------------------------------------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------------------------------------------

/** Stable error codes carried by `error` frames. Clients branch on these, never on message text. */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'FORBIDDEN',
  'TOO_LARGE',
  'UNKNOWN_ACTION',
  'NOT_CONNECTED',
  'RATE_LIMITED',
  'TOO_MANY_ROOMS',
  /**
   * The token the connection was opened with has expired: the server closes the connection after this frame.
   * Connect again with a fresh token (the SDK replaces its connection before this happens).
   */
  'TOKEN_EXPIRED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

// ---------------------------------------------------------------------------------------------------------------
// Client → server. `action` selects the API Gateway route, so each action is also a route key.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Adds a room to the connection: its messages and presence are delivered to it from then on. Idempotent. The answer
 * is `subscribed`, with the room's newest seq and, when asked for, a first page of history.
 */
export interface SubscribeFrame {
  action: 'subscribe';
  room_id: string;
  /** Catch-up: the answer carries the messages after this seq, oldest first (a forward history page). */
  after_seq?: number | undefined;
  /**
   * With `after_seq`, the page size (default DEFAULT_HISTORY_LIMIT). Without it, the answer carries the newest
   * `limit` messages, newest first. With neither, no page.
   */
  limit?: number | undefined;
  ref?: string | undefined;
}

/** Removes a room from the connection. Idempotent: a room not held is answered `unsubscribed` too. */
export interface UnsubscribeFrame {
  action: 'unsubscribe';
  room_id: string;
  ref?: string | undefined;
}

/**
 * Room frames (`sendMessage`, `getHistory`, `listMembers`) name their room with `room_id`, which must be one the
 * connection holds; it may be left out when the connection holds exactly one room.
 */
export interface SendMessageFrame {
  action: 'sendMessage';
  message: string;
  room_id?: string | undefined;
  client_msg_id?: string | undefined;
}

export interface SendDirectFrame {
  action: 'sendDirect';
  to_user_id: string;
  message: string;
  client_msg_id?: string | undefined;
}

export interface GetHistoryFrame {
  action: 'getHistory';
  /** Catch-up: the messages after this seq, oldest first, up to the page's `through_seq`. */
  after_seq?: number | undefined;
  /** Paging back: the newest messages before this seq, newest first. Not with `after_seq`. */
  before_seq?: number | undefined;
  limit?: number | undefined;
  /** Read the caller's direct messages instead of a room. */
  direct?: boolean | undefined;
  room_id?: string | undefined;
  ref?: string | undefined;
}

export interface ListMembersFrame {
  action: 'listMembers';
  room_id?: string | undefined;
  ref?: string | undefined;
}

export interface PingFrame {
  action: 'ping';
  ref?: string | undefined;
}

export type ClientFrame =
  | SubscribeFrame
  | UnsubscribeFrame
  | SendMessageFrame
  | SendDirectFrame
  | GetHistoryFrame
  | ListMembersFrame
  | PingFrame;
export type ClientAction = ClientFrame['action'];

// ---------------------------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------------------------

export interface MessageFrame {
  action: 'message';
  room_id: string;
  user_id: string;
  message: string;
  message_id: string;
  /** Its place in the room: messages are ordered by it. */
  seq: number;
  timestamp: string;
  client_msg_id?: string;
  /**
   * Published by the backend (`roomcast publish`), not sent by a user: `user_id` is then the name the publisher
   * gave (default `system`), not a user's id. Only the server sets it; no client frame can.
   */
  system?: true;
}

export interface DirectFrame {
  action: 'direct';
  from_user_id: string;
  to_user_id: string;
  message: string;
  message_id: string;
  /**
   * Its place in the inbox of the user it is sent to: the recipient's frame carries the recipient's seq, the
   * sender's frame the sender's (both inboxes hold a copy).
   */
  seq: number;
  timestamp: string;
  client_msg_id?: string;
  /**
   * Published by the backend (`roomcast publish --user`): `from_user_id` is the name the publisher gave (default
   * `system`), not a user's id, and only the recipient's inbox holds the message.
   */
  system?: true;
}

export interface PresenceFrame {
  action: 'presence';
  room_id: string;
  user_id: string;
  event: 'join' | 'leave';
  timestamp: string;
  /**
   * Presence events of this room left out before this one (the server bounds presence frames per room): the
   * members list may have changed more than the frames say; `listMembers` has it whole.
   */
  missed?: number;
}

export interface HistoryFrame {
  action: 'history';
  /** The room read; absent for direct-message history. */
  room_id?: string;
  direct?: true;
  /** Newest first for a `before_seq` page (or no cursor), oldest first for an `after_seq` page. */
  messages: Array<MessageFrame | DirectFrame>;
  /**
   * An `after_seq` page only: every seq up to this one is settled. Those not in `messages` hold no message and
   * never will (a write that failed, or a message past retention).
   */
  through_seq?: number;
  /** The newest seq the stream had allocated when the page was read. */
  latest_seq: number;
  /**
   * Ask again now: the page stopped at `limit` or at the frame size (from `through_seq`, or with `before_seq` =
   * `next_before_seq`). An `after_seq` page with `through_seq` < `latest_seq` and no `has_more` stopped at a seq
   * still being written: ask again shortly.
   */
  has_more: boolean;
  /** A page read backward with more before it: the `before_seq` of the next page. */
  next_before_seq?: number;
  ref?: string;
}

export interface MembersFrame {
  action: 'members';
  room_id: string;
  /** Sorted by user_id. */
  users: Array<{ user_id: string; connections: number }>;
  /** Set when the room has more users than one frame can list. */
  truncated?: true;
  /** The room's newest seq: a client that has not seen it missed messages. */
  latest_seq: number;
  ref?: string;
}

export interface SubscribedFrame {
  action: 'subscribed';
  room_id: string;
  /**
   * The room's newest seq, read after the subscription took effect: every message with a higher seq is delivered
   * to this connection live (some may arrive before this frame), so a client that starts fresh starts here.
   */
  latest_seq: number;
  /** The page the subscribe asked for (`after_seq` or `limit`), as getHistory would answer it. */
  history?: HistoryFrame;
  ref?: string;
}

export interface UnsubscribedFrame {
  action: 'unsubscribed';
  room_id: string;
  ref?: string;
}

export interface PongFrame {
  action: 'pong';
  timestamp: string;
  /**
   * The newest seq of every room the connection holds, and of the caller's direct-message inbox: what it should
   * have seen by now. Absent when the server could not read them (its database failed); the pong still keeps the
   * connection alive.
   */
  latest_seqs?: Record<string, number>;
  latest_direct_seq?: number;
  /**
   * The room named in the connect URL (versions before subscriptions): its newest seq now, and when the
   * connection joined.
   */
  latest_seq?: number;
  joined_seq?: number;
  /**
   * The newest seq of the inbox when this connection opened: every direct message delivered to it comes after
   * it, so a client that starts fresh starts here. Absent when the server could not read it.
   */
  joined_direct_seq?: number;
  ref?: string;
}

export interface ErrorFrame {
  action: 'error';
  code: ErrorCode;
  message: string;
  request_id?: string;
  /** Echoed from the failed frame, so a client can match the failure to its request. */
  client_msg_id?: string;
  ref?: string;
  /** RATE_LIMITED only: how long to wait before sending again. */
  retry_after_ms?: number;
}

export type ServerFrame =
  | SubscribedFrame
  | UnsubscribedFrame
  | MessageFrame
  | DirectFrame
  | PresenceFrame
  | HistoryFrame
  | MembersFrame
  | PongFrame
  | ErrorFrame;
