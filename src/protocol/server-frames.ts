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

export interface PongFrame {
  action: 'pong';
  timestamp: string;
}

export interface ErrorFrame {
  action: 'error';
  code: ErrorCode;
  message: string;
  request_id?: string;
}

export type ServerFrame = MessageFrame | PongFrame | ErrorFrame;

export function errorFrame(code: ErrorCode, message: string, requestId?: string): ErrorFrame {
  return { action: 'error', code, message, ...(requestId && { request_id: requestId }) };
}

export function pongFrame(now: Date): PongFrame {
  return { action: 'pong', timestamp: now.toISOString() };
}
