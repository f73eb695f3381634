import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';
import { handleManagementRequest } from './management.js';
import { collectLimited, internalError, type ManagementResponse } from './management-messages.js';
import type { GatewayRuntime } from './runtime.js';

/**
 * A Smithy `HttpHandler` for the `requestHandler` option of `ApiGatewayManagementApiClient`: SDK requests go straight
 * to the gateway's @connections code, without a TCP round trip. The client still signs requests and still needs an
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
          readBody: (limit) => readBody(body, limit),
        });
      } catch (error) {
        runtime.options.logger.error('management request failed', {
          path: request.path,
          error: String(error),
        });
        response = internalError();
      }
      throwIfAborted(options?.abortSignal);
      return { response: toSmithyResponse(response) };
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

async function readBody(body: Body, limit: number): Promise<Buffer | undefined> {
  let bytes: Buffer;
  if (body === undefined || body === null) bytes = Buffer.alloc(0);
  else if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body instanceof ArrayBuffer) bytes = Buffer.from(body);
  else if (ArrayBuffer.isView(body)) bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  else return collectLimited(body, limit);
  return bytes.length <= limit ? bytes : undefined;
}

function throwIfAborted(signal: HttpHandlerOptions['abortSignal']): void {
  if (!signal?.aborted) return;
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  throw error;
}
