import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';

/** One request the fault proxy saw, body included, so a decision can depend on what the client asked for. */
export interface ProxiedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** performance.now() when the request was complete. */
  at: number;
}

export type ProxyDecision =
  | { kind: 'forward' }
  /** The TCP connection is reset: what a client sees when the server process dies or refuses. */
  | { kind: 'reset' }
  /** No answer, ever (until the proxy closes): a peer lost behind a partition. */
  | { kind: 'hang' }
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Forwarded once `until` settles: a request held up in the network while the test does something else. */
  | { kind: 'hold'; until: Promise<unknown> }
  /** Forwarded and carried out upstream, then the connection is reset: the answer is lost on its way back. */
  | { kind: 'lose' };

export const FORWARD: ProxyDecision = { kind: 'forward' };
export const RESET: ProxyDecision = { kind: 'reset' };
export const HANG: ProxyDecision = { kind: 'hang' };
export const LOSE: ProxyDecision = { kind: 'lose' };

export interface FaultProxy {
  /** `http://127.0.0.1:{port}`. */
  readonly url: string;
  /** Origin requests are forwarded to, e.g. `http://127.0.0.1:8000`; settable after the upstream starts. */
  target: string;
  /** Decides each request; forwards everything by default. */
  decide: (request: ProxiedRequest) => ProxyDecision;
  /** Every request, in arrival order. */
  readonly requests: ProxiedRequest[];
  /** Resets every open client connection, as a crashing server would. */
  dropConnections(): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy that can forward, answer with a scripted response, or reset the connection, request by request.
 * It stands in front of DynamoDB (to stop it mid-broadcast) or of the @connections API (to answer 429 and 500).
 */
export async function startFaultProxy(target = ''): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const agent = new http.Agent({ keepAlive: true });
  const proxy: FaultProxy = {
    url: '',
    target,
    decide: () => FORWARD,
    requests: [],
    dropConnections() {
      for (const socket of sockets) if (!socket.destroyed) socket.resetAndDestroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks),
      at: performance.now(),
    };
    proxy.requests.push(request);
    const decision = proxy.decide(request);
    if (decision.kind === 'reset') {
      if (!req.socket.destroyed) req.socket.resetAndDestroy();
      return;
    }
    if (decision.kind === 'hang') return;
    if (decision.kind === 'hold') await decision.until.catch(() => {});
    if (decision.kind === 'respond') {
      res.writeHead(decision.status, { 'content-type': 'application/json', ...decision.headers });
      res.end(decision.body ?? '');
      return;
    }
    const upstream = http.request(
      new URL(request.path, proxy.target),
      // The Host header is passed on as the client sent it: it is signed (SigV4), so a rewritten one would not
      // verify, on AWS as at the local management API.
      { method: request.method, headers: req.headers, agent },
      (upstreamRes) => {
        if (decision.kind === 'lose') {
          upstreamRes.resume();
          upstreamRes.on('end', () => req.socket.destroyed || req.socket.resetAndDestroy());
          return;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!req.socket.destroyed) req.socket.resetAndDestroy();
    });
    upstream.end(request.body);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (proxy as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** The DynamoDB operation of a request (`Query`, `PutItem`, …), from its X-Amz-Target header. */
export function dynamoOperation(request: ProxiedRequest): string {
  const target = request.headers['x-amz-target'];
  return typeof target === 'string' ? (target.split('.').pop() ?? '') : '';
}
