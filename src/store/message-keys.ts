/**
 * Partitions of the messages table. Room ids cannot contain `#` (ROOM_ID_PATTERN, @roomcast/client/protocol), so the prefixed
 * partitions below can never collide with a room, and everything after a prefix is one whole user id.
 *
 * - `<room_id>`          the room's messages, sorted by message_id (a ULID, so by time);
 * - `inbox#<user_id>`    every direct message to or from that user: each direct message is written to both the
 *                        sender's and the recipient's inbox, so either can page or catch up with one Query;
 * - `idem#<user_id>`     idempotency markers, sort key `[scope, client_msg_id]` as JSON, holding the message
 *                        a first send created so a retry returns it instead of creating another.
 */
export function roomPartition(roomId: string): string {
  return roomId;
}

export function inboxPartition(userId: string): string {
  return `inbox#${userId}`;
}

export function idempotencyPartition(userId: string): string {
  return `idem#${userId}`;
}

export function idempotencySortKey(scope: string, clientMsgId: string): string {
  return JSON.stringify([scope, clientMsgId]);
}
