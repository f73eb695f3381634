export { type ClientEvents, connect, type HistoryQuery, RoomcastClient } from './client.js';
export { type ClientErrorCode, RoomcastError } from './errors.js';
export type { CatchUpOptions, ConnectOptions, ReconnectOptions } from './options.js';
export type {
  DirectFrame,
  ErrorCode,
  ErrorFrame,
  HistoryFrame,
  MembersFrame,
  MessageFrame,
  PresenceFrame,
} from './protocol.js';
export type { WebSocketFactory, WebSocketLike } from './socket.js';
export type { CloseReason, ConnectionState, StateChange } from './state.js';
