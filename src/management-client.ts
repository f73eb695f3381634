import crypto, { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  type ApiGatewayManagementApiClient,
  DeleteConnection$,
  GetConnection$,
  PostToConnection$,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { extendedEncodeURIComponent, HttpResponse } from '@smithy/core/protocols';
import { getRetryAfterHint, isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { operation } from '@smithy/core/schema';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  type Hash,
  type InitializeHandlerOutput,
  type InitializeMiddleware,
  type MetadataBearer,
  type OperationSchema,
  type RetryErrorInfo,
  type RetryErrorType,
  type RetryStrategyV2,
  type RetryToken,
  SMITHY_CONTEXT_KEY,
  type SourceData,
  type StaticOperationSchema,
} from '@smithy/types';

/**
 * The @connections operations without the SDK's per-request machinery. Through the SDK a signed PostToConnection
 * costs about three times the CPU of `node:http` with a signature: serde by schema, endpoint rules, user agent,
 * invocation ids, auth scheme selection, the handler's timers and the response's stream plumbing, on every post.
 * What a post needs is a path, a SigV4 signature and one request on a keep-alive socket
 * (bench/micro/post-to-connection.ts, bench/README.md).
 *
 * `installDirectRequests` puts that path inside the SDK client itself, as its outermost middleware: `client.send()`
 * of PostToConnection, GetConnection and DeleteConnection goes straight to Node's HTTP client, and every other
 * command (and any call with an abort signal) goes through the SDK unchanged. What the SDK gave stays the SDK's:
 * - the signature, by `@smithy/signature-v4` (the SDK's own signer), with the credentials the client's provider
 *   gives on every request, as the SDK asks it (refreshed when about to expire; on Lambda, read from the
 *   environment), and with the client's clock-skew offset;
 * - the retries, by the client's own retry strategy (one shared budget), with the SDK's error classification and
 *   `Retry-After` hints, so 429 and 5xx back off as before and a timed-out post is never sent twice;
 * - the errors, read by the client's own protocol: `GoneException`, `LimitExceededException` etc. are the SDK's
 *   classes, with the same `name`, `message`, `$fault`, `$metadata` and `$response`.
 */

/** What the direct path shares with the client it is installed in. */
export interface DirectRequestOptions {
  /** `https://{domain}/{stage}`: the endpoint the client was built with. */
  endpoint: string;
  /** The agent for the endpoint's protocol; shared with the SDK's request handler, so are its sockets. */
  agent: http.Agent;
  /** Per attempt; the attempt then fails with a `TimeoutError`. */
  requestTimeoutMs: number;
  /** The client's retry strategy (the same instance, so both paths share one retry budget). */
  retryStrategy: RetryStrategyV2;
  /** Send without a SigV4 signature (a local gateway only). */
  unsigned?: boolean;
  /**
   * A Smithy HTTP handler to hand each request to instead of Node's HTTP client: the local gateway's in-process
   * transport, whose responses carry their whole body. The agent and the timeout then do not apply.
   */
  handler?: InProcessHandler;
}

/** The part of a Smithy `HttpHandler` the direct path uses, for a handler that answers with the whole body. */
export interface InProcessHandler {
  handle(request: {
    method: string;
    protocol: string;
    hostname: string;
    port?: number;
    path: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    body?: Uint8Array;
  }): Promise<{ response: { statusCode: number; headers: Record<string, string>; body?: unknown } }>;
}

interface Operation {
  name: 'PostToConnection' | 'GetConnection' | 'DeleteConnection';
  method: string;
  /** The operation's schema, which the client's protocol reads responses with. */
  schema: OperationSchema;
}

function operationOf(name: Operation['name'], method: string, schema: StaticOperationSchema): Operation {
  const [, namespace, , traits, input, output] = schema;
  return { name, method, schema: operation(namespace, name, traits, input, output) };
}

const OPERATIONS: Record<Operation['name'], Operation> = {
  PostToConnection: operationOf('PostToConnection', 'POST', PostToConnection$),
  GetConnection: operationOf('GetConnection', 'GET', GetConnection$),
  DeleteConnection: operationOf('DeleteConnection', 'DELETE', DeleteConnection$),
};
/** The command's name, as the middleware context gives it → the operation. */
const COMMANDS = new Map(
  Object.values(OPERATIONS).map((operation) => [`${operation.name}Command`, operation]),
);

interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);
/** SHA-256 in one call, without a Hash object: node:crypto's `hash()` (Node 20.12 and later) where there is one. */
const oneShot = typeof crypto.hash === 'function';
const sha256 = (data: string | Uint8Array): Buffer =>
  oneShot ? crypto.hash('sha256', data, 'buffer') : createHash('sha256').update(data).digest();
const sha256Hex = (data: Uint8Array): string =>
  oneShot ? crypto.hash('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
const EMPTY_SHA256 = sha256Hex(EMPTY);
/** Node's socket errors that the SDK's HTTP handler reports as a `TimeoutError` (see `networkError`). */
const TIMEOUT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
/** The SDK's threshold for correcting the clock from a response's `Date` (AwsSdkSigV4Signer). */
const CLOCK_SKEW_MS = 240_000;

/** Sends PostToConnection, GetConnection and DeleteConnection of `client` directly (see above). */
export function installDirectRequests(
  client: ApiGatewayManagementApiClient,
  options: DirectRequestOptions,
): void {
  const direct = new DirectRequests(client, options);
  const middleware: InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => {
    const operation = COMMANDS.get(context.commandName ?? '');
    // A call with an abort signal (never made by roomcast) keeps the SDK's handling of it.
    if (!operation || context[SMITHY_CONTEXT_KEY]?.abortSignal) return next;
    return (args) => direct.send(operation, args.input as { ConnectionId?: string; Data?: unknown });
  };
  client.middlewareStack.add(middleware, {
    step: 'initialize',
    priority: 'high',
    name: 'roomcastDirectRequests',
    override: true,
  });
}

class DirectRequests {
  readonly #client: ApiGatewayManagementApiClient;
  readonly #options: DirectRequestOptions;
  readonly #request: typeof http.request;
  readonly #protocol: string;
  readonly #hostname: string;
  readonly #port: string;
  readonly #host: string;
  /** The endpoint's path (the stage) and `/@connections/`. */
  readonly #prefix: string;
  #signer: SignatureV4 | undefined;

  constructor(client: ApiGatewayManagementApiClient, options: DirectRequestOptions) {
    const url = new URL(options.endpoint);
    this.#client = client;
    this.#options = options;
    this.#protocol = url.protocol;
    this.#request = url.protocol === 'https:' ? https.request : http.request;
    // A bracketed IPv6 literal is the host header's form; Node wants it bare.
    this.#hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = url.port;
    this.#host = url.host;
    this.#prefix = `${url.pathname.replace(/\/+$/, '')}/@connections/`;
  }

  async send(
    operation: Operation,
    input: { ConnectionId?: string; Data?: unknown },
  ): Promise<InitializeHandlerOutput<ServiceOutputTypes>> {
    if (typeof input.ConnectionId !== 'string' || input.ConnectionId === '') {
      throw new Error(`${operation.name}: ConnectionId is required`);
    }
    const { method } = operation;
    const path = this.#prefix + extendedEncodeURIComponent(input.ConnectionId);
    const body = method === 'POST' ? bytesOf(input.Data) : undefined;
    const strategy = this.#options.retryStrategy;
    let token: RetryToken = await strategy.acquireInitialRetryToken('');
    let attempts = 0;
    let totalRetryDelay = 0;
    for (;;) {
      attempts++;
      let error: Error & { $metadata?: Record<string, unknown>; $response?: unknown };
      try {
        // Signed again for every attempt, as the SDK does: the signature carries the time.
        const headers = this.#options.unsigned ? { host: this.#host } : await this.#sign(method, path, body);
        if (body) headers['content-length'] = String(body.byteLength);
        const response = await this.#exchange(method, path, headers, body, method === 'GET');
        if (response.statusCode < 300) {
          strategy.recordSuccess(token);
          const output =
            method === 'GET'
              ? await this.#deserialize(response, operation)
              : { $metadata: metadataOf(response) };
          output.$metadata.attempts = attempts;
          output.$metadata.totalRetryDelay = totalRetryDelay;
          return { output, response };
        }
        error = await this.#deserialize(response, operation).then(
          () => new Error(`${operation.name}: HTTP ${response.statusCode} was not an error`),
          (thrown: Error) => thrown,
        );
        this.#correctClock(response, error);
      } catch (thrown) {
        error = thrown instanceof Error ? thrown : new Error(String(thrown));
      }
      try {
        token = await strategy.refreshRetryTokenForRetry(token, retryInfo(error));
      } catch {
        error.$metadata ??= {};
        Object.assign(error.$metadata, { attempts, totalRetryDelay });
        throw error;
      }
      // StandardRetryStrategy waits inside refreshRetryTokenForRetry; a strategy that leaves the wait to the
      // caller says so in its token, as the SDK's retry middleware expects.
      const delay = token.getRetryDelay();
      totalRetryDelay +=
        ((token as { $retryLog?: { acquisitionDelay?: number } }).$retryLog?.acquisitionDelay ?? 0) + delay;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /**
   * One request on a pooled socket. The response body is read only when it matters: a GET's output or an error;
   * a successful POST or DELETE answers with nothing.
   */
  #exchange(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    readBody: boolean,
  ): Promise<RawResponse> {
    const { handler } = this.#options;
    if (handler) return this.#exchangeInProcess(handler, method, path, headers, body);
    const timeoutMs = this.#options.requestTimeoutMs;
    return new Promise<RawResponse>((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(networkError(error));
      };
      const req = this.#request(
        { hostname: this.#hostname, port: this.#port, method, path, headers, agent: this.#options.agent },
        (res) => {
          const statusCode = res.statusCode ?? -1;
          const chunks: Buffer[] = [];
          if (readBody || statusCode >= 300) res.on('data', (chunk: Buffer) => chunks.push(chunk));
          else res.resume();
          res.once('error', fail);
          res.once('end', () => {
            clearTimeout(timer);
            const headers = res.headers as Record<string, string>;
            resolve({ statusCode, headers, body: chunks.length === 0 ? EMPTY : Buffer.concat(chunks) });
          });
        },
      );
      const timer = setTimeout(() => {
        const error = Object.assign(
          new Error(`${method} ${path} did not complete within the ${timeoutMs} ms request timeout`),
          { name: 'TimeoutError', code: 'ETIMEDOUT' },
        );
        req.destroy(error);
        reject(error);
      }, timeoutMs);
      req.once('error', fail);
      req.end(body);
    });
  }

  async #exchangeInProcess(
    handler: InProcessHandler,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<RawResponse> {
    const { response } = await handler.handle({
      method,
      protocol: this.#protocol,
      hostname: this.#hostname,
      path,
      query: {},
      headers,
      ...(body && { body }),
    });
    const data = response.body;
    if (data !== undefined && !(data instanceof Uint8Array)) {
      throw new TypeError('the in-process handler answered with a body that is not bytes');
    }
    return {
      statusCode: response.statusCode,
      headers: response.headers,
      body: data ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : EMPTY,
    };
  }

  /**
   * The headers of a signed request: `host`, the payload's SHA-256 (`x-amz-content-sha256`, which the SDK sends
   * too; given, the signer does not hash the payload again), and what the signer adds: `x-amz-date`,
   * `x-amz-security-token` with temporary credentials, `authorization`. The length is added after signing, as
   * a hand-rolled signer would leave it out: each signed header costs the signer a few objects.
   */
  async #sign(method: string, path: string, body: Buffer | undefined): Promise<Record<string, string>> {
    const config = this.#client.config;
    this.#signer ??= new SignatureV4({
      // Asked on every signature, as the SDK asks: the provider refreshes credentials that are about to expire.
      credentials: () => config.credentials(),
      region: config.region,
      service: 'execute-api',
      sha256: NodeSha256,
      uriEscapePath: config.signingEscapePath,
    });
    const headers = {
      host: this.#host,
      'x-amz-content-sha256': body ? sha256Hex(body) : EMPTY_SHA256,
    };
    const request = { method, protocol: this.#protocol, hostname: this.#hostname, path, query: {}, headers };
    const signed = await this.#signer.sign(request, {
      signingDate: new Date(Date.now() + (config.systemClockOffset ?? 0)),
    });
    return signed.headers;
  }

  /** The client's own protocol reads the response, as `client.send()` would: output or the SDK's exception. */
  async #deserialize(response: RawResponse, operation: Operation): Promise<MetadataBearer> {
    const { config } = this.#client;
    const httpResponse = new HttpResponse({ ...response, body: new Uint8Array(response.body) });
    const protocol = config.protocol as unknown as ResponseReader;
    try {
      return await protocol.deserializeResponse(operation.schema, config, httpResponse);
    } catch (error) {
      // As the SDK's deserialization middleware leaves it: the raw response, for Retry-After and Date.
      if (error instanceof Error) {
        Object.defineProperty(error, '$response', { value: httpResponse, enumerable: false });
      }
      throw error;
    }
  }

  /**
   * As the SDK's signer does after an error: when the response's `Date` is far from this clock, sign with the
   * server's time from now on, and mark the error so that the retry strategy tries again.
   */
  #correctClock(response: RawResponse, error: Error & { $metadata?: Record<string, unknown> }): void {
    const serverTime = Date.parse(response.headers.date ?? '');
    if (Number.isNaN(serverTime) || response.headers.age !== undefined) return;
    const config = this.#client.config;
    const offset = serverTime - Date.now();
    if (Math.abs(offset - (config.systemClockOffset ?? 0)) < CLOCK_SKEW_MS) return;
    config.systemClockOffset = offset;
    if (error.$metadata) error.$metadata.clockSkewCorrected = true;
  }
}

/** The part of the client's protocol (AwsRestJsonProtocol) that reads a response. */
interface ResponseReader {
  deserializeResponse(
    schema: OperationSchema,
    context: object,
    response: HttpResponse,
  ): Promise<MetadataBearer>;
}

/** What the SDK's retry middleware tells its strategy about an error. */
function retryInfo(error: Error): RetryErrorInfo {
  const sdkError = error as Parameters<typeof isThrottlingError>[0];
  const errorType: RetryErrorType = isThrottlingError(sdkError)
    ? 'THROTTLING'
    : isTransientError(sdkError)
      ? 'TRANSIENT'
      : isServerError(sdkError)
        ? 'SERVER_ERROR'
        : 'CLIENT_ERROR';
  const retryAfterHint = getRetryAfterHint((error as { $response?: unknown }).$response);
  return { error: sdkError, errorType, ...(retryAfterHint && { retryAfterHint }) };
}

/**
 * A socket error, named as the SDK's HTTP handler names it: a reset, a broken pipe or a timeout on a connected
 * socket is a `TimeoutError`, which is not retried, since the request may have reached the server. A request that
 * never left (the connection was refused or never opened, the name did not resolve) keeps its name and is retried.
 */
function networkError(error: Error & { code?: string; syscall?: string }): Error {
  const neverSent = error.syscall === 'connect' || error.syscall === 'getaddrinfo';
  if (!neverSent && TIMEOUT_CODES.has(error.code ?? '')) error.name = 'TimeoutError';
  return error;
}

function metadataOf(response: RawResponse): MetadataBearer['$metadata'] {
  const { headers } = response;
  return {
    httpStatusCode: response.statusCode,
    requestId: headers['x-amzn-requestid'] ?? headers['x-amzn-request-id'] ?? headers['x-amz-request-id'],
    extendedRequestId: headers['x-amz-id-2'],
    cfId: headers['x-amz-cf-id'],
  };
}

/** PostToConnection's `Data` (a string or bytes) as a Buffer over the same memory. */
function bytesOf(data: unknown): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw new TypeError('PostToConnection: Data must be a string or bytes');
}

/**
 * SHA-256, or HMAC-SHA-256 when given a secret, on node:crypto: the hash `SignatureV4` needs. The signer hashes
 * each input in one update, so a plain hash is computed in one call at `digest()` (node:crypto's one-shot
 * `hash()`), without a Hash object per input.
 */
class NodeSha256 implements Hash {
  readonly #secret: string | Uint8Array | undefined;
  #data: Array<string | Uint8Array> = [];

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : viewOf(secret);
  }

  update(data: SourceData): void {
    this.#data.push(viewOf(data));
  }

  async digest(): Promise<Uint8Array> {
    const data = this.#data;
    if (this.#secret === undefined && data.length === 1) return sha256(data[0] as Uint8Array);
    const digest = this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
    for (const chunk of data) digest.update(chunk);
    return digest.digest();
  }
}

function viewOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
