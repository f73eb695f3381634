import { fitToMessage, type HistoryFrame, MAX_MESSAGE_BYTES } from './protocol.ts';
import type { MessageStore } from './store/messages.ts';
import { storedFrame } from './store/messages.ts';

/**
 * A page of a stream's history as the `history` frame a client gets, from `getHistory` or inside `subscribed`:
 * forward from `afterSeq` up to where every seq is settled, or backward from `beforeSeq` (or the newest).
 */

export type HistorySource = { roomId: string } | { directOf: string };

export interface HistoryRequest {
  afterSeq?: number | undefined;
  beforeSeq?: number | undefined;
  limit: number;
  /** Backward pages strongly consistent (see MessageStore's HistoryQuery). */
  consistent?: boolean;
  ref?: string | undefined;
}

/**
 * Reads the page and fits it into `maxBytes`: a page of long messages can exceed one frame, so its far end is
 * dropped and has_more set, and the client asks again from the last message it got (a forward page's
 * through_seq, a backward page's next_before_seq).
 */
export async function readHistoryFrame(
  messages: MessageStore,
  source: HistorySource,
  request: HistoryRequest,
  maxBytes = MAX_MESSAGE_BYTES,
): Promise<HistoryFrame> {
  const query = {
    limit: request.limit,
    ...(request.consistent && { consistent: true }),
    ...(request.afterSeq !== undefined && { afterSeq: request.afterSeq }),
    ...(request.beforeSeq !== undefined && { beforeSeq: request.beforeSeq }),
  };
  const page =
    'roomId' in source
      ? await messages.roomHistory(source.roomId, query)
      : await messages.directHistory(source.directOf, query);
  const history: HistoryFrame = {
    action: 'history',
    ...('roomId' in source ? { room_id: source.roomId } : { direct: true }),
    messages: page.messages.map(storedFrame),
    ...(page.throughSeq !== undefined && { through_seq: page.throughSeq }),
    latest_seq: page.latestSeq,
    has_more: page.hasMore,
    ...(page.nextBeforeSeq !== undefined && { next_before_seq: page.nextBeforeSeq }),
    ...(request.ref !== undefined && { ref: request.ref }),
  };
  const { frame } = fitToMessage(
    history,
    'messages',
    (kept) => {
      const last = kept.messages.at(-1)?.seq;
      const cursor =
        kept.through_seq === undefined
          ? { next_before_seq: last ?? request.beforeSeq ?? page.latestSeq + 1 }
          : { through_seq: last ?? request.afterSeq };
      return { ...kept, ...cursor, has_more: true };
    },
    maxBytes,
  );
  return frame;
}
