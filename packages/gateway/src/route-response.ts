import { isUtf8 } from 'node:buffer';

export type RouteResponse =
  | { send: false; malformed: boolean }
  | { send: true; data: string | Buffer; binary: boolean };

const NOTHING: RouteResponse = { send: false, malformed: false };

/**
 * What a two-way route sends back to its caller (SPEC.md §6): the proxy result's `body`, as one frame, whatever
 * the `statusCode`. An absent or empty body sends nothing. A plain string result is sent as is (unverified). A
 * base64 body (`isBase64Encoded: true`) is decoded and sent as text when it is UTF-8, binary otherwise
 * (unverified). A body that is not a string is a malformed proxy response: the caller gets the
 * `Internal server error` frame.
 */
export function routeResponseOf(result: unknown): RouteResponse {
  if (typeof result === 'string')
    return result === '' ? NOTHING : { send: true, data: result, binary: false };
  if (typeof result !== 'object' || result === null) return NOTHING;
  const { body, isBase64Encoded } = result as { body?: unknown; isBase64Encoded?: unknown };
  if (body === undefined || body === null || body === '') return NOTHING;
  if (typeof body !== 'string') return { send: false, malformed: true };
  if (isBase64Encoded !== true) return { send: true, data: body, binary: false };
  const bytes = Buffer.from(body, 'base64');
  if (bytes.length === 0) return NOTHING;
  return isUtf8(bytes)
    ? { send: true, data: bytes.toString('utf8'), binary: false }
    : { send: true, data: bytes, binary: true };
}
