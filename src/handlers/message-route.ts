import type { ClientAction, ClientFrame, Correlation, ErrorCode } from '../protocol.ts';
import { correlationOf, parseClientFrame } from '../protocol.ts';
import { type HandlerDeps, instrumented } from './deps.ts';
import { httpResult, type WebSocketEvent, type WebSocketHandler } from './events.ts';
import type { Log } from './invocation-log.ts';
import { METRIC } from './metrics.ts';
import { replyError } from './reply.ts';

export interface MessageContext {
  event: WebSocketEvent;
  log: Log;
  /** `client_msg_id` and `ref` of the frame, for the reply to echo. */
  correlation: Correlation;
  /** Answers the caller with an `error` frame that echoes the frame's correlation ids. */
  fail(code: ErrorCode, message: string): Promise<void>;
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
    const correlation = parsed.ok ? correlationOf(parsed.frame) : parsed.correlation;
    const fail = (code: ErrorCode, message: string) =>
      replyError(deps, event, code, message, log, correlation);
    if (!parsed.ok) {
      deps.metrics.count(METRIC.framesRejected);
      log.info('frame refused', { code: parsed.code, detail: parsed.message });
      await fail(parsed.code, parsed.message);
      return httpResult(200);
    }
    if (parsed.frame.action !== action) {
      await fail('UNKNOWN_ACTION', `this route serves "${action}" only`);
      return httpResult(200);
    }
    try {
      await handle(parsed.frame as Extract<ClientFrame, { action: A }>, { event, log, correlation, fail });
    } catch (error) {
      log.error('route failed', { error: error as Error });
      await fail('INTERNAL', 'internal error').catch((replyFailure: unknown) =>
        log.error('error frame not sent', { error: replyFailure as Error }),
      );
      return httpResult(500);
    }
    return httpResult(200);
  });
}
