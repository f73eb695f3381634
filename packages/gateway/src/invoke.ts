/**
 * Running handlers as the Lambda Node.js runtime does (SPEC.md §8.1, §8.2): every handler style, a Lambda-like
 * context, the integration timeout (SPEC.md §7.4), the error document of a failed invocation, handlers loaded later
 * by the command, and what a two-way route's result sends back (SPEC.md §6).
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { newUuid } from './events.js';
import { describeError, type FailureReport } from './failure-log.js';
import type { GatewayClock, WebSocketLambda } from './options.js';

export type InvocationOutcome =
  | { ok: true; result: unknown }
  | { ok: false; reason: 'error'; error: unknown }
  | { ok: false; reason: 'timeout' };

export interface InvocationSettings {
  /** Names the function in the Lambda context: `$connect` → `connect`. */
  routeKey: string;
  region: string;
  accountId: string;
  /** The integration timeout. */
  timeoutMs: number;
  clock: GatewayClock;
  /**
   * The context's `awsRequestId`; a fresh UUID when absent. Asynchronous invocations pass theirs, which Lambda keeps
   * across retries (SPEC.md §8.6).
   */
  requestId?: string;
}

type CallbackLambda = (
  event: unknown,
  context: Context,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

/**
 * Runs a handler the way the Lambda Node.js runtime does: async/promise handlers, callback handlers (3 parameters)
 * and the legacy `context.succeed/fail/done` all settle the invocation. Never rejects. A handler still running after
 * `timeoutMs` is reported as a timeout; its eventual result is dropped (the handler itself keeps running).
 */
export function invokeLambda(
  handler: WebSocketLambda,
  event: unknown,
  settings: InvocationSettings,
): Promise<InvocationOutcome> {
  const { clock, timeoutMs } = settings;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: InvocationOutcome) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      resolve(outcome);
    };
    const succeed = (result: unknown) => finish({ ok: true, result });
    const fail = (error: unknown) => finish({ ok: false, reason: 'error', error });
    const timer = clock.setTimeout(() => finish({ ok: false, reason: 'timeout' }), timeoutMs);
    const context = createLambdaContext(settings, { succeed, fail });
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

/** What a failed invocation reports: to the caller or a destination, to the failure log. */
export interface FunctionFailure {
  /** What an on-failure destination gets: the thrown value, or an `Error` named `Sandbox.Timedout`. */
  error: unknown;
  /** The error document: a failed `RequestResponse`'s payload, an invocation record's `responsePayload`. */
  responsePayload: { errorType: string; errorMessage: string; trace?: string[] };
  report: FailureReport;
}

/**
 * A failed invocation as Lambda reports it (SPEC.md §8.6, §8.8): for a thrown error, the Node.js runtime's error
 * document `{ errorType, errorMessage, trace }`; for a timeout, Lambda's `Sandbox.Timedout` document, whose text is
 * observed, not documented.
 */
export function functionFailureOf(
  outcome: Exclude<InvocationOutcome, { ok: true }>,
  timeoutMs: number,
  requestId: string,
): FunctionFailure {
  if (outcome.reason === 'timeout') {
    const message = `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
    const error = Object.assign(new Error(message), { name: 'Sandbox.Timedout' });
    return {
      error,
      responsePayload: {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: ${message}`,
      },
      report: { summary: `function timeout (${timeoutMs} ms)` },
    };
  }
  const { error } = outcome;
  const responsePayload =
    error instanceof Error
      ? { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') }
      : { errorType: typeof error, errorMessage: String(error), trace: [] };
  return { error, responsePayload, report: describeError(error) };
}

/** A failed invocation as the failure log tells it (SPEC.md §8.5). */
export function describeFailure(outcome: Exclude<InvocationOutcome, { ok: true }>): FailureReport {
  return outcome.reason === 'timeout' ? { summary: 'integration timeout' } : describeError(outcome.error);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

// The Lambda context ----------------------------------------------------------------------------------------

interface InvocationSettlers {
  succeed(result: unknown): void;
  fail(error: unknown): void;
}

/** `$connect` → `connect`, `sendMessage` → `sendMessage`: Lambda function names allow `[A-Za-z0-9_-]` only. */
function functionNameFor(routeKey: string): string {
  return routeKey.replace(/^\$/, '').replace(/[^A-Za-z0-9_-]/g, '-') || 'default';
}

/**
 * Lambda's context object. `getRemainingTimeInMillis()` counts down the integration timeout (there is no function
 * timeout here); `settle` receives the deprecated `context.done/succeed/fail` calls.
 */
function createLambdaContext(
  { routeKey, region, accountId, timeoutMs, clock, requestId }: InvocationSettings,
  settle: InvocationSettlers,
): Context {
  const functionName = functionNameFor(routeKey);
  const startedAt = clock.now();
  const deadline = startedAt + timeoutMs;
  const today = new Date(startedAt).toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: '128',
    awsRequestId: requestId ?? newUuid(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${today}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()),
    done: (error?: Error, result?: unknown) => (error ? settle.fail(error) : settle.succeed(result)),
    fail: (error: Error | string) => settle.fail(error),
    succeed: (result: unknown) => settle.succeed(result),
  };
}

// Handlers loaded later -------------------------------------------------------------------------------------

/**
 * A handler that waits for the real one to load, then runs it in its own style: a callback handler (3 parameters)
 * gets a callback, and the legacy `context.succeed/fail/done` still settle the invocation because the context is
 * passed through. Lets the command listen (and know its port) before handler modules are imported.
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

// Route responses (SPEC.md §6) ------------------------------------------------------------------------------

export type RouteResponse =
  | { send: false; malformed: boolean }
  | { send: true; data: string | Buffer; binary: boolean };

const NOTHING: RouteResponse = { send: false, malformed: false };

/**
 * What a two-way route sends back to its caller (SPEC.md §6): the proxy result's `body`, as one frame, whatever
 * the `statusCode`. An absent or empty body sends nothing. A plain string result is sent as is (unverified). A
 * base64 body (`isBase64Encoded: true`) is decoded and sent as text when it is UTF-8, binary otherwise
 * (unverified). A body that is not a string is a malformed proxy response: the caller gets the
 * `Internal server error` frame.
 */
export function routeResponseOf(result: unknown): RouteResponse {
  if (typeof result === 'string')
    return result === '' ? NOTHING : { send: true, data: result, binary: false };
  if (typeof result !== 'object' || result === null) return NOTHING;
  const { body, isBase64Encoded } = result as { body?: unknown; isBase64Encoded?: unknown };
  if (body === undefined || body === null || body === '') return NOTHING;
  if (typeof body !== 'string') return { send: false, malformed: true };
  if (isBase64Encoded !== true) return { send: true, data: body, binary: false };
  const bytes = Buffer.from(body, 'base64');
  if (bytes.length === 0) return NOTHING;
  return isUtf8(bytes)
    ? { send: true, data: bytes.toString('utf8'), binary: false }
    : { send: true, data: bytes, binary: true };
}
