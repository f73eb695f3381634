import http from 'node:http';
import type { Duplex } from 'node:stream';
import { newUuid } from './ids.ts';

/**
 * Refuses an upgrade request on the raw socket. The body is empty: clients only surface the status, and a
 * `$connect` handler's own body or error text must not leak to the client.
 */
export function rejectUpgrade(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const reason = http.STATUS_CODES[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
    socket.destroy(),
  );
}

/**
 * An error as the @connections API sends it: the SDK picks the exception class from `x-amzn-ErrorType`, and a
 * non-empty body must be JSON or the SDK fails to parse it (reference §5.2).
 */
export function sendAwsError(
  res: http.ServerResponse,
  status: number,
  errorType: string,
  message?: string,
): void {
  const body = message === undefined ? '' : JSON.stringify({ message });
  res.writeHead(status, {
    'x-amzn-RequestId': newUuid(),
    'x-amzn-ErrorType': errorType,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendAwsSuccess(res: http.ServerResponse, status: number, json?: unknown): void {
  const body = json === undefined ? '' : JSON.stringify(json);
  res.writeHead(status, {
    'x-amzn-RequestId': newUuid(),
    ...(json !== undefined && { 'Content-Type': 'application/json' }),
    // 204 must not carry Content-Length (RFC 9110 §8.6).
    ...(status !== 204 && { 'Content-Length': Buffer.byteLength(body) }),
  });
  res.end(body);
}

export function sendPlain(
  res: http.ServerResponse,
  status: number,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const body = http.STATUS_CODES[status] ?? '';
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
