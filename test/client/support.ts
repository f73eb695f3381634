import { after, before } from 'node:test';
import { DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { type ClientEvents, type ConnectOptions, connect, type RoomcastClient } from '@roomcast/client';
import WebSocket from 'ws';
import { signDevToken } from '../../src/auth.ts';
import type { LocalStack, LocalStackOptions } from '../../src/local/stack.ts';
import { eventually, managementApi, startTestStack, TEST_SECRET } from '../support/chat.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

export function token(
  user: string,
  options: { rooms?: string[]; expiresInSeconds?: number; secret?: string } = {},
) {
  return signDevToken(options.secret ?? TEST_SECRET, user, options);
}

/** An SDK client with test timings: fast retries, `ws`, and a fresh token per attempt. No `room`: no default room. */
export function client(
  url: string,
  user: string,
  room: string | undefined,
  options: Partial<ConnectOptions> = {},
): RoomcastClient {
  return connect({
    url,
    room,
    WebSocket,
    getToken: () => token(user),
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    ...options,
  });
}

/** Everything a client emits, in order, with a way to wait for what comes next. */
export class Recorder {
  readonly events: Array<
    { [K in keyof ClientEvents]: { name: K; value: ClientEvents[K] } }[keyof ClientEvents]
  > = [];
  #waiters: Array<() => void> = [];

  constructor(client: RoomcastClient) {
    const names = [
      'message',
      'direct',
      'presence',
      'members',
      'error',
      'state',
      'repair',
      'reconnected',
      'recovered',
      'handover',
    ] as const;
    for (const name of names) {
      client.on(name, (value) => {
        this.events.push({ name, value } as (typeof this.events)[number]);
        for (const wake of this.#waiters.splice(0)) wake();
      });
    }
  }

  of<K extends keyof ClientEvents>(name: K): Array<ClientEvents[K]> {
    return this.events.filter((event) => event.name === name).map((event) => event.value as ClientEvents[K]);
  }

  texts(): string[] {
    return this.of('message').map((frame) => frame.message);
  }

  /** Resolves with the first recorded `name` event (from `from` on) that matches. */
  async waitFor<K extends keyof ClientEvents>(
    name: K,
    match: (value: ClientEvents[K]) => boolean = () => true,
    { from = 0, timeoutMs = 5000 } = {},
  ): Promise<ClientEvents[K]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events
        .slice(from)
        .find((event) => event.name === name && match(event.value as ClientEvents[K]));
      if (found) return found.value as ClientEvents[K];
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${String(name)} event within ${timeoutMs} ms: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForState(state: ClientEvents['state']['state'], from = this.events.length) {
    return this.waitFor('state', (change) => change.state === state, { from });
  }
}

/**
 * The one connection of `user` that holds `room`. A connection holds a room once its subscribe is done, a moment
 * after it opened: this waits for it (up to 5 s).
 */
export async function connectionIdOf(stack: LocalStack, room: string, user: string): Promise<string> {
  const connectionsOf = async () => {
    const members = await stack.deps.connections.roomMembers(room);
    return members.filter((member) => member.user_id === user).map((member) => member.connection_id);
  };
  const ids = await eventually(connectionsOf, (found) => found.length === 1, 5000).catch(() =>
    connectionsOf(),
  );
  if (ids.length !== 1) throw new Error(`expected one connection of ${user} in ${room}, found ${ids.length}`);
  return ids[0] as string;
}

/** Closes a connection from the server side, as a backend would with DeleteConnection. */
export async function dropConnection(stack: LocalStack, connectionId: string): Promise<void> {
  const api = managementApi(stack);
  try {
    await api.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  } finally {
    api.destroy();
  }
}

/** `ws`, counting the handshakes it starts and keeping every frame the server sent. */
export function instrumentedWebSocket() {
  const seen = { handshakes: 0, frames: [] as Array<Record<string, unknown>> };
  class Instrumented extends WebSocket {
    constructor(url: string) {
      super(url);
      seen.handshakes += 1;
      this.on('message', (data) => seen.frames.push(JSON.parse(String(data))));
    }
  }
  return { WebSocket: Instrumented, seen };
}

/** The browser's view of a WebSocket: no `on`, so a refused handshake's HTTP status is invisible. */
export class BrowserLikeWebSocket {
  static instances = 0;
  readonly #ws: WebSocket;

  constructor(url: string) {
    BrowserLikeWebSocket.instances += 1;
    this.#ws = new WebSocket(url);
  }

  get readyState() {
    return this.#ws.readyState;
  }
  set onopen(handler: WebSocket['onopen']) {
    this.#ws.onopen = handler;
  }
  set onclose(handler: WebSocket['onclose']) {
    this.#ws.onclose = handler;
  }
  set onmessage(handler: WebSocket['onmessage']) {
    this.#ws.onmessage = handler;
  }
  set onerror(handler: WebSocket['onerror']) {
    this.#ws.onerror = handler;
  }
  send(data: string): void {
    this.#ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
}

/** A promise with its resolve function, to hold something back until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Connects a client (tracked in `clients` for teardown) and waits until it is open. */
type ClientOptions = Parameters<typeof client>[3];

/**
 * The local stack of one test file, with a black-hole proxy in front of it; every client the file opens is
 * closed after it. Registers the file's `before` and `after` hooks.
 */
export function clientTestStack(options: LocalStackOptions = {}) {
  let stack: LocalStack | undefined;
  let proxy: TcpProxy | undefined;
  const clients: RoomcastClient[] = [];
  before(async () => {
    stack = await startTestStack(options);
    proxy = await TcpProxy.start(stack.wsUrl);
  });
  after(async () => {
    for (const c of clients) c.close();
    await proxy?.close();
    await stack?.close();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test stack is not started yet');
    return value;
  };
  const fixture = {
    get stack(): LocalStack {
      return ready(stack);
    },
    get proxy(): TcpProxy {
      return ready(proxy);
    },
    /** A client connecting with `room` as its default room, not waited for. */
    open(user: string, room: string | undefined, clientOptions: ClientOptions = {}) {
      const c = client(fixture.stack.wsUrl, user, room, clientOptions);
      clients.push(c);
      return { client: c, recorder: new Recorder(c) };
    },
    /** A client whose first connection is open and holds its room (subscribed and caught up). */
    async join(user: string, room: string | undefined, clientOptions: ClientOptions = {}) {
      const opened = fixture.open(user, room, clientOptions);
      await opened.recorder.waitForState('open', 0);
      if (room !== undefined) await opened.client.room(room).ready;
      return opened;
    },
  };
  return fixture;
}
