import { type ClientEvents, connect, type RoomcastClient, type StateChange } from '@roomcast/client';
import WebSocket from 'ws';
import type { Identity, SmokeOptions, TokenSource } from './options.ts';

type RecordedEvent = { [K in keyof ClientEvents]: { name: K; value: ClientEvents[K] } }[keyof ClientEvents];
type ClosedState = Extract<StateChange, { state: 'closed' }>;

interface Waiter {
  name: keyof ClientEvents;
  match: (value: never) => boolean;
  resolve: (value: never) => void;
  reject: (error: Error) => void;
}

/** A `ws` socket a participant's client opened, with what `ws` saw of its handshake. */
interface SocketRecord {
  socket: WebSocket;
  status?: number;
  error?: string;
}

/** The participant's client stopped for good (a refused handshake, say) while something waited on it. */
export class ClientClosed extends Error {
  constructor(
    role: string,
    /** Why, without whose: "handshake refused 401: …". */
    readonly why: string,
  ) {
    super(`${role}'s client closed: ${why}`);
  }
}

/**
 * One user of the smoke test: an SDK client as an application would hold it, everything it emitted (so a step
 * can wait for what followed its action), and the raw `ws` sockets under it (so that none outlives the run).
 */
export class Participant {
  readonly events: RecordedEvent[] = [];
  readonly sockets: SocketRecord[] = [];
  readonly client: RoomcastClient;
  readonly #tokenSource: TokenSource;
  #waiters: Waiter[] = [];
  #closed: ClosedState | undefined;

  constructor(
    readonly role: 'alice' | 'bob',
    readonly identity: Identity,
    options: SmokeOptions,
  ) {
    this.#tokenSource = options.tokenSource;
    const sockets = this.sockets;
    // `ws`, watched: the SDK reports a failed handshake without its cause (ECONNREFUSED, a DNS error, a 502).
    class WatchedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        const record: SocketRecord = { socket: this };
        sockets.push(record);
        this.on('unexpected-response', (_request, response) => {
          record.status = response.statusCode;
        });
        this.on('error', (error) => {
          record.error ??= error.message;
        });
      }
    }
    this.client = connect({
      url: options.url,
      room: options.room,
      token: identity.token,
      WebSocket: WatchedWebSocket,
      connectTimeoutMs: options.timeoutMs,
      requestTimeoutMs: options.timeoutMs,
      sendTimeoutMs: options.timeoutMs,
      // No retry of a failed handshake, and one reconnect after a drop: the smoke test reports a failure, it does
      // not wait it out.
      reconnect: { maxAttempts: 1, initialDelayMs: 200 },
    });
    for (const name of ['message', 'direct', 'presence', 'members', 'error', 'state'] as const) {
      this.client.on(name, (value) => this.#record({ name, value } as RecordedEvent));
    }
  }

  get userId(): string {
    return this.identity.userId;
  }

  /** Where the events from now on start: a step waits only for what followed its action. */
  mark(): number {
    return this.events.length;
  }

  /** The first `name` event from `since` on that matches; rejects when the client closes first, or on `signal`. */
  waitFor<K extends keyof ClientEvents>(
    name: K,
    match: (value: ClientEvents[K]) => boolean,
    { since = 0, signal }: { since?: number; signal: AbortSignal },
  ): Promise<ClientEvents[K]> {
    const found = this.events
      .slice(since)
      .find((event) => event.name === name && match(event.value as never));
    if (found) return Promise.resolve(found.value as ClientEvents[K]);
    if (this.#closed) return Promise.reject(this.#closedError(this.#closed));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { name, match: match as (value: never) => boolean, resolve, reject };
      this.#waiters.push(waiter);
      signal.addEventListener(
        'abort',
        () => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Connection drops the SDK recovered from: no failure by themselves, but worth telling along with one. */
  drops(): string[] {
    return this.events.flatMap((event) =>
      event.name === 'state' && event.value.state === 'reconnecting' ? [event.value.reason] : [],
    );
  }

  /** Error frames that answered none of the client's requests (say, API Gateway's "Internal server error"). */
  strayErrors(): string[] {
    return this.events.flatMap((event) =>
      event.name === 'error' ? [`${event.value.code}: ${event.value.message}`] : [],
    );
  }

  /** Closes the client, and drops any socket whose closing handshake has not finished within `graceMs`. */
  async close(graceMs: number): Promise<void> {
    this.client.close();
    await Promise.all(
      this.sockets.map(async ({ socket }) => {
        if (socket.readyState === WebSocket.CLOSED) return;
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        if (socket.readyState === WebSocket.OPEN) socket.close(1000);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([closed, late]);
        clearTimeout(timer);
        // A cast, not narrowing: the state may have changed during the await.
        if ((socket.readyState as number) !== WebSocket.CLOSED) socket.terminate();
      }),
    );
  }

  /** Why the client stopped, with the HTTP status or the network error when there was one. */
  describeClose(change: ClosedState): string {
    const last = this.sockets.at(-1);
    const status = change.status ?? last?.status;
    if (status !== undefined) return `handshake refused ${status}: ${refusalHint(status, this.#tokenSource)}`;
    if (change.reason === 'gave-up' && last?.error) return `could not connect: ${last.error}`;
    return change.detail;
  }

  #record(event: RecordedEvent): void {
    this.events.push(event);
    if (event.name === 'state' && event.value.state === 'closed') this.#closed = event.value;
    for (const waiter of [...this.#waiters]) {
      if (waiter.name === event.name && waiter.match(event.value as never)) {
        this.#waiters = this.#waiters.filter((other) => other !== waiter);
        waiter.resolve(event.value as never);
      }
    }
    if (this.#closed) {
      const error = this.#closedError(this.#closed);
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    }
  }

  #closedError(change: ClosedState): ClientClosed {
    return new ClientClosed(this.role, this.describeClose(change));
  }
}

function refusalHint(status: number, tokenSource: TokenSource): string {
  switch (status) {
    case 401:
      if (tokenSource === '--token')
        return "the server did not accept the token: expired, revoked, or not its issuer's or audience's?";
      return tokenSource === 'JWT_SECRET'
        ? "wrong secret or expired token? (signed with JWT_SECRET; JWT_ISSUER / JWT_AUDIENCE must be the server's too)"
        : "wrong secret? (signed with the development secret: set JWT_SECRET to the server's)";
    case 403:
      return "the token may not join this room (rooms claim), or the URL's stage is wrong?";
    case 400:
      return 'the room id was refused';
    case 404:
      return "no WebSocket API at this path: is the URL's stage right?";
    case 429:
      return 'throttled: too many new connections per second';
    case 500:
    case 502:
    case 504:
      return '$connect failed or timed out: see its logs';
    case 503:
      return 'the server is unavailable or shutting down';
    default:
      return 'unexpected status';
  }
}
