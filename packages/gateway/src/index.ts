export { LocalLambda, type LocalLambdaOptions, type LocalLambdaStats } from './async-invoke.js';
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
export {
  type AsyncInvokeResult,
  type DryRunResult,
  type InvocationType,
  type InvokeOptions,
  type LambdaRequestHandler,
  LambdaServiceException,
  type RequestResponseResult,
} from './lambda-api.js';
export type { ManagementRequestHandler } from './management.js';
export type {
  AsyncFailureCondition,
  AsyncInvocationLimits,
  AsyncInvocationRecord,
  AsyncInvokeConfig,
  AuthorizerConfig,
  ConnectionRateLimit,
  FunctionDefinition,
  GatewayClock,
  GatewayLogger,
  GatewayOptions,
  LambdaHandler,
  ManagementAuth,
  ManagementCredentials,
  RouteDefinition,
  StageThrottling,
  ThrottleSettings,
  WebSocketLambda,
} from './options.js';
