import type { PresenceFrame } from '../protocol.ts';
import { broadcast } from './broadcast.ts';
import type { HandlerDeps } from './deps.ts';
import type { WebSocketEvent } from './events.ts';
import type { Log } from './invocation-log.ts';

/**
 * Tells the rest of a room that a connection joined or left. The connection itself is skipped: during `$connect`
 * it is not open yet and during `$disconnect` it is closed, so a post would answer 410 and prune a live record.
 * Presence is best effort: a failure is logged and never fails the connect or disconnect, and it prunes nothing.
 */
export async function announcePresence(
  deps: HandlerDeps,
  event: WebSocketEvent,
  log: Log,
  who: { room_id: string; user_id: string },
  presence: PresenceFrame['event'],
): Promise<void> {
  if (!deps.config.presenceEnabled) return;
  const frame: PresenceFrame = {
    action: 'presence',
    room_id: who.room_id,
    user_id: who.user_id,
    event: presence,
    timestamp: deps.now().toISOString(),
  };
  const { connectionId } = event.requestContext;
  if (deps.largeRooms.has(who.room_id)) {
    log.debug('presence skipped: large room (remembered)', { event: presence });
    return;
  }
  try {
    // The room's size counts this connection either way: its record is already written during $connect and
    // already removed during $disconnect. So a client never hears a leave whose join it was spared.
    const limit = deps.config.presenceMaxRoomSize - (presence === 'leave' ? 1 : 0);
    const room = await deps.store.roomConnectionIdsUpTo(who.room_id, limit);
    if (!room) {
      deps.largeRooms.add(who.room_id);
      log.debug('presence skipped: large room', { event: presence });
      return;
    }
    const others = room.filter((id) => id !== connectionId);
    // Joins come in bursts, and a connection still in its $connect answers 410 like a gone one: here most 410s
    // are newcomers, whose records removeGone would keep anyway, at a failed conditional delete (1 WRU) each.
    // Stale records are left to the next message broadcast and to TTL.
    const summary = await broadcast(deps, event, log, others, frame, { pruneGone: false });
    log.debug('presence announced', { event: presence, ...summary });
  } catch (error) {
    log.warn('presence not announced', { event: presence, error: error as Error });
  }
}
