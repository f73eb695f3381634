import { httpResult, type WebSocketHandler } from '../invocation.ts';
import { correlationOf, parseClientFrame } from '../protocol.ts';
import { admitted, type HandlerDeps, instrumented, lambdaEntry, refused, replyError } from '../route.ts';

/**
 * `$default`: API Gateway routes here what matches no route: frames that are not JSON, have no `action`, or name
 * an action roomcast does not have.
 */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return instrumented(deps, async (event, log) => {
    if (!(await admitted(deps, event, log))) return httpResult(200);
    const parsed = parseClientFrame(event.body, { maxMessageChars: deps.config.maxMessageChars });
    const [code, message, correlation] = parsed.ok
      ? ([
          'UNKNOWN_ACTION',
          `action "${parsed.frame.action}" has no route here`,
          correlationOf(parsed.frame),
        ] as const)
      : [parsed.code, parsed.message, parsed.correlation];
    refused(deps, log, code, message);
    await replyError(deps, event, code, message, log, correlation);
    return httpResult(200);
  });
}

export const handler = lambdaEntry(createHandler);
