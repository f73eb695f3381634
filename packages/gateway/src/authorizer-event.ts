import type { ConnectionFacts, GatewayRequestContext } from './events.js';
import type { HeaderMaps, QueryMaps } from './handshake-request.js';

export type AuthorizerEvent = {
  type: 'REQUEST';
  methodArn: string;
} & HeaderMaps &
  QueryMaps & {
    stageVariables: Record<string, string>;
    requestContext: GatewayRequestContext;
  };

export interface MethodArnParts {
  region: string;
  accountId: string;
  apiId: string;
  stage: string;
}

/** `arn:aws:execute-api:{region}:{accountId}:{apiId}/{stage}/$connect`: no HTTP verb segment on WebSocket APIs. */
export function connectMethodArn({ region, accountId, apiId, stage }: MethodArnParts): string {
  return `arn:aws:execute-api:${region}:${accountId}:${apiId}/${stage}/$connect`;
}

/**
 * The REQUEST authorizer event, as in the documented example (SPEC.md §3.6): the handshake headers including
 * `Connection`/`Upgrade` and `content-length: "0"`, both query maps (empty without a query string, unverified),
 * `stageVariables` (`{}` when the stage has none) and the CONNECT request context.
 */
export function authorizerEvent(
  facts: ConnectionFacts,
  methodArn: string,
  headers: HeaderMaps,
  query: QueryMaps | undefined,
  requestContext: GatewayRequestContext,
): AuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    queryStringParameters: query?.queryStringParameters ?? {},
    multiValueQueryStringParameters: query?.multiValueQueryStringParameters ?? {},
    stageVariables: { ...facts.stageVariables },
    requestContext: { ...requestContext, identity: { ...requestContext.identity } },
  };
}
