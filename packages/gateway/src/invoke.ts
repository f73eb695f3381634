import type { Context } from 'aws-lambda';
import { createLambdaContext } from './lambda-context.js';
import type { WebSocketLambda } from './options.js';

export type InvocationOutcome =
  | { ok: true; result: unknown }
  | { ok: false; reason: 'error'; error: unknown }
  | { ok: false; reason: 'timeout' };

export interface InvocationSettings {
  /** Names the function in the Lambda context: `$connect` → `connect`. */
  routeKey: string;
  region: string;
  accountId?: string;
  timeoutMs: number;
}

type CallbackLambda = (
  event: unknown,
  context: Context,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

/**
 * Runs a handler the way the Lambda Node.js runtime does: async/promise handlers, callback handlers (3 parameters)
 * and the legacy `context.succeed/fail/done` all settle the invocation. Never rejects. A handler still running after
 * `timeoutMs` is reported as a timeout; its eventual result is dropped.
 */
export function invokeLambda(
  handler: WebSocketLambda,
  event: unknown,
  { routeKey, region, accountId = '000000000000', timeoutMs }: InvocationSettings,
): Promise<InvocationOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: InvocationOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const succeed = (result: unknown) => finish({ ok: true, result });
    const fail = (error: unknown) => finish({ ok: false, reason: 'error', error });
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), timeoutMs);
    const context = createLambdaContext({
      routeKey,
      region,
      accountId,
      timeoutMs,
      settle: { succeed, fail },
    });
    try {
      const usesCallback = handler.length >= 3;
      const returned = usesCallback
        ? (handler as CallbackLambda)(event, context, (error, result) =>
            error === undefined || error === null ? succeed(result) : fail(error),
          )
        : handler(event, context);
      if (isThenable(returned)) returned.then(succeed, fail);
      else if (!usesCallback) succeed(returned);
    } catch (error) {
      fail(error);
    }
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
