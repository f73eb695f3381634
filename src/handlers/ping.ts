import type { WebSocketHandler } from '../invocation.ts';
import { type PongSeqs, pongFrame } from '../protocol.ts';
import { closedForExpiredToken, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { roomsOf } from '../store/connections.ts';

/**
 * `ping`: answers `pong` with the newest seq of every room the caller holds and of its inbox, so that a heartbeat
 * both keeps the connection inside API Gateway's 10-minute idle timeout and tells the client whether it missed a
 * message; and with the inbox's seq when the connection opened, where a client that starts fresh starts. A
 * connection without a record gets FORBIDDEN: nothing is delivered to it, and only a reconnect mends that. While
 * the store cannot be read the pong still comes, without the seqs: the connection stays up through an outage.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'ping', async (frame, ctx) => {
    const { event, log } = ctx;
    let seqs: PongSeqs = {};
    try {
      const caller = await deps.connections.get(event.requestContext.connectionId);
      if (!caller) {
        log.warn('ping from an unregistered connection');
        await ctx.fail('FORBIDDEN', 'connection is not registered; reconnect');
        return;
      }
      if (await closedForExpiredToken(deps, ctx, caller)) return;
      const latest = await deps.messages.latestSeqs([...roomsOf(caller)], caller.user_id);
      const connectRoom = caller.connect_room_id;
      seqs = {
        latest,
        ...(caller.joined_direct_seq !== undefined && { joinedDirect: caller.joined_direct_seq }),
        // The connect URL's room, as versions before subscriptions report it, while the connection holds it.
        // (Own properties only: a room may be called `__proto__`.)
        ...(connectRoom !== undefined &&
          Object.hasOwn(latest.rooms, connectRoom) && {
            connectRoom: {
              latest: latest.rooms[connectRoom] as number,
              ...(caller.joined_seq !== undefined && { joined: caller.joined_seq }),
            },
          }),
      };
    } catch (error) {
      log.warn('pong without seqs: the store failed', { error: error as Error });
    }
    await reply(deps, event, pongFrame(deps.now(), seqs, frame.ref), log);
  });
}

export const handler = lambdaEntry(createHandler);
