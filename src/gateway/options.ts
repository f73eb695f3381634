import type http from 'node:http';
import type { Context } from 'aws-lambda';
import { newApiId } from './ids.ts';

// biome-ignore lint/suspicious/noExplicitAny: handlers declare their own event types (APIGatewayProxyWebsocketEventV2, …)
export type WebSocketLambda = (event: any, context: Context) => Promise<unknown> | unknown;

export interface GatewayLogger {
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
}

export interface GatewayOptions {
  /** Route key → handler; may include `$connect`, `$disconnect` and `$default`. */
  routes: Record<string, WebSocketLambda>;
  /** Default `dev`. */
  stage?: string;
  /** Default `$request.body.action`. */
  routeSelectionExpression?: string;
  /** Default: 10 random lowercase alphanumerics. */
  apiId?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Default 600 000 (10 min): then close 1001 `Going away` and `$disconnect`. */
  idleTimeoutMs?: number;
  /** Default 7 200 000 (2 h): then close 1001 `Going away` and `$disconnect`. */
  maxConnectionMs?: number;
  /** Default 131 072 (128 KB): a longer client message closes the connection with 1009. */
  maxMessageBytes?: number;
  /** Default 29 000: a handler still running after this counts as failed. */
  integrationTimeoutMs?: number;
  /** Serves HTTP paths the gateway does not own (e.g. a demo page); resolve `true` when handled. */
  httpHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
  /** Default: info and warn are dropped, errors go to stderr. */
  logger?: GatewayLogger;
}

export interface ResolvedOptions {
  routes: ReadonlyMap<string, WebSocketLambda>;
  stage: string;
  routeSelectionExpression: string;
  apiId: string;
  region: string;
  idleTimeoutMs: number;
  maxConnectionMs: number;
  maxMessageBytes: number;
  integrationTimeoutMs: number;
  httpHandler: GatewayOptions['httpHandler'];
  logger: GatewayLogger;
}

const SPECIAL_ROUTES = new Set(['$connect', '$disconnect', '$default']);

const stderrLogger: GatewayLogger = {
  info() {},
  warn() {},
  error(msg, extra) {
    console.error(`[gateway] ${msg}`, extra ?? '');
  },
};

export function resolveOptions(options: GatewayOptions): ResolvedOptions {
  const routes = new Map(Object.entries(options.routes));
  for (const [key, handler] of routes) {
    if (typeof handler !== 'function') throw new TypeError(`Route ${key}: handler is not a function`);
    // API Gateway refuses to create custom route keys starting with `$`.
    if (key.startsWith('$') && !SPECIAL_ROUTES.has(key)) throw new Error(`Invalid route key: ${key}`);
    if (key === '') throw new Error('Route keys must not be empty');
  }
  const stage = options.stage ?? 'dev';
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(stage)) throw new Error(`Invalid stage name: ${stage}`);
  return {
    routes,
    stage,
    routeSelectionExpression: options.routeSelectionExpression ?? '$request.body.action',
    apiId: options.apiId ?? newApiId(),
    region: options.region ?? 'us-east-1',
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, 600_000),
    maxConnectionMs: positive('maxConnectionMs', options.maxConnectionMs, 7_200_000),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, 131_072),
    integrationTimeoutMs: positive('integrationTimeoutMs', options.integrationTimeoutMs, 29_000),
    httpHandler: options.httpHandler,
    logger: options.logger ?? stderrLogger,
  };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  // Node timers cannot wait longer than 2^31-1 ms.
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be a positive number of milliseconds up to ${MAX_TIMER_MS}`);
  }
  return value;
}
