import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOSE_GOING_AWAY } from './close-codes.js';
import { ConnectionRegistry } from './connections.js';
import { createUpgradeHandler } from './handshake.js';
import { sendPlain } from './http-responses.js';
import { InFlight } from './in-flight.js';
import { parseManagementPath } from './management.js';
import { serveManagementOverHttp } from './management-http.js';
import { createManagementRequestHandler, type ManagementRequestHandler } from './management-in-process.js';
import { type GatewayOptions, resolveOptions } from './options.js';
import { isStagePath, pathnameOf } from './paths.js';
import { createRouteSelector } from './routing.js';
import type { GatewayRuntime } from './runtime.js';
import { TokenBucket } from './token-bucket.js';

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
}

export function createGateway(gatewayOptions: GatewayOptions): Gateway {
  const options = resolveOptions(gatewayOptions);
  const runtime: GatewayRuntime & { domainName: string; closing: boolean } = {
    options,
    connections: new ConnectionRegistry(),
    inFlight: new InFlight(),
    selectRoute: createRouteSelector(options.routeSelectionExpression, options.routes.keys()),
    connectionRate:
      options.connectionRateLimit &&
      new TokenBucket(options.connectionRateLimit.perSecond, options.connectionRateLimit.burst),
    domainName: '',
    closing: false,
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

    async listen(port = 0, host = '127.0.0.1') {
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
        for (const connection of runtime.connections.all()) connection.close(CLOSE_GOING_AWAY, 'Going away');
        // Pending handshakes, invocations and every session up to its `$disconnect`; the management API stays
        // up meanwhile because `$disconnect` handlers often call it.
        await runtime.inFlight.drain();
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

/** Wildcard listen addresses are not reachable names; IPv6 literals need brackets in URLs. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
