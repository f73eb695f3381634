import { request } from 'node:http';
import type { TestContext } from 'node:test';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { type ClientOptions, WebSocket } from 'ws';
import {
  createGateway,
  type Gateway,
  type GatewayClock,
  type GatewayOptions,
  type ListenInfo,
  LocalLambda,
  type LocalLambdaOptions,
} from '../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect raw event shapes
export type AnyEvent = any;

export const GATEWAY_ID = /^[A-Za-z0-9_-]{15}=$/;
export const QUIET = { info() {}, warn() {}, error() {} };
/** A Lambda request id: a version 4 UUID. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;

// Time ---------------------------------------------------------------------------------------------------------

/** 19 Feb 2024 07:11:42 UTC, the `requestTime` of SPEC.md §1.2: where every test gateway's clock starts. */
export const CLOCK_START = Date.UTC(2024, 1, 19, 7, 11, 42);

/**
 * A clock that moves only when a test says so: `advance(ms)` runs the timers that fall due on the way, earliest
 * first, each at its own time. Timing is then proven exactly (open at 9:59.999, closed at 10:00) instead of by
 * waiting in a window a loaded machine may miss.
 */
export class ManualClock implements GatewayClock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { due: number; callback: () => void }>();

  constructor(start = CLOCK_START) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(timer: unknown): void {
    this.#timers.delete(timer as number);
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { due: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].due <= target && (next === undefined || entry[1].due < next[1].due)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].due);
      next[1].callback();
    }
    this.#now = target;
  }
}

/** Polls `condition` until it holds; the deadline only bounds a failing test, it is no timing assertion. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// Handlers -----------------------------------------------------------------------------------------------------

/**
 * Records every event its handlers receive, by route key (`authorizer` for the authorizer's REQUEST events);
 * `result` decides what the handler returns (or throws).
 */
export class Recorder {
  readonly events: AnyEvent[] = [];

  handler(result: (event: AnyEvent) => unknown = () => ({ statusCode: 200 })) {
    return async (event: AnyEvent) => {
      this.events.push(event);
      return result(event);
    };
  }

  of(key: string): AnyEvent[] {
    return this.events.filter((event) => keyOf(event) === key);
  }

  /** The `index`-th event of `key`, once it has arrived: its handler has been invoked. */
  async next(key: string, index = 0): Promise<AnyEvent> {
    await waitUntil(() => this.of(key).length > index, `${key} event #${index}`);
    return this.of(key)[index];
  }
}

function keyOf(event: AnyEvent): string {
  return event.type === 'REQUEST' ? 'authorizer' : event.requestContext.routeKey;
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

// Gateways -----------------------------------------------------------------------------------------------------

/** The two ways to reach the @connections API; management tests run over both. */
export const TRANSPORTS = ['http', 'in-process'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface TestGateway extends ListenInfo {
  gateway: Gateway;
  /** The gateway's clock, unless the test passed its own. */
  clock: ManualClock;
  /** The SDK client over HTTP. */
  management: ApiGatewayManagementApiClient;
  /** An SDK client over the given transport, destroyed when the test ends. */
  managementClient(transport: Transport, options?: { maxAttempts?: number }): ApiGatewayManagementApiClient;
  /** Opens a client and closes it when the test ends. */
  connect(query?: string, options?: ClientOptions & { protocols?: string[] }): Promise<WebSocket>;
}

const CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };

/**
 * A gateway on 127.0.0.1, port 0, on a `ManualClock`, torn down (clients, SDK clients, server) when the test ends.
 * The teardown runs the clock far ahead first, so an invocation a test left pending times out instead of keeping
 * `close()` waiting.
 */
export async function startGateway(t: TestContext, options: GatewayOptions): Promise<TestGateway> {
  const clock = new ManualClock();
  const gateway = createGateway({ logger: QUIET, clock, ...options });
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
    clock.advance(2 ** 31);
    await gateway.close();
    for (const client of sdkClients) client.destroy();
  });
  return {
    ...info,
    gateway,
    clock,
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

// Clients ------------------------------------------------------------------------------------------------------

export function opened(client: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
}

export function nextMessage(client: WebSocket): Promise<{ text: string; isBinary: boolean }> {
  return new Promise((resolve) => {
    client.once('message', (data, isBinary) => resolve({ text: String(data), isBinary }));
  });
}

/**
 * Every frame the client receives, as text, up to and including the first `isLast` accepts. Proves that nothing
 * else arrived: send a sentinel whose answer must come after anything that could have arrived, and stop there.
 */
export function framesUntil(client: WebSocket, isLast: (text: string) => boolean): Promise<string[]> {
  return new Promise((resolve) => {
    const frames: string[] = [];
    const collect = (data: unknown) => {
      const text = String(data);
      frames.push(text);
      if (!isLast(text)) return;
      client.off('message', collect);
      resolve(frames);
    };
    client.on('message', collect);
  });
}

/** The frame API Gateway answers a message with when no route matches and there is no `$default`. */
export function isForbiddenFrame(text: string): boolean {
  return text.startsWith('{"message": "Forbidden"');
}

/** Resolves once the server answered a ping: everything the client sent before it has been read. */
export function pingPong(client: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    client.once('pong', () => resolve());
    client.ping();
  });
}

export function closeOf(client: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    client.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

// Raw HTTP -----------------------------------------------------------------------------------------------------

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export const HANDSHAKE_HEADERS = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version': '13',
};

/**
 * The response to a raw WebSocket handshake, `headers` added to (or replacing) a valid handshake's: for refused
 * handshakes, whose status, headers and body it reads. A 101 is reported and its socket destroyed.
 */
export function handshakeResponse(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      method,
      headers: { ...HANDSHAKE_HEADERS, ...headers },
    });
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

/** A LocalLambda on its own, quiet unless the test passes a logger, closed when the test ends. */
export function localLambda(t: TestContext, options: LocalLambdaOptions): LocalLambda {
  const local = new LocalLambda({ logger: QUIET, ...options });
  t.after(() => local.close());
  return local;
}

/** A promise the test settles by hand. */
export function gate(): { released: Promise<void>; release(): void } {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  return { released, release };
}
