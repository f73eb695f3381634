import {
  type ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { isTimeout } from './post-retry-strategy.ts';

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
  logger?: FanOutLogger;
}

export const DEFAULT_FAN_OUT_CONCURRENCY = 32;

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
  const body = typeof data === 'string' ? new TextEncoder().encode(data) : data;
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
      await options.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: body }));
      return 'delivered';
    } catch (error) {
      if (error instanceof GoneException) {
        await prune(connectionId, options.onGone, logger);
        return 'gone';
      }
      const timedOut = isTimeout(error);
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
