import http from 'node:http';
import type { Duplex } from 'node:stream';

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
