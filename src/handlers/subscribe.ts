import { readHistoryFrame } from '../history.ts';
import type { WebSocketHandler } from '../invocation.ts';
import {
  byteLength,
  DEFAULT_HISTORY_LIMIT,
  MAX_MESSAGE_BYTES,
  roomAllowed,
  type SubscribedFrame,
} from '../protocol.ts';
import { announcePresence } from '../rooms.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';

/**
 * `subscribe`: adds a room to the caller's connection, if its token allows the room and the connection holds
 * fewer than MAX_ROOMS_PER_CONNECTION. The room's newest seq is read after the subscription is written, so every
 * message above it is delivered to the connection live (docs/protocol.md, "Subscribing"); a page of history
 * comes with the answer when the frame asks for one.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'subscribe', async (frame, ctx) => {
    const { event, log } = ctx;
    const roomId = frame.room_id;
    const caller = await callerRecord(deps, ctx);
    if (!caller) return;
    if (!roomAllowed(caller.allowed_rooms, roomId)) {
      log.info('subscribe refused: room not in token', { user_id: caller.user_id, room_id: roomId });
      await ctx.fail('FORBIDDEN', 'the token does not allow that room');
      return;
    }
    const max = deps.config.maxRoomsPerConnection;
    const { result, created } = await deps.connections.subscribe(caller, roomId, max);
    if (result === 'gone') {
      await ctx.fail('FORBIDDEN', 'connection is not registered; reconnect');
      return;
    }
    if (result === 'withdrawn') {
      // Only a client that sends a subscribe and an unsubscribe of one room at once gets here (the SDK never does).
      await ctx.fail(
        'BAD_REQUEST',
        'an unsubscribe of this room crossed this subscribe: the room is not held',
      );
      return;
    }
    if (result === 'full') {
      log.info('subscribe refused: room cap', { user_id: caller.user_id, room_id: roomId, max });
      await ctx.fail('TOO_MANY_ROOMS', `a connection holds at most ${max} rooms: unsubscribe one first`);
      return;
    }

    // Consistent, and after the write: a seq allocated later is fanned out by a query that sees the subscription.
    const latestSeq = await deps.messages.roomLatestSeq(roomId, { consistent: true });
    let subscribed: SubscribedFrame = {
      action: 'subscribed',
      room_id: roomId,
      latest_seq: latestSeq,
      ...(frame.ref !== undefined && { ref: frame.ref }),
    };
    if (frame.after_seq !== undefined || frame.limit !== undefined) {
      const room = `,"history":`;
      const history = await readHistoryFrame(
        deps.messages,
        { roomId },
        // Consistent: the page holds every message stored before it was read, like the forward pages.
        { limit: frame.limit ?? DEFAULT_HISTORY_LIMIT, afterSeq: frame.after_seq, consistent: true },
        MAX_MESSAGE_BYTES - byteLength(subscribed) - room.length,
      );
      subscribed = { ...subscribed, history };
    }
    await reply(deps, event, subscribed, log);
    log.info('subscribed', { user_id: caller.user_id, room_id: roomId, result });
    if (created)
      await announcePresence(deps, event, log, { room_id: roomId, user_id: caller.user_id }, 'join');
  });
}

export const handler = lambdaEntry(createHandler);
