import type { ErrorCode } from './error-codes.ts';

/** Frames the server sends. The shapes are the public contract (see README, "Protocol"). */
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

export function errorFrame(code: ErrorCode, message: string, requestId?: string): ErrorFrame {
  return { action: 'error', code, message, ...(requestId && { request_id: requestId }) };
}

export function pongFrame(now: Date, ref?: string): PongFrame {
  return { action: 'pong', timestamp: now.toISOString(), ...(ref !== undefined && { ref }) };
}
