export { type ClientEvents, connect, type HistoryQuery, RoomcastClient } from './client.js';
export { type CloseReason, type ConnectionState, decodeJwtPayload, type StateChange } from './connection.js';
export type {
  CatchUpOptions,
  ConnectOptions,
  ReconnectOptions,
  WebSocketFactory,
  WebSocketLike,
} from './options.js';
export type {
  DirectFrame,
  ErrorCode,
  ErrorFrame,
  HistoryFrame,
  MembersFrame,
  MessageFrame,
  PresenceFrame,
} from './protocol.js';
export { type ClientErrorCode, RoomcastError } from './requests.js';
export type { Repair, RepairReason } from './stream.js';
