import { httpResult, type WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { announcePresence } from '../rooms.ts';
import { type HandlerDeps, instrumented, lambdaEntry } from '../route.ts';

/** `$disconnect` (best effort on AWS): removes the connection record. TTL and Gone pruning cover the misses. */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return instrumented(deps, async (event, log) => {
    deps.frameLimiter.forget(event.requestContext.connectionId);
    const removed = await deps.connections.remove(event.requestContext.connectionId);
    const { disconnectStatusCode, disconnectReason } = event.requestContext as {
      disconnectStatusCode?: number;
      disconnectReason?: string;
    };
    log.info('disconnected', {
      user_id: removed?.user_id,
      room_id: removed?.room_id,
      close_code: disconnectStatusCode,
      close_reason: disconnectReason,
      had_record: removed !== undefined,
    });
    if (removed) await announcePresence(deps, event, log, removed, 'leave');
    deps.metrics.count(METRIC.connectionsClosed);
    return httpResult(200);
  });
}

export const handler = lambdaEntry(createHandler);
