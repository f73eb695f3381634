/**
 * Open connections (SPEC.md §2, §4, §7.2, §7.3, §7.6, §7.7): the registry the management API looks them up in, and
 * one session per upgraded socket: frames in (the frame size guard, routing, throttling, invocations, error frames)
 * and out (cut into 32 KB frames, never past the send buffer cap), the idle and age timers, and the close code and
 * `$disconnect` that end it. Also what every part of the gateway shares, `GatewayRuntime`, which gateway.ts builds.
 */
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket } from 'ws';
import {
  CLOSE_GOING_AWAY,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_POLICY_VIOLATION,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_UNSUPPORTED_DATA,
  GOING_AWAY_REASON,
  MAX_FRAME_BYTES,
  MAX_INVOCATIONS_PER_CONNECTION,
} from './constants.js';
import {
  type ConnectionFacts,
  disconnectEvent,
  disconnectHeaderMaps,
  disconnectReasonFor,
  messageEvent,
  newGatewayId,
} from './events.js';
import { describeError, type FailureLog } from './failure-log.js';
import { describeFailure, type InvocationOutcome, routeResponseOf } from './invoke.js';
import type { SignatureVerifier } from './management-auth.js';
import type { GatewayClock, ResolvedOptions, WebSocketLambda } from './options.js';
import type { RouteSelector } from './routing.js';
import type { RouteThrottle } from './throttling.js';

/** What the handshake, the sessions and the management API of one gateway share. */
export interface GatewayRuntime {
  readonly options: ResolvedOptions;
  readonly connections: ConnectionRegistry;
  readonly selectRoute: RouteSelector;
  /** The stage and route throttling of messages (SPEC.md §7.7), shared by every connection. */
  readonly throttle: RouteThrottle;
  /** `host:port` of the listener, used as `requestContext.domainName`. */
  readonly domainName: string;
  /** True once `close()` started. */
  readonly closing: boolean;
  /** Where failures a client can cause are logged, within bounds (SPEC.md §8.5). */
  readonly failureLog: FailureLog;
  /** Checks the SigV4 signature of management requests over HTTP; undefined when `managementAuth` is off. */
  readonly verifySignature: SignatureVerifier | undefined;
  /** Makes `close()` wait for `work`: a handshake, an invocation, a session up to its `$disconnect`. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Runs a handler under the integration timeout, tracked; `name` names the Lambda function. */
  invoke(handler: WebSocketLambda, name: string, event: unknown): Promise<InvocationOutcome>;
  /** Invokes the route's handler, or resolves `undefined` when the API has no such route. */
  invokeRoute(routeKey: string, event: unknown): Promise<InvocationOutcome | undefined>;
}

export interface CloseStatus {
  code: number;
  reason: string;
}

interface ConnectionLimits {
  idleTimeoutMs: number;
  maxConnectionMs: number;
  sendBufferLimitBytes: number;
  clock: GatewayClock;
}

/** What became of a message: queued, not sent because the connection is closing or closed, or dropped (§7.6). */
export type SendResult = 'sent' | 'gone' | 'full';

/** An open client socket and what the gateway knows about it. */
export class Connection {
  #lastActiveAt: number;
  /** Set when the gateway, not the client, ends the connection: that is what `$disconnect` reports. */
  #closedByGateway: CloseStatus | undefined;
  #idleTimer: unknown;
  readonly #lifetimeTimer: unknown;
  readonly #clock: GatewayClock;
  readonly #idleTimeoutMs: number;
  readonly #sendBufferLimitBytes: number;
  #droppedMessages = 0;
  #throttledMessages = 0;

  constructor(
    readonly facts: ConnectionFacts,
    readonly socket: WebSocket,
    { idleTimeoutMs, maxConnectionMs, sendBufferLimitBytes, clock }: ConnectionLimits,
  ) {
    this.#clock = clock;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#sendBufferLimitBytes = sendBufferLimitBytes;
    this.#lastActiveAt = clock.now();
    this.#idleTimer = clock.setTimeout(() => this.#checkIdle(), idleTimeoutMs);
    // The age limit counts from the handshake, not from the end of `$connect`.
    const lifetimeLeft = facts.connectedAt + maxConnectionMs - clock.now();
    this.#lifetimeTimer = clock.setTimeout(() => this.goAway(), Math.max(0, lifetimeLeft));
  }

  get id(): string {
    return this.facts.connectionId;
  }

  /** False from the moment either side starts the closing handshake. */
  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Epoch ms of the last data frame in either direction (GetConnection's `lastActiveAt`). */
  get lastActiveAt(): number {
    return this.#lastActiveAt;
  }

  /** Data frames in either direction count as activity; pings do not. */
  markActive(): void {
    this.#lastActiveAt = this.#clock.now();
  }

  // Activity only moves `lastActiveAt`; the idle timer, when it fires early, waits for the rest of the timeout.
  // That keeps timers off the path of every frame.
  #checkIdle(): void {
    const idleFor = this.#clock.now() - this.#lastActiveAt;
    if (idleFor >= this.#idleTimeoutMs) this.goAway();
    else this.#idleTimer = this.#clock.setTimeout(() => this.#checkIdle(), this.#idleTimeoutMs - idleFor);
  }

  /** Bytes queued for the client and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Messages dropped because the send buffer was full: error frames, route responses, refused posts. */
  get droppedMessages(): number {
    return this.#droppedMessages;
  }

  /** Messages from this client that stage or route throttling refused (SPEC.md §7.7). */
  get throttledMessages(): number {
    return this.#throttledMessages;
  }

  noteThrottled(): void {
    this.#throttledMessages += 1;
  }

  /**
   * Queues one message, cut into frames of at most 32 KB as API Gateway does (SPEC.md §5.4); the client sees one
   * message either way. Does not wait for the client, and does not queue past the cap (SPEC.md §7.6): while
   * `sendBufferLimitBytes` or more wait for a client that is not reading, the message is dropped and counted
   * (`full`). Checked before queueing, so the buffer holds at most the cap plus one message.
   */
  send(data: Buffer | string, binary: boolean): SendResult {
    if (!this.isOpen) return 'gone';
    if (this.bufferedAmount >= this.#sendBufferLimitBytes) {
      this.#droppedMessages += 1;
      return 'full';
    }
    this.markActive();
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length <= MAX_FRAME_BYTES) {
      this.socket.send(bytes, { binary });
      return 'sent';
    }
    for (let offset = 0; offset < bytes.length; offset += MAX_FRAME_BYTES) {
      const fin = offset + MAX_FRAME_BYTES >= bytes.length;
      this.socket.send(bytes.subarray(offset, offset + MAX_FRAME_BYTES), { binary, fin });
    }
    return 'sent';
  }

  close(code: number, reason = ''): void {
    if (!this.isOpen) return;
    this.#closedByGateway = { code, reason };
    this.socket.close(code, reason);
  }

  /** The idle timeout, the age limit and `gateway.close()` end connections this way (SPEC.md §4.2). */
  goAway(): void {
    this.close(CLOSE_GOING_AWAY, GOING_AWAY_REASON);
  }

  /** `ws` already sent this close code after a protocol violation (e.g. 1009 for an oversized message). */
  noteFailedByProtocol(code: number): void {
    this.#closedByGateway ??= { code, reason: '' };
  }

  stopTimers(): void {
    this.#clock.clearTimeout(this.#idleTimer);
    this.#clock.clearTimeout(this.#lifetimeTimer);
  }

  /** The `disconnectStatusCode`/`disconnectReason` pair, given what the socket's close event reported. */
  disconnectStatus(received: CloseStatus): CloseStatus {
    const { code, reason } = this.#closedByGateway ?? received;
    return { code, reason: disconnectReasonFor(code, reason) };
  }
}

/** Connections that completed `$connect` and have not closed yet. */
export class ConnectionRegistry {
  readonly #byId = new Map<string, Connection>();

  get size(): number {
    return this.#byId.size;
  }

  add(connection: Connection): void {
    this.#byId.set(connection.id, connection);
  }

  /** Only open connections: one that is closing is already gone for the management API. */
  getOpen(id: string): Connection | undefined {
    const connection = this.#byId.get(id);
    return connection?.isOpen ? connection : undefined;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  delete(id: string): void {
    this.#byId.delete(id);
  }

  all(): Connection[] {
    return [...this.#byId.values()];
  }
}

// A session: one upgraded socket from registration to `$disconnect` -----------------------------------------

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
  void runtime.track(new Promise<void>((resolve) => (sessionEnded = resolve)));

  const reportBug = (what: string) => (error: unknown) =>
    runtime.failureLog.report(`${what} failed`, describeError(error), { connectionId: facts.connectionId });
  // A flood becomes backpressure: at most MAX_INVOCATIONS_PER_CONNECTION frames are invoked at once; later ones
  // wait in order (at most what one socket read holds, since reading stops meanwhile). A connection that closes
  // meanwhile (a handler closed it, say) drops what waits.
  let running = 0;
  const waiting: Array<{ data: RawData; isBinary: boolean }> = [];
  const dispatch = (data: RawData, isBinary: boolean) => {
    running += 1;
    onMessage(runtime, connection, data, isBinary)
      .catch(reportBug('message handling'))
      .finally(() => {
        running -= 1;
        const next = waiting.shift();
        if (next) dispatch(next.data, next.isBinary);
        else if (socket.isPaused && running <= MAX_INVOCATIONS_PER_CONNECTION / 2) socket.resume();
      });
  };
  socket.on('message', (data, isBinary) => {
    if (running < MAX_INVOCATIONS_PER_CONNECTION) {
      dispatch(data, isBinary);
      return;
    }
    if (!connection.isOpen) return;
    waiting.push({ data, isBinary });
    if (!socket.isPaused) socket.pause();
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
    const { droppedMessages, throttledMessages } = connection;
    logger.info('disconnected', {
      connectionId: facts.connectionId,
      ...status,
      ...(droppedMessages > 0 && { droppedMessages }),
      ...(throttledMessages > 0 && { throttledMessages }),
    });
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
  // Stage and route throttling (SPEC.md §7.7): checked before any event exists, so the frame gets a fresh requestId.
  if (!runtime.throttle.admit(routeKey)) {
    connection.noteThrottled();
    sendErrorFrame(connection, 'Too Many Requests', newGatewayId());
    return;
  }
  const event = messageEvent(connection.facts, routeKey, body, runtime.options.clock.now());
  const outcome = await runtime.invokeRoute(routeKey, event);
  if (!outcome) return;
  const { connectionId, requestId } = event.requestContext;
  if (!outcome.ok) {
    runtime.failureLog.report(`${routeKey} failed`, describeFailure(outcome), { connectionId, requestId });
    sendErrorFrame(connection, 'Internal server error', requestId);
    return;
  }
  // A one-way route's return value is dropped; a two-way route sends its body back (SPEC.md §2.3, §6).
  if (!runtime.options.routes.get(routeKey)?.twoWay) return;
  const response = routeResponseOf(outcome.result);
  // Dropped when the client's buffer is full, like the error frames below: AWS guarantees neither (SPEC.md §7.6).
  if (response.send) connection.send(response.data, response.binary);
  else if (response.malformed) {
    const failure = { summary: 'the result has a body that is not a string' };
    runtime.failureLog.report(`${routeKey} failed`, failure, { connectionId, requestId });
    sendErrorFrame(connection, 'Internal server error', requestId);
  }
}

/** Byte layout as API Gateway sends it (SPEC.md §2.2, §7.7); dropped, like any message, when the buffer is full. */
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
  const headers = disconnectHeaderMaps(facts.domainName);
  const event = disconnectEvent(facts, headers, status, runtime.options.clock.now());
  const outcome = await runtime.invokeRoute('$disconnect', event);
  if (outcome && !outcome.ok) {
    const { connectionId, requestId } = event.requestContext;
    runtime.failureLog.report('$disconnect failed', describeFailure(outcome), { connectionId, requestId });
  }
}

/** The close code `ws` sent when it failed the connection over this receiver error; undefined for I/O errors. */
function closeCodeForSocketError(error: Error & { code?: unknown }): number | undefined {
  if (typeof error.code !== 'string' || !error.code.startsWith('WS_ERR_')) return undefined;
  switch (error.code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return CLOSE_MESSAGE_TOO_BIG;
    case 'WS_ERR_INVALID_UTF8':
      return CLOSE_INVALID_PAYLOAD;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return CLOSE_POLICY_VIOLATION;
    default:
      return CLOSE_PROTOCOL_ERROR;
  }
}

// The frame size guard (SPEC.md §7.2) -----------------------------------------------------------------------

/**
 * Watches the raw bytes a client sends and reports the first data frame whose payload is longer than the limit.
 * API Gateway limits frames to 32 KB (larger messages must be fragmented) and closes with 1009 otherwise; `ws` only
 * limits whole messages. Client frames are always masked, but the parser does not rely on it.
 */
export class FrameSizeGuard {
  /** Header bytes of the frame being read, until its length is known. */
  #header: number[] = [];
  /** Payload bytes of the current frame still to skip. */
  #skip = 0;
  #violated = false;

  constructor(readonly maxFrameBytes: number) {}

  /** False once a data frame over the limit was seen (and for every chunk after that). */
  push(chunk: Buffer): boolean {
    let offset = 0;
    while (!this.#violated && offset < chunk.length) {
      if (this.#skip > 0) {
        const skipped = Math.min(this.#skip, chunk.length - offset);
        this.#skip -= skipped;
        offset += skipped;
        continue;
      }
      this.#header.push(chunk[offset] as number);
      offset += 1;
      this.#readHeader();
    }
    return !this.#violated;
  }

  #readHeader(): void {
    const header = this.#header;
    if (header.length < 2) return;
    const first = header[0] as number;
    const second = header[1] as number;
    const length7 = second & 0x7f;
    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const maskBytes = second & 0x80 ? 4 : 0;
    if (header.length < 2 + lengthBytes + maskBytes) return;
    let length = length7;
    if (lengthBytes > 0) {
      length = 0;
      for (let i = 2; i < 2 + lengthBytes; i++) length = length * 256 + (header[i] as number);
    }
    const opcode = first & 0x0f;
    // Continuation (0), text (1) and binary (2) frames carry message data; control frames are limited by ws.
    if (opcode <= 2 && length > this.maxFrameBytes) this.#violated = true;
    this.#header = [];
    this.#skip = length;
  }
}
