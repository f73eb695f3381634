import { Logger } from '@aws-lambda-powertools/logger';
import {
  DeleteConnectionCommand,
  GoneException,
  LimitExceededException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { monotonicFactory } from 'ulid';
import { createTokenVerifier, type TokenVerifier } from './auth.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { managementClientFor, managementEndpoint, postOne } from './delivery.ts';
import { type FanOutDeps, lambdaInvoker } from './fan-out.ts';
import { FrameLimiter } from './frame-limiter.ts';
import {
  httpResult,
  invocationLog,
  type Log,
  LogBudget,
  type WebSocketEvent,
  type WebSocketHandler,
} from './invocation.ts';
import { createMetrics, METRIC } from './metrics.ts';
import {
  type ClientAction,
  type ClientFrame,
  type Correlation,
  correlationOf,
  type ErrorCode,
  errorFrame,
  parseClientFrame,
  type ServerFrame,
} from './protocol.ts';
import { LARGE_ROOM_MEMORY_MS, LargeRooms, PresenceBudget } from './rooms.ts';
import { type ConnectionRecord, ConnectionStore, roomsOf } from './store/connections.ts';
import { MessageStore } from './store/messages.ts';
import { RevocationStore } from './store/revocations.ts';
import { createDocumentClient } from './store/tables.ts';

/**
 * What every route does around its own logic: the dependencies built once per cold start (`createDeps`,
 * `lambdaEntry`), the invocation wrapper that logs with the invocation's keys and publishes its metrics
 * (`instrumented`), the contract of a client action's route (`messageRoute`: parse, run, answer failures with error
 * codes), the caller's record, and replies to the caller. The files in handlers/ are the Lambda entry points only.
 */

// ---------------------------------------------------------------------------------------------------------------
// Dependencies, once per cold start
// ---------------------------------------------------------------------------------------------------------------

/** Everything a handler uses from the outside world, built once per cold start and injectable by tests. */
export interface HandlerDeps extends FanOutDeps {
  config: Config;
  messages: MessageStore;
  /** Revoked users and tokens, which `$connect` checks and `roomcast revoke` writes. */
  revocations: RevocationStore;
  logger: Logger;
  /** Bounds the log lines a client can provoke at will (refused frames, replies it does not read). */
  logBudget: LogBudget;
  /** What each connection may send, counted in this container's memory. */
  frameLimiter: FrameLimiter;
  /** Present only when JWT_SECRET or JWT_JWKS_URL is configured. */
  verifyToken?: TokenVerifier;
  newMessageId(): string;
}

/**
 * The handlers' dependencies for `config`. On Lambda the AWS clients take their credentials from the environment
 * (the role's); the local stack passes `credentials` (for the store) and `managementCredentials` instead of putting
 * any in `process.env`.
 */
export function createDeps(
  config: Config,
  overrides: Partial<HandlerDeps> = {},
  {
    credentials,
    managementCredentials = credentials,
  }: { credentials?: AwsCredentialIdentity; managementCredentials?: AwsCredentialIdentity } = {},
): HandlerDeps {
  const doc = createDocumentClient({
    region: config.region,
    ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }),
    ...(credentials && { credentials }),
  });
  const now = overrides.now ?? (() => new Date());
  return {
    config,
    connections: new ConnectionStore(doc, {
      tableName: config.tables.connections,
      subscriptionsTableName: config.tables.subscriptions,
      ttlSeconds: config.connectionTtlSeconds,
      now: () => now().getTime(),
    }),
    messages: new MessageStore(doc, {
      tableName: config.tables.messages,
      retentionSeconds: config.messageRetentionSeconds,
      now: () => now().getTime(),
    }),
    logger: new Logger({ serviceName: config.serviceName, logLevel: config.logLevel }),
    logBudget: new LogBudget({ now: () => now().getTime() }),
    frameLimiter: new FrameLimiter(config.frameLimits, { now: () => now().getTime() }),
    metrics: createMetrics(config),
    revocations: new RevocationStore(doc, {
      tableName: config.tables.revocations,
      keepSeconds: config.tokenMaxLifetimeSeconds,
      now: () => now().getTime(),
    }),
    ...(config.auth && {
      verifyToken: createTokenVerifier(config.auth, { maxLifetimeSeconds: config.tokenMaxLifetimeSeconds }),
    }),
    ...(config.fanOutTier && {
      workerInvoker: lambdaInvoker({
        region: config.region,
        ...(managementCredentials && { credentials: managementCredentials }),
      }),
    }),
    managementClient: (endpoint) =>
      managementClientFor(endpoint, {
        region: config.region,
        ...(managementCredentials && { credentials: managementCredentials }),
      }),
    now,
    newMessageId: monotonicFactory(),
    largeRooms: new LargeRooms({ ttlMs: LARGE_ROOM_MEMORY_MS, now: () => now().getTime() }),
    presenceBudget: new PresenceBudget({ now: () => now().getTime() }),
    ...overrides,
  };
}

export function requireVerifier(deps: HandlerDeps): TokenVerifier {
  if (!deps.verifyToken) throw new ConfigError('set JWT_SECRET or JWT_JWKS_URL for the $connect function');
  return deps.verifyToken;
}

/**
 * Wraps a handler factory as a Lambda entry point: config and clients are built on the first invocation of a
 * cold start (so importing the module never fails or does I/O) and reused after.
 */
export function lambdaEntry<E = WebSocketEvent, R = APIGatewayProxyResultV2>(
  create: (deps: HandlerDeps) => (event: E, context: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  let handler: ((event: E, context: Context) => Promise<R>) | undefined;
  return (event, context) => {
    handler ??= create(createDeps(loadConfig(process.env)));
    return handler(event, context);
  };
}

/**
 * Runs one invocation with a logger carrying its connection, request and Lambda request ids, and publishes the
 * metrics it recorded when it ends, whatever the outcome.
 */
export function instrumented(
  deps: HandlerDeps,
  body: (event: WebSocketEvent, log: Log) => Promise<APIGatewayProxyResultV2>,
): WebSocketHandler {
  return async (event, context) => {
    const { connectionId, requestId, routeKey } = event.requestContext;
    const log = invocationLog(deps.logger, {
      route: routeKey,
      connection_id: connectionId,
      request_id: requestId,
      aws_request_id: context.awsRequestId,
    });
    try {
      return await body(event, log);
    } finally {
      deps.metrics.flush(log);
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Client actions: parse, run, answer
// ---------------------------------------------------------------------------------------------------------------

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
    if (!(await admitted(deps, event, log))) return httpResult(200);
    const parsed = parseClientFrame(event.body, { maxMessageChars: deps.config.maxMessageChars });
    const correlation = parsed.ok ? correlationOf(parsed.frame) : parsed.correlation;
    const fail = (code: ErrorCode, message: string) =>
      replyError(deps, event, code, message, log, correlation);
    if (!parsed.ok) {
      refused(deps, log, parsed.code, parsed.message);
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
      await fail('INTERNAL', 'internal error');
      return httpResult(500);
    }
    return httpResult(200);
  });
}

/**
 * The calling connection's record: its user as `$connect` verified it, and the rooms it holds. Without one
 * (expired, or pruned) the caller gets FORBIDDEN and undefined comes back.
 */
export async function callerRecord(
  deps: HandlerDeps,
  { event, log, fail }: MessageContext,
): Promise<ConnectionRecord | undefined> {
  const record = await deps.connections.get(event.requestContext.connectionId);
  if (!record) {
    log.warn('frame from an unregistered connection');
    await fail('FORBIDDEN', 'connection is not registered; reconnect');
    return undefined;
  }
  return (await closedForExpiredToken(deps, { event, log, fail }, record)) ? undefined : record;
}

/**
 * A connection lives no longer than its token: its first frame after the token's `exp` is answered
 * TOKEN_EXPIRED and the connection is closed (the SDK replaces its connection with a fresh token before that).
 * So a token's lifetime bounds what a leaked token can do, revoked or not. Records written before tokens were
 * kept on them have no `token_expires_at`, and are let be.
 */
export async function closedForExpiredToken(
  deps: HandlerDeps,
  { event, log, fail }: Pick<MessageContext, 'event' | 'log' | 'fail'>,
  record: ConnectionRecord,
): Promise<boolean> {
  const expiresAt = record.token_expires_at;
  if (expiresAt === undefined || expiresAt * 1000 > deps.now().getTime()) return false;
  log.info('connection closed: its token expired', { user_id: record.user_id });
  deps.metrics.count(METRIC.connectionsClosedTokenExpired);
  await fail('TOKEN_EXPIRED', 'the token of this connection has expired; connect again with a fresh one');
  await deps
    .managementClient(managementEndpoint(deps.config, event))
    .send(new DeleteConnectionCommand({ ConnectionId: event.requestContext.connectionId }))
    .catch((error: unknown) => {
      if (!(error instanceof GoneException))
        log.warn('expired connection not closed', { error: String(error) });
    });
  return true;
}

/**
 * The caller's record and the room a room frame acts on: `roomId` when the connection holds it (FORBIDDEN
 * otherwise: a connection acts only on rooms it subscribed to, each checked against its token then), or, when the
 * frame names none, the one room the connection holds (BAD_REQUEST when it holds none or several).
 */
export async function callerRoom(
  deps: HandlerDeps,
  ctx: MessageContext,
  roomId: string | undefined,
): Promise<{ caller: ConnectionRecord; roomId: string } | undefined> {
  const caller = await callerRecord(deps, ctx);
  if (!caller) return undefined;
  const rooms = roomsOf(caller);
  if (roomId === undefined) {
    if (rooms.size === 1) return { caller, roomId: [...rooms][0] as string };
    const held = rooms.size === 0 ? 'holds no room' : `holds ${rooms.size} rooms`;
    await ctx.fail('BAD_REQUEST', `room_id is required: this connection ${held}`);
    return undefined;
  }
  if (!rooms.has(roomId)) {
    ctx.log.info('frame for a room not held', { room_id: roomId });
    await ctx.fail('FORBIDDEN', 'not subscribed to that room');
    return undefined;
  }
  return { caller, roomId };
}

/**
 * Whether the connection may send this frame now (src/frame-limiter.ts); runs before anything else, so a refused
 * frame costs no parsing beyond its ids and no database call. The first refusals of a minute are answered with
 * RATE_LIMITED and `retry_after_ms`, later ones dropped; sustained abuse closes the connection.
 */
export async function admitted(deps: HandlerDeps, event: WebSocketEvent, log: Log): Promise<boolean> {
  const { connectionId } = event.requestContext;
  const bytes = Buffer.byteLength(event.body ?? '');
  const verdict = deps.frameLimiter.check(connectionId, bytes);
  if (verdict === 'admit') return true;
  deps.metrics.count(METRIC.framesRateLimited);
  if (verdict === 'refuse') {
    const retryAfterMs = deps.frameLimiter.retryAfterMs(connectionId, bytes);
    const frame = {
      ...errorFrame('RATE_LIMITED', 'too many frames; slow down', event.requestContext.requestId),
      ...correlationOfText(event.body),
      retry_after_ms: retryAfterMs,
    };
    logWithinBudget(deps, log, 'warn', 'frame rate-limited');
    await reply(deps, event, frame, log).catch((error: unknown) =>
      logWithinBudget(deps, log, 'warn', 'error frame not sent', {
        code: 'RATE_LIMITED',
        error: String(error),
      }),
    );
  } else if (verdict === 'close') {
    logWithinBudget(deps, log, 'warn', 'connection closed: sustained rate-limit abuse');
    deps.metrics.count(METRIC.connectionsClosedForAbuse);
    await deps
      .managementClient(managementEndpoint(deps.config, event))
      .send(new DeleteConnectionCommand({ ConnectionId: connectionId }))
      .catch((error: unknown) => {
        if (!(error instanceof GoneException))
          logWithinBudget(deps, log, 'warn', 'abusive connection not closed', { error: String(error) });
      });
  }
  return false;
}

/** The `client_msg_id` and `ref` of a frame's text, if it is a JSON object carrying valid ones. */
function correlationOfText(body: string | undefined): Correlation {
  try {
    const json: unknown = JSON.parse(body ?? '');
    return typeof json === 'object' && json !== null ? correlationOf(json as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Counts and logs (within the log budget) a frame refused before any route logic ran. */
export function refused(deps: HandlerDeps, log: Log, code: ErrorCode, detail: string): void {
  deps.metrics.count(METRIC.framesRejected);
  logWithinBudget(deps, log, 'info', 'frame refused', { code, detail });
}

/**
 * Writes `message` unless this container has written too many lines of its kind lately (see LogBudget); the
 * line says how many were left out since the last one.
 */
function logWithinBudget(
  deps: Pick<HandlerDeps, 'logBudget'>,
  log: Log,
  level: keyof Log,
  message: string,
  attributes: Record<string, unknown> = {},
): void {
  const grant = deps.logBudget.take(`${level} ${message}`);
  if (grant)
    log[level](message, { ...attributes, ...(grant.suppressed > 0 && { suppressed: grant.suppressed }) });
}

/**
 * Sends one frame to the connection that sent `event`; true when API Gateway took it. A caller that has left is
 * not an error, nor one whose buffer stays full through the retries (429 `LimitExceededException`: it is not
 * reading, or the account is throttled): the frame is dropped and counted, and a request it answered times out
 * in the client, which asks again. Other failures throw.
 */
export async function reply(
  deps: HandlerDeps,
  event: WebSocketEvent,
  frame: ServerFrame,
  log: Log,
): Promise<boolean> {
  try {
    await postOne(
      deps.managementClient(managementEndpoint(deps.config, event)),
      event.requestContext.connectionId,
      JSON.stringify(frame),
    );
    return true;
  } catch (error) {
    if (error instanceof GoneException) {
      log.info('caller left before the reply', { frame_action: frame.action });
      return false;
    }
    if (error instanceof LimitExceededException) {
      deps.metrics.count(METRIC.repliesDropped);
      logWithinBudget(deps, log, 'warn', 'reply dropped: the caller is not reading', {
        frame_action: frame.action,
      });
      return false;
    }
    throw error;
  }
}

/**
 * Sends an `error` frame with a stable code; the request id lets support find the detailed log line. Best effort:
 * it never throws, so a refusal the caller cannot receive never becomes a failed invocation (which API Gateway
 * would answer with its own error frame, and which the error alarms count).
 */
export async function replyError(
  deps: HandlerDeps,
  event: WebSocketEvent,
  code: ErrorCode,
  message: string,
  log: Log,
  correlation: Correlation = {},
): Promise<void> {
  const frame = { ...errorFrame(code, message, event.requestContext.requestId), ...correlation };
  try {
    await reply(deps, event, frame, log);
  } catch (error) {
    logWithinBudget(deps, log, 'warn', 'error frame not sent', { code, error: String(error) });
  }
}
