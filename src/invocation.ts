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

/**
 * Lines per kind of repeated failure that a container writes: the first of each kind, then at most `perMinute`
 * a minute, each saying how many were left out since the last one. What a client can provoke at will (replies to
 * a caller that does not read, frames refused by the thousand) must not become megabytes of log lines, nor a
 * stack trace per frame. Bounded: at most `maxKinds` kinds are tracked; the oldest is forgotten first.
 */
export class LogBudget {
  readonly #kinds = new Map<string, { windowStart: number; used: number; suppressed: number }>();
  readonly #perMinute: number;
  readonly #maxKinds: number;
  readonly #now: () => number;

  constructor(options: { perMinute?: number; maxKinds?: number; now?: () => number } = {}) {
    this.#perMinute = options.perMinute ?? 10;
    this.#maxKinds = options.maxKinds ?? 100;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Whether a line of this kind may be written now: undefined when not, otherwise how many were left out since
   * the last one (0 for the first), to put on the line.
   */
  take(kind: string): { suppressed: number } | undefined {
    const now = this.#now();
    let state = this.#kinds.get(kind);
    if (!state) {
      if (this.#kinds.size >= this.#maxKinds) {
        const oldest = this.#kinds.keys().next().value;
        if (oldest !== undefined) this.#kinds.delete(oldest);
      }
      state = { windowStart: now, used: 0, suppressed: 0 };
      this.#kinds.set(kind, state);
    }
    if (now - state.windowStart >= 60_000) {
      state.windowStart = now;
      state.used = 0;
    }
    if (state.used >= this.#perMinute) {
      state.suppressed++;
      return undefined;
    }
    state.used++;
    const { suppressed } = state;
    state.suppressed = 0;
    return { suppressed };
  }
}
