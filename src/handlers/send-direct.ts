import type { WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { broadcast } from '../rooms.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { type DirectMessage, directFrame } from '../store/messages.ts';

/**
 * `sendDirect`: a message to one user, delivered to every connection of the recipient (found through
 * `user_id-index`) and of the sender (the sending one included, so it learns the message_id). It is stored in
 * both users' inboxes, so either can catch up with `getHistory {direct: true}`.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'sendDirect', async (frame, ctx) => {
    const { event, log } = ctx;
    deps.metrics.count(METRIC.messagesReceived);
    const sender = await callerRecord(deps, ctx);
    if (!sender) return;
    const recipientConnections = await deps.connections.userConnectionIds(frame.to_user_id);
    // A retry of a message already stored is answered with it, whether or not the recipient is still connected:
    // refusing it would make the sender's SDK reject a send that succeeded, and a manual resend duplicate it.
    const retried =
      recipientConnections.length === 0 && frame.client_msg_id !== undefined
        ? await deps.messages.storedDirectMessage(sender.user_id, frame.to_user_id, frame.client_msg_id)
        : undefined;
    if (recipientConnections.length === 0 && !retried) {
      log.info('direct message to a user who is not connected', { to_user_id: frame.to_user_id });
      await ctx.fail('NOT_CONNECTED', 'that user is not connected');
      return;
    }

    const { message, created } = await deps.messages.saveDirectMessage({
      kind: 'direct',
      from_user_id: sender.user_id,
      to_user_id: frame.to_user_id,
      message: frame.message,
      message_id: deps.newMessageId(),
      timestamp: deps.now().toISOString(),
      ...(frame.client_msg_id !== undefined && { client_msg_id: frame.client_msg_id }),
    } satisfies DirectMessage);
    if (!created) {
      log.info('retried direct message acknowledged', { message_id: message.message_id });
      await reply(deps, event, directFrame(message), log);
      return;
    }
    const senderConnections =
      sender.user_id === frame.to_user_id ? [] : await deps.connections.userConnectionIds(sender.user_id);
    const recipients = new Set([
      ...recipientConnections,
      ...senderConnections,
      event.requestContext.connectionId,
    ]);
    const summary = await broadcast(deps, event, log, recipients, directFrame(message));
    log.info('direct message delivered', {
      to_user_id: frame.to_user_id,
      message_id: message.message_id,
      ...summary,
    });
  });
}

export const handler = lambdaEntry(createHandler);
