/**
 * The gateway: one HTTP listener for the handshake, the management API and other pages (SPEC.md §3.1), the state its
 * parts share (`GatewayRuntime`), the invocations it runs, the functions other code invokes asynchronously
 * (`functions`, SPEC.md §8.6), and `close()`, which waits for all of them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalLambda } from './async-invoke.js';
import { ConnectionRegistry, type GatewayRuntime } from './connections.js';
import { DEFAULT_HOST } from './constants.js';
import { FailureLog } from './failure-log.js';
import { createUpgradeHandler } from './handshake.js';
import { invokeLambda } from './invoke.js';
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
   * Functions invoked asynchronously, as Lambda's `InvocationType: 'Event'` (SPEC.md §8.6): hand it to code that
   * would call Lambda's Invoke API. `close()` closes it after the gateway's own work and before the listener.
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
  const runtime: GatewayRuntime & { domainName: string; closing: boolean } = {
    options,
    connections: new ConnectionRegistry(),
    selectRoute: createRouteSelector(options.routeSelectionExpression, options.routes.keys()),
    throttle: new RouteThrottle(options.routeThrottles, clock),
    domainName: '',
    closing: false,
    failureLog: new FailureLog(options.logger, clock),
    verifySignature: credentials && createSignatureVerifier({ credentials, region, clock }),
    track: (work) => inFlight.track(work),
    invoke,
    invokeRoute: async (routeKey, event) => {
      const route = options.routes.get(routeKey);
      return route && invoke(route.handler, routeKey, event);
    },
  };

  const server = http.createServer((req, res) => {
    handleHttpRequest(runtime, req, res).catch((error: unknown) => {
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

/** Requests that are not upgrades: the management API, 426 on the stage URL, the `httpHandler` option, else 404. */
async function handleHttpRequest(
  runtime: GatewayRuntime,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const pathname = pathnameOf(req.url);
  if (parseManagementPath(pathname)) return serveManagementOverHttp(runtime, req, res);
  if (isStagePath(pathname, runtime.options.stage)) return sendPlain(res, 426, { Upgrade: 'websocket' });
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
