import type { WebSocketHandler } from '../invocation.ts';
import { pongFrame } from '../protocol.ts';
import { type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';

/**
 * `ping`: answers `pong` with the newest seq of the caller's room and inbox, so that a heartbeat both keeps the
 * connection inside API Gateway's 10-minute idle timeout and tells the client whether it missed a message; and
 * with their seqs when the connection joined, where a client that starts fresh starts. A
 * connection without a record gets FORBIDDEN: nothing is delivered to it, and only a reconnect mends that. While
 * the store cannot be read the pong still comes, without the seqs: the connection stays up through an outage.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'ping', async (frame, ctx) => {
    const { event, log } = ctx;
    let latest: { room: number; direct: number } | undefined;
    let joined: { room: number; direct: number } | undefined;
    try {
      const caller = await deps.connections.get(event.requestContext.connectionId);
      if (!caller) {
        log.warn('ping from an unregistered connection');
        await ctx.fail('FORBIDDEN', 'connection is not registered; reconnect');
        return;
      }
      latest = await deps.messages.latestSeqs(caller.room_id, caller.user_id);
      if (caller.joined_seq !== undefined && caller.joined_direct_seq !== undefined)
        joined = { room: caller.joined_seq, direct: caller.joined_direct_seq };
    } catch (error) {
      log.warn('pong without seqs: the store failed', { error: error as Error });
    }
    await reply(deps, event, pongFrame(deps.now(), { latest, joined }, frame.ref), log);
  });
}

export const handler = lambdaEntry(createHandler);
