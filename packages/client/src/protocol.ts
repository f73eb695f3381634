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
 * Message ids are ULIDs: 26 Crockford base32 characters that sort by creation time, the first 10 the milliseconds
 * since the epoch, the other 16 random.
 */
export const MESSAGE_ID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const MESSAGE_ID_TIME_CHARS = 10;
export const MESSAGE_ID_CHARS = 26;
export const MESSAGE_ID_PATTERN = new RegExp(`^[${MESSAGE_ID_ALPHABET}]{${MESSAGE_ID_CHARS}}$`);

/** Most messages one getHistory frame returns, and how many when it names no `limit`. */
export const MAX_HISTORY_LIMIT = 100;
export const DEFAULT_HISTORY_LIMIT = 50;

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
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

// ---------------------------------------------------------------------------------------------------------------
// Client → server. `action` selects the API Gateway route, so each action is also a route key.
// ---------------------------------------------------------------------------------------------------------------

export interface SendMessageFrame {
  action: 'sendMessage';
  message: string;
  /** Must be the room the connection joined. */
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
  /** Newest-first page of messages older than this id. */
  before?: string | undefined;
  /** Catch-up: messages newer than this id, oldest first. */
  after?: string | undefined;
  limit?: number | undefined;
  /** Read the caller's direct messages instead of the room. */
  direct?: boolean | undefined;
  ref?: string | undefined;
}

export interface ListMembersFrame {
  action: 'listMembers';
  ref?: string | undefined;
}

export interface PingFrame {
  action: 'ping';
  ref?: string | undefined;
}

export type ClientFrame = SendMessageFrame | SendDirectFrame | GetHistoryFrame | ListMembersFrame | PingFrame;
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
  timestamp: string;
  client_msg_id?: string;
}

export interface DirectFrame {
  action: 'direct';
  from_user_id: string;
  to_user_id: string;
  message: string;
  message_id: string;
  timestamp: string;
  client_msg_id?: string;
}

export interface PresenceFrame {
  action: 'presence';
  room_id: string;
  user_id: string;
  event: 'join' | 'leave';
  timestamp: string;
}

export interface HistoryFrame {
  action: 'history';
  /** The room read; absent for direct-message history. */
  room_id?: string;
  direct?: true;
  /** Newest first for a `before` page (or no cursor), oldest first for `after` catch-up. */
  messages: Array<MessageFrame | DirectFrame>;
  has_more: boolean;
  ref?: string;
}

export interface MembersFrame {
  action: 'members';
  room_id: string;
  /** Sorted by user_id. */
  users: Array<{ user_id: string; connections: number }>;
  /** Set when the room has more users than one frame can list. */
  truncated?: true;
  ref?: string;
}

export interface PongFrame {
  action: 'pong';
  timestamp: string;
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
}

export type ServerFrame =
  | MessageFrame
  | DirectFrame
  | PresenceFrame
  | HistoryFrame
  | MembersFrame
  | PongFrame
  | ErrorFrame;
