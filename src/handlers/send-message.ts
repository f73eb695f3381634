import { managementEndpoint } from '../delivery.ts';
import { deliverToRoom } from '../fan-out.ts';
import type { WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { callerRoom, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { messageFrame, type NewMessage, type RoomMessage } from '../store/messages.ts';

/**
 * `sendMessage`: to a room the sender's connection holds (`room_id`, or its one room), as its record says, never
 * to another. The message is stored before it is delivered (by this function, or by fan-out workers in a room
 * above the tier's threshold: src/fan-out.ts); a retried `client_msg_id` is acknowledged to the sender only, with
 * the first message.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'sendMessage', async (frame, ctx) => {
    const { event, log } = ctx;
    deps.metrics.count(METRIC.messagesReceived);
    const target = await callerRoom(deps, ctx, frame.room_id);
    if (!target) return;
    const { caller: sender, roomId } = target;

    const { message, created } = await deps.messages.saveRoomMessage({
      kind: 'room',
      room_id: roomId,
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
    const summary = await deliverToRoom(
      deps,
      managementEndpoint(deps.config, event),
      log,
      message,
      JSON.stringify(messageFrame(message)),
    );
    log.info('message delivered', {
      room_id: roomId,
      message_id: message.message_id,
      seq: message.seq,
      ...summary,
    });
  });
}

export const handler = lambdaEntry(createHandler);
