import { newUuid } from './ids.js';

/** A @connections request, whichever transport carried it (HTTP or the in-process SDK handler). */
export interface ManagementRequest {
  method: string;
  /** The path without the query string, still percent-encoded. */
  pathname: string;
  /** The whole body, or undefined when it is longer than `limit` bytes. */
  readBody(limit: number): Promise<Buffer | undefined>;
}

export interface ManagementResponse {
  statusCode: number;
  /** Header names as API Gateway spells them; transports may lowercase them. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * An error as the @connections API sends it: the SDK picks the exception class from `x-amzn-ErrorType`, and a
 * non-empty body must be JSON or the SDK fails to parse it (SPEC.md §5.2).
 */
export function awsError(statusCode: number, errorType: string, message?: string): ManagementResponse {
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

export function awsSuccess(statusCode: number, json?: unknown): ManagementResponse {
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

/** What either transport answers when handling the request itself failed (a gateway bug). */
export function internalError(): ManagementResponse {
  return awsError(500, 'InternalServerErrorException', 'Internal server error');
}

/** Reads a byte stream up to `limit`; the rest is consumed and dropped so the sender is not cut off. */
export async function collectLimited(
  stream: AsyncIterable<Uint8Array | string>,
  limit: number,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    size += bytes.length;
    if (size <= limit) chunks.push(bytes);
  }
  return size <= limit ? Buffer.concat(chunks) : undefined;
}
