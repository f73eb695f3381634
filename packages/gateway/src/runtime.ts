import type { ConnectionRegistry } from './connections.js';
import type { InFlight } from './in-flight.js';
import { type InvocationOutcome, invokeLambda } from './invoke.js';
import type { ResolvedOptions, WebSocketLambda } from './options.js';
import type { RouteSelector } from './routing.js';
import type { TokenBucket } from './token-bucket.js';

/** State shared by the handshake, the open sessions and the management API of one gateway. */
export interface GatewayRuntime {
  readonly options: ResolvedOptions;
  readonly connections: ConnectionRegistry;
  readonly inFlight: InFlight;
  readonly selectRoute: RouteSelector;
  /** Undefined when new connections are not rate limited. */
  readonly connectionRate: TokenBucket | undefined;
  /** `host:port` of the listener, used as `requestContext.domainName`. */
  readonly domainName: string;
  readonly closing: boolean;
}

/** Invokes the route's handler, or resolves `undefined` when the API has no such route. */
export async function invokeRoute(
  runtime: GatewayRuntime,
  routeKey: string,
  event: unknown,
): Promise<InvocationOutcome | undefined> {
  const route = runtime.options.routes.get(routeKey);
  if (!route) return undefined;
  return invokeTracked(runtime, route.handler, routeKey, event);
}

/** Runs a handler under the integration timeout; `close()` waits for it. `name` names the Lambda function. */
export function invokeTracked(
  runtime: GatewayRuntime,
  handler: WebSocketLambda,
  name: string,
  event: unknown,
): Promise<InvocationOutcome> {
  const { region, accountId, integrationTimeoutMs } = runtime.options;
  return runtime.inFlight.track(
    invokeLambda(handler, event, { routeKey: name, region, accountId, timeoutMs: integrationTimeoutMs }),
  );
}

export function describeFailure(outcome: Exclude<InvocationOutcome, { ok: true }>): object {
  if (outcome.reason === 'timeout') return { failure: 'integration timeout' };
  const { error } = outcome;
  return { failure: 'handler error', error: error instanceof Error ? (error.stack ?? error.message) : error };
}
