export { type ClientEvents, connect, RoomcastClient } from './client.js';
export { type CloseReason, type ConnectionState, decodeJwtPayload, type StateChange } from './connection.js';
export type { HandoverReason } from './handover.js';
export type {
  CatchUpOptions,
  ConnectOptions,
  HandoverOptions,
  ReconnectOptions,
  RoomOptions,
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
export type { HistoryQuery, Room, RoomEvents } from './room.js';
export type { Repair, RepairReason } from './stream.js';
