import { GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Correlation, ErrorCode, ServerFrame } from '../protocol.ts';
import { errorFrame } from '../protocol.ts';
import type { HandlerDeps } from './deps.ts';
import type { WebSocketEvent } from './events.ts';
import type { Log } from './invocation-log.ts';

/** Sends one frame to the connection that sent `event`. A caller that is already gone is not an error. */
export async function reply(
  deps: HandlerDeps,
  event: WebSocketEvent,
  frame: ServerFrame,
  log: Log,
): Promise<void> {
  try {
    await deps.managementClient(event).send(
      new PostToConnectionCommand({
        ConnectionId: event.requestContext.connectionId,
        Data: new TextEncoder().encode(JSON.stringify(frame)),
      }),
    );
  } catch (error) {
    if (error instanceof GoneException) {
      log.info('caller left before the reply', { frame_action: frame.action });
      return;
    }
    throw error;
  }
}

/** Sends an `error` frame with a stable code; the request id lets support find the detailed log line. */
export function replyError(
  deps: HandlerDeps,
  event: WebSocketEvent,
  code: ErrorCode,
  message: string,
  log: Log,
  correlation: Correlation = {},
): Promise<void> {
  return reply(
    deps,
    event,
    { ...errorFrame(code, message, event.requestContext.requestId), ...correlation },
    log,
  );
}
