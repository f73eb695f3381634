import type { WebSocketHandler } from '../invocation.ts';
import { fitToMessage, type MembersFrame } from '../protocol.ts';
import { callerRoom, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';

/**
 * `listMembers`: each user holding a room the caller holds (`room_id`, or its one room) once, with how many of
 * their connections hold it, and the room's newest seq.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'listMembers', async (frame, ctx) => {
    const { event, log } = ctx;
    const target = await callerRoom(deps, ctx, frame.room_id);
    if (!target) return;
    const { roomId } = target;
    const connections = new Map<string, number>();
    const [records, latestSeq] = await Promise.all([
      deps.connections.roomMembers(roomId),
      deps.messages.roomLatestSeq(roomId),
    ]);
    for (const { user_id } of records) {
      connections.set(user_id, (connections.get(user_id) ?? 0) + 1);
    }
    const members: MembersFrame = {
      action: 'members',
      room_id: roomId,
      users: [...connections]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([user_id, count]) => ({ user_id, connections: count })),
      latest_seq: latestSeq,
      ...(frame.ref !== undefined && { ref: frame.ref }),
    };
    const { frame: fitted, trimmed } = fitToMessage(members, 'users', (kept) => ({
      ...kept,
      truncated: true as const,
    }));
    if (trimmed) log.warn('members list trimmed to one frame', { room_id: roomId, users: connections.size });
    await reply(deps, event, fitted, log);
  });
}

export const handler = lambdaEntry(createHandler);
