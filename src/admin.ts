import { setTimeout as delay } from 'node:timers/promises';
import { DeleteConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import type {
  AdminFailure,
  AdminResult,
  PublishRequest,
  RevokeRequest,
  RevokeResult,
  StatsRequest,
  StatsResult,
} from '@roomcast/admin';
import { ConfigError, STATS_BIGGEST_ROOMS, STATS_MAX_TRACKED_ROOMS, STATS_ROOM_METRICS } from './config.ts';
import { deliverToRoom } from './fan-out.ts';
import type { Log } from './invocation.ts';
import { METRIC } from './metrics.ts';
import { MAX_CORRELATION_ID_CHARS, overMessageLimit, ROOM_ID_PATTERN } from './protocol.ts';
import { postToAll } from './rooms.ts';
import type { HandlerDeps } from './route.ts';
import {
  type DirectMessage,
  directFrame,
  messageFrame,
  type NewMessage,
  type RoomMessage,
} from './store/messages.ts';
import * as z from './zod.ts';

/**
 * What operators do to a live chat from outside it: publish a message as the system (to a room, or to one user's
 * inbox), revoke a user's tokens or one token (recorded for `$connect`, and the live connections closed), and
 * count who is connected (also every minute, as metrics: the connections gauge).
 * The admin function (src/handlers/admin.ts) runs these for the `roomcast` CLI and @roomcast/admin (which holds
 * the requests and results: the contract), which invoke it with IAM credentials; nothing a WebSocket client sends
 * reaches them.
 */

// Validation ------------------------------------------------------------------------------------------------------

const userId = z.string().check(z.minLength(1), z.maxLength(128));
// Strict: a field the contract does not have (a typo of an optional one, say) is refused, not dropped.
const publishSchema = z.strictObject({
  op: z.literal('publish'),
  room_id: z.optional(z.string().check(z.regex(ROOM_ID_PATTERN))),
  to_user_id: z.optional(userId),
  message: z.string().check(z.minLength(1)),
  sender: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  client_msg_id: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_CORRELATION_ID_CHARS))),
});
const revokeSchema = z.strictObject({
  op: z.literal('revoke'),
  user_id: z.optional(userId),
  token_id: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  before: z.optional(z.iso.datetime({ offset: true })),
});
const statsSchema = z.strictObject({ op: z.literal('stats'), publish_metrics: z.optional(z.boolean()) });
const requestSchema = z.discriminatedUnion('op', [publishSchema, revokeSchema, statsSchema]);

// The schemas accept exactly the contract's shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _publishShape: Same<z.infer<typeof publishSchema>, PublishRequest> = true;
const _revokeShape: Same<z.infer<typeof revokeSchema>, RevokeRequest> = true;
const _statsShape: Same<z.infer<typeof statsSchema>, StatsRequest> = true;

class BadRequest extends Error {}

/** A revocation's `before` may lie this far ahead of the function's clock (the operator's clock may be ahead). */
const MAX_BEFORE_AHEAD_MS = 60_000;
/**
 * A connection whose `$connect` checked the revocations just before this one was written registers after the
 * first sweep: a second sweep this long after closes it.
 */
const REVOKE_SECOND_SWEEP_MS = 2_000;

/** Runs one request; a request that is not valid is answered with BAD_REQUEST, and nothing is done. */
export async function runAdminRequest(deps: HandlerDeps, event: unknown, log: Log): Promise<AdminResult> {
  const parsed = requestSchema.safeParse(event);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`,
    );
    return badRequest(issues.join('; '));
  }
  const endpoint = deps.config.managementEndpoint;
  if (!endpoint) throw new ConfigError('the admin function needs WEBSOCKET_MANAGEMENT_ENDPOINT');
  try {
    const request = parsed.data;
    if (request.op === 'stats') return await stats(deps, request, log);
    return request.op === 'publish'
      ? await publish(deps, endpoint, request, log)
      : await revoke(deps, endpoint, request, log);
  } catch (error) {
    if (error instanceof BadRequest) return badRequest(error.message);
    throw error;
  }
}

function badRequest(message: string): AdminFailure {
  return { ok: false, error: { code: 'BAD_REQUEST', message } };
}

async function publish(deps: HandlerDeps, endpoint: string, request: PublishRequest, log: Log) {
  if ((request.room_id === undefined) === (request.to_user_id === undefined)) {
    throw new BadRequest('give room_id or to_user_id, one of the two');
  }
  if (overMessageLimit(request.message, deps.config.maxMessageChars)) {
    throw new BadRequest(`message: at most ${deps.config.maxMessageChars} characters (MAX_MESSAGE_CHARS)`);
  }
  const sender = request.sender ?? 'system';
  const common = {
    message: request.message,
    message_id: deps.newMessageId(),
    timestamp: deps.now().toISOString(),
    system: true as const,
    ...(request.client_msg_id !== undefined && { client_msg_id: request.client_msg_id }),
  };
  if (request.room_id !== undefined) {
    const { message, created } = await deps.messages.saveRoomMessage({
      kind: 'room',
      room_id: request.room_id,
      user_id: sender,
      ...common,
    } satisfies NewMessage<RoomMessage>);
    const delivery = created
      ? await deliverToRoom(deps, endpoint, log, message, JSON.stringify(messageFrame(message)))
      : undefined;
    deps.metrics.count(METRIC.messagesPublished);
    log.info('message published', { room_id: message.room_id, seq: message.seq, retried: !created });
    return {
      ok: true as const,
      op: 'publish' as const,
      room_id: message.room_id,
      message_id: message.message_id,
      seq: message.seq,
      timestamp: message.timestamp,
      retried: !created,
      connections: delivery ? (delivery.path === 'direct' ? delivery.attempted : delivery.connections) : 0,
      path: delivery?.path ?? 'direct',
    };
  }
  const toUserId = request.to_user_id as string;
  const connections = await deps.connections.userConnectionIds(toUserId);
  const { recipient } = await deps.messages.saveDirectMessage({
    kind: 'direct',
    from_user_id: sender,
    to_user_id: toUserId,
    ...common,
  } satisfies NewMessage<DirectMessage>);
  const delivery = recipient.created
    ? await postToAll(deps, endpoint, log, connections, JSON.stringify(directFrame(recipient.message)))
    : undefined;
  deps.metrics.count(METRIC.messagesPublished);
  log.info('direct message published', { to_user_id: toUserId, retried: !recipient.created });
  return {
    ok: true as const,
    op: 'publish' as const,
    to_user_id: toUserId,
    message_id: recipient.message.message_id,
    seq: recipient.message.seq,
    timestamp: recipient.message.timestamp,
    retried: !recipient.created,
    connections: delivery?.attempted ?? 0,
    path: 'direct' as const,
  };
}

async function revoke(
  deps: HandlerDeps,
  endpoint: string,
  request: RevokeRequest,
  log: Log,
): Promise<RevokeResult> {
  if (request.user_id === undefined && request.token_id === undefined) {
    throw new BadRequest('give user_id, or token_id (with its owner user_id to close its connections)');
  }
  const nowMs = deps.now().getTime();
  const beforeMs = request.before === undefined ? nowMs : Date.parse(request.before);
  if (beforeMs > nowMs + MAX_BEFORE_AHEAD_MS) {
    throw new BadRequest('before: not in the future (a revocation refuses tokens issued before it)');
  }
  if (request.before !== undefined && request.token_id !== undefined) {
    throw new BadRequest('before: not with token_id (one token is refused whenever it was issued)');
  }
  let acceptsIssuedFrom: number | undefined;
  if (request.token_id !== undefined) await deps.revocations.revokeToken(request.token_id);
  else if (request.user_id !== undefined) {
    ({ acceptsIssuedFrom } = await deps.revocations.revokeUser(request.user_id, beforeMs));
  }
  deps.metrics.count(METRIC.tokensRevoked);

  // Whose connections to close: a user's, found through user_id-index; a token's, among its user's only (a
  // record names its token, but no index leads from a token to its connections).
  // A connection closed by the first sweep may still have its record at the second (its `$disconnect` runs
  // after): counted once.
  const closed = new Set<string>();
  if (request.user_id !== undefined) {
    const sweep = () =>
      closeConnections(
        deps,
        endpoint,
        log,
        request.user_id as string,
        closed,
        (record) =>
          (acceptsIssuedFrom !== undefined && (record.token_issued_at ?? 0) < acceptsIssuedFrom) ||
          (request.token_id !== undefined && record.token_id === request.token_id),
      );
    await sweep();
    await (deps.sleep ?? delay)(REVOKE_SECOND_SWEEP_MS);
    await sweep();
  }
  deps.metrics.count(METRIC.connectionsRevoked, closed.size);
  log.info('revoked', { user_id: request.user_id, token_id: request.token_id, closed: closed.size });
  return {
    ok: true,
    op: 'revoke',
    ...(request.user_id !== undefined && { user_id: request.user_id }),
    ...(request.token_id !== undefined && { token_id: request.token_id }),
    ...(acceptsIssuedFrom !== undefined && {
      accepts_issued_from: new Date(acceptsIssuedFrom * 1000).toISOString(),
    }),
    closed: closed.size,
  };
}

/**
 * Counts who is connected: two Scans, of user_id-index (connections, `Select: COUNT`) and of the subscriptions
 * table (room ids), side by side; docs/server.md ("Who is connected") has why a Scan and what it costs.
 */
async function stats(deps: HandlerDeps, request: StatsRequest, log: Log): Promise<StatsResult> {
  const countedAt = deps.now().toISOString();
  const [connections, rooms] = await Promise.all([
    deps.connections.countLive(),
    deps.connections.roomSizes(STATS_BIGGEST_ROOMS, STATS_MAX_TRACKED_ROOMS),
  ]);
  if (request.publish_metrics) {
    deps.metrics.gauge(METRIC.activeConnections, connections);
    deps.metrics.gauge(METRIC.activeRooms, rooms.rooms);
    deps.metrics.gauge(METRIC.largestRoomConnections, rooms.biggest[0]?.connections ?? 0);
    for (const room of rooms.biggest.slice(0, STATS_ROOM_METRICS)) {
      deps.metrics.gauge(METRIC.roomConnections, room.connections, room.room_id);
    }
  }
  log.info('connections counted', {
    connections,
    rooms: rooms.rooms,
    subscriptions: rooms.subscriptions,
    biggest_rooms: rooms.biggest,
    partial: rooms.partial,
  });
  return {
    ok: true,
    op: 'stats',
    connections,
    rooms: rooms.rooms,
    subscriptions: rooms.subscriptions,
    biggest_rooms: rooms.biggest,
    partial: rooms.partial,
    counted_at: countedAt,
  };
}

/**
 * Closes the user's connections whose record `matches` and adds them to `closed`; API Gateway then runs their
 * `$disconnect`. One already in `closed` is not asked again.
 */
async function closeConnections(
  deps: HandlerDeps,
  endpoint: string,
  log: Log,
  userId: string,
  closed: Set<string>,
  matches: (record: { token_issued_at?: number; token_id?: string }) => boolean,
): Promise<void> {
  const client = deps.managementClient(endpoint);
  const ids = await deps.connections.userConnectionIds(userId);
  await Promise.all(
    ids.map(async (connectionId) => {
      if (closed.has(connectionId)) return;
      const record = await deps.connections.peek(connectionId);
      if (!record || !matches(record)) return;
      try {
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
        closed.add(connectionId);
      } catch (error) {
        if (error instanceof GoneException) return;
        log.warn('connection not closed', { connection_id: connectionId, error: String(error) });
        throw error;
      }
    }),
  );
}
