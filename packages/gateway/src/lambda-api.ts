/**
 * Lambda's Invoke API as the AWS SDK sees it (SPEC.md §8.6, §8.7): what it takes and returns, its errors, shaped
 * like the SDK's service exceptions, and an in-process Smithy `HttpHandler` for `LambdaClient`'s `requestHandler`
 * option, which serves `POST /2015-03-31/functions/{FunctionName}/invocations` from a `LocalLambda` without TCP,
 * so application code runs the same `InvokeCommand` locally as on AWS and gets the SDK's own exceptions.
 */
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';
import { ASYNC_MAX_PAYLOAD_BYTES } from './constants.js';
import { newUuid } from './events.js';
import type { GatewayClock, GatewayLogger } from './options.js';

// What Invoke takes and returns -----------------------------------------------------------------------------

/** `LocalLambda.invoke`'s options: `Invoke`'s `InvocationType` and `Qualifier`. */
export interface InvokeOptions {
  /**
   * `Event` queues the event; `DryRun` checks the request as `Event` would, without queueing it (204). Lambda's
   * `RequestResponse` is not emulated. @default 'Event'
   */
  invocationType?: 'Event' | 'DryRun';
  /** Lambda's `Qualifier`: only `$LATEST` is emulated; a qualifier in the name must be the same. */
  qualifier?: string;
}

/** What `LocalLambda.invoke` returns, shaped like the SDK's `InvokeCommandOutput` for an `Event` invocation. */
export interface AsyncInvokeResult {
  StatusCode: 202;
  $metadata: { httpStatusCode: 202; requestId: string };
}

/** What `LocalLambda.invoke` returns for `DryRun`, shaped like the SDK's `InvokeCommandOutput`. */
export interface DryRunResult {
  StatusCode: 204;
  $metadata: { httpStatusCode: 204; requestId: string };
}

// Errors ----------------------------------------------------------------------------------------------------

/**
 * An error of the Lambda Invoke API, shaped like the SDK's service exceptions: `name` is the error type
 * (`ResourceNotFoundException`, …), `$metadata.httpStatusCode` its status.
 */
export class LambdaServiceException extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number };

  constructor(name: string, httpStatusCode: number, message: string) {
    super(message);
    this.name = name;
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode };
  }
}

/**
 * @internal The 413 for a payload over the limit. AWS documents `RequestTooLargeException`, the SDK's class, but
 * Lambda answers `RequestEntityTooLargeException`, AWS's common error, which the SDK raises as its base
 * `LambdaServiceException` under that name (SPEC.md §8.6, observed). `bytes` is undefined when the body was not
 * read to its end.
 */
export function payloadTooLarge(bytes: number | undefined, invocationType: string): LambdaServiceException {
  const what = bytes === undefined ? 'The payload is' : `${bytes} byte payload is`;
  return new LambdaServiceException(
    'RequestEntityTooLargeException',
    413,
    `${what} too large for the ${invocationType} invocation type (limit ${ASYNC_MAX_PAYLOAD_BYTES} bytes)`,
  );
}

/** @internal `undefined` is a request without `X-Amz-Invocation-Type`, which Lambda runs as `RequestResponse`. */
export function invocationTypeNotEmulated(invocationType: string | undefined): LambdaServiceException {
  const what =
    invocationType === undefined
      ? "InvocationType RequestResponse (the default when none is given; set InvocationType: 'Event')"
      : `InvocationType ${invocationType}`;
  return new LambdaServiceException(
    'InvalidParameterValueException',
    400,
    `${what} is not emulated locally: only Event and DryRun are`,
  );
}

// The wire --------------------------------------------------------------------------------------------------

interface LambdaResponse {
  statusCode: number;
  /** Header names as Lambda spells them; lowercased on the way out. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Error types whose message member is `Message` in Lambda's service model; the others have `message`. The SDK for
 * JavaScript reads either into the exception's `message`; SDKs that keep the modeled member need the right one.
 */
const CAPITALIZED_MESSAGE = new Set(['ResourceNotFoundException', 'ServiceException']);

/**
 * An error as Lambda's restJson1 protocol sends it: the SDK picks the exception class from `x-amzn-ErrorType`
 * (before the body), and the body is `{"Type": "User" | "Service", "message" | "Message": …}`.
 */
function awsError({ name, message, $metadata }: LambdaServiceException): LambdaResponse {
  const statusCode = $metadata.httpStatusCode;
  const messageKey = CAPITALIZED_MESSAGE.has(name) ? 'Message' : 'message';
  const body = Buffer.from(
    JSON.stringify({ Type: statusCode >= 500 ? 'Service' : 'User', [messageKey]: message }),
  );
  return {
    statusCode,
    headers: {
      'x-amzn-RequestId': newUuid(),
      'x-amzn-ErrorType': name,
      'Content-Type': 'application/json',
      'Content-Length': String(body.length),
    },
    body,
  };
}

function awsSuccess({ StatusCode, $metadata }: AsyncInvokeResult | DryRunResult): LambdaResponse {
  return {
    statusCode: StatusCode,
    headers: {
      // The invocation's id, which its handler sees as `context.awsRequestId`.
      'x-amzn-RequestId': $metadata.requestId,
      // 204 must not carry Content-Length (RFC 9110, section 8.6).
      ...(StatusCode !== 204 && { 'Content-Length': '0' }),
    },
    body: Buffer.alloc(0),
  };
}

/** `FunctionName` is percent-encoded in the path (`:` as `%3A`, `$` as `%24`). */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

type Body = string | ArrayBuffer | ArrayBufferView | AsyncIterable<Uint8Array | string> | null | undefined;

/** @internal What the handler needs of a `LocalLambda`. */
export interface InvokeTarget {
  invoke(functionName: string, payload: unknown, options: InvokeOptions): AsyncInvokeResult | DryRunResult;
  clock: GatewayClock;
  logger: GatewayLogger;
}

/**
 * `Invoke` only, checked in order: the path (404) and method (405), the invocation type (400), the body's size
 * (413, before the function is looked up, as the body is not read past the limit), then what `invoke` checks.
 */
async function handleInvokeRequest(target: InvokeTarget, request: HttpRequest): Promise<LambdaResponse> {
  const method = request.method.toUpperCase();
  const match = INVOKE_PATH.exec(request.path);
  if (!match) {
    return awsError(
      new LambdaServiceException(
        'UnknownOperationException',
        404,
        `Unknown operation: ${method} ${request.path} (only Invoke is emulated)`,
      ),
    );
  }
  if (method !== 'POST') {
    return awsError(
      new LambdaServiceException('UnknownOperationException', 405, `Invoke takes POST, not ${method}`),
    );
  }
  const invocationType = headerOf(request, 'x-amz-invocation-type');
  if (invocationType !== 'Event' && invocationType !== 'DryRun') {
    return awsError(invocationTypeNotEmulated(invocationType));
  }
  const { data, size } = await readBody(request.body as Body, ASYNC_MAX_PAYLOAD_BYTES);
  if (data === undefined) {
    const declared = Number(headerOf(request, 'content-length'));
    return awsError(
      payloadTooLarge(size ?? (Number.isInteger(declared) ? declared : undefined), invocationType),
    );
  }
  try {
    const result = target.invoke(decodeName(match[1] ?? ''), data.length === 0 ? undefined : data, {
      invocationType,
      qualifier: queryOf(request, 'Qualifier'),
    });
    return awsSuccess(result);
  } catch (error) {
    if (error instanceof LambdaServiceException) return awsError(error);
    throw error;
  }
}

/** A name that does not percent-decode is looked up as it is, and so not found. */
function decodeName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function headerOf(request: HttpRequest, name: string): string | undefined {
  for (const [key, value] of Object.entries(request.headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function queryOf(request: HttpRequest, name: string): string | undefined {
  const value = request.query?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === null || first === '' ? undefined : first;
}

/**
 * The body when it is at most `limit` bytes; past that, `data` is undefined and a stream is left unread (the
 * in-process caller has no connection to keep open). `size` is undefined when a stream was cut short.
 */
async function readBody(body: Body, limit: number): Promise<{ data?: Buffer; size?: number }> {
  if (body === undefined || body === null) return { data: Buffer.alloc(0), size: 0 };
  if (typeof body === 'string') {
    const size = Buffer.byteLength(body);
    return size > limit ? { size } : { data: Buffer.from(body, 'utf8'), size };
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    const bytes = ArrayBuffer.isView(body)
      ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
      : Buffer.from(body);
    return bytes.length > limit ? { size: bytes.length } : { data: bytes, size: bytes.length };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    size += bytes.length;
    if (size > limit) return {};
    chunks.push(bytes);
  }
  return { data: Buffer.concat(chunks), size };
}

// In process ------------------------------------------------------------------------------------------------

/**
 * A Smithy `HttpHandler` for the `requestHandler` option of `LambdaClient`: `InvokeCommand` goes straight to a
 * `LocalLambda`, without a TCP round trip. The client still signs requests, but signatures are not checked: only
 * code in the same process can reach this handler. The endpoint's host (and the client's region) are ignored.
 */
export interface LambdaRequestHandler {
  readonly metadata: { handlerProtocol: string };
  handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): Record<string, never>;
  /** Does nothing: the handler is shared by every client and lives as long as its `LocalLambda`. */
  destroy(): void;
}

/** @internal `LocalLambda.requestHandler()` builds it. */
export function createLambdaRequestHandler(target: InvokeTarget): LambdaRequestHandler {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request, options) {
      throwIfAborted(options?.abortSignal);
      let response: LambdaResponse;
      try {
        response = await handleInvokeRequest(target, request);
      } catch (error) {
        target.logger.error('Lambda Invoke request failed', { path: request.path, error: String(error) });
        response = awsError(new LambdaServiceException('ServiceException', 500, 'Internal error'));
      }
      throwIfAborted(options?.abortSignal);
      // Every response carries the service's time, as AWS's do: the SDK corrects its clock skew from it.
      response.headers.Date = new Date(target.clock.now()).toUTCString();
      return { response: toSmithyResponse(response) };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}

/** As Node's HTTP client reports them: lowercase header names (the SDK reads `x-amzn-requestid` that way). */
function toSmithyResponse({ statusCode, headers, body }: LambdaResponse): HttpResponse {
  return {
    statusCode,
    headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    body: new Uint8Array(body.buffer, body.byteOffset, body.length),
  };
}

function throwIfAborted(signal: HttpHandlerOptions['abortSignal']): void {
  if (!signal?.aborted) return;
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  throw error;
}
