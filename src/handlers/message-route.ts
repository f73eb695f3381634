import type { Logger } from '@aws-lambda-powertools/logger';
import type { ClientAction, ClientFrame } from '../protocol/index.ts';
import { parseClientFrame } from '../protocol/index.ts';
import { type HandlerDeps, instrumented } from './deps.ts';
import { httpResult, type WebSocketEvent, type WebSocketHandler } from './events.ts';
import { METRIC } from './metrics.ts';
import { replyError } from './reply.ts';

export interface MessageContext {
  event: WebSocketEvent;
  log: Logger;
}

/**
 * A route for one client action: validates the frame, runs `handle`, and turns every failure into an `error`
 * frame with a stable code. Internals go to the log only.
 */
export function messageRoute<A extends ClientAction>(
  deps: HandlerDeps,
  action: A,
  handle: (frame: Extract<ClientFrame, { action: A }>, ctx: MessageContext) => Promise<void>,
): WebSocketHandler {
  return instrumented(deps, async (event, log) => {
    const parsed = parseClientFrame(event.body, { maxMessageChars: deps.config.maxMessageChars });
    if (!parsed.ok) {
      deps.metrics.count(METRIC.framesRejected);
      log.info('frame refused', { code: parsed.code, detail: parsed.message });
      await replyError(deps, event, parsed.code, parsed.message, log);
      return httpResult(200);
    }
    if (parsed.frame.action !== action) {
      await replyError(deps, event, 'UNKNOWN_ACTION', `this route serves "${action}" only`, log);
      return httpResult(200);
    }
    try {
      await handle(parsed.frame as Extract<ClientFrame, { action: A }>, { event, log });
    } catch (error) {
      log.error('route failed', { error: error as Error });
      await replyError(deps, event, 'INTERNAL', 'internal error', log).catch((replyFailure: unknown) =>
        log.error('error frame not sent', { error: replyFailure as Error }),
      );
      return httpResult(500);
    }
    return httpResult(200);
  });
}
