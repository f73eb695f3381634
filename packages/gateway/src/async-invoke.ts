/**
 * Lambda's invocation of registered functions, for the gateway's process and, through its listener, others:
 * asynchronous (`InvocationType: 'Event'`, SPEC.md §8.6): `invoke` answers 202 at once and queues the event;
 * function errors and timeouts are retried after Lambda's delays, up to `maxRetryAttempts`; an event older than
 * `maxEventAgeSeconds` is not run; an event given up on goes to the function's on-failure destination as Lambda's
 * invocation record. The queue is the emulator's own bound (AWS documents none), and `close()` lets accepted work
 * finish. Synchronous (`RequestResponse`, SPEC.md §8.8): the handler runs at once, once, under its timeout, and
 * `invoke` resolves with its result or error document. Timers and timestamps read the gateway's clock, so a test
 * sees a two-minute retry delay without waiting for it. The SDK's `LambdaClient` reaches it through
 * `requestHandler()` or the gateway's listener (lambda-api.ts, SPEC.md §8.7, §8.9).
 */
import { setImmediate } from 'node:timers';
import {
  ASYNC_MAX_CONCURRENCY,
  ASYNC_MAX_EVENT_AGE_SECONDS,
  ASYNC_MAX_QUEUED_EVENTS,
  ASYNC_MAX_RETRY_ATTEMPTS,
  ASYNC_RETRY_DELAYS_MS,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_REGION,
  LAMBDA_DEFAULT_TIMEOUT_MS,
  LAMBDA_MAX_TIMEOUT_MS,
  MAX_TIMER_MS,
  SYNC_MAX_CONCURRENCY,
} from './constants.js';
import { newUuid } from './events.js';
import { describeError, FailureLog } from './failure-log.js';
import { functionFailureOf, type InvocationOutcome, invokeLambda } from './invoke.js';
import {
  type AsyncInvokeResult,
  createLambdaRequestHandler,
  type DryRunResult,
  type InvocationType,
  type InvokeOptions,
  type InvokeTarget,
  invalidInvocationType,
  type LambdaRequestHandler,
  LambdaServiceException,
  payloadLimitFor,
  payloadTooLarge,
  type RequestResponseResult,
  requestResponsePayload,
} from './lambda-api.js';
import {
  type AsyncFailureCondition,
  type AsyncInvocationLimits,
  type AsyncInvocationRecord,
  type AsyncInvokeConfig,
  type FunctionDefinition,
  type GatewayClock,
  type GatewayLogger,
  type LambdaHandler,
  STDERR_LOGGER,
  SYSTEM_CLOCK,
} from './options.js';

export interface LocalLambdaOptions extends AsyncInvocationLimits {
  /** Name → handler, or `{ handler, …settings }`. More can be added with `register`. */
  functions?: Record<string, LambdaHandler | FunctionDefinition>;
  /** For ARNs. @default 'us-east-1' */
  region?: string;
  /** For ARNs. @default '000000000000' */
  accountId?: string;
  /** Retry delays, timeouts, event ages and timestamps read it. @default real time */
  clock?: GatewayClock;
  /** Failed attempts, discarded events and refusals. @default errors to stderr */
  logger?: GatewayLogger;
  /**
   * `RequestResponse` invocations running at once, all functions together, before more get 429
   * `TooManyRequestsException`: the emulator's own bound (a gateway keeps the default). @default 64
   */
  maxSyncConcurrency?: number;
}

/** Counters since the start, and the queue as it is now. */
export interface LocalLambdaStats {
  /** Events `invoke` accepted (202). */
  accepted: number;
  /** Invocations refused because the queue was full (429). */
  refusedQueueFull: number;
  /** Invocations refused because the payload was too large (413). */
  refusedTooLarge: number;
  /** Attempts started (first attempts and retries). */
  attempts: number;
  /** Events whose attempt succeeded. */
  succeeded: number;
  /** Retries scheduled after a failed attempt. */
  retries: number;
  /** Events given up on after their last retry failed. */
  retriesExhausted: number;
  /** Events given up on because they were too old to run. */
  eventAgeExceeded: number;
  /** Events `close()` dropped: waiting for a retry, or failing while it ran with retries left. */
  droppedAtClose: number;
  /** `onFailure`/`onSuccess` calls that threw or rejected. */
  destinationFailures: number;
  /** `RequestResponse` invocations run. */
  syncInvocations: number;
  /** Of those, the ones that ended in a function error (thrown, timed out, or a result over 6 MB). */
  syncFunctionErrors: number;
  /** `RequestResponse` invocations refused because `maxSyncConcurrency` were running (429). */
  refusedSyncConcurrency: number;
  /** Now: events waiting for a free slot. */
  queued: number;
  /** Now: events waiting for their retry delay. */
  waitingForRetry: number;
  /** Now: attempts running. */
  running: number;
  /** Now: `RequestResponse` invocations running. */
  runningSync: number;
}

interface RegisteredFunction {
  name: string;
  /** Unqualified: `arn:aws:lambda:{region}:{accountId}:function:{name}`. */
  arn: string;
  handler: LambdaHandler;
  timeoutMs: number;
  maxRetryAttempts: number;
  retryDelaysMs: readonly number[];
  maxEventAgeMs: number;
  onFailure: AsyncInvokeConfig['onFailure'];
  onSuccess: AsyncInvokeConfig['onSuccess'];
}

interface PendingEvent {
  fn: RegisteredFunction;
  requestId: string;
  /** The payload as JSON text: each attempt parses its own copy, as each Lambda attempt deserializes the event. */
  payload: string;
  acceptedAt: number;
  attempts: number;
  lastFailure?: { error: unknown; responsePayload: unknown };
  retryTimer?: unknown;
}

type Counters = Omit<LocalLambdaStats, 'queued' | 'waitingForRetry' | 'running' | 'runningSync'>;

/** Lambda's function names: 1 to 64 letters, digits, `-` and `_`. */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** A name, `name:qualifier`, a partial ARN `account:function:name` or a full ARN, as `Invoke`'s FunctionName. */
const FUNCTION_REFERENCE =
  /^(?:(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):)?(\d{12}):function:)?([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9$_-]{1,128}))?$/;

/**
 * Functions invoked as Lambda invokes them: asynchronously (`Event`, SPEC.md §8.6) or synchronously
 * (`RequestResponse`, SPEC.md §8.8). A gateway has one (`gateway.functions`) sharing its clock, logger, region and
 * account, serves it on its listener, and closes it in `close()`; one can also be made on its own.
 */
export class LocalLambda {
  readonly #functions = new Map<string, RegisteredFunction>();
  readonly #queue: PendingEvent[] = [];
  readonly #retrying = new Set<PendingEvent>();
  readonly #idleWaiters: (() => void)[] = [];
  readonly #counters: Counters = {
    accepted: 0,
    refusedQueueFull: 0,
    refusedTooLarge: 0,
    attempts: 0,
    succeeded: 0,
    retries: 0,
    retriesExhausted: 0,
    eventAgeExceeded: 0,
    droppedAtClose: 0,
    destinationFailures: 0,
    syncInvocations: 0,
    syncFunctionErrors: 0,
    refusedSyncConcurrency: 0,
  };
  readonly #region: string;
  readonly #accountId: string;
  readonly #clock: GatewayClock;
  readonly #logger: GatewayLogger;
  readonly #failureLog: FailureLog;
  readonly #maxConcurrency: number;
  readonly #maxQueuedEvents: number;
  readonly #maxSyncConcurrency: number;
  #running = 0;
  #runningSync = 0;
  /** Destination calls not yet settled: `close()` and `whenIdle()` wait for them too. */
  #delivering = 0;
  #pumpScheduled = false;
  /** Set while refusals are logged: one warning per stretch of a full queue. */
  #full = false;
  #closing = false;
  #closed: Promise<void> | undefined;
  #requestHandler: LambdaRequestHandler | undefined;

  constructor(options: LocalLambdaOptions = {}) {
    this.#region = options.region ?? DEFAULT_REGION;
    this.#accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    if (!/^\d{12}$/.test(this.#accountId)) throw new Error(`Invalid account id: ${this.#accountId}`);
    if (!/^[a-z0-9-]+$/.test(this.#region)) throw new Error(`Invalid region: ${this.#region}`);
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#logger = options.logger ?? STDERR_LOGGER;
    this.#failureLog = new FailureLog(this.#logger, this.#clock);
    this.#maxConcurrency = positiveInteger('maxConcurrency', options.maxConcurrency, ASYNC_MAX_CONCURRENCY);
    this.#maxQueuedEvents = positiveInteger(
      'maxQueuedEvents',
      options.maxQueuedEvents,
      ASYNC_MAX_QUEUED_EVENTS,
    );
    this.#maxSyncConcurrency = positiveInteger(
      'maxSyncConcurrency',
      options.maxSyncConcurrency,
      SYNC_MAX_CONCURRENCY,
    );
    for (const [name, definition] of Object.entries(options.functions ?? {})) this.register(name, definition);
  }

  /** Adds a function; invalid settings, a taken name or a name Lambda would refuse throw. */
  register(name: string, definition: LambdaHandler | FunctionDefinition): void {
    if (this.#closing) throw new Error('LocalLambda is closed: no function can be registered');
    if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
      throw new Error(`Invalid function name: ${String(name)} (1 to 64 letters, digits, - and _)`);
    }
    if (this.#functions.has(name)) throw new Error(`Function ${name} is already registered`);
    this.#functions.set(name, resolveFunction(name, definition, this.#arn(name)));
  }

  /**
   * Queues an event for `functionName` (a name, a partial or full ARN, or `name:$LATEST`) and returns at once
   * with 202: the handler runs later, never before `invoke` has returned. A string or `Uint8Array` payload is the
   * JSON text, as the SDK's `Payload`; any other value is serialized with `JSON.stringify`; no payload is `{}`.
   * Throws a `LambdaServiceException` as Lambda's Invoke API answers: 400 `InvalidParameterValueException` for
   * an unknown invocation type or a `qualifier` unlike the name's, 500 `ServiceException` once closing, 404
   * `ResourceNotFoundException` for an unknown function or a qualifier other than `$LATEST`, 413
   * `RequestEntityTooLargeException` over 1 MB, 400 `InvalidRequestContentException` for a payload that is not
   * JSON, 429 `TooManyRequestsException` when the queue is full. With `invocationType: 'DryRun'` it checks the same,
   * except the queue, and returns 204 without queueing anything. With `invocationType: 'RequestResponse'` it returns
   * a promise: the handler runs at once, once, under the function's timeout, and the promise resolves with 200 and
   * its result, or its error document and `FunctionError: 'Unhandled'`; refusals reject it (413 over 6 MB, 429
   * when `maxSyncConcurrency` invocations are running).
   */
  invoke(
    functionName: string,
    payload?: unknown,
    options?: InvokeOptions & { invocationType?: 'Event' },
  ): AsyncInvokeResult;
  invoke(
    functionName: string,
    payload: unknown,
    options: InvokeOptions & { invocationType: 'DryRun' },
  ): DryRunResult;
  invoke(
    functionName: string,
    payload: unknown,
    options: InvokeOptions & { invocationType: 'RequestResponse' },
  ): Promise<RequestResponseResult>;
  invoke(
    functionName: string,
    payload?: unknown,
    options?: InvokeOptions,
  ): AsyncInvokeResult | DryRunResult | Promise<RequestResponseResult>;
  invoke(
    functionName: string,
    payload?: unknown,
    options: InvokeOptions = {},
  ): AsyncInvokeResult | DryRunResult | Promise<RequestResponseResult> {
    const invocationType = options.invocationType ?? 'Event';
    if (invocationType === 'RequestResponse') {
      return this.#invokeRequestResponse(functionName, payload, options.qualifier);
    }
    if (invocationType !== 'Event' && invocationType !== 'DryRun') {
      throw invalidInvocationType(String(invocationType));
    }
    const { fn, json } = this.#admit(functionName, payload, options.qualifier, invocationType);
    if (invocationType === 'DryRun') {
      return { StatusCode: 204, $metadata: { httpStatusCode: 204, requestId: newUuid() } };
    }
    const waiting = this.#queue.length + this.#retrying.size;
    if (waiting >= this.#maxQueuedEvents) {
      this.#counters.refusedQueueFull += 1;
      if (!this.#full) {
        this.#full = true;
        this.#logger.warn('asynchronous invocation refused: the event queue is full', {
          functionName: fn.name,
          waiting,
          maxQueuedEvents: this.#maxQueuedEvents,
        });
      }
      throw new LambdaServiceException(
        'TooManyRequestsException',
        429,
        `Rate exceeded: ${waiting} asynchronous events are waiting, the local limit (maxQueuedEvents)`,
      );
    }
    this.#full = false;
    const requestId = newUuid();
    this.#queue.push({ fn, requestId, payload: json, acceptedAt: this.#clock.now(), attempts: 0 });
    this.#counters.accepted += 1;
    this.#schedulePump();
    return { StatusCode: 202, $metadata: { httpStatusCode: 202, requestId } };
  }

  get stats(): LocalLambdaStats {
    return {
      ...this.#counters,
      queued: this.#queue.length,
      waitingForRetry: this.#retrying.size,
      running: this.#running,
      runningSync: this.#runningSync,
    };
  }

  /**
   * The in-process transport for Lambda's Invoke API: pass it as `requestHandler` to the AWS SDK's `LambdaClient`,
   * and `InvokeCommand` reaches this `LocalLambda` (SPEC.md §8.7). The same handler every call.
   */
  requestHandler(): LambdaRequestHandler {
    this.#requestHandler ??= createLambdaRequestHandler(this.invokeTarget());
    return this.#requestHandler;
  }

  /** @internal What Lambda's transports call: the gateway's listener serves its HTTP requests with it. */
  invokeTarget(): InvokeTarget {
    return {
      invoke: (functionName, payload, options) => this.invoke(functionName, payload, options),
      clock: this.#clock,
      logger: this.#logger,
    };
  }

  /**
   * Resolves once nothing is queued, running (asynchronously or not), waiting for a retry or being delivered to a
   * destination. On a clock a test advances by hand, a pending retry waits until the test advances past it.
   */
  whenIdle(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Refuses new events and invocations (500 `ServiceException`), cancels the retries still waiting for their delay
   * (counted in `droppedAtClose`), and resolves once every queued event has run, every running attempt,
   * `RequestResponse` invocation and destination call has settled. An attempt that fails meanwhile is not retried (also counted), unless it was its last: that one
   * still goes to `onFailure`. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      for (const event of this.#retrying) {
        this.#clock.clearTimeout(event.retryTimer);
        this.#counters.droppedAtClose += 1;
      }
      this.#retrying.clear();
      await this.whenIdle();
      const dropped = this.#counters.droppedAtClose;
      if (dropped > 0) {
        this.#logger.warn(`${dropped} asynchronous events dropped at close, each after a failed attempt`, {
          dropped,
        });
      }
      this.#failureLog.flush();
    })();
    return this.#closed;
  }

  /** The checks every invocation type makes, in Lambda's order: closing, the function, the payload. */
  #admit(
    functionName: string,
    payload: unknown,
    qualifier: string | undefined,
    invocationType: InvocationType,
  ): { fn: RegisteredFunction; json: string } {
    if (this.#closing) {
      throw new LambdaServiceException('ServiceException', 500, 'The local Lambda service is closed');
    }
    const fn = this.#lookUp(functionName, qualifier);
    const limit = payloadLimitFor(invocationType);
    const json = serializePayload(payload, limit);
    const bytes = Buffer.byteLength(json);
    if (bytes > limit) {
      this.#counters.refusedTooLarge += 1;
      throw payloadTooLarge(bytes, invocationType);
    }
    return { fn, json };
  }

  /** Lambda runs a synchronous invocation at once and once: no queue, no retry, no destination. */
  async #invokeRequestResponse(
    functionName: string,
    payload: unknown,
    qualifier: string | undefined,
  ): Promise<RequestResponseResult> {
    const { fn, json } = this.#admit(functionName, payload, qualifier, 'RequestResponse');
    if (this.#runningSync >= this.#maxSyncConcurrency) {
      this.#counters.refusedSyncConcurrency += 1;
      throw new LambdaServiceException(
        'TooManyRequestsException',
        429,
        `Rate Exceeded: ${this.#runningSync} RequestResponse invocations are running, the local limit (maxSyncConcurrency)`,
      );
    }
    const requestId = newUuid();
    this.#runningSync += 1;
    this.#counters.syncInvocations += 1;
    try {
      const outcome = await this.#invoke(fn, json, requestId);
      const { payload: answer, failure } = requestResponsePayload(outcome, fn.timeoutMs, requestId);
      if (failure) {
        this.#counters.syncFunctionErrors += 1;
        this.#failureLog.report(`${fn.name} failed (synchronous invocation)`, failure.report, { requestId });
      }
      return {
        StatusCode: 200,
        ExecutedVersion: '$LATEST',
        ...(failure && { FunctionError: 'Unhandled' as const }),
        Payload: new Uint8Array(answer.buffer, answer.byteOffset, answer.length),
        $metadata: { httpStatusCode: 200, requestId },
      };
    } finally {
      this.#runningSync -= 1;
      this.#checkIdle();
    }
  }

  #arn(name: string): string {
    return `arn:aws:lambda:${this.#region}:${this.#accountId}:function:${name}`;
  }

  /** `qualifier` is `Invoke`'s `Qualifier` parameter; the name may carry one too. */
  #lookUp(reference: string, qualifier: string | undefined): RegisteredFunction {
    const [, region, accountId, name = '', nameQualifier] = FUNCTION_REFERENCE.exec(String(reference)) ?? [];
    if (qualifier !== undefined && nameQualifier !== undefined && qualifier !== nameQualifier) {
      throw new LambdaServiceException(
        'InvalidParameterValueException',
        400,
        'The derived qualifier from the function name does not match the specified qualifier.',
      );
    }
    const fn = this.#functions.get(name);
    const elsewhere =
      (region !== undefined && region !== this.#region) ||
      (accountId !== undefined && accountId !== this.#accountId);
    if (fn === undefined || elsewhere) {
      throw new LambdaServiceException(
        'ResourceNotFoundException',
        404,
        `Function not found: ${FUNCTION_NAME.test(name) && !elsewhere ? this.#arn(name) : String(reference)}`,
      );
    }
    const version = qualifier ?? nameQualifier;
    if (version !== undefined && version !== '$LATEST') {
      throw new LambdaServiceException(
        'ResourceNotFoundException',
        404,
        `Function not found: ${fn.arn}:${version} (versions and aliases are not emulated; use $LATEST)`,
      );
    }
    return fn;
  }

  /** Events start on a later turn of the event loop, so `invoke` always returns before its handler runs. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.#maxConcurrency) {
      const event = this.#queue.shift();
      if (event === undefined) break;
      if (this.#clock.now() - event.acceptedAt > event.fn.maxEventAgeMs)
        this.#giveUp(event, 'EventAgeExceeded');
      else this.#attempt(event);
    }
    this.#checkIdle();
  }

  #attempt(event: PendingEvent): void {
    const { fn, requestId } = event;
    this.#running += 1;
    event.attempts += 1;
    this.#counters.attempts += 1;
    this.#invoke(fn, event.payload, requestId)
      .then((outcome) => this.#settle(event, outcome))
      .catch((error: unknown) =>
        this.#logger.error('asynchronous invocation failed', { error: String(error) }),
      );
  }
  /** One run of `fn` with the JSON `payload`, as Lambda runs it: its context, its timeout. */
  #invoke(fn: RegisteredFunction, payload: string, requestId: string) {
    return invokeLambda(fn.handler, JSON.parse(payload), {
      routeKey: fn.name,
      region: this.#region,
      accountId: this.#accountId,
      timeoutMs: fn.timeoutMs,
      clock: this.#clock,
      requestId,
    });
  }

  #settle(event: PendingEvent, outcome: InvocationOutcome): void {
    const { fn, requestId } = event;
    this.#running -= 1;
    if (outcome.ok) {
      this.#counters.succeeded += 1;
      const { onSuccess } = fn;
      if (onSuccess) {
        const record = this.#record(event, 'Success', outcome.result === undefined ? null : outcome.result);
        this.#deliver(fn, 'onSuccess', () => onSuccess(record));
      }
    } else {
      const failure = functionFailureOf(outcome, fn.timeoutMs, requestId);
      event.lastFailure = failure;
      this.#failureLog.report(`${fn.name} failed (asynchronous invocation)`, failure.report, {
        requestId,
        attempt: event.attempts,
      });
      if (event.attempts > fn.maxRetryAttempts) this.#giveUp(event, 'RetriesExhausted');
      else if (this.#closing) this.#counters.droppedAtClose += 1;
      else this.#retryLater(event);
    }
    this.#pump();
  }

  #retryLater(event: PendingEvent): void {
    const delays = event.fn.retryDelaysMs;
    const delay = delays[event.attempts - 1] ?? delays[delays.length - 1] ?? 0;
    this.#counters.retries += 1;
    this.#retrying.add(event);
    event.retryTimer = this.#clock.setTimeout(() => {
      event.retryTimer = undefined;
      if (!this.#retrying.delete(event)) return;
      this.#queue.push(event);
      this.#schedulePump();
    }, delay);
  }

  /** Lambda discards the event; its on-failure destination gets the record. */
  #giveUp(event: PendingEvent, condition: AsyncFailureCondition): void {
    const { fn, requestId, lastFailure } = event;
    if (condition === 'RetriesExhausted') this.#counters.retriesExhausted += 1;
    else this.#counters.eventAgeExceeded += 1;
    const { onFailure } = fn;
    if (onFailure) {
      const record = this.#record(event, condition, lastFailure?.responsePayload);
      this.#deliver(fn, 'onFailure', () => onFailure(record, lastFailure?.error));
    } else {
      this.#failureLog.report(
        `${fn.name}: asynchronous event discarded`,
        { summary: condition },
        { requestId, approximateInvokeCount: event.attempts },
      );
    }
  }

  #record(
    event: PendingEvent,
    condition: AsyncInvocationRecord['requestContext']['condition'],
    responsePayload: unknown,
  ): AsyncInvocationRecord {
    const ran = event.attempts > 0;
    return {
      version: '1.0',
      timestamp: new Date(this.#clock.now()).toISOString(),
      requestContext: {
        requestId: event.requestId,
        functionArn: `${event.fn.arn}:$LATEST`,
        condition,
        approximateInvokeCount: event.attempts,
      },
      requestPayload: JSON.parse(event.payload),
      ...(ran && {
        responseContext: {
          statusCode: 200,
          executedVersion: '$LATEST',
          ...(condition !== 'Success' && { functionError: 'Unhandled' }),
        },
        responsePayload,
      }),
    };
  }

  #deliver(fn: RegisteredFunction, destination: 'onFailure' | 'onSuccess', call: () => unknown): void {
    this.#delivering += 1;
    Promise.resolve()
      .then(call)
      .catch((error: unknown) => {
        this.#counters.destinationFailures += 1;
        this.#failureLog.report(`${fn.name}: ${destination} destination failed`, describeError(error));
      })
      .finally(() => {
        this.#delivering -= 1;
        this.#checkIdle();
      });
  }

  #idle(): boolean {
    return (
      this.#queue.length === 0 &&
      this.#running === 0 &&
      this.#runningSync === 0 &&
      this.#retrying.size === 0 &&
      this.#delivering === 0
    );
  }

  #checkIdle(): void {
    if (!this.#idle()) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

/**
 * The payload as the JSON text Lambda would receive; a payload that is not JSON is Lambda's 400. Text over `limit`
 * is returned unparsed: the size is checked before the content, so a huge payload is refused without being parsed.
 */
function serializePayload(payload: unknown, limit: number): string {
  if (payload === undefined) return '{}';
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    const text =
      typeof payload === 'string'
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
    if (Buffer.byteLength(text) > limit) return text;
    try {
      JSON.parse(text);
    } catch (error) {
      throw invalidContent(error);
    }
    return text;
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    throw invalidContent(error);
  }
  if (json === undefined) throw invalidContent(new Error(`a ${typeof payload} is not JSON`));
  return json;
}

function invalidContent(error: unknown): LambdaServiceException {
  const why = error instanceof Error ? error.message : String(error);
  return new LambdaServiceException(
    'InvalidRequestContentException',
    400,
    `Could not parse request body into json: ${why}`,
  );
}

function resolveFunction(
  name: string,
  definition: LambdaHandler | FunctionDefinition,
  arn: string,
): RegisteredFunction {
  const config: Partial<FunctionDefinition> =
    typeof definition === 'function'
      ? { handler: definition }
      : typeof definition === 'object' && definition !== null
        ? definition
        : {};
  const where = `Function ${name}`;
  if (typeof config.handler !== 'function') throw new TypeError(`${where}: handler is not a function`);
  const timeoutMs = config.timeoutMs ?? LAMBDA_DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > LAMBDA_MAX_TIMEOUT_MS) {
    throw new RangeError(`${where}: timeoutMs must be more than 0 and at most ${LAMBDA_MAX_TIMEOUT_MS}`);
  }
  const maxRetryAttempts = config.maxRetryAttempts ?? ASYNC_MAX_RETRY_ATTEMPTS;
  if (
    !Number.isInteger(maxRetryAttempts) ||
    maxRetryAttempts < 0 ||
    maxRetryAttempts > ASYNC_MAX_RETRY_ATTEMPTS
  ) {
    throw new RangeError(`${where}: maxRetryAttempts must be 0, 1 or 2 (Lambda's MaximumRetryAttempts)`);
  }
  const retryDelaysMs = config.retryDelaysMs ?? ASYNC_RETRY_DELAYS_MS;
  if (
    !Array.isArray(retryDelaysMs) ||
    retryDelaysMs.length < maxRetryAttempts ||
    !retryDelaysMs.every((ms) => typeof ms === 'number' && ms >= 0 && ms <= MAX_TIMER_MS)
  ) {
    throw new RangeError(
      `${where}: retryDelaysMs must give a delay from 0 to ${MAX_TIMER_MS} ms for each of the ${maxRetryAttempts} retries`,
    );
  }
  const maxEventAgeSeconds = config.maxEventAgeSeconds ?? ASYNC_MAX_EVENT_AGE_SECONDS;
  if (!Number.isFinite(maxEventAgeSeconds) || maxEventAgeSeconds <= 0) {
    throw new RangeError(`${where}: maxEventAgeSeconds must be a positive number`);
  }
  if (maxEventAgeSeconds > ASYNC_MAX_EVENT_AGE_SECONDS) {
    throw new RangeError(
      `${where}: maxEventAgeSeconds must be at most ${ASYNC_MAX_EVENT_AGE_SECONDS} (6 hours)`,
    );
  }
  for (const destination of ['onFailure', 'onSuccess'] as const) {
    if (config[destination] !== undefined && typeof config[destination] !== 'function') {
      throw new TypeError(`${where}: ${destination} must be a function`);
    }
  }
  return {
    name,
    arn,
    handler: config.handler,
    timeoutMs,
    maxRetryAttempts,
    retryDelaysMs: [...retryDelaysMs],
    maxEventAgeMs: maxEventAgeSeconds * 1000,
    onFailure: config.onFailure,
    onSuccess: config.onSuccess,
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
