/**
 * The admin function's contract: the requests it takes and the results it returns, as JSON. The function
 * (the server's src/admin.ts) validates every request against exactly these shapes; `createAdminClient` sends them.
 */

/** A room and how many live connections hold it. */
export interface RoomSize {
  room_id: string;
  connections: number;
}

/** A message from the backend: to a room (`room_id`) or to one user's inbox (`to_user_id`), one of the two. */
export interface PublishRequest {
  op: 'publish';
  room_id?: string;
  to_user_id?: string;
  message: string;
  /** The name the message shows as its sender (`user_id` / `from_user_id`, with `system: true`); default `system`. */
  sender?: string;
  /** Makes a retried publish store nothing twice: the first message is answered again (`retried`). */
  client_msg_id?: string;
}

/**
 * Refuses a user's tokens issued before `before` (default now; never in the future), or, with `token_id`, one
 * token by its `jti` (`user_id` then names its owner, whose connections opened with it are closed; without it,
 * none are); closes the live connections they opened.
 */
export interface RevokeRequest {
  op: 'revoke';
  user_id?: string;
  token_id?: string;
  /** ISO 8601. */
  before?: string;
}

/**
 * Who is connected: live connections, rooms with any, and the biggest rooms. `publish_metrics` also publishes
 * them as the gauge's metrics (what the per-minute schedule asks for).
 */
export interface StatsRequest {
  op: 'stats';
  publish_metrics?: boolean;
}

export type AdminRequest = PublishRequest | RevokeRequest | StatsRequest;

export interface PublishResult {
  ok: true;
  op: 'publish';
  room_id?: string;
  to_user_id?: string;
  message_id: string;
  seq: number;
  timestamp: string;
  /** A publish of a client_msg_id stored before: nothing was stored or delivered again. */
  retried: boolean;
  /** Connections posted to (or, in a room above the fan-out threshold, handed to workers). */
  connections: number;
  /** `workers`: a big room, delivered by fan-out workers after this answer. */
  path: 'direct' | 'workers';
}

export interface RevokeResult {
  ok: true;
  op: 'revoke';
  user_id?: string;
  token_id?: string;
  /**
   * A user's revocation: tokens issued (`iat`) from this time on are accepted. ISO 8601. The revocation in
   * effect: when one with a later time was stored before, that one stays and this is its time.
   */
  accepts_issued_from?: string;
  /** Live connections closed (DeleteConnection). */
  closed: number;
}

export interface StatsResult {
  ok: true;
  op: 'stats';
  /** Live connections (records whose TTL has not passed). */
  connections: number;
  /** Rooms held by at least one live connection, and the subscriptions across them. */
  rooms: number;
  subscriptions: number;
  /** The biggest rooms, biggest first (as many as the server's STATS_BIGGEST_ROOMS). */
  biggest_rooms: RoomSize[];
  /** More rooms than one count tracks (STATS_MAX_TRACKED_ROOMS): `rooms` and `biggest_rooms` cover those it did. */
  partial: boolean;
  /** ISO 8601: when the count started. */
  counted_at: string;
}

export interface AdminFailure {
  ok: false;
  error: { code: 'BAD_REQUEST'; message: string };
}

export type AdminResult = PublishResult | RevokeResult | StatsResult | AdminFailure;
