/**
 * What handlers receive (SPEC.md §1): the CONNECT, MESSAGE and DISCONNECT events, built from what the handshake
 * told API Gateway, with its ids, its time format and its header maps. Pure: the gateway passes the time, and
 * `simulatedConnection` builds the same events without a socket.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_NO_STATUS,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_UNSUPPORTED_DATA,
  GOING_AWAY_REASON,
} from './constants.js';

// Ids (SPEC.md §1.5) ----------------------------------------------------------------------------------------

/**
 * API Gateway ids (connectionId, requestId, messageId) are 16 characters: 15 from the URL-safe base64 alphabet
 * plus a trailing `=`. The `=` matters: it forces callers to percent-encode ids in @connections URLs.
 */
export function newGatewayId(): string {
  return `${randomBytes(11).toString('base64url')}=`;
}

const GATEWAY_ID = /^[A-Za-z0-9_-]{15}=$/;

export function isWellFormedGatewayId(id: string): boolean {
  return GATEWAY_ID.test(id);
}

const API_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 10 lowercase alphanumerics, like `nn27okk1we`. */
export function newApiId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += API_ID_ALPHABET[randomInt(API_ID_ALPHABET.length)];
  return id;
}

/** `Root=1-{epoch seconds, 8 hex}-{24 hex}`, the X-Amzn-Trace-Id format. */
function newTraceId(nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${seconds}-${randomBytes(12).toString('hex')}`;
}

/** The x-amzn-RequestId of management API responses and the Lambda awsRequestId are UUIDs. */
export function newUuid(): string {
  return randomUUID();
}

// Time ------------------------------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Common Log Format in UTC, as in `requestContext.requestTime`: `19/Feb/2024:07:11:42 +0000`. */
export function formatClfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const date = `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}`;
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  return `${date}:${time} +0000`;
}

// The handshake as API Gateway saw it (SPEC.md §1.3, §1.4) --------------------------------------------------

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
 * What the gateway reads of a WebSocket handshake. The gateway takes it from the upgrade request (handshake.ts);
 * `simulatedConnection` is given one, to build the events of a connection that never opened a socket.
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

// The events (SPEC.md §1.1, §1.2) ---------------------------------------------------------------------------

/** What `requestContext.authorizer` carries on every event of an authorized connection (SPEC.md §3.8). */
export type AuthorizerContext = Readonly<Record<string, string>>;

/** What every event of one connection shares. */
export interface ConnectionFacts {
  apiId: string;
  stage: string;
  domainName: string;
  connectionId: string;
  connectedAt: number;
  identity: ConnectionIdentity;
  /** `principalId` and the stringified context of the authorizer that admitted the connection. */
  authorizer?: AuthorizerContext;
  /** Only when the stage defines variables. */
  stageVariables?: Readonly<Record<string, string>>;
}

type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export interface GatewayRequestContext {
  routeKey: string;
  authorizer?: AuthorizerContext;
  messageId?: string;
  disconnectStatusCode?: number;
  eventType: EventType;
  extendedRequestId: string;
  requestTime: string;
  messageDirection: 'IN';
  disconnectReason?: string;
  stage: string;
  connectedAt: number;
  requestTimeEpoch: number;
  identity: ConnectionIdentity;
  requestId: string;
  domainName: string;
  connectionId: string;
  apiId: string;
}

type StageVariables = { stageVariables?: Readonly<Record<string, string>> };
export type ConnectEvent = HeaderMaps &
  Partial<QueryMaps> &
  StageVariables & { requestContext: GatewayRequestContext; isBase64Encoded: false };
export type MessageEvent = StageVariables & {
  requestContext: GatewayRequestContext;
  body: string;
  isBase64Encoded: false;
};
export type DisconnectEvent = HeaderMaps &
  StageVariables & { requestContext: GatewayRequestContext; isBase64Encoded: false };

interface EventSpecifics {
  messageId?: string;
  disconnectStatusCode?: number;
  disconnectReason?: string;
}

// Keys are listed in the order of real captures (SPEC.md §1.2); optional ones are absent, never null.
function requestContext(
  facts: ConnectionFacts,
  routeKey: string,
  eventType: EventType,
  specifics: EventSpecifics,
  nowMs: number,
): GatewayRequestContext {
  const requestId = newGatewayId();
  const { userAgent, sourceIp } = facts.identity;
  return {
    routeKey,
    ...(facts.authorizer !== undefined && { authorizer: { ...facts.authorizer } }),
    ...(specifics.messageId !== undefined && { messageId: specifics.messageId }),
    ...(specifics.disconnectStatusCode !== undefined && {
      disconnectStatusCode: specifics.disconnectStatusCode,
    }),
    eventType,
    extendedRequestId: requestId,
    requestTime: formatClfTime(nowMs),
    messageDirection: 'IN',
    ...(specifics.disconnectReason !== undefined && { disconnectReason: specifics.disconnectReason }),
    stage: facts.stage,
    connectedAt: facts.connectedAt,
    requestTimeEpoch: nowMs,
    identity: { ...(userAgent !== undefined && { userAgent }), sourceIp },
    requestId,
    domainName: facts.domainName,
    connectionId: facts.connectionId,
    apiId: facts.apiId,
  };
}

/**
 * The CONNECT request context. The authorizer event and the `$connect` event describe the same HTTP request, so
 * they share it (same requestId and requestTime); `facts.authorizer` is added once the authorizer allowed.
 */
export function connectRequestContext(facts: ConnectionFacts, nowMs: number): GatewayRequestContext {
  return requestContext(facts, '$connect', 'CONNECT', {}, nowMs);
}

export function connectEvent(
  facts: ConnectionFacts,
  headers: HeaderMaps,
  query: QueryMaps | undefined,
  context: GatewayRequestContext,
): ConnectEvent {
  const { routeKey, authorizer: _, ...rest } = context;
  return {
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    ...query,
    ...stageVariablesOf(facts),
    requestContext: {
      routeKey,
      ...(facts.authorizer !== undefined && { authorizer: { ...facts.authorizer } }),
      ...rest,
    },
    isBase64Encoded: false,
  };
}

/** `stageVariables` is present only when the stage defines some (SPEC.md §1.4, unverified). */
function stageVariablesOf(facts: ConnectionFacts): StageVariables {
  return facts.stageVariables === undefined ? {} : { stageVariables: { ...facts.stageVariables } };
}

export function messageEvent(
  facts: ConnectionFacts,
  routeKey: string,
  body: string,
  nowMs: number,
): MessageEvent {
  return {
    ...stageVariablesOf(facts),
    requestContext: requestContext(facts, routeKey, 'MESSAGE', { messageId: newGatewayId() }, nowMs),
    body,
    isBase64Encoded: false,
  };
}

export function disconnectEvent(
  facts: ConnectionFacts,
  headers: HeaderMaps,
  status: { code: number; reason: string },
  nowMs: number,
): DisconnectEvent {
  const specifics = { disconnectStatusCode: status.code, disconnectReason: status.reason };
  return {
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    ...stageVariablesOf(facts),
    requestContext: requestContext(facts, '$disconnect', 'DISCONNECT', specifics, nowMs),
    isBase64Encoded: false,
  };
}

/**
 * `disconnectReason` when the close frame carried no reason. 1000, 1001 and 1005 are texts seen from AWS
 * (SPEC.md §4.3); the others are unverified and chosen to read alike.
 */
const REASONS: Record<number, string> = {
  [CLOSE_NORMAL]: 'Connection Closed Normally',
  [CLOSE_GOING_AWAY]: GOING_AWAY_REASON,
  [CLOSE_PROTOCOL_ERROR]: 'Protocol error',
  [CLOSE_UNSUPPORTED_DATA]: 'Unsupported data',
  [CLOSE_NO_STATUS]: 'Client-side close frame status not set',
  [CLOSE_ABNORMAL]: 'Connection closed abnormally',
  [CLOSE_INVALID_PAYLOAD]: 'Invalid frame payload data',
  [CLOSE_POLICY_VIOLATION]: 'Policy violation',
  [CLOSE_MESSAGE_TOO_BIG]: 'Message too big',
};

export function disconnectReasonFor(code: number, reason: string): string {
  return reason || (REASONS[code] ?? '');
}

// Simulated connections: the events of a connection that never opened a socket (SPEC.md §1.6) ---------------

export interface SimulatedConnectionOptions {
  apiId: string;
  stage: string;
  /** `{apiId}.execute-api.{region}.amazonaws.com`, or a custom domain. */
  domainName: string;
  connectionId: string;
  /** Epoch ms; default now. */
  connectedAt?: number;
  /** The handshake as it reached API Gateway; `url` is the stage path, the query is given to `connect`. */
  handshake: Omit<HandshakeRequest, 'url'>;
  stageVariables?: Readonly<Record<string, string>>;
}

export interface SimulatedConnection {
  facts: ConnectionFacts;
  /** The `$connect` event of a handshake with this query string. */
  connect(query?: Readonly<Record<string, string>>): ConnectEvent;
  /** A frame on `routeKey` (`$default` or a route key). */
  message(routeKey: string, body: string): MessageEvent;
  /** `$disconnect`, by default after the client closed with 1001 and no reason (a tab closed). */
  disconnect(status?: { code: number; reason?: string }): DisconnectEvent;
}

/**
 * The events API Gateway would send for one connection, built exactly as the gateway builds them for a real one: for
 * invoking handlers outside a gateway, e.g. a bundled Lambda in a test or a benchmark. Events are stamped with the
 * current time.
 *
 * @example
 * const connection = simulatedConnection({
 *   apiId: 'abc123defg', stage: 'prod', domainName: 'abc123defg.execute-api.us-east-1.amazonaws.com',
 *   connectionId: 'L0SM9cOFvHcCIhw=',
 *   handshake: { rawHeaders: ['Host', 'abc123defg.execute-api.us-east-1.amazonaws.com'], remoteAddress: '198.51.100.23', localPort: 443, secure: true },
 * });
 * await handler(connection.connect({ token }), context);
 */
export function simulatedConnection(options: SimulatedConnectionOptions): SimulatedConnection {
  const stagePath = `/${options.stage}`;
  const request: HandshakeRequest = { ...options.handshake, url: stagePath };
  const facts: ConnectionFacts = {
    apiId: options.apiId,
    stage: options.stage,
    domainName: options.domainName,
    connectionId: options.connectionId,
    connectedAt: options.connectedAt ?? Date.now(),
    identity: identityOf(request),
    ...(options.stageVariables && { stageVariables: options.stageVariables }),
  };
  return {
    facts,
    connect: (query = {}) => {
      const search = new URLSearchParams(query).toString();
      const url = search ? `${stagePath}?${search}` : stagePath;
      const headers = handshakeHeaderMaps({ ...request, url }, facts.connectedAt).integration;
      return connectEvent(facts, headers, queryMaps(url), connectRequestContext(facts, Date.now()));
    },
    message: (routeKey, body) => messageEvent(facts, routeKey, body, Date.now()),
    disconnect: (status = { code: CLOSE_GOING_AWAY }) =>
      disconnectEvent(
        facts,
        disconnectHeaderMaps(facts.domainName),
        { code: status.code, reason: disconnectReasonFor(status.code, status.reason ?? '') },
        Date.now(),
      ),
  };
}
