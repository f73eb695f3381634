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
}

export type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export interface GatewayRequestContext {
  routeKey: string;
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

export type ConnectEvent = HeaderMaps &
  Partial<QueryMaps> & { requestContext: GatewayRequestContext; isBase64Encoded: false };
export type MessageEvent = { requestContext: GatewayRequestContext; body: string; isBase64Encoded: false };
export type DisconnectEvent = HeaderMaps & { requestContext: GatewayRequestContext; isBase64Encoded: false };

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

export function connectEvent(
  facts: ConnectionFacts,
  headers: HeaderMaps,
  query: QueryMaps | undefined,
  nowMs = Date.now(),
): ConnectEvent {
  return {
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    ...query,
    requestContext: requestContext(facts, '$connect', 'CONNECT', {}, nowMs),
    isBase64Encoded: false,
  };
}

export function messageEvent(
  facts: ConnectionFacts,
  routeKey: string,
  body: string,
  nowMs = Date.now(),
): MessageEvent {
  return {
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
    requestContext: requestContext(facts, '$disconnect', 'DISCONNECT', specifics, nowMs),
    isBase64Encoded: false,
  };
}
