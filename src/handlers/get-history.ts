import { readHistoryFrame } from '../history.ts';
import type { WebSocketHandler } from '../invocation.ts';
import { DEFAULT_HISTORY_LIMIT } from '../protocol.ts';
import { callerRecord, callerRoom, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';

/**
 * `getHistory`: a page of a room the caller holds (`room_id`, or its one room), or of its own direct messages
 * with `direct: true`: forward from `after_seq` up to where every seq is settled, or backward from `before_seq`
 * (or the newest).
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'getHistory', async (frame, ctx) => {
    let source: { roomId: string } | { directOf: string };
    if (frame.direct) {
      const caller = await callerRecord(deps, ctx);
      if (!caller) return;
      source = { directOf: caller.user_id };
    } else {
      const target = await callerRoom(deps, ctx, frame.room_id);
      if (!target) return;
      source = { roomId: target.roomId };
    }
    const history = await readHistoryFrame(deps.messages, source, {
      limit: frame.limit ?? DEFAULT_HISTORY_LIMIT,
      afterSeq: frame.after_seq,
      beforeSeq: frame.before_seq,
      ref: frame.ref,
    });
    await reply(deps, ctx.event, history, ctx.log);
  });
}

export const handler = lambdaEntry(createHandler);
