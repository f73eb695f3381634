import { request } from 'node:http';
import type { TestContext } from 'node:test';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { type ClientOptions, WebSocket } from 'ws';
import { createGateway, type Gateway, type GatewayOptions, type ListenInfo } from '../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect raw event shapes
export type AnyEvent = any;

export const GATEWAY_ID = /^[A-Za-z0-9_-]{15}=$/;
export const QUIET = { info() {}, warn() {}, error() {} };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records every event a handler receives; `result` decides what the handler returns (or throws). */
export class Recorder {
  readonly events: AnyEvent[] = [];

  handler(result: (event: AnyEvent) => unknown = () => ({ statusCode: 200 })) {
    return async (event: AnyEvent) => {
      this.events.push(event);
      return result(event);
    };
  }

  of(routeKey: string): AnyEvent[] {
    return this.events.filter((e) => e.requestContext.routeKey === routeKey);
  }

  async next(routeKey: string, index = 0): Promise<AnyEvent> {
    await waitUntil(() => this.of(routeKey).length > index, `a ${routeKey} event`);
    return this.of(routeKey)[index];
  }
}

export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The two ways to reach the @connections API; management tests run over both. */
export const TRANSPORTS = ['http', 'in-process'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface TestGateway extends ListenInfo {
  gateway: Gateway;
  /** The SDK client over HTTP. */
  management: ApiGatewayManagementApiClient;
  /** An SDK client over the given transport, destroyed when the test ends. */
  managementClient(transport: Transport, options?: { maxAttempts?: number }): ApiGatewayManagementApiClient;
  /** Opens a client and closes it when the test ends. */
  connect(query?: string, options?: ClientOptions & { protocols?: string[] }): Promise<WebSocket>;
}

const CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };

/** A gateway on 127.0.0.1, port 0, torn down (clients, SDK clients, server) when the test ends. */
export async function startGateway(t: TestContext, options: GatewayOptions): Promise<TestGateway> {
  const gateway = createGateway({ logger: QUIET, ...options });
  const info = await gateway.listen(0, '127.0.0.1');
  const sdkClients: ApiGatewayManagementApiClient[] = [];
  const managementClient = (transport: Transport, { maxAttempts }: { maxAttempts?: number } = {}) => {
    const client = new ApiGatewayManagementApiClient({
      endpoint: info.managementEndpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      ...(maxAttempts !== undefined && { maxAttempts }),
      ...(transport === 'in-process' && { requestHandler: gateway.managementRequestHandler() }),
    });
    sdkClients.push(client);
    return client;
  };
  const management = managementClient('http');
  const clients: WebSocket[] = [];
  t.after(async () => {
    for (const client of clients) client.terminate();
    await gateway.close();
    for (const client of sdkClients) client.destroy();
  });
  return {
    ...info,
    gateway,
    management,
    managementClient,
    async connect(query = '', { protocols, ...clientOptions } = {}) {
      const client = new WebSocket(`${info.url}${query}`, protocols, clientOptions);
      clients.push(client);
      await opened(client);
      return client;
    },
  };
}

export function opened(client: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
}

/** The HTTP status of a refused handshake. */
export function refusedStatus(url: string, protocols?: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = new WebSocket(url, protocols);
    client.once('open', () => {
      client.terminate();
      reject(new Error('The handshake was accepted'));
    });
    client.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      client.terminate();
    });
    client.once('error', () => {});
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends a raw handshake (or any GET) and reads the HTTP response; only for refused handshakes. */
export function rawHandshake(url: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), { headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

export const HANDSHAKE_HEADERS = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version': '13',
};

/**
 * A raw @connections request over either transport, for what the SDK cannot send (odd paths and methods).
 * Header names come back lowercase either way.
 */
export async function rawManagement(
  gw: TestGateway,
  transport: Transport,
  method: string,
  path: string,
  body?: string,
): Promise<RawResponse> {
  if (transport === 'http') {
    const res = await fetch(`http://127.0.0.1:${gw.port}${path}`, { method, ...(body && { body }) });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  }
  const { response } = await gw.gateway.managementRequestHandler().handle({
    method,
    protocol: 'http:',
    hostname: 'ignored.example',
    path,
    headers: {},
    body,
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: Buffer.from(response.body as Uint8Array).toString('utf8'),
  };
}

export function nextMessage(client: WebSocket): Promise<{ text: string; isBinary: boolean }> {
  return new Promise((resolve) => {
    client.once('message', (data, isBinary) => resolve({ text: String(data), isBinary }));
  });
}

export function closeOf(client: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    client.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

/** Every frame the client receives during `ms`, as text. */
export async function framesDuring(client: WebSocket, ms: number): Promise<string[]> {
  const frames: string[] = [];
  const collect = (data: unknown) => frames.push(String(data));
  client.on('message', collect);
  await sleep(ms);
  client.off('message', collect);
  return frames;
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number; requestId?: string } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number; requestId?: string } };
  }
  throw new Error('Expected the call to fail');
}

/** The `connectionId` of the `index`-th `$connect` the recorder saw. */
export async function connectedId(recorder: Recorder, index = 0): Promise<string> {
  return (await recorder.next('$connect', index)).requestContext.connectionId;
}

/** An authorizer result allowing (or denying) `resource`. */
export function policy(effect: 'Allow' | 'Deny', resource: string | string[], extra: object = {}) {
  return {
    principalId: 'user-1',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
    },
    ...extra,
  };
}
