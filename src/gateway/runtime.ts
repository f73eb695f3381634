import type { ConnectionRegistry } from './connections.ts';
import type { InFlight } from './in-flight.ts';
import { type InvocationOutcome, invokeLambda } from './invoke.ts';
import type { ResolvedOptions } from './options.ts';
import type { RouteSelector } from './routing.ts';

/** State shared by the handshake, the open sessions and the management API of one gateway. */
export interface GatewayRuntime {
  readonly options: ResolvedOptions;
  readonly connections: ConnectionRegistry;
  readonly inFlight: InFlight;
  readonly selectRoute: RouteSelector;
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
  const handler = runtime.options.routes.get(routeKey);
  if (!handler) return undefined;
  const { region, integrationTimeoutMs } = runtime.options;
  return runtime.inFlight.track(
    invokeLambda(handler, event, { routeKey, region, timeoutMs: integrationTimeoutMs }),
  );
}

export function describeFailure(outcome: Exclude<InvocationOutcome, { ok: true }>): object {
  if (outcome.reason === 'timeout') return { failure: 'integration timeout' };
  const { error } = outcome;
  return { failure: 'handler error', error: error instanceof Error ? (error.stack ?? error.message) : error };
}
