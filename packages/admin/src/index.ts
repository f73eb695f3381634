export { type AdminClient, type AdminClientOptions, AdminError, createAdminClient } from './client.js';
export type {
  AdminFailure,
  AdminRequest,
  AdminResult,
  PublishRequest,
  PublishResult,
  RevokeRequest,
  RevokeResult,
  RoomSize,
  StatsRequest,
  StatsResult,
} from './contract.js';
