import type http from 'node:http';
import { TLSSocket } from 'node:tls';
import { newTraceId } from './ids.js';

export interface ConnectionIdentity {
  sourceIp: string;
  /** Present only when the handshake carried a User-Agent header. */
  userAgent?: string;
}

export type HeaderMaps = { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> };
export type QueryMaps = {
  queryStringParameters: Record<string, string>;
  multiValueQueryStringParameters: Record<string, string[]>;
};

/**
 * What the gateway reads of a WebSocket handshake. `handshakeRequestOf` takes it from an `http.IncomingMessage`;
 * `simulatedConnection` (events.ts) is given one, to build the events of a connection that never opened a socket.
 */
export interface HandshakeRequest {
  /** Path and query string, e.g. `/prod?token=…`. */
  url: string;
  /** Names and values alternating, as received: names keep the client's casing. */
  rawHeaders: readonly string[];
  /** The client's address. */
  remoteAddress: string;
  /** The port the client connected to. */
  localPort: number;
  /** Whether the client connected over TLS (wss://). */
  secure: boolean;
}

export function handshakeRequestOf(req: http.IncomingMessage): HandshakeRequest {
  return {
    url: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    remoteAddress: req.socket.remoteAddress ?? '127.0.0.1',
    localPort: req.socket.localPort ?? 0,
    secure: req.socket instanceof TLSSocket,
  };
}

/** Hop-by-hop headers API Gateway removes from the `$connect` integration event. */
const DROPPED = new Set(['connection', 'upgrade']);

export function identityOf(req: HandshakeRequest): ConnectionIdentity {
  const userAgent = headerOf(req, 'user-agent');
  return { sourceIp: sourceIpOf(req), ...(userAgent !== undefined && { userAgent }) };
}

function sourceIpOf(req: HandshakeRequest): string {
  const address = req.remoteAddress;
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

/**
 * A header by case-insensitive name, as Node's `req.headers` gives it: User-Agent's first value, any other repeated
 * header's values joined with ", ".
 */
function headerOf(req: HandshakeRequest, lowerCaseName: string): string | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === lowerCaseName) values.push(req.rawHeaders[i + 1] ?? '');
  }
  if (values.length === 0) return undefined;
  return lowerCaseName === 'user-agent' ? values[0] : values.join(', ');
}

export interface HandshakeHeaderMaps {
  /** For the `$connect` integration: hop-by-hop headers removed. */
  integration: HeaderMaps;
  /** For the authorizer: `Connection` and `Upgrade` kept, plus `content-length: "0"` (SPEC.md §1.3). */
  authorizer: HeaderMaps;
}

/**
 * The handshake's header maps, built from `rawHeaders` so names keep the client's casing, plus what API Gateway adds
 * (X-Forwarded-*, X-Amzn-Trace-Id). API Gateway keys headers case-insensitively and lists them sorted that way;
 * repeated headers keep the first spelling, the single-value map keeps the last value.
 */
export function handshakeHeaderMaps(req: HandshakeRequest, nowMs: number): HandshakeHeaderMaps {
  const entries: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    entries.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
  }
  const forwardedFor = headerOf(req, 'x-forwarded-for');
  const clientIp = sourceIpOf(req);
  const added: Record<string, string> = {
    'X-Amzn-Trace-Id': headerOf(req, 'x-amzn-trace-id') ?? newTraceId(nowMs),
    'X-Forwarded-For': forwardedFor ? `${forwardedFor}, ${clientIp}` : clientIp,
    'X-Forwarded-Port': String(req.localPort),
    'X-Forwarded-Proto': req.secure ? 'https' : 'http',
  };
  const replaced = new Set([...Object.keys(added), 'content-length'].map((name) => name.toLowerCase()));
  const kept = entries.filter(([name]) => !replaced.has(name.toLowerCase()));
  const addedEntries = Object.entries(added);
  return {
    integration: headerMaps([...kept.filter(([name]) => !DROPPED.has(name.toLowerCase())), ...addedEntries]),
    authorizer: headerMaps([...kept, ['content-length', '0'], ...addedEntries]),
  };
}

/** `$disconnect` always carries this fixed quartet, never the handshake headers (SPEC.md §1.3). */
export function disconnectHeaderMaps(host: string): HeaderMaps {
  return headerMaps([
    ['Host', host],
    ['x-api-key', ''],
    ['X-Forwarded-For', ''],
    ['x-restapi', ''],
  ]);
}

// Maps are turned into objects with Object.fromEntries so that a name like `__proto__` stays an own property.
function headerMaps(entries: [string, string][]): HeaderMaps {
  const grouped = new Map<string, { name: string; values: string[] }>();
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    const group = grouped.get(lower);
    if (group) group.values.push(value);
    else grouped.set(lower, { name, values: [value] });
  }
  const sorted = [...grouped.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, group]) => group);
  return {
    headers: Object.fromEntries(
      sorted.map(({ name, values }) => [name, values[values.length - 1] as string]),
    ),
    multiValueHeaders: Object.fromEntries(sorted.map(({ name, values }) => [name, values])),
  };
}

/** Undefined when the URL has no query string: API Gateway then omits both keys. */
export function queryMaps(url: string | undefined): QueryMaps | undefined {
  const start = url?.indexOf('?') ?? -1;
  const search = start === -1 ? '' : (url as string).slice(start + 1);
  if (!search) return undefined;
  const grouped = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(search))
    grouped.set(name, [...(grouped.get(name) ?? []), value]);
  const entries = [...grouped.entries()];
  return {
    queryStringParameters: Object.fromEntries(
      entries.map(([name, values]) => [name, values[values.length - 1] as string]),
    ),
    multiValueQueryStringParameters: Object.fromEntries(entries),
  };
}
