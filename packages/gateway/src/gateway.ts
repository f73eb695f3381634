/**
 * The gateway: one HTTP listener for the handshake, the management API, Lambda's Invoke API and other pages
 * (SPEC.md §3.1), the state its parts share (`GatewayRuntime`), the invocations it runs, the functions other code
 * invokes (`functions`, SPEC.md §8.6–§8.9), and `close()`, which waits for all of them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalLambda } from './async-invoke.js';
import { ConnectionRegistry, type GatewayRuntime } from './connections.js';
import { DEFAULT_HOST, LAMBDA_SIGNING_SERVICE, MANAGEMENT_SIGNING_SERVICE } from './constants.js';
import { FailureLog } from './failure-log.js';
import { createUpgradeHandler } from './handshake.js';
import { invokeLambda } from './invoke.js';
import { createLambdaHttpHandler, isLambdaApiPath, type LambdaHttpHandler } from './lambda-api.js';
import {
  createManagementRequestHandler,
  type ManagementRequestHandler,
  parseManagementPath,
  serveManagementOverHttp,
} from './management.js';
import { createSignatureVerifier } from './management-auth.js';
import { type GatewayOptions, resolveOptions } from './options.js';
import { createRouteSelector, isStagePath, pathnameOf } from './routing.js';
import { RouteThrottle } from './throttling.js';

export interface ListenInfo {
  port: number;
  /** `ws://host:port/stage`: where clients connect. */
  url: string;
  /** `http://host:port/stage`: the `endpoint` for `ApiGatewayManagementApiClient`. */
  managementEndpoint: string;
  /**
   * `http://host:port`: the `endpoint` for `LambdaClient` in another process, whose `InvokeCommand` reaches
   * `functions` (SPEC.md §8.9), signed with a `managementAuth` key pair.
   */
  lambdaEndpoint: string;
}

export interface Gateway {
  listen(port?: number, host?: string): Promise<ListenInfo>;
  /** Closes every client with 1001 `Going away`, waits for their `$disconnect`, then closes the server. */
  close(): Promise<void>;
  readonly connectionCount: number;
  /**
   * The in-process transport for the @connections API: pass it as `requestHandler` to
   * `ApiGatewayManagementApiClient`. It runs the same code as the HTTP listener, without a TCP round trip.
   */
  managementRequestHandler(): ManagementRequestHandler;
  /**
   * Functions invoked as Lambda's Invoke API does (SPEC.md §8.6–§8.9): `Event`, `DryRun` and `RequestResponse`,
   * from this process (hand it to code that would call Lambda) or from others, over the listener. `close()` closes
   * it after the gateway's own work and before the listener.
   */
  readonly functions: LocalLambda;
}

export function createGateway(gatewayOptions: GatewayOptions): Gateway {
  const options = resolveOptions(gatewayOptions);
  const inFlight = new InFlight();
  const invoke: GatewayRuntime['invoke'] = (handler, name, event) => {
    const { region, accountId, integrationTimeoutMs: timeoutMs, clock } = options;
    return inFlight.track(
      invokeLambda(handler, event, { routeKey: name, region, accountId, timeoutMs, clock }),
    );
  };
  const { managementCredentials: credentials, region, clock } = options;
  const functions = new LocalLambda({
    ...gatewayOptions.asyncInvocation,
    functions: gatewayOptions.functions ?? {},
    region,
    accountId: options.accountId,
    clock,
    logger: options.logger,
  });
  // Lambda accepts the same key pairs as the management API, so one local identity can call both.
  const serveLambda = createLambdaHttpHandler(
    functions.invokeTarget(),
    credentials &&
      createSignatureVerifier({
        credentials,
        region,
        clock,
        service: LAMBDA_SIGNING_SERVICE,
        unknownKeyErrorType: 'UnrecognizedClientException',
      }),
  );
  const runtime: GatewayRuntime & { domainName: string; closing: boolean } = {
    options,
    connections: new ConnectionRegistry(),
    selectRoute: createRouteSelector(options.routeSelectionExpression, options.routes.keys()),
    throttle: new RouteThrottle(options.routeThrottles, clock),
    domainName: '',
    closing: false,
    failureLog: new FailureLog(options.logger, clock),
    verifySignature:
      credentials &&
      createSignatureVerifier({
        credentials,
        region,
        clock,
        service: MANAGEMENT_SIGNING_SERVICE,
        unknownKeyErrorType: 'AccessDeniedException',
      }),
    track: (work) => inFlight.track(work),
    invoke,
    invokeRoute: async (routeKey, event) => {
      const route = options.routes.get(routeKey);
      return route && invoke(route.handler, routeKey, event);
    },
  };

  const server = http.createServer((req, res) => {
    handleHttpRequest(runtime, serveLambda, req, res).catch((error: unknown) => {
      options.logger.error('HTTP request failed', { url: req.url, error: String(error) });
      if (!res.headersSent) sendPlain(res, 500);
      else res.destroy();
    });
  });
  server.on('upgrade', createUpgradeHandler(runtime));

  let listening = false;
  let closed: Promise<void> | undefined;
  const managementHandler = createManagementRequestHandler(runtime);

  return {
    get connectionCount() {
      return runtime.connections.size;
    },

    managementRequestHandler: () => managementHandler,

    functions,

    async listen(port = 0, host = DEFAULT_HOST) {
      if (listening || closed) throw new Error('The gateway is already listening or closed');
      listening = true;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((error: unknown) => {
        listening = false;
        throw error;
      });
      const actualPort = (server.address() as AddressInfo).port;
      runtime.domainName = `${urlHost(host)}:${actualPort}`;
      return {
        port: actualPort,
        url: `ws://${runtime.domainName}/${options.stage}`,
        managementEndpoint: `http://${runtime.domainName}/${options.stage}`,
        lambdaEndpoint: `http://${runtime.domainName}`,
      };
    },

    close() {
      closed ??= (async () => {
        runtime.closing = true;
        for (const connection of runtime.connections.all()) connection.goAway();
        // Pending handshakes, invocations and every session up to its `$disconnect`; the management API stays
        // up meanwhile because `$disconnect` handlers often call it.
        await inFlight.drain();
        // Asynchronous invocations those may have queued: they too may call the management API.
        await functions.close();
        runtime.failureLog.flush();
        if (!listening) return;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

/** Work the gateway must let finish before `close()` resolves: handshakes, invocations, open connections. */
class InFlight {
  readonly #pending = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work);
    const forget = () => this.#pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Resolves once nothing is pending, including work that was started while waiting. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

/**
 * Requests that are not upgrades: the management API, 426 on the stage URL, Lambda's API under `/2015-03-31/`
 * (after the stage, which may be named `2015-03-31`), the `httpHandler` option, else 404.
 */
async function handleHttpRequest(
  runtime: GatewayRuntime,
  serveLambda: LambdaHttpHandler,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const pathname = pathnameOf(req.url);
  if (parseManagementPath(pathname)) return serveManagementOverHttp(runtime, req, res);
  if (isStagePath(pathname, runtime.options.stage)) return sendPlain(res, 426, { Upgrade: 'websocket' });
  if (isLambdaApiPath(pathname)) return serveLambda(req, res);
  if (runtime.options.httpHandler && (await runtime.options.httpHandler(req, res))) return;
  sendPlain(res, 404);
}

function sendPlain(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders = {}): void {
  const body = http.STATUS_CODES[status] ?? '';
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Wildcard listen addresses are not reachable names; IPv6 literals need brackets in URLs. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
