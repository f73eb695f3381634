import type { WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { broadcast } from '../rooms.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { messageFrame, type NewMessage, type RoomMessage } from '../store/messages.ts';

/**
 * `sendMessage`: the room comes from the sender's connection record, never from the frame. The message is stored
 * before it is delivered; a retried `client_msg_id` is acknowledged to the sender only, with the first message.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'sendMessage', async (frame, ctx) => {
    const { event, log } = ctx;
    deps.metrics.count(METRIC.messagesReceived);
    const sender = await callerRecord(deps, ctx);
    if (!sender) return;
    if (frame.room_id !== undefined && frame.room_id !== sender.room_id) {
      log.warn('message to another room refused', { room_id: sender.room_id, target_room_id: frame.room_id });
      const refusal = 'you can only post to the room you joined';
      await ctx.fail('FORBIDDEN', refusal);
      return;
    }

    const { message, created } = await deps.messages.saveRoomMessage({
      kind: 'room',
      room_id: sender.room_id,
      user_id: sender.user_id,
      message: frame.message,
      message_id: deps.newMessageId(),
      timestamp: deps.now().toISOString(),
      ...(frame.client_msg_id !== undefined && { client_msg_id: frame.client_msg_id }),
    } satisfies NewMessage<RoomMessage>);
    if (!created) {
      log.info('retried message acknowledged', { message_id: message.message_id });
      await reply(deps, event, messageFrame(message), log);
      return;
    }
    const summary = await broadcast(
      deps,
      event,
      log,
      deps.connections.roomConnectionIds(sender.room_id),
      messageFrame(message),
    );
    log.info('message delivered', {
      room_id: sender.room_id,
      message_id: message.message_id,
      seq: message.seq,
      ...summary,
    });
  });
}

export const handler = lambdaEntry(createHandler);
