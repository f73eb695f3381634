import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Config } from './config.ts';
import { type DeliverySummary, fanOut, isConnected, managementEndpoint } from './delivery.ts';
import type { Log, WebSocketEvent } from './invocation.ts';
import type { ChatMetrics } from './metrics.ts';
import { METRIC, type MetricName } from './metrics.ts';
import type { PresenceFrame, ServerFrame } from './protocol.ts';
import type { ConnectionStore } from './store/connections.ts';

/**
 * Frames to a whole room: `broadcast` (a message, with the delivery metrics and the pruning of gone connections),
 * presence announcements (join and leave, only in rooms small enough that they do not cost O(N²) posts), and the
 * per-container memory of the rooms found too large for presence.
 */

/**
 * A connection answers 410 Gone while its `$connect` runs (API Gateway opens it only after), which takes at most
 * the 29 s integration timeout. Records younger than this are never pruned; TTL removes them if they are stale.
 */
export const CONNECT_GRACE_SECONDS = 30;

type ConnectionIds = Iterable<string> | AsyncIterable<string[]>;

/** What room-wide posting uses of the handlers' dependencies (route.ts's HandlerDeps has all of it). */
export interface RoomDeps {
  config: Pick<
    Config,
    'fanOutConcurrency' | 'presenceEnabled' | 'presenceMaxRoomSize' | 'managementEndpoint' | 'region'
  >;
  connections: ConnectionStore;
  metrics: ChatMetrics;
  /** The @connections client for an API stage's endpoint (`managementEndpoint` of an event). */
  managementClient(endpoint: string): ApiGatewayManagementApiClient;
  now(): Date;
  /** Rooms this container found too large for presence lately (see LargeRooms). */
  largeRooms: LargeRooms;
  /** Presence frames this container may still send to each room. */
  presenceBudget: PresenceBudget;
}

/**
 * Posts one frame to many connections, pruning the gone ones (unless `pruneGone` is false): their records and
 * all their subscriptions, and `roomId`'s item (the room posted to) even when the record is gone already. Records
 * the delivery metrics.
 */
export function broadcast(
  deps: RoomDeps,
  event: WebSocketEvent,
  log: Log,
  ids: ConnectionIds,
  frame: ServerFrame,
  options: PostOptions = {},
): Promise<DeliverySummary & { pruned: number }> {
  return postToAll(deps, managementEndpoint(deps.config, event), log, ids, JSON.stringify(frame), options);
}

export interface PostOptions {
  /** Prune the connections that answer 410 Gone (default true; see broadcast). */
  pruneGone?: boolean;
  /** The room posted to, whose subscription item is pruned even when the record is gone already. */
  roomId?: string;
  /**
   * Takes the posts that failed for good and did not time out (FanOutOptions.onFailed): the caller posts to them
   * again, so they are not counted as failed deliveries.
   */
  onFailed?: (connectionId: string) => void;
  /** The metric of the fan-out's duration (default FanOutDuration). */
  durationMetric?: MetricName;
  /** Posts in flight (default FANOUT_CONCURRENCY). */
  concurrency?: number;
}

/** `broadcast` of a frame already serialized, to the API at `endpoint`: what a fan-out worker posts. */
export async function postToAll(
  deps: RoomDeps,
  endpoint: string,
  log: Log,
  ids: ConnectionIds,
  data: string,
  {
    pruneGone = true,
    roomId,
    onFailed,
    durationMetric = METRIC.fanOutDuration,
    concurrency = deps.config.fanOutConcurrency,
  }: PostOptions = {},
): Promise<DeliverySummary & { pruned: number }> {
  let pruned = 0;
  let takenBack = 0;
  const summary = await fanOut(ids, data, {
    client: deps.managementClient(endpoint),
    concurrency,
    onGone: async (connectionId) => {
      if (pruneGone && (await deps.connections.removeGone(connectionId, CONNECT_GRACE_SECONDS, roomId)))
        pruned++;
    },
    ...(onFailed && {
      onFailed: (connectionId: string) => {
        takenBack++;
        onFailed(connectionId);
      },
    }),
    logger: log,
  });
  deps.metrics.count(METRIC.deliveriesSucceeded, summary.delivered);
  deps.metrics.count(METRIC.staleConnectionsPruned, pruned);
  deps.metrics.count(METRIC.deliveriesFailed, summary.failed - takenBack);
  deps.metrics.count(METRIC.deliveriesTimedOut, summary.timedOut);
  deps.metrics.milliseconds(durationMetric, summary.durationMs);
  return { ...summary, pruned };
}

/**
 * The ids among `ids` whose connections API Gateway still has, checked in parallel (one GetConnection each); the
 * records of the others are pruned (past the connect grace). Records outlive their connections when
 * `$disconnect` never ran (a crash, a best-effort miss on AWS), so a record alone does not prove anyone is there.
 */
export async function stillConnected(
  deps: RoomDeps,
  event: WebSocketEvent,
  log: Log,
  ids: readonly string[],
  { prune = true }: { prune?: boolean } = {},
): Promise<string[]> {
  const client = deps.managementClient(managementEndpoint(deps.config, event));
  const connected = await Promise.all(ids.map((id) => isConnected(client, id)));
  const gone = ids.filter((_, i) => !connected[i]);
  if (gone.length > 0 && prune) {
    const pruned = await Promise.all(
      gone.map((id) => deps.connections.removeGone(id, CONNECT_GRACE_SECONDS).catch(() => false)),
    );
    const count = pruned.filter(Boolean).length;
    deps.metrics.count(METRIC.staleConnectionsPruned, count);
    log.info('records of gone connections found', { gone: gone.length, pruned: count });
  }
  return ids.filter((_, i) => connected[i]);
}

/**
 * Tells the rest of a room that a user joined or left. Presence is per user: a user's first connection to hold
 * the room joins, the last one to let it go leaves, and the tabs in between are silent. The connection itself is
 * skipped: during `$connect` it is not open yet and during `$disconnect` it is closed, so a post would answer 410
 * and prune a live record (and after its own subscribe it knows). Presence is best effort: a failure is logged and never fails the connect or disconnect, and it prunes
 * nothing. Bounded twice: rooms with more than PRESENCE_MAX_ROOM_SIZE users get none (a user counts once however
 * many connections it has, so one account cannot switch presence off for a room), and each room gets at most
 * PRESENCE_BUDGET frames from one container; a frame says how many events it left out before it (`missed`).
 */
export async function announcePresence(
  deps: RoomDeps,
  event: WebSocketEvent,
  log: Log,
  who: { room_id: string; user_id: string },
  presence: PresenceFrame['event'],
): Promise<void> {
  if (!deps.config.presenceEnabled) return;
  const { connectionId } = event.requestContext;
  if (deps.largeRooms.has(who.room_id)) {
    log.debug('presence skipped: large room (remembered)', { event: presence });
    return;
  }
  try {
    const maxUsers = deps.config.presenceMaxRoomSize;
    const members = await deps.connections.roomMembersUpTo(
      who.room_id,
      maxUsers * PRESENCE_CONNECTIONS_PER_USER,
    );
    if (!members || new Set(members.map((member) => member.user_id)).size > maxUsers) {
      deps.largeRooms.add(who.room_id);
      log.debug('presence skipped: large room', { event: presence });
      return;
    }
    // Another connection of the same user: it is (still) there, so nothing changed for the room.
    if (members.some((m) => m.user_id === who.user_id && m.connection_id !== connectionId)) {
      log.debug('presence skipped: the user has another connection here', { event: presence });
      return;
    }
    const missed = deps.presenceBudget.take(who.room_id, who.user_id);
    if (missed === undefined) {
      log.debug('presence skipped: the presence budget of the room or of the user is spent', {
        event: presence,
      });
      return;
    }
    const frame: PresenceFrame = {
      action: 'presence',
      room_id: who.room_id,
      user_id: who.user_id,
      event: presence,
      timestamp: deps.now().toISOString(),
      ...(missed > 0 && { missed }),
    };
    const others = members.map((m) => m.connection_id).filter((id) => id !== connectionId);
    // Joins come in bursts, and a connection still in its $connect answers 410 like a gone one: here most 410s
    // are newcomers, whose records removeGone would keep anyway, at a failed conditional delete (1 WRU) each.
    // Stale records are left to the next message broadcast and to TTL.
    const summary = await broadcast(deps, event, log, others, frame, { pruneGone: false });
    log.debug('presence announced', { event: presence, room_id: who.room_id, ...summary });
  } catch (error) {
    log.warn('presence not announced', { event: presence, room_id: who.room_id, error: error as Error });
  }
}

/** Rooms whose presence one `$disconnect` announces at once: a connection may hold a hundred. */
const PRESENCE_ROOMS_AT_ONCE = 8;

/** `announcePresence` for each of `roomIds`, a few rooms at a time. */
export async function announcePresenceInRooms(
  deps: RoomDeps,
  event: WebSocketEvent,
  log: Log,
  userId: string,
  roomIds: Iterable<string>,
  presence: PresenceFrame['event'],
): Promise<void> {
  const rooms = [...roomIds];
  for (let start = 0; start < rooms.length; start += PRESENCE_ROOMS_AT_ONCE) {
    await Promise.all(
      rooms
        .slice(start, start + PRESENCE_ROOMS_AT_ONCE)
        .map((room_id) => announcePresence(deps, event, log, { room_id, user_id: userId }, presence)),
    );
  }
}

/**
 * How many connections per user a room may average and still count as small: the room query reads at most this
 * many entries per allowed user (a user at the connection cap in a room of few users stays under it).
 */
const PRESENCE_CONNECTIONS_PER_USER = 4;

/**
 * Presence frames one container sends to a room, and about one user: a burst, then a steady rate. The user's
 * budget is what keeps a member of many rooms from receiving each room's budget at once from one user who
 * subscribes and unsubscribes across all of them.
 */
const PRESENCE_BUDGET = {
  room: { burst: 10, perSecond: 2 },
  user: { burst: 20, perSecond: 2 },
} as const;

interface Bucket {
  tokens: number;
  at: number;
  /** Events left out since the last frame (rooms only). */
  missed: number;
}

/**
 * The presence frames this container may still send to each room and about each user (token buckets), so that
 * churn (a client opening and closing connections, or subscribing and unsubscribing, in a loop) does not fan out a
 * frame to every member per event. Bounded like LargeRooms.
 */
export class PresenceBudget {
  readonly #rooms = new Map<string, Bucket>();
  readonly #users = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(options: { now?: () => number; maxRooms?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxRooms ?? 10_000;
  }

  /**
   * Takes one frame's worth for `roomId` about `userId`: how many of the room's events were left out since its
   * last frame, or undefined when this one is to be left out too.
   */
  take(roomId: string, userId: string): number | undefined {
    const now = this.#now();
    const room = this.#refill(this.#rooms, roomId, PRESENCE_BUDGET.room, now);
    const user = this.#refill(this.#users, userId, PRESENCE_BUDGET.user, now);
    if (room.tokens < 1 || user.tokens < 1) {
      room.missed += 1;
      return undefined;
    }
    room.tokens -= 1;
    user.tokens -= 1;
    const { missed } = room;
    room.missed = 0;
    return missed;
  }

  #refill(
    buckets: Map<string, Bucket>,
    key: string,
    rate: { burst: number; perSecond: number },
    now: number,
  ): Bucket {
    let bucket = buckets.get(key);
    if (bucket) buckets.delete(key);
    else {
      if (buckets.size >= this.#maxKeys) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      bucket = { tokens: rate.burst, at: now, missed: 0 };
    }
    buckets.set(key, bucket);
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    return bucket;
  }
}

/**
 * Rooms this container recently found over PRESENCE_MAX_ROOM_SIZE. Presence is skipped in them without asking
 * DynamoDB again, so connecting to a big room does not cost a query of a hundred-odd index entries each time.
 * A room that shrinks gets presence again once its entry expires.
 */
export class LargeRooms {
  readonly #until = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxRooms: number;

  constructor(options: { ttlMs: number; now?: () => number; maxRooms?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#maxRooms = options.maxRooms ?? 10_000;
  }

  has(roomId: string): boolean {
    const until = this.#until.get(roomId);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#until.delete(roomId);
    return false;
  }

  add(roomId: string): void {
    // Bounded: a container that sees very many big rooms forgets the oldest (Map keeps insertion order).
    this.#until.delete(roomId);
    if (this.#until.size >= this.#maxRooms) {
      const oldest = this.#until.keys().next().value;
      if (oldest !== undefined) this.#until.delete(oldest);
    }
    this.#until.set(roomId, this.#now() + this.#ttlMs);
  }
}

/** How long a container remembers that a room is too large for presence. */
export const LARGE_ROOM_MEMORY_MS = 30_000;
