import { WebSocket } from 'ws';
import { CLOSE_GOING_AWAY, disconnectReasonFor } from './close-codes.js';
import type { ConnectionFacts } from './events.js';

const OUTBOUND_FRAME_BYTES = 32_768;

export interface ConnectionLimits {
  idleTimeoutMs: number;
  maxConnectionMs: number;
}

export interface CloseStatus {
  code: number;
  reason: string;
}

/** An open client socket and what the gateway knows about it. */
export class Connection {
  lastActiveAt = Date.now();
  /** Set when the gateway, not the client, ends the connection: that is what `$disconnect` reports. */
  #closedByGateway: CloseStatus | undefined;
  readonly #idleTimer: NodeJS.Timeout;
  readonly #lifetimeTimer: NodeJS.Timeout;

  constructor(
    readonly facts: ConnectionFacts,
    readonly socket: WebSocket,
    limits: ConnectionLimits,
  ) {
    const goAway = () => this.close(CLOSE_GOING_AWAY, 'Going away');
    this.#idleTimer = setTimeout(goAway, limits.idleTimeoutMs).unref();
    const lifetimeLeft = facts.connectedAt + limits.maxConnectionMs - Date.now();
    this.#lifetimeTimer = setTimeout(goAway, Math.max(0, lifetimeLeft)).unref();
  }

  get id(): string {
    return this.facts.connectionId;
  }

  /** False from the moment either side starts the closing handshake. */
  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Data frames in either direction count as activity; pings do not. */
  markActive(): void {
    this.lastActiveAt = Date.now();
    this.#idleTimer.refresh();
  }

  /** Bytes queued for the client and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Queues one message, cut into frames of at most 32 KB as API Gateway does (SPEC.md §5.4); the client sees one
   * message either way. Returns false when the connection is no longer open. Does not wait for the client: a
   * slow reader is reported through `bufferedAmount`.
   */
  send(data: Buffer | string, binary: boolean): boolean {
    if (!this.isOpen) return false;
    this.markActive();
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length <= OUTBOUND_FRAME_BYTES) {
      this.socket.send(bytes, { binary });
      return true;
    }
    for (let offset = 0; offset < bytes.length; offset += OUTBOUND_FRAME_BYTES) {
      const fin = offset + OUTBOUND_FRAME_BYTES >= bytes.length;
      this.socket.send(bytes.subarray(offset, offset + OUTBOUND_FRAME_BYTES), { binary, fin });
    }
    return true;
  }

  close(code: number, reason = ''): void {
    if (!this.isOpen) return;
    this.#closedByGateway = { code, reason };
    this.socket.close(code, reason);
  }

  /** `ws` already sent this close code after a protocol violation (e.g. 1009 for an oversized message). */
  noteFailedByProtocol(code: number): void {
    this.#closedByGateway ??= { code, reason: '' };
  }

  stopTimers(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#lifetimeTimer);
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
