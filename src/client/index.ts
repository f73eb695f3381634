export type {
  DirectFrame,
  ErrorCode,
  ErrorFrame,
  HistoryFrame,
  MembersFrame,
  MessageFrame,
  PresenceFrame,
} from '../protocol/index.ts';
export { type ClientEvents, connect, type HistoryQuery, RoomcastClient } from './client.ts';
export { type ClientErrorCode, RoomcastError } from './errors.ts';
export type { CatchUpOptions, ConnectOptions, ReconnectOptions } from './options.ts';
export type { WebSocketFactory, WebSocketLike } from './socket.ts';
export type { CloseReason, ConnectionState, StateChange } from './state.ts';
