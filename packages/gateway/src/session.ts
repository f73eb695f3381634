import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { CLOSE_MESSAGE_TOO_BIG, CLOSE_UNSUPPORTED_DATA, closeCodeForSocketError } from './close-codes.js';
import { type CloseStatus, Connection } from './connections.js';
import { type ConnectionFacts, disconnectEvent, messageEvent } from './events.js';
import { FrameSizeGuard } from './frame-guard.js';
import { disconnectHeaderMaps } from './handshake-request.js';
import { newGatewayId } from './ids.js';
import { routeResponseOf } from './route-response.js';
import { describeFailure, type GatewayRuntime, invokeRoute } from './runtime.js';

/**
 * Registers an upgraded socket and runs it until it closes: messages are routed and invoked concurrently, and once
 * the socket has closed the connection is unregistered and then `$disconnect` runs. `rawSocket` is the TCP socket
 * under `socket`, watched for frames over the frame size limit before `ws` parses them.
 */
export function openSession(
  runtime: GatewayRuntime,
  socket: WebSocket,
  facts: ConnectionFacts,
  rawSocket: Duplex,
): Connection {
  const connection = new Connection(facts, socket, runtime.options);
  const guard = new FrameSizeGuard(runtime.options.maxFrameBytes);
  // Prepended, so that a too-large frame closes the connection before ws can deliver its message.
  rawSocket.prependListener('data', (chunk: Buffer) => {
    if (!guard.push(chunk)) connection.close(CLOSE_MESSAGE_TOO_BIG);
  });
  runtime.connections.add(connection);
  const { logger } = runtime.options;
  logger.info('connected', { connectionId: facts.connectionId });

  let sessionEnded = () => {};
  void runtime.inFlight.track(new Promise<void>((resolve) => (sessionEnded = resolve)));

  const reportBug = (what: string) => (error: unknown) =>
    logger.error(`${what} failed`, { connectionId: facts.connectionId, error: String(error) });
  socket.on('message', (data, isBinary) => {
    onMessage(runtime, connection, data, isBinary).catch(reportBug('message handling'));
  });
  socket.on('error', (error) => {
    const code = closeCodeForSocketError(error);
    if (code !== undefined) connection.noteFailedByProtocol(code);
    logger.info('socket error', { connectionId: facts.connectionId, error: error.message });
  });
  socket.on('close', (code, reason) => {
    connection.stopTimers();
    runtime.connections.delete(connection.id);
    const status = connection.disconnectStatus({ code, reason: reason.toString('utf8') });
    logger.info('disconnected', { connectionId: facts.connectionId, ...status });
    runDisconnect(runtime, facts, status).catch(reportBug('$disconnect handling')).finally(sessionEnded);
  });
  return connection;
}

async function onMessage(
  runtime: GatewayRuntime,
  connection: Connection,
  data: RawData,
  isBinary: boolean,
): Promise<void> {
  if (!connection.isOpen) return;
  if (isBinary) {
    // API Gateway does not accept binary frames from clients.
    connection.close(CLOSE_UNSUPPORTED_DATA);
    return;
  }
  connection.markActive();
  const body = textOf(data);
  const routeKey = runtime.selectRoute(body);
  if (routeKey === undefined) {
    sendErrorFrame(connection, 'Forbidden', newGatewayId());
    return;
  }
  const event = messageEvent(connection.facts, routeKey, body);
  const outcome = await invokeRoute(runtime, routeKey, event);
  if (!outcome) return;
  const { connectionId, requestId } = event.requestContext;
  if (!outcome.ok) {
    runtime.options.logger.error(`${routeKey} failed`, {
      connectionId,
      requestId,
      ...describeFailure(outcome),
    });
    sendErrorFrame(connection, 'Internal server error', requestId);
    return;
  }
  // A one-way route's return value is dropped; a two-way route sends its body back (SPEC.md §2.3, §6).
  if (!runtime.options.routes.get(routeKey)?.twoWay) return;
  const response = routeResponseOf(outcome.result);
  if (response.send) connection.send(response.data, response.binary);
  else if (response.malformed) {
    runtime.options.logger.error(`${routeKey} returned a body that is not a string`, {
      connectionId,
      requestId,
    });
    sendErrorFrame(connection, 'Internal server error', requestId);
  }
}

/** Byte layout as API Gateway sends it (SPEC.md §2.2). */
function sendErrorFrame(connection: Connection, message: string, requestId: string): void {
  const frame = `{"message": ${JSON.stringify(message)}, "connectionId":${JSON.stringify(connection.id)}, "requestId":${JSON.stringify(requestId)}}`;
  connection.send(frame, false);
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** `$disconnect` is best effort, as on AWS: its failures are only logged. */
export async function runDisconnect(
  runtime: GatewayRuntime,
  facts: ConnectionFacts,
  status: CloseStatus,
): Promise<void> {
  const event = disconnectEvent(facts, disconnectHeaderMaps(facts.domainName), status);
  const outcome = await invokeRoute(runtime, '$disconnect', event);
  if (outcome && !outcome.ok) {
    const { connectionId, requestId } = event.requestContext;
    runtime.options.logger.error('$disconnect failed', {
      connectionId,
      requestId,
      ...describeFailure(outcome),
    });
  }
}
