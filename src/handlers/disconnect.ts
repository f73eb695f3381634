import { httpResult, type WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { announcePresenceInRooms } from '../rooms.ts';
import { type HandlerDeps, instrumented, lambdaEntry } from '../route.ts';
import { roomsOf } from '../store/connections.ts';

/**
 * `$disconnect` (best effort on AWS): removes the connection's record and every subscription it held, and tells
 * those rooms the user left (where this was its last connection there). TTL and Gone pruning cover the misses.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return instrumented(deps, async (event, log) => {
    deps.frameLimiter.forget(event.requestContext.connectionId);
    const removed = await deps.connections.remove(event.requestContext.connectionId);
    const { disconnectStatusCode, disconnectReason } = event.requestContext as {
      disconnectStatusCode?: number;
      disconnectReason?: string;
    };
    const rooms = removed ? roomsOf(removed) : new Set<string>();
    log.info('disconnected', {
      user_id: removed?.user_id,
      rooms: rooms.size,
      close_code: disconnectStatusCode,
      close_reason: disconnectReason,
      had_record: removed !== undefined,
    });
    if (removed) await announcePresenceInRooms(deps, event, log, removed.user_id, rooms, 'leave');
    deps.metrics.count(METRIC.connectionsClosed);
    return httpResult(200);
  });
}

export const handler = lambdaEntry(createHandler);
