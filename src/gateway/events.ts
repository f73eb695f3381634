import type { AuthorizerContext } from './authorizer-result.ts';
import { formatClfTime } from './clf-time.ts';
import type { ConnectionIdentity, HeaderMaps, QueryMaps } from './handshake-request.ts';
import { newGatewayId } from './ids.ts';

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

// Keys are listed in the order of real captures (reference §1.3); optional ones are absent, never null.
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

/** `stageVariables` is present only when the stage defines some (reference §1.1, unverified). */
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
