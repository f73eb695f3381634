import http from 'node:http';
import https from 'node:https';
import {
  ApiGatewayManagementApiClient,
  type ApiGatewayManagementApiClientConfig,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from '@smithy/types';
import { type Config, DEFAULT_FAN_OUT_CONCURRENCY } from './config.ts';
import type { WebSocketEvent } from './invocation.ts';
import { type InProcessHandler, installDirectRequests } from './management-client.ts';

/**
 * Delivery through API Gateway's `@connections` API: the management client (built once per cold start, with the
 * retry rules below), `postOne` for a reply to one connection, and `fanOut` for one frame to many. Only a 410 Gone
 * prunes a connection; a post that timed out is never sent again, since the client may have it already.
 */

export interface ManagementClientOptions {
  /**
   * Attempts per PostToConnection, first try included. The SDK's standard retry backs off on throttling
   * (429 `LimitExceededException`) and 5xx; a post that timed out is not retried (see PostRetryStrategy). Default 3.
   */
  maxAttempts?: number;
  region?: string;
  credentials?: ApiGatewayManagementApiClientConfig['credentials'];
  /**
   * Sockets per host. Default: no limit, so a post that hangs (a client that stopped reading) never makes posts to
   * other connections queue behind it; the fan-out concurrency bounds the posts in flight anyway.
   */
  maxSockets?: number;
  /**
   * How long one PostToConnection attempt may take before it fails with a `TimeoutError`, which is not retried:
   * the message may have been delivered. Default 10 s. A post normally takes milliseconds and API Gateway answers
   * overload with 429 (retried), so only a network fault takes this long; and a post that never answers must not
   * hold its invocation until the Lambda timeout. 2 s proved too short for an overloaded local emulator: a burst of
   * 50 messages to 1,000 clients over HTTP timed out and lost 3,576 deliveries (bench/README.md).
   */
  requestTimeoutMs?: number;
  /**
   * Another transport instead of Node's HTTP handler (then `maxSockets` and `requestTimeoutMs` do not apply): the
   * local stack passes the gateway's in-process handler, which also gets the direct path's requests.
   */
  transport?: ApiGatewayManagementApiClientConfig['requestHandler'];
  /**
   * Send requests without SigV4 signatures. Only for a local gateway, which cannot verify them: on AWS the
   * @connections API refuses unsigned requests.
   */
  unsigned?: boolean;
}

/** Leaves a request as it is; SDK's `signer` option takes any object with this method. */
const noSignature = { sign: async <T>(request: T): Promise<T> => request };

const DEFAULT_POST_TIMEOUT_MS = 10_000;

/**
 * Where this function posts to connections: WEBSOCKET_MANAGEMENT_ENDPOINT when set (Terraform always sets it);
 * otherwise `https://{domainName}/{stage}` as AWS documents, when the event came through the execute-api host.
 * Behind a custom domain `domainName` is that domain and `stage` is not its base path, so that URL would miss the
 * API; the stage's own execute-api host, built from the event's apiId, is right in both cases.
 */
export function managementEndpoint(
  config: Pick<Config, 'managementEndpoint' | 'region'>,
  event: WebSocketEvent,
): string {
  if (config.managementEndpoint) return config.managementEndpoint;
  const { domainName, stage, apiId } = event.requestContext;
  if (EXECUTE_API_HOST.test(domainName)) return `https://${domainName}/${stage}`;
  const suffix = config.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://${apiId}.execute-api.${config.region}.${suffix}/${stage}`;
}

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

const clients = new Map<string, ApiGatewayManagementApiClient>();

/**
 * The @connections client for one API endpoint (`https://{domain}/{stage}`), built on first use and kept for the
 * life of the process (a Lambda cold start). Options apply only when the client is first built.
 */
export function managementClientFor(
  endpoint: string,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  let client = clients.get(endpoint);
  if (!client) {
    client = createManagementClient(endpoint, options);
    clients.set(endpoint, client);
  }
  return client;
}

/**
 * An uncached client; tests and tools that need their own options use this. It is the SDK's client, and every
 * command works as the SDK sends it; over HTTP, PostToConnection, GetConnection and DeleteConnection skip the
 * SDK's middleware and go straight to Node's HTTP client (src/management-client.ts), signed by the SDK's signer,
 * retried by the same retry strategy and failing with the same exceptions.
 */
export function createManagementClient(
  endpoint: string,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  const maxSockets = options.maxSockets ?? Number.POSITIVE_INFINITY;
  const retryStrategy = new PostRetryStrategy(options.maxAttempts ?? 3);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_POST_TIMEOUT_MS;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
  const client = new ApiGatewayManagementApiClient({
    endpoint,
    retryStrategy,
    // The middleware stack is resolved once per command instead of on every call: about a quarter less CPU per
    // post through the SDK (commands off the direct path, and the local stack's in-process transport).
    cacheMiddleware: true,
    ...(options.region && { region: options.region }),
    ...(options.credentials && { credentials: options.credentials }),
    ...(options.unsigned && { signer: noSignature }),
    requestHandler: options.transport ?? {
      httpAgent,
      httpsAgent,
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
  // The local gateway's in-process transport takes the direct path too: the same code as over HTTP, without the
  // SDK's per-request middleware (about half the CPU of a local delivery).
  const inProcess = options.transport as Partial<InProcessHandler> | undefined;
  if (!options.transport || typeof inProcess?.handle === 'function') {
    installDirectRequests(client, {
      endpoint,
      agent: new URL(endpoint).protocol === 'https:' ? httpsAgent : httpAgent,
      requestTimeoutMs,
      retryStrategy,
      ...(options.unsigned && { unsigned: true }),
      ...(options.transport && { handler: inProcess as InProcessHandler }),
    });
  }
  return client;
}

/**
 * The SDK's standard retry (backoff on throttling and 5xx, a shared retry budget), except that a post that timed
 * out is never retried. A timed-out PostToConnection may already have reached the client, so sending it again
 * could deliver the message twice; and each retried timeout would also spend the shared retry budget (500 tokens
 * per client) that throttled posts need.
 */
class PostRetryStrategy implements RetryStrategyV2 {
  readonly #standard: StandardRetryStrategy;

  constructor(maxAttempts: number) {
    this.#standard = new StandardRetryStrategy(maxAttempts);
  }

  acquireInitialRetryToken(scope: string): Promise<StandardRetryToken> {
    return this.#standard.acquireInitialRetryToken(scope);
  }

  refreshRetryTokenForRetry(token: StandardRetryToken, info: RetryErrorInfo): Promise<StandardRetryToken> {
    // The retry middleware rethrows the post's own error when this rejects.
    if (isTimeout(info.error)) return Promise.reject(info.error);
    return this.#standard.refreshRetryTokenForRetry(token, info);
  }

  recordSuccess(token: StandardRetryToken): void {
    this.#standard.recordSuccess(token);
  }
}

/**
 * A post that may have arrived: the request timeout, and (as the SDK's HTTP handler names them) a reset or broken
 * pipe on a connected socket. Matched by name only: a connection that never opened (`connect ECONNREFUSED`,
 * `connect ETIMEDOUT`, a name that did not resolve) keeps its own name on the direct path
 * (src/management-client.ts), so that request, which never left, is retried like any other network error.
 */
function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

/** A failed post that surely did not arrive and may succeed later (see FanOutOptions.onFailed). */
function mayPostAgain(error: unknown): boolean {
  if (isTimeout(error)) return false;
  if (error instanceof LimitExceededException) return true;
  const fault = (error as { $fault?: string; $metadata?: { httpStatusCode?: number } }) ?? {};
  if (fault.$fault === 'server') return true;
  // No HTTP status: a network error on a request that never left (a reset on a sent one is a TimeoutError).
  return error instanceof Error && fault.$metadata?.httpStatusCode === undefined && !('$fault' in error);
}

export interface DeliverySummary {
  attempted: number;
  delivered: number;
  gone: number;
  /** Posts that did not succeed after retries, timeouts included. */
  failed: number;
  /** Of `failed`, the posts that timed out: not retried, because the client may have received them. */
  timedOut: number;
  durationMs: number;
}

/** The part of a logger fan-out uses; Powertools' Logger fits. */
export interface FanOutLogger {
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface FanOutOptions {
  client: ApiGatewayManagementApiClient;
  /** Most PostToConnection calls in flight at once. Default 32. */
  concurrency?: number;
  /** Called for a connection that answered 410 Gone; its errors are logged, never thrown. */
  onGone: (connectionId: string) => Promise<unknown>;
  /**
   * Called for a post that failed after the client's retries with an error worth another try later: throttling
   * (429) or a 5xx that lasted, or a connection that never opened. Such a post did not arrive, so it may be sent
   * again. A timed-out post is never passed here, nor a refusal that would only repeat (403, 400, 413).
   */
  onFailed?: (connectionId: string) => void;
  logger?: FanOutLogger;
}

type Outcome = 'delivered' | 'gone' | 'failed' | 'timedOut';

/**
 * Posts `data` to every connection in `ids` with bounded concurrency. Only a `GoneException` prunes a connection;
 * throttling and 5xx are retried by the client's retry strategy, and whatever still fails (or times out) is
 * counted and logged but kept. Per-connection failures never throw; a failing `ids` source does, once in-flight
 * posts settle.
 */
export async function fanOut(
  ids: Iterable<string> | AsyncIterable<string[] | string>,
  data: string | Uint8Array,
  options: FanOutOptions,
): Promise<DeliverySummary> {
  const started = performance.now();
  const concurrency = options.concurrency ?? DEFAULT_FAN_OUT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`fanOut: concurrency must be a positive integer, got ${concurrency}`);
  }
  const logger = options.logger ?? consoleLogger;
  const body = typeof data === 'string' ? encoder.encode(data) : data;
  const summary: DeliverySummary = {
    attempted: 0,
    delivered: 0,
    gone: 0,
    failed: 0,
    timedOut: 0,
    durationMs: 0,
  };

  const deliver = async (connectionId: string): Promise<Outcome> => {
    try {
      await postOne(options.client, connectionId, body);
      return 'delivered';
    } catch (error) {
      if (error instanceof GoneException) {
        await prune(connectionId, options.onGone, logger);
        return 'gone';
      }
      const timedOut = isTimeout(error);
      if (mayPostAgain(error)) options.onFailed?.(connectionId);
      logger.warn(timedOut ? 'post to connection timed out' : 'post to connection failed', {
        connection_id: connectionId,
        ...describeError(error),
      });
      return timedOut ? 'timedOut' : 'failed';
    }
  };

  // Workers share one iterator, so pages are pulled only as fast as posts complete.
  const source = flatten(ids);
  const worker = async (): Promise<void> => {
    for (let next = await source.next(); !next.done; next = await source.next()) {
      summary.attempted++;
      const outcome = await deliver(next.value);
      summary[outcome]++;
      if (outcome === 'timedOut') summary.failed++;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: concurrency }, worker));
  summary.durationMs = Math.round(performance.now() - started);
  const sourceFailure = results.find((result) => result.status === 'rejected');
  if (sourceFailure) throw sourceFailure.reason;
  return summary;
}

/**
 * Posts one frame to one connection: where every PostToConnection is built. It throws what the SDK throws, e.g.
 * `GoneException` for a connection that has left.
 */
export async function postOne(
  client: ApiGatewayManagementApiClient,
  connectionId: string,
  data: string | Uint8Array,
): Promise<void> {
  const body = typeof data === 'string' ? encoder.encode(data) : data;
  await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: body }));
}

/**
 * Whether API Gateway still has this connection (GetConnection). Only a 410 Gone says no; any other failure counts
 * as connected, so a throttled check never refuses a message. A connection still in its `$connect` also answers
 * 410: it cannot receive anything yet either.
 */
export async function isConnected(
  client: ApiGatewayManagementApiClient,
  connectionId: string,
): Promise<boolean> {
  try {
    await client.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    return true;
  } catch (error) {
    return !(error instanceof GoneException);
  }
}

const encoder = new TextEncoder();

async function* flatten(ids: Iterable<string> | AsyncIterable<string[] | string>): AsyncGenerator<string> {
  for await (const item of ids) {
    if (typeof item === 'string') yield item;
    else yield* item;
  }
}

async function prune(
  connectionId: string,
  onGone: FanOutOptions['onGone'],
  logger: FanOutLogger,
): Promise<void> {
  try {
    await onGone(connectionId);
  } catch (error) {
    logger.error('removing a gone connection failed', {
      connection_id: connectionId,
      ...describeError(error),
    });
  }
}

function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { error_name: error.name, error_message: error.message, ...(status !== undefined && { status }) };
}

const consoleLogger: FanOutLogger = {
  warn: (message, attributes) => console.warn(JSON.stringify({ level: 'WARN', message, ...attributes })),
  error: (message, attributes) => console.error(JSON.stringify({ level: 'ERROR', message, ...attributes })),
};
