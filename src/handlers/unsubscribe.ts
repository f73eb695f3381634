import type { WebSocketHandler } from '../invocation.ts';
import { announcePresence } from '../rooms.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { roomsOf } from '../store/connections.ts';

/**
 * `unsubscribe`: removes a room from the caller's connection. Idempotent: a room it does not hold is answered
 * `unsubscribed` as well, and costs no write.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'unsubscribe', async (frame, ctx) => {
    const { event, log } = ctx;
    const roomId = frame.room_id;
    const caller = await callerRecord(deps, ctx);
    if (!caller) return;
    const ended =
      roomsOf(caller).has(roomId) && (await deps.connections.unsubscribe(caller.connection_id, roomId));
    await reply(
      deps,
      event,
      { action: 'unsubscribed', room_id: roomId, ...(frame.ref !== undefined && { ref: frame.ref }) },
      log,
    );
    log.info('unsubscribed', { user_id: caller.user_id, room_id: roomId, held: ended });
    if (ended)
      await announcePresence(deps, event, log, { room_id: roomId, user_id: caller.user_id }, 'leave');
  });
}

export const handler = lambdaEntry(createHandler);
