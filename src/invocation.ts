import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';

/**
 * One invocation of a route: the event API Gateway sends, what a handler returns, and the log that puts the
 * invocation's keys on every line. The modules every route builds on (route.ts, rooms.ts, metrics.ts) share these.
 */

/**
 * API Gateway WebSocket proxy event. `@types/aws-lambda` omits fields API Gateway really sends on `$connect`
 * (query string, headers), so they are added here.
 */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  queryStringParameters?: Record<string, string | undefined>;
  headers?: Record<string, string | undefined>;
};

export type WebSocketHandler = (event: WebSocketEvent, context: Context) => Promise<APIGatewayProxyResultV2>;

export function httpResult(statusCode: number, body?: string): APIGatewayProxyResultV2 {
  return { statusCode, ...(body !== undefined && { body }) };
}

type Attributes = Record<string, unknown>;

/** What handlers log through: Powertools' levels, with the invocation's keys on every line. */
export interface Log {
  debug(message: string, attributes?: Attributes): void;
  info(message: string, attributes?: Attributes): void;
  warn(message: string, attributes?: Attributes): void;
  error(message: string, attributes?: Attributes): void;
}

/**
 * The shared logger with `keys` added to each line. Not `logger.createChild()`: building a child Logger cost
 * 30–90 µs per invocation (it re-reads the environment and makes a Console), more than the lines it then writes.
 * Not `appendKeys()` either: the local stack runs many invocations at once on one logger.
 */
export function invocationLog(logger: Pick<Logger, keyof Log>, keys: Attributes): Log {
  return {
    debug: (message, attributes) => logger.debug(message, { ...keys, ...attributes }),
    info: (message, attributes) => logger.info(message, { ...keys, ...attributes }),
    warn: (message, attributes) => logger.warn(message, { ...keys, ...attributes }),
    error: (message, attributes) => logger.error(message, { ...keys, ...attributes }),
  };
}
