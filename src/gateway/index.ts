export type { ConnectEvent, DisconnectEvent, GatewayRequestContext, MessageEvent } from './events.ts';
export { createGateway, type Gateway, type ListenInfo } from './gateway.ts';
export type { ConnectionIdentity } from './handshake-request.ts';
export type { GatewayLogger, GatewayOptions, WebSocketLambda } from './options.ts';
