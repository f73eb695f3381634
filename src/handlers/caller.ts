import type { ConnectionRecord } from '../store/connections.ts';
import type { HandlerDeps } from './deps.ts';
import type { MessageContext } from './message-route.ts';

/**
 * The calling connection's record: its room and user, as `$connect` verified them. Without one (expired, or
 * pruned) the caller gets FORBIDDEN and undefined comes back.
 */
export async function callerRecord(
  deps: HandlerDeps,
  { event, log, fail }: MessageContext,
): Promise<ConnectionRecord | undefined> {
  const record = await deps.store.get(event.requestContext.connectionId);
  if (!record) {
    log.warn('frame from an unregistered connection');
    await fail('FORBIDDEN', 'connection is not registered; reconnect');
  }
  return record;
}
