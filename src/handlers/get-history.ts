import type { WebSocketHandler } from '../invocation.ts';
import { DEFAULT_HISTORY_LIMIT, fitToMessage, type HistoryFrame } from '../protocol.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { storedFrame } from '../store/messages.ts';

/**
 * `getHistory`: a page of the caller's own room (the room comes from its connection record, so no other room can
 * be read), or of its direct messages with `direct: true`.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'getHistory', async (frame, ctx) => {
    const { event, log } = ctx;
    const caller = await callerRecord(deps, ctx);
    if (!caller) return;
    const query = {
      limit: frame.limit ?? DEFAULT_HISTORY_LIMIT,
      ...(frame.before !== undefined && { before: frame.before }),
      ...(frame.after !== undefined && { after: frame.after }),
    };
    const page = frame.direct
      ? await deps.messages.directHistory(caller.user_id, query)
      : await deps.messages.roomHistory(caller.room_id, query);
    const history: HistoryFrame = {
      action: 'history',
      ...(frame.direct ? { direct: true } : { room_id: caller.room_id }),
      messages: page.messages.map(storedFrame),
      has_more: page.hasMore,
      ...(frame.ref !== undefined && { ref: frame.ref }),
    };
    // A page of long messages can exceed one frame: the far end of the page is dropped and has_more set, so the
    // client asks again from the last message it got.
    const { frame: fitted, trimmed } = fitToMessage(history, 'messages');
    await reply(deps, event, trimmed ? { ...fitted, has_more: true } : fitted, log);
  });
}

export const handler = lambdaEntry(createHandler);
