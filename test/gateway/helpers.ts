import type { TestContext } from 'node:test';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { type ClientOptions, WebSocket } from 'ws';
import {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type ListenInfo,
} from '../../src/gateway/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect raw event shapes
export type AnyEvent = any;

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

export interface TestGateway extends ListenInfo {
  gateway: Gateway;
  management: ApiGatewayManagementApiClient;
  /** Opens a client and closes it when the test ends. */
  connect(query?: string, options?: ClientOptions & { protocols?: string[] }): Promise<WebSocket>;
}

/** A gateway on 127.0.0.1, port 0, torn down (clients, SDK client, server) when the test ends. */
export async function startGateway(t: TestContext, options: GatewayOptions): Promise<TestGateway> {
  const gateway = createGateway({ logger: { info() {}, warn() {}, error() {} }, ...options });
  const info = await gateway.listen(0, '127.0.0.1');
  const management = new ApiGatewayManagementApiClient({
    endpoint: info.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const clients: WebSocket[] = [];
  t.after(async () => {
    for (const client of clients) client.terminate();
    await gateway.close();
    management.destroy();
  });
  return {
    ...info,
    gateway,
    management,
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

export const GATEWAY_ID = /^[A-Za-z0-9_-]{15}=$/;
