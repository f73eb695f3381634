import { AuthError } from '../auth/index.ts';
import { isRoomId } from '../protocol/index.ts';
import { type HandlerDeps, invocationLogger, lambdaEntry, requireVerifier } from './deps.ts';
import { httpResult, type WebSocketHandler } from './events.ts';

/**
 * `$connect`: identity from the verified token only, the room from `?room_id=`. Refusals are handshake statuses
 * with a generic body; the reason goes to the log.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  const verifyToken = requireVerifier(deps);
  return async (event, context) => {
    const log = invocationLogger(deps, event, context);
    const query = event.queryStringParameters ?? {};

    let identity: Awaited<ReturnType<typeof verifyToken>>;
    try {
      identity = await verifyToken(query.token);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      log.info('connect refused: token', { reason: error.reason, detail: error.message });
      return httpResult(401, 'Unauthorized');
    }

    const roomId = query.room_id;
    if (!isRoomId(roomId)) {
      log.info('connect refused: room_id', { user_id: identity.userId });
      return httpResult(400, 'Bad Request');
    }
    if (query.user_id !== undefined && query.user_id !== identity.userId) {
      log.warn('connect refused: user_id does not match token', {
        user_id: identity.userId,
        room_id: roomId,
      });
      return httpResult(403, 'Forbidden');
    }
    if (identity.rooms && !identity.rooms.includes(roomId)) {
      log.info('connect refused: room not in token', { user_id: identity.userId, room_id: roomId });
      return httpResult(403, 'Forbidden');
    }

    await deps.store.put({
      connectionId: event.requestContext.connectionId,
      roomId,
      userId: identity.userId,
    });
    log.info('connected', { user_id: identity.userId, room_id: roomId });
    return httpResult(200);
  };
}

export const handler = lambdaEntry(createHandler);
