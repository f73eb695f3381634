/**
 * Lambda's Invoke API as the AWS SDK sees it (SPEC.md §8.6–§8.9): what it takes and returns, its errors, shaped
 * like the SDK's service exceptions, and its two transports, which serve
 * `POST /2015-03-31/functions/{FunctionName}/invocations` from a `LocalLambda` with the same code: an in-process
 * Smithy `HttpHandler` for `LambdaClient`'s `requestHandler` option, without TCP, and the gateway's HTTP listener,
 * where SigV4 signatures are verified, for callers in other processes. Application code runs the same
 * `InvokeCommand` locally as on AWS and gets the SDK's own results and exceptions.
 */
import type http from 'node:http';
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';
import { ASYNC_MAX_PAYLOAD_BYTES, SYNC_MAX_REQUEST_BYTES, SYNC_MAX_RESPONSE_BYTES } from './constants.js';
import { newUuid } from './events.js';
import { type FunctionFailure, functionFailureOf, type InvocationOutcome } from './invoke.js';
import { type BoundedBody, readBoundedBody, type SignatureVerifier } from './management-auth.js';
import type { GatewayClock, GatewayLogger } from './options.js';
import { pathnameOf } from './routing.js';

// What Invoke takes and returns -----------------------------------------------------------------------------

/** Lambda's `InvocationType`. */
export type InvocationType = 'Event' | 'RequestResponse' | 'DryRun';

const INVOCATION_TYPES: ReadonlySet<string> = new Set<InvocationType>(['Event', 'RequestResponse', 'DryRun']);

/** `LocalLambda.invoke`'s options: `Invoke`'s `InvocationType` and `Qualifier`. */
export interface InvokeOptions {
  /**
   * `Event` queues the event (202); `DryRun` checks the request as `Event` would, without queueing it (204);
   * `RequestResponse` runs the function now and resolves with its result (200). @default 'Event'
   */
  invocationType?: InvocationType;
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

/** What `LocalLambda.invoke` resolves to for `RequestResponse`, shaped like the SDK's `InvokeCommandOutput`. */
export interface RequestResponseResult {
  /** 200 whether or not the function failed, as on Lambda. */
  StatusCode: 200;
  ExecutedVersion: '$LATEST';
  /** Set when the function threw, timed out, or returned more than Lambda returns: `Payload` says why. */
  FunctionError?: 'Unhandled';
  /** The function's result as JSON (`null` for none), or the error document `{ errorType, errorMessage, … }`. */
  Payload: Uint8Array;
  /** `requestId` is the invocation's, the handler's `context.awsRequestId`. */
  $metadata: { httpStatusCode: 200; requestId: string };
}

/** The longest payload each invocation type takes: 1 MB asynchronous, 6 MB synchronous (SPEC.md §8.6, §8.8). */
export function payloadLimitFor(invocationType: InvocationType): number {
  return invocationType === 'RequestResponse' ? SYNC_MAX_REQUEST_BYTES : ASYNC_MAX_PAYLOAD_BYTES;
}

/**
 * @internal A `RequestResponse` invocation's `Payload`, from how its handler ended (SPEC.md §8.8): the result as
 * JSON; else, with `failure` set, Lambda's error document: the runtime's for a thrown error (a result JSON cannot
 * serialize is one), `Sandbox.Timedout` for a timeout, `Function.ResponseSizeTooLarge` for a payload over the limit.
 */
export function requestResponsePayload(
  outcome: InvocationOutcome,
  timeoutMs: number,
  requestId: string,
): { payload: Buffer; failure?: FunctionFailure } {
  let failure: FunctionFailure | undefined;
  let json: string | undefined;
  if (outcome.ok) {
    try {
      // `undefined`, a function or a symbol serialize to nothing: Lambda answers `null` for no result.
      json = JSON.stringify(outcome.result) ?? 'null';
    } catch (error) {
      failure = functionFailureOf({ ok: false, reason: 'error', error }, timeoutMs, requestId);
    }
  } else {
    failure = functionFailureOf(outcome, timeoutMs, requestId);
  }
  if (failure) json = JSON.stringify(failure.responsePayload);
  const payload = Buffer.from(json ?? 'null', 'utf8');
  if (payload.length <= SYNC_MAX_RESPONSE_BYTES) return { payload, ...(failure && { failure }) };
  const tooLarge = responseTooLarge(payload.length);
  return { payload: Buffer.from(JSON.stringify(tooLarge.responsePayload), 'utf8'), failure: tooLarge };
}

/** AWS's own text, which names the limit (SPEC.md §8.8). */
function responseTooLarge(bytes: number): FunctionFailure {
  const errorMessage = `Response payload size exceeded maximum allowed payload size (${SYNC_MAX_RESPONSE_BYTES} bytes).`;
  const error = Object.assign(new Error(errorMessage), { name: 'Function.ResponseSizeTooLarge' });
  return {
    error,
    responsePayload: { errorType: 'Function.ResponseSizeTooLarge', errorMessage },
    report: { summary: `response of ${bytes} bytes, over ${SYNC_MAX_RESPONSE_BYTES}` },
  };
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
 * @internal The 413 for a payload over the limit of its invocation type. AWS documents `RequestTooLargeException`,
 * the SDK's class, but Lambda answers `RequestEntityTooLargeException`, AWS's common error, which the SDK raises as
 * its base `LambdaServiceException` under that name (SPEC.md §8.6, observed). `bytes` is undefined when the body
 * was not read to its end.
 */
export function payloadTooLarge(
  bytes: number | undefined,
  invocationType: InvocationType,
): LambdaServiceException {
  const what = bytes === undefined ? 'The payload is' : `${bytes} byte payload is`;
  return new LambdaServiceException(
    'RequestEntityTooLargeException',
    413,
    `${what} too large for the ${invocationType} invocation type (limit ${payloadLimitFor(invocationType)} bytes)`,
  );
}

/** @internal An `InvocationType` other than Lambda's three. */
export function invalidInvocationType(invocationType: string): LambdaServiceException {
  return new LambdaServiceException(
    'InvalidParameterValueException',
    400,
    `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: ` +
      'Member must satisfy enum value set: [Event, RequestResponse, DryRun]',
  );
}

// The wire --------------------------------------------------------------------------------------------------

interface LambdaResponse {
  statusCode: number;
  /** Header names as Lambda spells them; lowercased on the way out in process. */
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

/** What either transport answers when handling the request itself failed (a gateway bug). */
function internalError(): LambdaResponse {
  return awsError(new LambdaServiceException('ServiceException', 500, 'Internal error'));
}

function awsAccepted({ StatusCode, $metadata }: AsyncInvokeResult | DryRunResult): LambdaResponse {
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

/** A `RequestResponse` answer: 200 even for a function error, which only `X-Amz-Function-Error` tells. */
function awsInvoked(result: RequestResponseResult, tailLog: boolean): LambdaResponse {
  const { Payload, FunctionError, ExecutedVersion, $metadata } = result;
  const body = Buffer.from(Payload.buffer, Payload.byteOffset, Payload.byteLength);
  return {
    statusCode: 200,
    headers: {
      'x-amzn-RequestId': $metadata.requestId,
      'X-Amz-Executed-Version': ExecutedVersion,
      ...(FunctionError && { 'X-Amz-Function-Error': FunctionError }),
      // Logs are not captured: `LogType: Tail` gets an empty log, which a caller can still decode.
      ...(tailLog && { 'X-Amz-Log-Result': '' }),
      'Content-Type': 'application/json',
      'Content-Length': String(body.length),
    },
    body,
  };
}

/** Every response carries the service's time, as AWS's do: the SDK corrects its clock skew from it. */
function dated(response: LambdaResponse, clock: GatewayClock): LambdaResponse {
  return { ...response, headers: { ...response.headers, Date: new Date(clock.now()).toUTCString() } };
}

/** `FunctionName` is percent-encoded in the path (`:` as `%3A`, `$` as `%24`). */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** Every path of Lambda's API starts with its version; the gateway's listener hands them all here. */
const LAMBDA_API_PREFIX = '/2015-03-31/';

/** @internal Whether the listener's request is for Lambda's API. */
export function isLambdaApiPath(pathname: string): boolean {
  return pathname.startsWith(LAMBDA_API_PREFIX);
}

/** A request as either transport received it. */
interface InvokeRequest {
  /** Uppercase. */
  method: string;
  /** Still percent-encoded, without the query string. */
  path: string;
  /** `name` lowercase; the last value of a repeated header. */
  header(name: string): string | undefined;
  /** Undefined for an absent or empty parameter. */
  query(name: string): string | undefined;
  /** The body, if at most `limit` bytes (read once: every call gets the first one's result). */
  readBody(limit: number): Promise<{ data?: Buffer; size?: number }>;
}

/** @internal What the transports need of a `LocalLambda`. */
export interface InvokeTarget {
  invoke(
    functionName: string,
    payload: unknown,
    options: InvokeOptions,
  ): AsyncInvokeResult | DryRunResult | Promise<RequestResponseResult>;
  clock: GatewayClock;
  logger: GatewayLogger;
}

/** No `X-Amz-Invocation-Type` is `RequestResponse`, as on Lambda; undefined for a type Lambda does not know. */
function invocationTypeOf(request: InvokeRequest): InvocationType | undefined {
  const type = request.header('x-amz-invocation-type') ?? 'RequestResponse';
  return INVOCATION_TYPES.has(type) ? (type as InvocationType) : undefined;
}

/** The most of the body either transport reads: nothing for a request refused before its body matters. */
function bodyLimitOf(request: InvokeRequest): number {
  const invocationType = invocationTypeOf(request);
  return invocationType === undefined ? 0 : payloadLimitFor(invocationType);
}

/**
 * `Invoke` only, checked in order: the path (404) and method (405), the invocation type (400), the body's size
 * (413, before the function is looked up, as the body is not read past the limit), then what `invoke` checks.
 */
async function handleInvokeRequest(target: InvokeTarget, request: InvokeRequest): Promise<LambdaResponse> {
  const { method } = request;
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
  const invocationType = invocationTypeOf(request);
  if (invocationType === undefined) {
    return awsError(invalidInvocationType(request.header('x-amz-invocation-type') ?? ''));
  }
  const { data, size } = await request.readBody(bodyLimitOf(request));
  if (data === undefined) {
    const declared = Number(request.header('content-length'));
    return awsError(
      payloadTooLarge(size ?? (Number.isInteger(declared) ? declared : undefined), invocationType),
    );
  }
  try {
    const result = await target.invoke(decodeName(match[1] ?? ''), data.length === 0 ? undefined : data, {
      invocationType,
      qualifier: request.query('Qualifier'),
    });
    if (result.StatusCode !== 200) return awsAccepted(result);
    return awsInvoked(result, request.header('x-amz-log-type') === 'Tail');
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

// Over the HTTP listener ------------------------------------------------------------------------------------

/** @internal Serves one request of the gateway's listener whose path `isLambdaApiPath` accepted. */
export type LambdaHttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

/**
 * @internal The gateway's listener serves Lambda's API with it, to other processes (SPEC.md §8.9): with
 * `verifySignature`, a request must first be signed for the service `lambda` by a configured key pair (403 as AWS
 * answers, before the path is looked at); then the same code as in process. The body is read to its end, so the
 * caller is not cut off, and hashed for the signature, but at most the invocation type's limit is kept.
 */
export function createLambdaHttpHandler(
  target: InvokeTarget,
  verifySignature: SignatureVerifier | undefined,
): LambdaHttpHandler {
  return async (req, res) => {
    const url = req.url ?? '/';
    const method = (req.method ?? '').toUpperCase();
    let body: Promise<BoundedBody> | undefined;
    const readBody = (limit: number) => {
      body ??= readBoundedBody(req, limit, verifySignature !== undefined);
      return body;
    };
    const request: InvokeRequest = {
      method,
      path: pathnameOf(url),
      header: (name) => req.headersDistinct[name]?.at(-1),
      query: (name) => new URLSearchParams(url.slice(pathnameOf(url).length + 1)).get(name) || undefined,
      readBody,
    };
    let response: LambdaResponse;
    try {
      const refusal =
        verifySignature &&
        (await verifySignature({
          method,
          url,
          headers: req.headersDistinct,
          bodySha256: (await readBody(bodyLimitOf(request))).sha256 ?? '',
        }));
      response = refusal
        ? awsError(new LambdaServiceException(refusal.errorType, 403, refusal.message))
        : await handleInvokeRequest(target, request);
    } catch (error) {
      target.logger.error('Lambda Invoke request failed', { url, error: String(error) });
      response = internalError();
    }
    // Whatever was not read is drained, so the client is not cut off while still sending.
    await (body ?? readBoundedBody(req, 0)).catch(() => undefined);
    const { statusCode, headers, body: payload } = dated(response, target.clock);
    res.writeHead(statusCode, headers);
    res.end(payload);
  };
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

type Body = string | ArrayBuffer | ArrayBufferView | AsyncIterable<Uint8Array | string> | null | undefined;

/** @internal `LocalLambda.requestHandler()` builds it. */
export function createLambdaRequestHandler(target: InvokeTarget): LambdaRequestHandler {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request, options) {
      throwIfAborted(options?.abortSignal);
      let response: LambdaResponse;
      try {
        response = await handleInvokeRequest(target, {
          method: request.method.toUpperCase(),
          path: request.path,
          header: (name) => headerOf(request, name),
          query: (name) => queryOf(request, name),
          readBody: (limit) => readSmithyBody(request.body as Body, limit),
        });
      } catch (error) {
        target.logger.error('Lambda Invoke request failed', { path: request.path, error: String(error) });
        response = internalError();
      }
      throwIfAborted(options?.abortSignal);
      return { response: toSmithyResponse(dated(response, target.clock)) };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
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
async function readSmithyBody(body: Body, limit: number): Promise<{ data?: Buffer; size?: number }> {
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
