/**
 * The @connections management API (SPEC.md §5): `PostToConnection`, `GetConnection` and `DeleteConnection`, with
 * errors the AWS SDK recognises, over two transports that share one implementation: the gateway's HTTP listener,
 * where SigV4 signatures are verified when the `managementAuth` option asks for it (SPEC.md §5.7), and an in-process
 * Smithy `HttpHandler` for the SDK client's `requestHandler` option, which no network client can reach.
 */
import { isUtf8 } from 'node:buffer';
import type http from 'node:http';
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';
import type { Connection, GatewayRuntime } from './connections.js';
import { CLOSE_NORMAL, MAX_MESSAGE_BYTES } from './constants.js';
import { isWellFormedGatewayId, newUuid } from './events.js';
import { type BoundedBody, type ReceivedRequest, readBoundedBody } from './management-auth.js';
import { pathnameOf } from './routing.js';

// Requests and responses, whichever transport carried them --------------------------------------------------

interface ManagementRequest {
  method: string;
  /** The path without the query string, still percent-encoded. */
  pathname: string;
  /** The body (read once: every call gets the first one's result). */
  readBody(limit: number): Promise<BoundedBody>;
  /** Over HTTP, what a signature covers; the in-process transport has none and is never verified. */
  signed?: Omit<ReceivedRequest, 'bodySha256'>;
}

interface ManagementResponse {
  statusCode: number;
  /** Header names as API Gateway spells them; transports may lowercase them. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * An error as the @connections API sends it: the SDK picks the exception class from `x-amzn-ErrorType`, and a
 * non-empty body must be JSON or the SDK fails to parse it (SPEC.md §5.2).
 */
function awsError(statusCode: number, errorType: string, message?: string): ManagementResponse {
  const body = Buffer.from(message === undefined ? '' : JSON.stringify({ message }));
  return {
    statusCode,
    headers: {
      'x-amzn-RequestId': newUuid(),
      'x-amzn-ErrorType': errorType,
      'Content-Type': 'application/json',
      'Content-Length': String(body.length),
    },
    body,
  };
}

function awsSuccess(statusCode: number, json?: unknown): ManagementResponse {
  const body = Buffer.from(json === undefined ? '' : JSON.stringify(json));
  return {
    statusCode,
    headers: {
      'x-amzn-RequestId': newUuid(),
      ...(json !== undefined && { 'Content-Type': 'application/json' }),
      // 204 must not carry Content-Length (RFC 9110, section 8.6).
      ...(statusCode !== 204 && { 'Content-Length': String(body.length) }),
    },
    body,
  };
}

/** AWS answers 410 with only the error-type header and an empty body. */
function gone(): ManagementResponse {
  return awsError(410, 'GoneException');
}

/** What either transport answers when handling the request itself failed (a gateway bug). */
function internalError(): ManagementResponse {
  return awsError(500, 'InternalServerErrorException', 'Internal server error');
}

// The API ---------------------------------------------------------------------------------------------------

export interface ManagementPath {
  /** Undefined for `/@connections/…` without a stage prefix, which the gateway also accepts. */
  stage: string | undefined;
  /** Still percent-encoded; undefined for paths that name no single connection. */
  encodedId: string | undefined;
}

// SDK v3 appends `/@connections/{id}` to the endpoint path (a trailing slash in the endpoint gives `//`);
// other clients send `%40connections`.
const MANAGEMENT_PATH = /^\/(?:([^/]+)\/+)?(?:@|%40)connections(?:\/([^/]*))?(\/.*)?$/;

export function parseManagementPath(pathname: string): ManagementPath | undefined {
  const match = MANAGEMENT_PATH.exec(pathname);
  if (!match) return undefined;
  const [, stage, id, rest] = match;
  return { stage, encodedId: id && !rest ? id : undefined };
}

/**
 * POST sends a frame, GET describes the connection, DELETE closes it. Checked in order: the signature, when the
 * request came over HTTP and the gateway verifies them (403), the path, stage and method (403), the id (400), for
 * POST the size (413), the connection (410), for POST the client's buffer (429).
 */
async function handleManagementRequest(
  runtime: GatewayRuntime,
  request: ManagementRequest,
): Promise<ManagementResponse> {
  const { method } = request;
  if (request.signed && runtime.verifySignature) {
    const { sha256 = '' } = await request.readBody(MAX_MESSAGE_BYTES);
    const refusal = await runtime.verifySignature({ ...request.signed, bodySha256: sha256 });
    if (refusal) return awsError(403, refusal.errorType, refusal.message);
  }
  const path = parseManagementPath(request.pathname);
  const stageMatches = path?.stage === undefined || path.stage === runtime.options.stage;
  if (!path || !stageMatches || path.encodedId === undefined || !['POST', 'GET', 'DELETE'].includes(method)) {
    return awsError(403, 'ForbiddenException', 'Forbidden');
  }
  const id = decodeId(path.encodedId);
  if (id === undefined || !isWellFormedGatewayId(id)) {
    return awsError(400, 'BadRequestException', `Invalid connectionId: ${id ?? path.encodedId}`);
  }
  if (method === 'POST') return postToConnection(runtime, request, id);
  const connection = runtime.connections.getOpen(id);
  if (!connection) return gone();
  if (method === 'GET') return awsSuccess(200, describe(connection));
  connection.close(CLOSE_NORMAL);
  return awsSuccess(204);
}

async function postToConnection(
  runtime: GatewayRuntime,
  request: ManagementRequest,
  id: string,
): Promise<ManagementResponse> {
  const { data } = await request.readBody(MAX_MESSAGE_BYTES);
  if (data === undefined) return awsError(413, 'PayloadTooLargeException', 'Message too long');
  const connection = runtime.connections.getOpen(id);
  if (!connection) return gone();
  // Text when the bytes are UTF-8, binary otherwise (SPEC.md §5.4, unverified).
  switch (connection.send(data, !isUtf8(data))) {
    case 'sent':
      return awsSuccess(200);
    case 'gone':
      return gone();
    case 'full':
      // "The WebSocket client side buffer is full" (service model): the client is not reading fast enough.
      return awsError(429, 'LimitExceededException', 'Rate exceeded');
  }
}

function describe(connection: Connection) {
  const { connectedAt, identity } = connection.facts;
  return {
    connectedAt: new Date(connectedAt).toISOString(),
    identity: { sourceIp: identity.sourceIp, userAgent: identity.userAgent ?? '' },
    lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
  };
}

function decodeId(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** Every response carries the gateway's time, as AWS's do: the SDK corrects its clock skew from it. */
function dated(response: ManagementResponse, runtime: GatewayRuntime): ManagementResponse {
  const date = new Date(runtime.options.clock.now()).toUTCString();
  return { ...response, headers: { ...response.headers, Date: date } };
}

// Over the HTTP listener ------------------------------------------------------------------------------------

/** @internal The gateway's HTTP listener hands @connections requests here. */
export async function serveManagementOverHttp(
  runtime: GatewayRuntime,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  let body: Promise<BoundedBody> | undefined;
  const method = req.method ?? '';
  const url = req.url ?? '/';
  const request: ManagementRequest = {
    method,
    pathname: pathnameOf(url),
    readBody: (limit: number) => {
      body ??= readBoundedBody(req, limit, runtime.verifySignature !== undefined);
      return body;
    },
    signed: { method, url, headers: req.headersDistinct },
  };
  let response: ManagementResponse;
  try {
    response = await handleManagementRequest(runtime, request);
  } catch (error) {
    runtime.options.logger.error('management request failed', { url: req.url, error: String(error) });
    response = internalError();
  }
  // Whatever was not read is drained, so the client is not cut off while still sending.
  await (body ?? readBoundedBody(req, 0)).catch(() => undefined);
  const { statusCode, headers, body: payload } = dated(response, runtime);
  res.writeHead(statusCode, headers);
  res.end(payload);
}

// In process ------------------------------------------------------------------------------------------------

/**
 * A Smithy `HttpHandler` for the `requestHandler` option of `ApiGatewayManagementApiClient`: SDK requests go straight
 * to the gateway's @connections code, without a TCP round trip. The client still signs requests, but signatures are
 * not checked here: only code in the gateway's own process can reach this handler. The client still needs an
 * endpoint, whose path must be `/{stage}` (or empty); the host is ignored.
 */
export interface ManagementRequestHandler {
  readonly metadata: { handlerProtocol: string };
  handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): Record<string, never>;
  /** Does nothing: the handler is shared by every client and lives as long as the gateway. */
  destroy(): void;
}

type Body = string | ArrayBuffer | ArrayBufferView | AsyncIterable<Uint8Array | string> | null | undefined;

/** @internal The gateway builds it; `gateway.managementRequestHandler()` hands it out. */
export function createManagementRequestHandler(runtime: GatewayRuntime): ManagementRequestHandler {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request, options) {
      throwIfAborted(options?.abortSignal);
      const body = request.body as Body;
      let response: ManagementResponse;
      try {
        response = await handleManagementRequest(runtime, {
          method: request.method.toUpperCase(),
          pathname: request.path,
          readBody: (limit) => readSmithyBody(body, limit),
        });
      } catch (error) {
        runtime.options.logger.error('management request failed', {
          path: request.path,
          error: String(error),
        });
        response = internalError();
      }
      throwIfAborted(options?.abortSignal);
      return { response: toSmithyResponse(dated(response, runtime)) };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}

/** As Node's HTTP client reports them: lowercase header names (the SDK reads `x-amzn-requestid` that way). */
function toSmithyResponse({ statusCode, headers, body }: ManagementResponse): HttpResponse {
  return {
    statusCode,
    headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    body: new Uint8Array(body.buffer, body.byteOffset, body.length),
  };
}

async function readSmithyBody(body: Body, limit: number): Promise<BoundedBody> {
  let bytes: Buffer;
  if (body === undefined || body === null) bytes = Buffer.alloc(0);
  else if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body instanceof ArrayBuffer) bytes = Buffer.from(body);
  else if (ArrayBuffer.isView(body)) bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  else return readBoundedBody(body, limit);
  return { data: bytes.length <= limit ? bytes : undefined, size: bytes.length };
}

function throwIfAborted(signal: HttpHandlerOptions['abortSignal']): void {
  if (!signal?.aborted) return;
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  throw error;
}
