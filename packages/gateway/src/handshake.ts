import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerOptions, WebSocketServer } from 'ws';
import { admit } from './admission.js';
import { CLOSE_ABNORMAL, CLOSE_GOING_AWAY, disconnectReasonFor } from './close-codes.js';
import { decideConnect } from './connect-result.js';
import { type ConnectionFacts, connectEvent, connectRequestContext } from './events.js';
import { handshakeHeaderMaps, handshakeRequestOf, identityOf, queryMaps } from './handshake-request.js';
import { rejectUpgrade } from './http-responses.js';
import { newGatewayId } from './ids.js';
import { isStagePath, pathnameOf } from './paths.js';
import { describeFailure, type GatewayRuntime, invokeRoute } from './runtime.js';
import { openSession, runDisconnect } from './session.js';

export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** How long a closing handshake may wait for the client's close frame before the socket is destroyed. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 3_000;

/**
 * Handles `Upgrade: websocket` requests (SPEC.md §3.2): path, handshake validity and the new-connection rate are
 * checked first; then identity sources and the authorizer, then `$connect`. The handshake stays pending meanwhile,
 * and only their results decide between 101 and an HTTP error.
 */
export function createUpgradeHandler(runtime: GatewayRuntime): UpgradeHandler {
  const chosenProtocols = new WeakMap<http.IncomingMessage, string>();
  // `closeTimeout` is a ws 8 option that @types/ws does not declare yet.
  const serverOptions: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    clientTracking: false,
    maxPayload: runtime.options.maxMessageBytes,
    perMessageDeflate: false,
    // ws would otherwise echo the client's first offer, which API Gateway never does.
    handleProtocols: (_offered, req) => chosenProtocols.get(req) ?? false,
    closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
  };
  const wss = new WebSocketServer(serverOptions);

  const connect = async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    let facts = connectionFactsFor(runtime, req);
    const headers = handshakeHeaderMaps(handshakeRequestOf(req), facts.connectedAt);
    const query = queryMaps(req.url);
    const requestContext = connectRequestContext(facts);
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
    const outcome = await invokeRoute(runtime, '$connect', event);
    if (outcome && !outcome.ok) {
      const { connectionId, requestId } = event.requestContext;
      runtime.options.logger.error('$connect failed', {
        connectionId,
        requestId,
        ...describeFailure(outcome),
      });
    }
    // An API without a `$connect` route accepts every handshake.
    const decision = outcome ? decideConnect(outcome) : { accept: true as const, protocol: undefined };
    if (!decision.accept) {
      runtime.options.logger.info('connection refused', {
        connectionId: facts.connectionId,
        status: decision.status,
      });
      return rejectUpgrade(socket, decision.status);
    }
    if (outcome && (!socket.readable || !socket.writable)) {
      // The client left while `$connect` ran; its handler believes the connection exists, so end it properly.
      socket.destroy();
      return runDisconnect(runtime, facts, {
        code: CLOSE_ABNORMAL,
        reason: disconnectReasonFor(CLOSE_ABNORMAL, ''),
      });
    }
    if (decision.protocol !== undefined) chosenProtocols.set(req, decision.protocol);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignoreError);
      const connection = openSession(runtime, ws, facts, socket);
      if (runtime.closing) connection.close(CLOSE_GOING_AWAY, 'Going away');
    });
  };

  return (req, socket, head) => {
    // Until ws owns the socket, a client reset must not become an uncaught 'error'.
    socket.on('error', ignoreError);
    if (runtime.closing) return rejectUpgrade(socket, 503);
    if (!isStagePath(pathnameOf(req.url), runtime.options.stage)) return rejectUpgrade(socket, 404);
    const problem = handshakeProblem(req);
    if (problem !== undefined) return rejectUpgrade(socket, problem);
    // The new-connection quota is an account-wide token bucket on AWS (SPEC.md §7.5).
    if (runtime.connectionRate && !runtime.connectionRate.tryTake()) return rejectUpgrade(socket, 429);
    const handshake = connect(req, socket, head).catch((error: unknown) => {
      runtime.options.logger.error('handshake failed', { error: String(error) });
      socket.destroy();
    });
    void runtime.inFlight.track(handshake);
  };
}

function ignoreError(): void {}

function connectionFactsFor(runtime: GatewayRuntime, req: http.IncomingMessage): ConnectionFacts {
  let connectionId = newGatewayId();
  while (runtime.connections.has(connectionId)) connectionId = newGatewayId();
  return {
    apiId: runtime.options.apiId,
    stage: runtime.options.stage,
    domainName: runtime.domainName,
    connectionId,
    connectedAt: Date.now(),
    identity: identityOf(handshakeRequestOf(req)),
    ...(runtime.options.stageVariables && { stageVariables: runtime.options.stageVariables }),
  };
}

/** Checked before `$connect` runs: API Gateway never invokes it for a request that is not a valid handshake. */
function handshakeProblem(req: http.IncomingMessage): number | undefined {
  if (req.method !== 'GET') return 405;
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 400;
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 400;
  const version = req.headers['sec-websocket-version'];
  return version === '13' || version === '8' ? undefined : 400;
}
