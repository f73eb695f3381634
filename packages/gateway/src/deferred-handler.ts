import type { Context } from 'aws-lambda';
import type { WebSocketLambda } from './options.js';

type CallbackLambda = (
  event: unknown,
  context: Context,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

/**
 * A handler that waits for the real one to load, then runs it in its own style: a callback handler (3 parameters)
 * gets a callback, and the legacy `context.succeed/fail/done` still settle the invocation because the context is
 * passed through. Lets a gateway listen (and know its port) before handler modules are imported.
 */
export function deferredHandler(load: Promise<WebSocketLambda>): WebSocketLambda {
  // Loading failures surface on each invocation, not as an unhandled rejection.
  load.catch(() => {});
  return async (event: unknown, context: Context) => {
    const handler = await load;
    if (handler.length < 3) return handler(event, context);
    return new Promise((resolve, reject) => {
      const returned = (handler as CallbackLambda)(event, context, (error, result) =>
        error === undefined || error === null ? resolve(result) : reject(error),
      );
      if (isThenable(returned)) returned.then(resolve, reject);
    });
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
