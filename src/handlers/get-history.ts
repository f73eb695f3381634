import type { WebSocketHandler } from '../invocation.ts';
import { DEFAULT_HISTORY_LIMIT, fitToMessage, type HistoryFrame } from '../protocol.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { storedFrame } from '../store/messages.ts';

/**
 * `getHistory`: a page of the caller's own room (the room comes from its connection record, so no other room can
 * be read), or of its direct messages with `direct: true`: forward from `after_seq` up to where every seq is
 * settled, or backward from `before_seq` (or the newest).
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'getHistory', async (frame, ctx) => {
    const { event, log } = ctx;
    const caller = await callerRecord(deps, ctx);
    if (!caller) return;
    const query = {
      limit: frame.limit ?? DEFAULT_HISTORY_LIMIT,
      ...(frame.after_seq !== undefined && { afterSeq: frame.after_seq }),
      ...(frame.before_seq !== undefined && { beforeSeq: frame.before_seq }),
    };
    const page = frame.direct
      ? await deps.messages.directHistory(caller.user_id, query)
      : await deps.messages.roomHistory(caller.room_id, query);
    const history: HistoryFrame = {
      action: 'history',
      ...(frame.direct ? { direct: true } : { room_id: caller.room_id }),
      messages: page.messages.map(storedFrame),
      ...(page.throughSeq !== undefined && { through_seq: page.throughSeq }),
      latest_seq: page.latestSeq,
      has_more: page.hasMore,
      ...(page.nextBeforeSeq !== undefined && { next_before_seq: page.nextBeforeSeq }),
      ...(frame.ref !== undefined && { ref: frame.ref }),
    };
    // A page of long messages can exceed one frame: its far end is dropped and has_more set, so the client asks
    // again from the last message it got (a forward page's through_seq, a backward page's next_before_seq).
    const { frame: fitted } = fitToMessage(history, 'messages', (kept) => {
      const last = kept.messages.at(-1)?.seq;
      const cursor =
        kept.through_seq === undefined
          ? { next_before_seq: last ?? frame.before_seq ?? page.latestSeq + 1 }
          : { through_seq: last ?? frame.after_seq };
      return { ...kept, ...cursor, has_more: true };
    });
    await reply(deps, event, fitted, log);
  });
}

export const handler = lambdaEntry(createHandler);
