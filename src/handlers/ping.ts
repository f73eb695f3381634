import type { WebSocketHandler } from '../invocation.ts';
import { pongFrame } from '../protocol.ts';
import { type HandlerDeps, lambdaEntry, messageRoute, reply } from '../route.ts';

/** `ping`: answers `pong`, so clients can keep the connection inside API Gateway's 10-minute idle timeout. */
export function createHandler(deps: HandlerDeps): WebSocketHandler {
  return messageRoute(deps, 'ping', async (frame, { event, log }) => {
    await reply(deps, event, pongFrame(deps.now(), frame.ref), log);
  });
}

export const handler = lambdaEntry(createHandler);
