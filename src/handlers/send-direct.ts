import type { WebSocketHandler } from '../invocation.ts';
import { METRIC } from '../metrics.ts';
import { broadcast, stillConnected } from '../rooms.ts';
import { callerRecord, type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';
import { type DirectMessage, directFrame, type NewMessage } from '../store/messages.ts';

/**
 * `sendDirect`: a message to one user, stored in both users' inboxes (each copy with its inbox's own seq) and
 * delivered to every connection of the recipient (found through `user_id-index`) and of the sender (the sending
 * one included, so it learns its seq), each side with its own copy.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'sendDirect', async (frame, ctx) => {
    const { event, log } = ctx;
    deps.metrics.count(METRIC.messagesReceived);
    const sender = await callerRecord(deps, ctx);
    if (!sender) return;
    // A record proves nothing after a crash (no $disconnect ran): ask API Gateway, or a message to a user who is
    // gone would be stored and "delivered" to nobody instead of refused.
    const recipientConnections = await stillConnected(
      deps,
      event,
      log,
      await deps.connections.userConnectionIds(frame.to_user_id),
    );
    // A retry of a message already stored is answered with it, whether or not the recipient is still connected:
    // refusing it would make the sender's SDK reject a send that succeeded, and a manual resend duplicate it.
    const retried =
      recipientConnections.length === 0 &&
      frame.client_msg_id !== undefined &&
      (await deps.messages.hasDirectMessage(sender.user_id, frame.to_user_id, frame.client_msg_id));
    if (recipientConnections.length === 0 && !retried) {
      log.info('direct message to a user who is not connected', { to_user_id: frame.to_user_id });
      await ctx.fail('NOT_CONNECTED', 'that user is not connected');
      return;
    }

    const { recipient, sender: own } = await deps.messages.saveDirectMessage({
      kind: 'direct',
      from_user_id: sender.user_id,
      to_user_id: frame.to_user_id,
      message: frame.message,
      message_id: deps.newMessageId(),
      timestamp: deps.now().toISOString(),
      ...(frame.client_msg_id !== undefined && { client_msg_id: frame.client_msg_id }),
    } satisfies NewMessage<DirectMessage>);
    const toSelf = sender.user_id === frame.to_user_id;
    // Whoever wrote a copy delivers it; a retry that wrote none answers the retrying connection alone.
    const deliveries: Array<Promise<unknown>> = [];
    if (recipient.created) {
      const ids = new Set(recipientConnections);
      if (toSelf) ids.add(event.requestContext.connectionId);
      deliveries.push(broadcast(deps, event, log, ids, directFrame(recipient.message)));
    }
    if (!toSelf && own.created) {
      const ids = new Set([
        ...(await deps.connections.userConnectionIds(sender.user_id)),
        event.requestContext.connectionId,
      ]);
      deliveries.push(broadcast(deps, event, log, ids, directFrame(own.message)));
    }
    if (!own.created) {
      log.info('retried direct message acknowledged', { message_id: own.message.message_id });
      deliveries.push(reply(deps, event, directFrame(own.message), log));
    }
    await Promise.all(deliveries);
    log.info('direct message stored', {
      to_user_id: frame.to_user_id,
      message_id: own.message.message_id,
      delivered_to_recipient: recipient.created,
      delivered_to_sender: own.created,
    });
  });
}

export const handler = lambdaEntry(createHandler);
