export type { AuthorizerEvent } from './authorizer-event.js';
export type { AuthorizerContext } from './authorizer-result.js';
export {
  type ConnectEvent,
  type ConnectionFacts,
  type DisconnectEvent,
  type GatewayRequestContext,
  type MessageEvent,
  type SimulatedConnection,
  type SimulatedConnectionOptions,
  simulatedConnection,
} from './events.js';
export { createGateway, type Gateway, type ListenInfo } from './gateway.js';
export type { ConnectionIdentity, HandshakeRequest } from './handshake-request.js';
export type { ManagementRequestHandler } from './management-in-process.js';
export type {
  AuthorizerConfig,
  ConnectionRateLimit,
  GatewayLogger,
  GatewayOptions,
  RouteDefinition,
  WebSocketLambda,
} from './options.js';
