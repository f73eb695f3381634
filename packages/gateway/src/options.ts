/**
 * The public options of `createGateway`, their defaults (from constants.ts) and their validation: invalid options
 * throw when the gateway is created, not when a client first connects.
 */
import type http from 'node:http';
import type { Context } from 'aws-lambda';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_REGION,
  DEFAULT_ROUTE_SELECTION_EXPRESSION,
  DEFAULT_STAGE,
  IDLE_TIMEOUT_MS,
  INTEGRATION_TIMEOUT_MS,
  MAX_CONNECTION_MS,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_TIMER_MS,
  SEND_BUFFER_LIMIT_BYTES,
} from './constants.js';
import { newApiId } from './events.js';

// biome-ignore lint/suspicious/noExplicitAny: handlers declare their own event types (APIGatewayProxyWebsocketEventV2, …)
export type WebSocketLambda = (event: any, context: Context) => Promise<unknown> | unknown;

/** A route with options. `twoWay` sends the handler's returned `body` back to the caller (a `$default` route response). */
export interface RouteDefinition {
  handler: WebSocketLambda;
  twoWay?: boolean;
}

/** A Lambda REQUEST authorizer on `$connect` (the only kind WebSocket APIs allow). */
export interface AuthorizerConfig {
  handler: WebSocketLambda;
  /**
   * `route.request.header.<Name>`, `route.request.querystring.<name>`, `stageVariables.<name>` or `context.<name>`.
   * When one is missing or empty the handshake gets 401 and the authorizer is not invoked.
   */
  identitySources?: string[];
}

export interface GatewayLogger {
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
}

/** Token bucket for new connections (AWS: 500/s per account and region); a refused handshake gets 429. */
export interface ConnectionRateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size, the most handshakes accepted at once. Default `perSecond`. */
  burst?: number;
}

/**
 * One token bucket, as API Gateway's `ThrottlingRateLimit` and `ThrottlingBurstLimit` of a stage or route
 * (SPEC.md §7.7). The bucket starts full.
 */
export interface ThrottleSettings {
  /** Tokens (messages) added per second; 0 never refills. */
  rateLimit: number;
  /** The bucket's size, the most messages that pass at once: an integer; 0 lets nothing through. */
  burstLimit: number;
}

/**
 * A stage's throttling of messages (SPEC.md §7.7), as its `DefaultRouteSettings` and `RouteSettings` on AWS. Every
 * throttled message route has one bucket that all connections draw on; a frame that finds it empty is not invoked
 * and gets `{"message": "Too Many Requests", …}`. `rateLimit` and `burstLimit` (both or neither) are the stage
 * default: each message route (`$default` included) without its own entry in `routes` gets a bucket of that size.
 * `$connect` is limited by `connectionRateLimit` instead.
 */
export interface StageThrottling extends Partial<ThrottleSettings> {
  /** Route key → that route's own bucket, in place of the stage default. Keys must be message routes of the API. */
  routes?: Record<string, ThrottleSettings>;
}

/**
 * The time a gateway reads and the timers it sets: the idle timeout, the maximum connection age, the integration
 * timeout, the token buckets of the new-connection rate and of message throttling, and every timestamp
 * (`connectedAt`, `requestTime`, `requestTimeEpoch`, the trace id, GetConnection's `lastActiveAt`, the Lambda
 * context's remaining time). A test passes a clock it advances by hand, to see a 10-minute idle timeout without
 * waiting 10 minutes. `ws`'s own wait for a client's close frame keeps real time.
 */
export interface GatewayClock {
  /** Epoch milliseconds, like `Date.now()`. */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from `now()`, like the global `setTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer `setTimeout` returned; a timer that already ran or was cancelled is ignored. */
  clearTimeout(timer: unknown): void;
}

// Asynchronous invocation (SPEC.md §8.6); the queue itself is in async-invoke.ts ----------------------------

/** What Lambda runs: `(event, context) => result`, in any Node.js handler style (SPEC.md §8.1). */
export type LambdaHandler = WebSocketLambda;

/**
 * A function's settings for asynchronous invocation: its timeout, and what Lambda's `PutFunctionEventInvokeConfig`
 * sets (`MaximumRetryAttempts`, `MaximumEventAgeInSeconds`, `DestinationConfig`). The retry delays are Lambda's
 * fixed ones by default; tests shorten them (or use a clock they advance by hand).
 */
export interface AsyncInvokeConfig {
  /**
   * The function timeout: an asynchronous attempt still running after it has failed, and is retried; a
   * `RequestResponse` invocation answers `Sandbox.Timedout`. @default 3_000
   */
  timeoutMs?: number;
  /** `MaximumRetryAttempts`: retries after a function error, an integer from 0 to 2. @default 2 */
  maxRetryAttempts?: number;
  /**
   * The wait before each retry, counted from the failed attempt's end: `[before the 1st, before the 2nd]`. At least
   * `maxRetryAttempts` entries. @default [60_000, 120_000] (Lambda's one minute, then two)
   */
  retryDelaysMs?: readonly number[];
  /**
   * `MaximumEventAgeInSeconds`: an event older than this when its turn (or its retry) comes is not run; it goes to
   * `onFailure` with `EventAgeExceeded`. Up to 21 600; AWS's minimum of 60 is not enforced, for tests.
   * @default 21_600 (6 hours)
   */
  maxEventAgeSeconds?: number;
  /**
   * The on-failure destination: called once per event Lambda gives up on (`RetriesExhausted` or
   * `EventAgeExceeded`), with the invocation record and the last attempt's error (`undefined` when the event
   * expired before any attempt). Its own failure is logged and counted, never retried.
   */
  onFailure?: (record: AsyncInvocationRecord, error: unknown) => unknown;
  /** The on-success destination: called with the record (condition `Success`) of each event that succeeded. */
  onSuccess?: (record: AsyncInvocationRecord) => unknown;
}

/** A function with settings: `{ handler, timeoutMs?, maxRetryAttempts?, … }`. */
export interface FunctionDefinition extends AsyncInvokeConfig {
  handler: LambdaHandler;
}

/** Why Lambda gave up on an event. */
export type AsyncFailureCondition = 'RetriesExhausted' | 'EventAgeExceeded';

/**
 * Lambda's invocation record, as its destinations receive it. `responseContext` and `responsePayload` are absent
 * when the function never ran (an event that expired in the queue).
 */
export interface AsyncInvocationRecord {
  version: '1.0';
  /** ISO 8601, on the clock, when the record was made. */
  timestamp: string;
  requestContext: {
    /** The invocation's request id, as `invoke` returned it and every attempt's `context.awsRequestId`. */
    requestId: string;
    /** `arn:aws:lambda:{region}:{accountId}:function:{name}:$LATEST` */
    functionArn: string;
    condition: 'Success' | AsyncFailureCondition;
    /** Attempts made: 1 + retries; 0 when the event expired before its first attempt. */
    approximateInvokeCount: number;
  };
  /** The event, as the function received it. */
  requestPayload: unknown;
  responseContext?: { statusCode: 200; executedVersion: '$LATEST'; functionError?: 'Unhandled' };
  /** The result of a success; after a failure, the Node.js runtime's error document `{ errorType, errorMessage, trace }`. */
  responsePayload?: unknown;
}

/** The emulator's bounds on asynchronous invocation, shared by every function. */
export interface AsyncInvocationLimits {
  /** Attempts running at once, all functions together; later events wait in the queue. @default 32 */
  maxConcurrency?: number;
  /**
   * Events waiting (for a free slot, or for their retry) before `invoke` refuses more with 429
   * `TooManyRequestsException`. @default 1_000
   */
  maxQueuedEvents?: number;
}

/** A key pair whose SigV4 signatures the management API accepts. */
export interface ManagementCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * Who may call the @connections API over HTTP (SPEC.md §5.7): `{ credentials }` accepts only requests signed with
 * SigV4 by one of these key pairs, as AWS accepts only requests signed by an IAM principal; `'none'` accepts every
 * request, for tools that cannot sign.
 */
export type ManagementAuth = { credentials: readonly ManagementCredentials[] } | 'none';

/** Real time: `Date.now()` and Node's timers. */
export const SYSTEM_CLOCK: GatewayClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface GatewayOptions {
  /** Route key → handler (or `{ handler, twoWay }`); may include `$connect`, `$disconnect` and `$default`. */
  routes: Record<string, WebSocketLambda | RouteDefinition>;
  /** Lambda REQUEST authorizer run before `$connect`. */
  authorizer?: AuthorizerConfig;
  /** The URL path and `requestContext.stage`. @default 'dev' */
  stage?: string;
  /**
   * `event.stageVariables` on every event; without it events carry no `stageVariables` key (the authorizer event
   * gets `{}`). @default none
   */
  stageVariables?: Record<string, string>;
  /** @default '$request.body.action' */
  routeSelectionExpression?: string;
  /** @default 10 random lowercase alphanumerics */
  apiId?: string;
  /** @default 'us-east-1' */
  region?: string;
  /** Used in the authorizer's `methodArn` and the Lambda context's ARN. @default '000000000000' */
  accountId?: string;
  /**
   * No data frame in either direction for this long: close 1001 `Going away`, then `$disconnect`.
   * @default 600_000 (10 minutes)
   */
  idleTimeoutMs?: number;
  /**
   * The connection's age limit: close 1001 `Going away`, then `$disconnect`.
   * @default 7_200_000 (2 hours)
   */
  maxConnectionMs?: number;
  /** A longer client message closes the connection with 1009. @default 131_072 (128 KB) */
  maxMessageBytes?: number;
  /** A longer client frame closes the connection with 1009. @default 32_768 (32 KB) */
  maxFrameBytes?: number;
  /** A handler or authorizer still running after this counts as failed. @default 29_000 */
  integrationTimeoutMs?: number;
  /** @default none (unlimited) */
  connectionRateLimit?: ConnectionRateLimit;
  /**
   * Stage and route throttling of messages: `{ rateLimit?, burstLimit?, routes? }`, one token bucket per message
   * route shared by every connection (SPEC.md §7.7). @default none (no message is throttled)
   */
  throttling?: StageThrottling;
  /**
   * While this many bytes wait to be sent to a client, PostToConnection gets 429 and the gateway drops its own
   * frames to that client (error frames, two-way route responses). @default 1_048_576
   */
  sendBufferLimitBytes?: number;
  /**
   * `{ credentials: [{ accessKeyId, secretAccessKey }] }`: every @connections request over HTTP must carry a valid
   * SigV4 signature by one of these key pairs (service `execute-api`, the gateway's region, at most 5 minutes from
   * the gateway's clock), else 403 as on AWS; so must every request to Lambda's API over HTTP (service `lambda`,
   * SPEC.md §8.9). `'none'` checks nothing. The in-process `managementRequestHandler()` and
   * `functions.requestHandler()` are never checked: only code in the gateway's own process reaches them. The command
   * turns verification on. @default 'none' (no signatures checked, as in earlier versions)
   */
  managementAuth?: ManagementAuth;
  /**
   * Functions invoked as through Lambda's Invoke API (SPEC.md §8.6–§8.9): by code in the process through
   * `gateway.functions.invoke(name, payload, { invocationType? })`, or by other processes' `LambdaClient` at the
   * listener's `lambdaEndpoint`. Name → handler, or `{ handler, timeoutMs?, maxRetryAttempts?, retryDelaysMs?,
   * maxEventAgeSeconds?, onFailure?, onSuccess? }`. More can be added later with `gateway.functions.register`.
   * @default none
   */
  functions?: Record<string, LambdaHandler | FunctionDefinition>;
  /**
   * The emulator's bounds on asynchronous invocation: `{ maxConcurrency?, maxQueuedEvents? }`.
   * @default { maxConcurrency: 32, maxQueuedEvents: 1_000 }
   */
  asyncInvocation?: AsyncInvocationLimits;
  /** Serves HTTP paths the gateway does not own (e.g. a demo page); resolve `true` when handled. */
  httpHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
  /** @default info and warn are dropped, errors go to stderr */
  logger?: GatewayLogger;
  /**
   * The source of time of every timer and timestamp of the gateway; tests pass one they advance by hand.
   * @default real time: `Date.now()`, `setTimeout`, `clearTimeout`
   */
  clock?: GatewayClock;
}

/** An identity source, parsed (SPEC.md §3.5); authorizer.ts checks it against each handshake. */
export type IdentitySource =
  | { from: 'header'; name: string; expression: string }
  | { from: 'querystring'; name: string; expression: string }
  | { from: 'stageVariables'; name: string; expression: string }
  | { from: 'context'; path: string[]; expression: string };

interface ResolvedAuthorizer {
  handler: WebSocketLambda;
  identitySources: IdentitySource[];
}

interface ResolvedRoute {
  handler: WebSocketLambda;
  twoWay: boolean;
}

export interface ResolvedOptions {
  routes: ReadonlyMap<string, ResolvedRoute>;
  authorizer: ResolvedAuthorizer | undefined;
  stage: string;
  stageVariables: Readonly<Record<string, string>> | undefined;
  routeSelectionExpression: string;
  apiId: string;
  region: string;
  accountId: string;
  idleTimeoutMs: number;
  maxConnectionMs: number;
  maxMessageBytes: number;
  maxFrameBytes: number;
  integrationTimeoutMs: number;
  connectionRateLimit: Required<ConnectionRateLimit> | undefined;
  /** Message route key → its bucket (its own setting, else the stage default); routes not in it are not throttled. */
  routeThrottles: ReadonlyMap<string, ThrottleSettings>;
  sendBufferLimitBytes: number;
  /** Access key id → secret access key; undefined when management requests are not verified. */
  managementCredentials: ReadonlyMap<string, string> | undefined;
  httpHandler: GatewayOptions['httpHandler'];
  logger: GatewayLogger;
  clock: GatewayClock;
}

const SPECIAL_ROUTES = new Set(['$connect', '$disconnect', '$default']);
/** The routes that are not messages: they are never throttled by `throttling`. */
const CONNECTION_ROUTES = new Set(['$connect', '$disconnect']);

/** The default logger: errors to stderr, the rest dropped. */
export const STDERR_LOGGER: GatewayLogger = {
  info() {},
  warn() {},
  error(msg, extra) {
    console.error(`[gateway] ${msg}`, extra ?? '');
  },
};

export function resolveOptions(options: GatewayOptions): ResolvedOptions {
  const stage = options.stage ?? DEFAULT_STAGE;
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(stage)) throw new Error(`Invalid stage name: ${stage}`);
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!/^\d{12}$/.test(accountId)) throw new Error(`Invalid account id: ${accountId}`);
  const routes = resolveRoutes(options.routes);
  return {
    routes,
    authorizer: resolveAuthorizer(options.authorizer),
    stage,
    stageVariables: resolveStageVariables(options.stageVariables),
    routeSelectionExpression: options.routeSelectionExpression ?? DEFAULT_ROUTE_SELECTION_EXPRESSION,
    apiId: options.apiId ?? newApiId(),
    region: options.region ?? DEFAULT_REGION,
    accountId,
    idleTimeoutMs: timer('idleTimeoutMs', options.idleTimeoutMs, IDLE_TIMEOUT_MS),
    maxConnectionMs: timer('maxConnectionMs', options.maxConnectionMs, MAX_CONNECTION_MS),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, MAX_MESSAGE_BYTES),
    maxFrameBytes: positive('maxFrameBytes', options.maxFrameBytes, MAX_FRAME_BYTES),
    integrationTimeoutMs: timer('integrationTimeoutMs', options.integrationTimeoutMs, INTEGRATION_TIMEOUT_MS),
    connectionRateLimit: resolveRateLimit(options.connectionRateLimit),
    routeThrottles: resolveThrottling(options.throttling, routes),
    sendBufferLimitBytes: positive(
      'sendBufferLimitBytes',
      options.sendBufferLimitBytes,
      SEND_BUFFER_LIMIT_BYTES,
    ),
    managementCredentials: resolveManagementAuth(options.managementAuth),
    httpHandler: options.httpHandler,
    logger: options.logger ?? STDERR_LOGGER,
    clock: resolveClock(options.clock),
  };
}

function resolveRoutes(routes: GatewayOptions['routes']): Map<string, ResolvedRoute> {
  const resolved = new Map<string, ResolvedRoute>();
  for (const [key, route] of Object.entries(routes)) {
    const { handler, twoWay } = typeof route === 'function' ? { handler: route, twoWay: false } : route;
    if (typeof handler !== 'function') throw new TypeError(`Route ${key}: handler is not a function`);
    // API Gateway refuses to create custom route keys starting with `$`.
    if (key.startsWith('$') && !SPECIAL_ROUTES.has(key)) throw new Error(`Invalid route key: ${key}`);
    if (key === '') throw new Error('Route keys must not be empty');
    resolved.set(key, { handler, twoWay: twoWay === true });
  }
  return resolved;
}

function resolveAuthorizer(config: AuthorizerConfig | undefined): ResolvedAuthorizer | undefined {
  if (config === undefined) return undefined;
  if (typeof config.handler !== 'function') throw new TypeError('authorizer.handler is not a function');
  return { handler: config.handler, identitySources: parseIdentitySources(config.identitySources ?? []) };
}

const IDENTITY_SOURCE = /^(route\.request\.header|route\.request\.querystring|stageVariables|context)\.(.+)$/;

/** Identity sources in WebSocket syntax (SPEC.md §3.5); any other syntax throws. Header names match ignoring case. */
export function parseIdentitySources(expressions: readonly string[]): IdentitySource[] {
  return expressions.map((expression) => {
    const [, kind, name] = IDENTITY_SOURCE.exec(expression) ?? [];
    if (kind === undefined || name === undefined) throw new Error(`Invalid identity source: ${expression}`);
    switch (kind) {
      case 'route.request.header':
        return { from: 'header', name: name.toLowerCase(), expression };
      case 'route.request.querystring':
        return { from: 'querystring', name, expression };
      case 'stageVariables':
        return { from: 'stageVariables', name, expression };
      default:
        return { from: 'context', path: name.split('.'), expression };
    }
  });
}

function resolveStageVariables(variables: Record<string, string> | undefined) {
  if (variables === undefined || Object.keys(variables).length === 0) return undefined;
  for (const [name, value] of Object.entries(variables)) {
    if (!/^[A-Za-z0-9_]+$/.test(name) || typeof value !== 'string') {
      throw new Error(`Invalid stage variable: ${name}`);
    }
  }
  return Object.freeze({ ...variables });
}

function resolveRateLimit(limit: ConnectionRateLimit | undefined): Required<ConnectionRateLimit> | undefined {
  if (limit === undefined) return undefined;
  const perSecond = positive('connectionRateLimit.perSecond', limit.perSecond ?? Number.NaN, 0);
  return { perSecond, burst: positive('connectionRateLimit.burst', limit.burst, Math.max(1, perSecond)) };
}

/**
 * The bucket of each throttled message route (SPEC.md §7.7): a route's own setting replaces the stage default, which
 * applies to every other message route. `$connect` and `$disconnect` are never throttled here.
 */
function resolveThrottling(
  throttling: StageThrottling | undefined,
  routes: ReadonlyMap<string, ResolvedRoute>,
): Map<string, ThrottleSettings> {
  const buckets = new Map<string, ThrottleSettings>();
  if (throttling === undefined) return buckets;
  if (typeof throttling !== 'object' || throttling === null) {
    throw new TypeError('throttling must be { rateLimit?, burstLimit?, routes? }');
  }
  const { rateLimit, burstLimit, routes: routeSettings = {} } = throttling;
  if ((rateLimit === undefined) !== (burstLimit === undefined)) {
    throw new TypeError('throttling: set both rateLimit and burstLimit (the stage default), or neither');
  }
  if (typeof routeSettings !== 'object' || routeSettings === null) {
    throw new TypeError('throttling.routes must map route keys to { rateLimit, burstLimit }');
  }
  for (const [routeKey, settings] of Object.entries(routeSettings)) {
    const name = `throttling.routes.${routeKey}`;
    if (CONNECTION_ROUTES.has(routeKey)) {
      throw new TypeError(
        `${name}: only message routes are throttled; limit new connections with connectionRateLimit`,
      );
    }
    if (!routes.has(routeKey)) throw new TypeError(`${name}: ${routeKey} is not a route of this API`);
    buckets.set(routeKey, throttleSettings(name, settings));
  }
  if (rateLimit !== undefined) {
    const stageDefault = throttleSettings('throttling', { rateLimit, burstLimit });
    for (const routeKey of routes.keys()) {
      if (!CONNECTION_ROUTES.has(routeKey) && !buckets.has(routeKey)) buckets.set(routeKey, stageDefault);
    }
  }
  return buckets;
}

/** AWS's types: `ThrottlingRateLimit` is a number (a double), `ThrottlingBurstLimit` an integer; 0 is allowed. */
function throttleSettings(name: string, settings: unknown): ThrottleSettings {
  const { rateLimit, burstLimit } = (typeof settings === 'object' && settings !== null ? settings : {}) as {
    rateLimit?: unknown;
    burstLimit?: unknown;
  };
  if (typeof rateLimit !== 'number' || !Number.isFinite(rateLimit) || rateLimit < 0) {
    throw new TypeError(
      `${name}.rateLimit must be a number ≥ 0 (messages per second), got ${String(rateLimit)}`,
    );
  }
  if (typeof burstLimit !== 'number' || !Number.isInteger(burstLimit) || burstLimit < 0) {
    throw new TypeError(`${name}.burstLimit must be an integer ≥ 0, got ${String(burstLimit)}`);
  }
  return { rateLimit, burstLimit };
}

function resolveManagementAuth(auth: ManagementAuth | undefined): Map<string, string> | undefined {
  if (auth === undefined || auth === 'none') return undefined;
  const credentials = typeof auth === 'object' && auth !== null ? auth.credentials : undefined;
  if (!Array.isArray(credentials) || credentials.length === 0) {
    throw new TypeError(
      "managementAuth must be 'none' or { credentials: [{ accessKeyId, secretAccessKey }, …] }",
    );
  }
  const secrets = new Map<string, string>();
  for (const pair of credentials as unknown[]) {
    const { accessKeyId, secretAccessKey } = (pair ?? {}) as Partial<ManagementCredentials>;
    // A slash would end the access key id early in the credential scope (`AKID/date/region/service/aws4_request`).
    if (typeof accessKeyId !== 'string' || !/^[^/\s,]+$/.test(accessKeyId)) {
      throw new TypeError(
        'managementAuth.credentials: accessKeyId must be a non-empty string without / or spaces',
      );
    }
    if (typeof secretAccessKey !== 'string' || secretAccessKey === '') {
      throw new TypeError(`managementAuth.credentials: ${accessKeyId} needs a non-empty secretAccessKey`);
    }
    const known = secrets.get(accessKeyId);
    if (known !== undefined && known !== secretAccessKey) {
      throw new Error(`managementAuth.credentials: two different secrets for ${accessKeyId}`);
    }
    secrets.set(accessKeyId, secretAccessKey);
  }
  return secrets;
}

function resolveClock(clock: GatewayClock | undefined): GatewayClock {
  if (clock === undefined) return SYSTEM_CLOCK;
  for (const method of ['now', 'setTimeout', 'clearTimeout'] as const) {
    if (typeof clock[method] !== 'function') throw new TypeError(`clock.${method} is not a function`);
  }
  return clock;
}

function timer(name: string, value: number | undefined, fallback: number): number {
  const ms = positive(name, value, fallback);
  if (ms > MAX_TIMER_MS) throw new RangeError(`${name} must be at most ${MAX_TIMER_MS} ms`);
  return ms;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number`);
  return value;
}
