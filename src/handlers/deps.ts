import { Logger } from '@aws-lambda-powertools/logger';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { monotonicFactory } from 'ulid';
import { createTokenVerifier, type TokenVerifier } from '../auth/index.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import { managementClientFor } from '../delivery/management-client.ts';
import { ConnectionStore } from '../store/connections.ts';
import { createDocumentClient } from '../store/dynamo-client.ts';
import { MessageStore } from '../store/messages.ts';
import type { WebSocketEvent, WebSocketHandler } from './events.ts';
import { invocationLog, type Log } from './invocation-log.ts';
import { LARGE_ROOM_MEMORY_MS, LargeRooms } from './large-rooms.ts';
import { type ChatMetrics, createMetrics } from './metrics.ts';

/** Everything a handler uses from the outside world, built once per cold start and injectable by tests. */
export interface HandlerDeps {
  config: Config;
  store: ConnectionStore;
  messages: MessageStore;
  logger: Logger;
  metrics: ChatMetrics;
  /** Present only when JWT_SECRET or JWT_JWKS_URL is configured. */
  verifyToken?: TokenVerifier;
  /** The @connections client for the API that sent `event`. */
  managementClient(event: WebSocketEvent): ApiGatewayManagementApiClient;
  now(): Date;
  newMessageId(): string;
  /** Rooms this container found too large for presence lately (see LargeRooms). */
  largeRooms: LargeRooms;
}

export function createDeps(config: Config, overrides: Partial<HandlerDeps> = {}): HandlerDeps {
  const doc = createDocumentClient({
    region: config.region,
    ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }),
  });
  const now = overrides.now ?? (() => new Date());
  return {
    config,
    store: new ConnectionStore(doc, {
      tableName: config.tables.connections,
      ttlSeconds: config.connectionTtlSeconds,
      now: () => now().getTime(),
    }),
    messages: new MessageStore(doc, {
      tableName: config.tables.messages,
      retentionSeconds: config.messageRetentionSeconds,
      now: () => now().getTime(),
    }),
    logger: new Logger({ serviceName: config.serviceName, logLevel: config.logLevel }),
    metrics: createMetrics(config),
    ...(config.auth && { verifyToken: createTokenVerifier(config.auth) }),
    managementClient: (event) =>
      managementClientFor(managementEndpoint(config, event), { region: config.region }),
    now,
    newMessageId: monotonicFactory(),
    largeRooms: new LargeRooms({ ttlMs: LARGE_ROOM_MEMORY_MS, now: () => now().getTime() }),
    ...overrides,
  };
}

/**
 * Where this function posts to connections: WEBSOCKET_MANAGEMENT_ENDPOINT when set (Terraform always sets it);
 * otherwise `https://{domainName}/{stage}` as AWS documents, when the event came through the execute-api host.
 * Behind a custom domain `domainName` is that domain and `stage` is not its base path, so that URL would miss the
 * API; the stage's own execute-api host, built from the event's apiId, is right in both cases.
 */
export function managementEndpoint(config: Config, event: WebSocketEvent): string {
  if (config.managementEndpoint) return config.managementEndpoint;
  const { domainName, stage, apiId } = event.requestContext;
  if (EXECUTE_API_HOST.test(domainName)) return `https://${domainName}/${stage}`;
  const suffix = config.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://${apiId}.execute-api.${config.region}.${suffix}/${stage}`;
}

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

export function requireVerifier(deps: HandlerDeps): TokenVerifier {
  if (!deps.verifyToken) throw new ConfigError('set JWT_SECRET or JWT_JWKS_URL for the $connect function');
  return deps.verifyToken;
}

/**
 * Wraps a handler factory as a Lambda entry point: config and clients are built on the first invocation of a
 * cold start (so importing the module never fails or does I/O) and reused after.
 */
export function lambdaEntry(create: (deps: HandlerDeps) => WebSocketHandler): WebSocketHandler {
  let handler: WebSocketHandler | undefined;
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
