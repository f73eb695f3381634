import type { AuthorizerContext } from './authorizer-result.js';
import { formatClfTime } from './clf-time.js';
import { CLOSE_GOING_AWAY, disconnectReasonFor } from './close-codes.js';
import {
  type ConnectionIdentity,
  disconnectHeaderMaps,
  type HandshakeRequest,
  type HeaderMaps,
  handshakeHeaderMaps,
  identityOf,
  type QueryMaps,
  queryMaps,
} from './handshake-request.js';
import { newGatewayId } from './ids.js';

/** What every event of one connection shares. */
export interface ConnectionFacts {
  apiId: string;
  stage: string;
  domainName: string;
  connectionId: string;
  connectedAt: number;
  identity: ConnectionIdentity;
  /** `principalId` and the stringified context of the authorizer that admitted the connection. */
  authorizer?: AuthorizerContext;
  /** Only when the stage defines variables. */
  stageVariables?: Readonly<Record<string, string>>;
}

export type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export interface GatewayRequestContext {
  routeKey: string;
  authorizer?: AuthorizerContext;
  messageId?: string;
  disconnectStatusCode?: number;
  eventType: EventType;
  extendedRequestId: string;
  requestTime: string;
  messageDirection: 'IN';
  disconnectReason?: string;
  stage: string;
  connectedAt: number;
  requestTimeEpoch: number;
  identity: ConnectionIdentity;
  requestId: string;
  domainName: string;
  connectionId: string;
  apiId: string;
}

type StageVariables = { stageVariables?: Readonly<Record<string, string>> };
export type ConnectEvent = HeaderMaps &
  Partial<QueryMaps> &
  StageVariables & { requestContext: GatewayRequestContext; isBase64Encoded: false };
export type MessageEvent = StageVariables & {
  requestContext: GatewayRequestContext;
  body: string;
  isBase64Encoded: false;
};
export type DisconnectEvent = HeaderMaps &
  StageVariables & { requestContext: GatewayRequestContext; isBase64Encoded: false };

interface EventSpecifics {
  messageId?: string;
  disconnectStatusCode?: number;
  disconnectReason?: string;
}

// Keys are listed in the order of real captures (SPEC.md §1.2); optional ones are absent, never null.
function requestContext(
  facts: ConnectionFacts,
  routeKey: string,
  eventType: EventType,
  specifics: EventSpecifics,
  nowMs: number,
): GatewayRequestContext {
  const requestId = newGatewayId();
  const { userAgent, sourceIp } = facts.identity;
  return {
    routeKey,
    ...(facts.authorizer !== undefined && { authorizer: { ...facts.authorizer } }),
    ...(specifics.messageId !== undefined && { messageId: specifics.messageId }),
    ...(specifics.disconnectStatusCode !== undefined && {
      disconnectStatusCode: specifics.disconnectStatusCode,
    }),
    eventType,
    extendedRequestId: requestId,
    requestTime: formatClfTime(nowMs),
    messageDirection: 'IN',
    ...(specifics.disconnectReason !== undefined && { disconnectReason: specifics.disconnectReason }),
    stage: facts.stage,
    connectedAt: facts.connectedAt,
    requestTimeEpoch: nowMs,
    identity: { ...(userAgent !== undefined && { userAgent }), sourceIp },
    requestId,
    domainName: facts.domainName,
    connectionId: facts.connectionId,
    apiId: facts.apiId,
  };
}

/**
 * The CONNECT request context. The authorizer event and the `$connect` event describe the same HTTP request, so
 * they share it (same requestId and requestTime); `facts.authorizer` is added once the authorizer allowed.
 */
export function connectRequestContext(facts: ConnectionFacts, nowMs = Date.now()): GatewayRequestContext {
  return requestContext(facts, '$connect', 'CONNECT', {}, nowMs);
}

export function connectEvent(
  facts: ConnectionFacts,
  headers: HeaderMaps,
  query: QueryMaps | undefined,
  context: GatewayRequestContext = connectRequestContext(facts),
): ConnectEvent {
  const { routeKey, authorizer: _, ...rest } = context;
  return {
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    ...query,
    ...stageVariablesOf(facts),
    requestContext: {
      routeKey,
      ...(facts.authorizer !== undefined && { authorizer: { ...facts.authorizer } }),
      ...rest,
    },
    isBase64Encoded: false,
  };
}

/** `stageVariables` is present only when the stage defines some (SPEC.md §1.4, unverified). */
function stageVariablesOf(facts: ConnectionFacts): StageVariables {
  return facts.stageVariables === undefined ? {} : { stageVariables: { ...facts.stageVariables } };
}

export function messageEvent(
  facts: ConnectionFacts,
  routeKey: string,
  body: string,
  nowMs = Date.now(),
): MessageEvent {
  return {
    ...stageVariablesOf(facts),
    requestContext: requestContext(facts, routeKey, 'MESSAGE', { messageId: newGatewayId() }, nowMs),
    body,
    isBase64Encoded: false,
  };
}

export function disconnectEvent(
  facts: ConnectionFacts,
  headers: HeaderMaps,
  status: { code: number; reason: string },
  nowMs = Date.now(),
): DisconnectEvent {
  const specifics = { disconnectStatusCode: status.code, disconnectReason: status.reason };
  return {
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    ...stageVariablesOf(facts),
    requestContext: requestContext(facts, '$disconnect', 'DISCONNECT', specifics, nowMs),
    isBase64Encoded: false,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Simulated connections: the events of a connection that never opened a socket
// ---------------------------------------------------------------------------------------------------------------

export interface SimulatedConnectionOptions {
  apiId: string;
  stage: string;
  /** `{apiId}.execute-api.{region}.amazonaws.com`, or a custom domain. */
  domainName: string;
  connectionId: string;
  /** Epoch ms; default now. */
  connectedAt?: number;
  /** The handshake as it reached API Gateway; `url` is the stage path, the query is given to `connect`. */
  handshake: Omit<HandshakeRequest, 'url'>;
  stageVariables?: Readonly<Record<string, string>>;
}

export interface SimulatedConnection {
  facts: ConnectionFacts;
  /** The `$connect` event of a handshake with this query string. */
  connect(query?: Readonly<Record<string, string>>): ConnectEvent;
  /** A frame on `routeKey` (`$default` or a route key). */
  message(routeKey: string, body: string): MessageEvent;
  /** `$disconnect`, by default after the client closed with 1001 and no reason (a tab closed). */
  disconnect(status?: { code: number; reason?: string }): DisconnectEvent;
}

/**
 * The events API Gateway would send for one connection, built exactly as the gateway builds them for a real one: for
 * invoking handlers outside a gateway, e.g. a bundled Lambda in a test or a benchmark.
 *
 * @example
 * const connection = simulatedConnection({
 *   apiId: 'abc123defg', stage: 'prod', domainName: 'abc123defg.execute-api.us-east-1.amazonaws.com',
 *   connectionId: 'L0SM9cOFvHcCIhw=',
 *   handshake: { rawHeaders: ['Host', 'abc123defg.execute-api.us-east-1.amazonaws.com'], remoteAddress: '198.51.100.23', localPort: 443, secure: true },
 * });
 * await handler(connection.connect({ token }), context);
 */
export function simulatedConnection(options: SimulatedConnectionOptions): SimulatedConnection {
  const stagePath = `/${options.stage}`;
  const request: HandshakeRequest = { ...options.handshake, url: stagePath };
  const facts: ConnectionFacts = {
    apiId: options.apiId,
    stage: options.stage,
    domainName: options.domainName,
    connectionId: options.connectionId,
    connectedAt: options.connectedAt ?? Date.now(),
    identity: identityOf(request),
    ...(options.stageVariables && { stageVariables: options.stageVariables }),
  };
  return {
    facts,
    connect: (query = {}) => {
      const search = new URLSearchParams(query).toString();
      const url = search ? `${stagePath}?${search}` : stagePath;
      const headers = handshakeHeaderMaps({ ...request, url }, facts.connectedAt).integration;
      return connectEvent(facts, headers, queryMaps(url));
    },
    message: (routeKey, body) => messageEvent(facts, routeKey, body),
    disconnect: (status = { code: CLOSE_GOING_AWAY }) =>
      disconnectEvent(facts, disconnectHeaderMaps(facts.domainName), {
        code: status.code,
        reason: disconnectReasonFor(status.code, status.reason ?? ''),
      }),
  };
}
