import { AuthError } from '../auth.ts';
import { httpResult, type WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { isRoomId, roomAllowed } from '../protocol.ts';
import { announcePresence, stillConnected } from '../rooms.ts';
import { type HandlerDeps, instrumented, lambdaEntry, requireVerifier } from '../route.ts';

/**
 * `$connect`: identity from the verified token only; a first room from `?room_id=` if given (more come with
 * `subscribe`). The token's `rooms` claim is kept on the record, for the subscribes to come. Refusals are
 * handshake statuses with a generic body; the reason goes to the log.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  const verifyToken = requireVerifier(deps);
  const refuse = (statusCode: 400 | 401 | 403 | 429) => {
    deps.metrics.count(METRIC.connectionsRefused);
    const text = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests' };
    return httpResult(statusCode, text[statusCode]);
  };
  return instrumented(deps, async (event, log) => {
    const query = event.queryStringParameters ?? {};

    let identity: Awaited<ReturnType<typeof verifyToken>>;
    try {
      identity = await verifyToken(query.token);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      log.info('connect refused: token', { reason: error.reason, detail: error.message });
      return refuse(401);
    }

    const roomId = query.room_id;
    if (roomId !== undefined && !isRoomId(roomId)) {
      log.info('connect refused: room_id', { user_id: identity.userId });
      return refuse(400);
    }
    if (query.user_id !== undefined && query.user_id !== identity.userId) {
      log.warn('connect refused: user_id does not match token', {
        user_id: identity.userId,
        room_id: roomId,
      });
      return refuse(403);
    }
    if (roomId !== undefined && !roomAllowed(identity.rooms, roomId)) {
      log.info('connect refused: room not in token', { user_id: identity.userId, room_id: roomId });
      return refuse(403);
    }

    // Both reads at once, each one round trip. The newest seqs are read before the record exists: a message
    // delivered to this connection is one stored after it registered, so its seq is above these, and a client
    // starting fresh starts from them (docs/protocol.md, "Order").
    // And the token's revocations, strongly consistent, in the same round trip.
    const [existing, latest, revoked] = await Promise.all([
      deps.connections.userConnectionIds(identity.userId),
      deps.messages.latestSeqs(roomId === undefined ? [] : [roomId], identity.userId),
      deps.revocations.check(identity),
    ]);
    if (revoked) {
      log.info('connect refused: token revoked', { user_id: identity.userId, revoked });
      return refuse(401);
    }
    // A cap per user, so that one token cannot open connections without end. Records can outlive their
    // connections (a crash), so at the cap API Gateway is asked which are still there before refusing.
    const cap = deps.config.maxConnectionsPerUser;
    if (
      existing.length >= cap &&
      (await stillConnected(deps, event, log, existing, { prune: false })).length >= cap
    ) {
      log.info('connect refused: connection cap', { user_id: identity.userId, cap });
      return refuse(429);
    }
    await deps.connections.put({
      connectionId: event.requestContext.connectionId,
      userId: identity.userId,
      ...(roomId !== undefined && { roomId }),
      ...(identity.rooms && { allowedRooms: identity.rooms }),
      joined: { direct: latest.direct, ...(roomId !== undefined && { room: latest.rooms[roomId] }) },
      token: {
        issuedAt: identity.issuedAt,
        expiresAt: identity.expiresAt,
        ...(identity.tokenId !== undefined && { tokenId: identity.tokenId }),
      },
    });
    if (roomId !== undefined) {
      await announcePresence(deps, event, log, { room_id: roomId, user_id: identity.userId }, 'join');
    }
    deps.metrics.count(METRIC.connectionsOpened);
    log.info('connected', { user_id: identity.userId, room_id: roomId });
    return httpResult(200);
  });
}

export const handler = lambdaEntry(createHandler);
