export type { AuthorizerEvent } from './authorizer-event.ts';
export type { AuthorizerContext } from './authorizer-result.ts';
export type { ConnectEvent, DisconnectEvent, GatewayRequestContext, MessageEvent } from './events.ts';
export { createGateway, type Gateway, type ListenInfo } from './gateway.ts';
export type { ConnectionIdentity } from './handshake-request.ts';
export type { ManagementRequestHandler } from './management-in-process.ts';
export type {
  AuthorizerConfig,
  ConnectionRateLimit,
  GatewayLogger,
  GatewayOptions,
  RouteDefinition,
  WebSocketLambda,
} from './options.ts';
