import { fanOut } from '../delivery/fan-out.ts';
import type { MessageFrame } from '../protocol/index.ts';
import { type HandlerDeps, lambdaEntry } from './deps.ts';
import type { WebSocketHandler } from './events.ts';
import { messageRoute } from './message-route.ts';
import { METRIC } from './metrics.ts';
import { replyError } from './reply.ts';

/** `sendMessage`: the sender's room comes from its connection record, never from the frame. */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'sendMessage', async (frame, { event, log }) => {
    deps.metrics.count(METRIC.messagesReceived);
    const sender = await deps.store.get(event.requestContext.connectionId);
    if (!sender) {
      log.warn('message from an unregistered connection');
      await replyError(deps, event, 'FORBIDDEN', 'connection is not registered; reconnect', log);
      return;
    }
    if (frame.room_id !== undefined && frame.room_id !== sender.room_id) {
      log.warn('message to another room refused', { room_id: sender.room_id, target_room_id: frame.room_id });
      await replyError(deps, event, 'FORBIDDEN', 'you can only post to the room you joined', log);
      return;
    }

    const message: MessageFrame = {
      action: 'message',
      room_id: sender.room_id,
      user_id: sender.user_id,
      message: frame.message,
      message_id: deps.newMessageId(),
      timestamp: deps.now().toISOString(),
      ...(frame.client_msg_id !== undefined && { client_msg_id: frame.client_msg_id }),
    };
    const summary = await fanOut(deps.store.roomConnectionIds(sender.room_id), JSON.stringify(message), {
      client: deps.managementClient(event),
      concurrency: deps.config.fanOutConcurrency,
      onGone: (connectionId) => deps.store.remove(connectionId),
      logger: log,
    });
    deps.metrics.count(METRIC.deliveriesSucceeded, summary.delivered);
    deps.metrics.count(METRIC.staleConnectionsPruned, summary.gone);
    deps.metrics.count(METRIC.deliveriesFailed, summary.failed);
    deps.metrics.milliseconds(METRIC.fanOutDuration, summary.durationMs);
    log.info('message delivered', { room_id: sender.room_id, message_id: message.message_id, ...summary });
  });
}

export const handler = lambdaEntry(createHandler);
