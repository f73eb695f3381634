import type http from 'node:http';
import type { Context } from 'aws-lambda';
import { type IdentitySource, parseIdentitySources } from './identity-sources.js';
import { newApiId } from './ids.js';

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

export interface ResolvedAuthorizer {
  handler: WebSocketLambda;
  identitySources: IdentitySource[];
}

export interface ResolvedRoute {
  handler: WebSocketLambda;
  twoWay: boolean;
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

export interface GatewayOptions {
  /** Route key → handler (or `{ handler, twoWay }`); may include `$connect`, `$disconnect` and `$default`. */
  routes: Record<string, WebSocketLambda | RouteDefinition>;
  /** Lambda REQUEST authorizer run before `$connect`. */
  authorizer?: AuthorizerConfig;
  /** Default `dev`. */
  stage?: string;
  /** Default none: events then carry no `stageVariables` key (the authorizer event gets `{}`). */
  stageVariables?: Record<string, string>;
  /** Default `$request.body.action`. */
  routeSelectionExpression?: string;
  /** Default: 10 random lowercase alphanumerics. */
  apiId?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Default `000000000000`: used in the authorizer's `methodArn` and the Lambda context's ARN. */
  accountId?: string;
  /** Default 600 000 (10 min): then close 1001 `Going away` and `$disconnect`. */
  idleTimeoutMs?: number;
  /** Default 7 200 000 (2 h): then close 1001 `Going away` and `$disconnect`. */
  maxConnectionMs?: number;
  /** Default 131 072 (128 KB): a longer client message closes the connection with 1009. */
  maxMessageBytes?: number;
  /** Default 32 768 (32 KB): a longer client frame closes the connection with 1009. */
  maxFrameBytes?: number;
  /** Default 29 000: a handler still running after this counts as failed. */
  integrationTimeoutMs?: number;
  /** Default none (unlimited). */
  connectionRateLimit?: ConnectionRateLimit;
  /** Default 1 048 576: PostToConnection gets 429 while the socket has this many bytes waiting to be sent. */
  sendBufferLimitBytes?: number;
  /** Serves HTTP paths the gateway does not own (e.g. a demo page); resolve `true` when handled. */
  httpHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
  /** Default: info and warn are dropped, errors go to stderr. */
  logger?: GatewayLogger;
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
  sendBufferLimitBytes: number;
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
  const stage = options.stage ?? 'dev';
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(stage)) throw new Error(`Invalid stage name: ${stage}`);
  const accountId = options.accountId ?? '000000000000';
  if (!/^\d{12}$/.test(accountId)) throw new Error(`Invalid account id: ${accountId}`);
  return {
    routes: resolveRoutes(options.routes),
    authorizer: resolveAuthorizer(options.authorizer),
    stage,
    stageVariables: resolveStageVariables(options.stageVariables),
    routeSelectionExpression: options.routeSelectionExpression ?? '$request.body.action',
    apiId: options.apiId ?? newApiId(),
    region: options.region ?? 'us-east-1',
    accountId,
    idleTimeoutMs: timer('idleTimeoutMs', options.idleTimeoutMs, 600_000),
    maxConnectionMs: timer('maxConnectionMs', options.maxConnectionMs, 7_200_000),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, 131_072),
    maxFrameBytes: positive('maxFrameBytes', options.maxFrameBytes, 32_768),
    integrationTimeoutMs: timer('integrationTimeoutMs', options.integrationTimeoutMs, 29_000),
    connectionRateLimit: resolveRateLimit(options.connectionRateLimit),
    sendBufferLimitBytes: positive('sendBufferLimitBytes', options.sendBufferLimitBytes, 1_048_576),
    httpHandler: options.httpHandler,
    logger: options.logger ?? stderrLogger,
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

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Node timers cannot wait longer than 2^31-1 ms. */
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
