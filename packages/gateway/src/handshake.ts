/**
 * The WebSocket handshake (SPEC.md §3): which upgrade requests are handshakes at all, the new-connection rate, then
 * admission (identity sources and the authorizer), then `$connect`, whose outcome decides between 101 and a bare
 * HTTP refusal. The upgrade stays pending meanwhile, as on AWS.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { type ServerOptions, WebSocketServer } from 'ws';
import { authorizerEvent, connectMethodArn, judgeAuthorizer, missingIdentitySource } from './authorizer.js';
import { type CloseStatus, type GatewayRuntime, openSession, runDisconnect } from './connections.js';
import { CLOSE_ABNORMAL, CLOSE_HANDSHAKE_TIMEOUT_MS } from './constants.js';
import {
  type AuthorizerContext,
  type ConnectionFacts,
  connectEvent,
  connectRequestContext,
  disconnectReasonFor,
  type GatewayRequestContext,
  type HandshakeRequest,
  type HeaderMaps,
  handshakeHeaderMaps,
  identityOf,
  newGatewayId,
  type QueryMaps,
  queryMaps,
} from './events.js';
import { describeError } from './failure-log.js';
import { describeFailure, type InvocationOutcome } from './invoke.js';
import { isStagePath, pathnameOf } from './routing.js';
import { TokenBucket } from './token-bucket.js';

export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Handles `Upgrade: websocket` requests (SPEC.md §3.2): path, handshake validity and the new-connection rate are
 * checked first; then identity sources and the authorizer, then `$connect`. The handshake stays pending meanwhile,
 * and only their results decide between 101 and an HTTP error.
 */
export function createUpgradeHandler(runtime: GatewayRuntime): UpgradeHandler {
  const { options } = runtime;
  const chosenProtocols = new WeakMap<http.IncomingMessage, string>();
  // `closeTimeout` is a ws 8 option that @types/ws does not declare yet.
  const serverOptions: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxMessageBytes,
    perMessageDeflate: false,
    // ws would otherwise echo the client's first offer, which API Gateway never does.
    handleProtocols: (_offered, req) => chosenProtocols.get(req) ?? false,
    closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
  };
  const wss = new WebSocketServer(serverOptions);
  // The new-connection quota is an account-wide token bucket on AWS (SPEC.md §7.5).
  const rate = options.connectionRateLimit;
  const connectionRate = rate && new TokenBucket(rate.perSecond, rate.burst, options.clock);

  const connect = async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const request = handshakeRequestOf(req);
    let facts = connectionFactsFor(runtime, request);
    const headers = handshakeHeaderMaps(request, facts.connectedAt);
    const query = queryMaps(req.url);
    const requestContext = connectRequestContext(facts, facts.connectedAt);
    const admission = await admit(runtime, {
      req,
      facts,
      headers: headers.authorizer,
      query,
      requestContext,
    });
    if (!admission.admitted) return rejectUpgrade(socket, admission.status);
    if (admission.authorizer) facts = { ...facts, authorizer: admission.authorizer };
    // A client that left during the authorizer never reaches `$connect` (unverified).
    if (!socket.readable || !socket.writable) return void socket.destroy();
    const event = connectEvent(facts, headers.integration, query, requestContext);
    const outcome = await runtime.invokeRoute('$connect', event);
    if (outcome && !outcome.ok) {
      const { connectionId, requestId } = event.requestContext;
      runtime.failureLog.report('$connect failed', describeFailure(outcome), { connectionId, requestId });
    }
    // An API without a `$connect` route accepts every handshake.
    const decision = outcome ? decideConnect(outcome) : { accept: true as const, protocol: undefined };
    if (!decision.accept) {
      options.logger.info('connection refused', {
        connectionId: facts.connectionId,
        status: decision.status,
      });
      return rejectUpgrade(socket, decision.status);
    }
    if (outcome && (!socket.readable || !socket.writable)) {
      // The client left while `$connect` ran; its handler believes the connection exists, so end it properly.
      socket.destroy();
      const status: CloseStatus = { code: CLOSE_ABNORMAL, reason: disconnectReasonFor(CLOSE_ABNORMAL, '') };
      return runDisconnect(runtime, facts, status);
    }
    if (decision.protocol !== undefined) chosenProtocols.set(req, decision.protocol);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignoreError);
      const connection = openSession(runtime, ws, facts, socket);
      if (runtime.closing) connection.goAway();
    });
  };

  return (req, socket, head) => {
    // Until ws owns the socket, a client reset must not become an uncaught 'error'.
    socket.on('error', ignoreError);
    if (runtime.closing) return rejectUpgrade(socket, 503);
    if (!isStagePath(pathnameOf(req.url), options.stage)) return rejectUpgrade(socket, 404);
    const problem = handshakeProblem(req);
    if (problem !== undefined) return rejectUpgrade(socket, problem);
    if (connectionRate && !connectionRate.tryTake()) return rejectUpgrade(socket, 429);
    const handshake = connect(req, socket, head).catch((error: unknown) => {
      runtime.failureLog.report('handshake failed', describeError(error));
      socket.destroy();
    });
    void runtime.track(handshake);
  };
}

function ignoreError(): void {}

/** Checked before `$connect` runs: API Gateway never invokes it for a request that is not a valid handshake. */
function handshakeProblem(req: http.IncomingMessage): number | undefined {
  if (req.method !== 'GET') return 405;
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 400;
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 400;
  const version = req.headers['sec-websocket-version'];
  return version === '13' || version === '8' ? undefined : 400;
}

function handshakeRequestOf(req: http.IncomingMessage): HandshakeRequest {
  return {
    url: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    remoteAddress: req.socket.remoteAddress ?? '127.0.0.1',
    localPort: req.socket.localPort ?? 0,
    secure: req.socket instanceof TLSSocket,
  };
}

function connectionFactsFor(runtime: GatewayRuntime, request: HandshakeRequest): ConnectionFacts {
  let connectionId = newGatewayId();
  while (runtime.connections.has(connectionId)) connectionId = newGatewayId();
  return {
    apiId: runtime.options.apiId,
    stage: runtime.options.stage,
    domainName: runtime.domainName,
    connectionId,
    connectedAt: runtime.options.clock.now(),
    identity: identityOf(request),
    ...(runtime.options.stageVariables && { stageVariables: runtime.options.stageVariables }),
  };
}

// Admission: identity sources, then the authorizer (SPEC.md §3.5–§3.7) --------------------------------------

type Admission =
  | { admitted: true; authorizer: AuthorizerContext | undefined }
  | { admitted: false; status: number };

interface AdmissionRequest {
  req: http.IncomingMessage;
  facts: ConnectionFacts;
  /** The authorizer variant of the handshake headers. */
  headers: HeaderMaps;
  query: QueryMaps | undefined;
  requestContext: GatewayRequestContext;
}

/**
 * The steps before `$connect`: identity sources must all be present and non-empty (401 otherwise, without invoking
 * anything), then the Lambda REQUEST authorizer decides. Without an authorizer every handshake is admitted.
 */
async function admit(runtime: GatewayRuntime, request: AdmissionRequest): Promise<Admission> {
  const { authorizer, stageVariables, region, accountId, apiId, stage, logger } = runtime.options;
  if (!authorizer) return { admitted: true, authorizer: undefined };
  const { facts, query, requestContext } = request;
  const missing = missingIdentitySource(authorizer.identitySources, {
    headers: request.req.headers,
    queryStringParameters: query?.queryStringParameters ?? {},
    stageVariables: stageVariables ?? {},
    requestContext,
  });
  if (missing) {
    logger.info('connection refused', { connectionId: facts.connectionId, missing: missing.expression });
    return { admitted: false, status: 401 };
  }
  const methodArn = connectMethodArn({ region, accountId, apiId, stage });
  const event = authorizerEvent(facts, methodArn, request.headers, query, requestContext);
  const outcome = await runtime.invoke(authorizer.handler, 'authorizer', event);
  const verdict = judgeAuthorizer(outcome, methodArn);
  if (!verdict.allow) {
    const { status, why } = verdict;
    const details = { connectionId: facts.connectionId, status, why };
    // 401 and 403 are the authorizer saying no; a 500 is a broken authorizer and worth an error.
    if (status !== 500) logger.info('connection refused', details);
    else {
      const failure = outcome.ok ? { summary: why } : describeFailure(outcome);
      runtime.failureLog.report('authorizer failed', failure, details);
    }
    return { admitted: false, status };
  }
  return { admitted: true, authorizer: verdict.authorizer };
}

// The `$connect` result (SPEC.md §3.3, §3.4) ----------------------------------------------------------------

type ConnectDecision = { accept: true; protocol: string | undefined } | { accept: false; status: number };

/**
 * What the `$connect` outcome means for the handshake: 2xx accepts, another status refuses the handshake with that
 * status, a throw, a timeout or an unusable status gives 502. A result without `statusCode` (undefined, a string, an
 * object without it) is taken as 200; what AWS does there is unverified.
 */
function decideConnect(outcome: InvocationOutcome): ConnectDecision {
  if (!outcome.ok) return { accept: false, status: 502 };
  const result = outcome.result;
  if (typeof result !== 'object' || result === null) return { accept: true, protocol: undefined };
  const { statusCode, headers } = result as { statusCode?: unknown; headers?: unknown };
  const protocol = chosenSubprotocol(headers);
  if (statusCode === undefined || statusCode === null) return { accept: true, protocol };
  const status = Number(statusCode);
  if (!Number.isInteger(status) || status < 200 || status > 599) return { accept: false, status: 502 };
  return status < 300 ? { accept: true, protocol } : { accept: false, status };
}

/** The subprotocol the handler picked: only it is echoed in the 101, never one the client merely offered. */
function chosenSubprotocol(headers: unknown): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (
      name.toLowerCase() === 'sec-websocket-protocol' &&
      value !== undefined &&
      value !== null &&
      value !== ''
    ) {
      return String(value);
    }
  }
  return undefined;
}

/**
 * Refuses an upgrade request on the raw socket. The body is empty: clients only surface the status, and a
 * `$connect` handler's own body or error text must not leak to the client.
 */
function rejectUpgrade(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const reason = http.STATUS_CODES[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
    socket.destroy(),
  );
}
