export type { AuthorizerEvent } from './authorizer.js';
export {
  type AuthorizerContext,
  type ConnectEvent,
  type ConnectionFacts,
  type ConnectionIdentity,
  type DisconnectEvent,
  type GatewayRequestContext,
  type HandshakeRequest,
  type MessageEvent,
  type SimulatedConnection,
  type SimulatedConnectionOptions,
  simulatedConnection,
} from './events.js';
export { createGateway, type Gateway, type ListenInfo } from './gateway.js';
export type { ManagementRequestHandler } from './management.js';
export type {
  AuthorizerConfig,
  ConnectionRateLimit,
  GatewayClock,
  GatewayLogger,
  GatewayOptions,
  ManagementAuth,
  ManagementCredentials,
  RouteDefinition,
  StageThrottling,
  ThrottleSettings,
  WebSocketLambda,
} from './options.js';
