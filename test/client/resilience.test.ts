import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { connect, RoomcastError } from '@roomcast/client';
import WebSocket, { WebSocketServer } from 'ws';
import { eventually } from '../support/chat.ts';
import {
  BrowserLikeWebSocket,
  clientTestStack,
  connectionIdOf,
  dropConnection,
  instrumentedWebSocket,
  type Recorder,
  token,
} from './support.ts';

/**
 * A client that never gives up on its own: past any number of failed handshakes, at once when the browser comes
 * back online, backing off across connections that open and fail their catch-up; and one that finds a dead link
 * soon, whose events behave as people expect.
 */

const env = clientTestStack();
const { open, join } = env;
const servers: WebSocketServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A WebSocket server that accepts every connection and drops it at its first frame (the catch-up's ping). */
async function droppingServer(): Promise<{ url: string; connections: () => number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  let connections = 0;
  server.on('connection', (socket) => {
    connections += 1;
    socket.once('message', () => socket.terminate());
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/dev`,
    connections: () => connections,
  };
}

/** Makes `globalThis` an EventTarget for the test, as a browser window is; returns the undo. */
function browserWindow(): { target: EventTarget; restore: () => void } {
  const target = new EventTarget();
  const global = globalThis as unknown as Record<string, unknown>;
  const saved = {
    addEventListener: global.addEventListener,
    removeEventListener: global.removeEventListener,
    document: global.document,
  };
  global.addEventListener = target.addEventListener.bind(target);
  global.removeEventListener = target.removeEventListener.bind(target);
  global.document = { visibilityState: 'visible' };
  return {
    target,
    restore: () => Object.assign(global, saved),
  };
}

const attemptsOf = (recorder: Recorder) =>
  recorder.of('state').flatMap((s) => (s.state === 'connecting' ? [s.attempt] : []));

describe('a client that never gives up on its own', () => {
  it('keeps trying where a refused handshake is invisible (browsers), far past the old limit of 8', async () => {
    BrowserLikeWebSocket.instances = 0;
    const { client, recorder } = open('mallory', 'persistent', {
      WebSocket: BrowserLikeWebSocket,
      getToken: () => token('mallory', { secret: 'not-the-server-secret-0123456789abcdef' }),
      reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
    });
    await recorder.waitFor('state', (s) => s.state === 'connecting' && s.attempt === 15);
    assert.equal(client.state === 'closed', false);
    assert.ok(BrowserLikeWebSocket.instances >= 14);
    client.close();
  });

  it('tries at once when the browser comes back online or the page becomes visible, or on reconnectNow()', async () => {
    const window = browserWindow();
    try {
      const { client, recorder } = open('olive', 'persistent', {
        url: 'ws://127.0.0.1:9/dev',
        // A minute between attempts: only a wake-up can make the next one come soon.
        reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
      });
      const wakeUps = [
        () => window.target.dispatchEvent(new Event('online')),
        () => window.target.dispatchEvent(new Event('visibilitychange')),
        () => client.reconnectNow(),
      ];
      for (const [i, wake] of wakeUps.entries()) {
        await recorder.waitFor('state', (s) => s.state === 'reconnecting' && s.attempt === i + 2);
        const from = recorder.events.length;
        wake();
        await recorder.waitFor('state', (s) => s.state === 'connecting' && s.attempt === i + 2, { from });
      }
      client.close();
      // Closed, it stops listening: a wake-up then starts nothing.
      const before = recorder.events.length;
      window.target.dispatchEvent(new Event('online'));
      assert.equal(recorder.events.length, before);
    } finally {
      window.restore();
    }
  });

  it('backs off across connections that open and then fail their catch-up, instead of reconnecting at once', async () => {
    const server = await droppingServer();
    const { client, recorder } = open('patty', 'persistent', {
      url: server.url,
      reconnect: { initialDelayMs: 20, maxDelayMs: 2000 },
    });
    await recorder.waitFor('state', (s) => s.state === 'connecting' && s.attempt === 5);
    // Each socket opened: the attempt count went on (1, 2, 3, …) instead of starting over at 1 each time.
    assert.deepEqual(attemptsOf(recorder), [1, 2, 3, 4, 5]);
    assert.equal(server.connections(), 4);
    client.close();
  });

  it('counts attempts afresh once a connection has caught up', async () => {
    const { client, recorder } = await join('quinn', 'persistent', {
      reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
    });
    // The first connection has caught up once both streams have a position.
    await eventually(
      () => client.lastSeq !== undefined && client.lastDirectSeq !== undefined,
      (ready) => ready,
    );
    for (let round = 0; round < 2; round++) {
      const from = recorder.events.length;
      await dropConnection(env.stack, await connectionIdOf(env.stack, 'persistent', 'quinn'));
      await recorder.waitFor('state', (s) => s.state === 'connecting', { from });
      const attempt = recorder.events
        .slice(from)
        .find((event) => event.name === 'state' && event.value.state === 'connecting');
      assert.deepEqual(attempt?.value, { state: 'connecting', attempt: 1 });
      await recorder.waitFor('recovered', () => true, { from });
    }
    client.close();
  });
});

describe('events', () => {
  it('reconnected and recovered say how long the client was away and how many messages it caught up', async () => {
    let held: { promise: Promise<void>; open: () => void } | undefined;
    const { client: ruth, recorder } = await join('ruth', 'events-back', {
      reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
      getToken: async () => {
        await held?.promise;
        return token('ruth');
      },
    });
    const { client: sam } = await join('sam', 'events-back');
    let release = () => {};
    held = { promise: new Promise((resolve) => (release = resolve)), open: () => release() };
    const from = recorder.events.length;
    await dropConnection(env.stack, await connectionIdOf(env.stack, 'events-back', 'ruth'));
    await recorder.waitFor('state', (s) => s.state === 'connecting', { from });
    for (const text of ['one', 'two', 'three']) await sam.send(text);
    held.open();
    const back = await recorder.waitFor('reconnected', () => true, { from });
    assert.ok(back.downtimeMs >= 0);
    const recovered = await recorder.waitFor('recovered', () => true, { from });
    assert.deepEqual(recovered, { room: 3, direct: 0, rooms: { 'events-back': 3 } });
    assert.deepEqual(
      recorder.of('message').map((m) => m.message),
      ['one', 'two', 'three'],
    );
    ruth.close();
  });

  it('once hears one event, off removes a listener, and a listener that throws is reported, not thrown', async () => {
    const { client: tom, recorder } = await join('tom', 'events-listeners');
    const { client: uma } = await join('uma', 'events-listeners');
    const once: string[] = [];
    const always: string[] = [];
    tom.once('message', (m) => once.push(m.message));
    const alwaysListener = (m: { message: string }) => always.push(m.message);
    tom.on('message', alwaysListener);
    const errors: RoomcastError[] = [];
    tom.on('error', (error) => errors.push(error));
    tom.on('message', () => {
      throw new Error('a bug in the app');
    });
    await uma.send('first');
    await recorder.waitFor('message', (m) => m.message === 'first');
    tom.off('message', alwaysListener);
    await uma.send('second');
    await recorder.waitFor('message', (m) => m.message === 'second');
    assert.deepEqual(once, ['first']);
    assert.deepEqual(always, ['first']);
    assert.deepEqual(
      errors.map((error) => [error.code, error.message, (error.cause as Error).message]),
      [
        ['LISTENER_FAILED', 'a "message" listener threw: a bug in the app', 'a bug in the app'],
        ['LISTENER_FAILED', 'a "message" listener threw: a bug in the app', 'a bug in the app'],
      ],
    );
    assert.equal(tom.state, 'open', 'the client carried on');
  });
});

describe('a dead link', () => {
  it('is looked for right after a send times out; the error carries the clientMsgId to send again safely', async () => {
    const { WebSocket: Instrumented, seen } = instrumentedWebSocket();
    const { client: vic, recorder } = await join('vic', 'dead-link', {
      url: env.proxy.url,
      WebSocket: Instrumented,
      sendTimeoutMs: 300,
      heartbeatTimeoutMs: 300,
      reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
    });
    const from = recorder.events.length;
    env.proxy.blackhole('both');
    const error = await vic.send('into the void', { clientMsgId: 'void-1' }).catch((e: unknown) => e);
    assert.ok(error instanceof RoomcastError);
    assert.deepEqual([error.code, error.clientMsgId], ['TIMEOUT', 'void-1']);
    // The ping it sends at once goes unanswered too: the connection is abandoned, without waiting for a heartbeat.
    await recorder.waitFor('state', (s) => s.state === 'reconnecting', { from });
    // The next connection goes through the proxy untouched (only the connections open then were black-holed).
    await recorder.waitForState('open', from);
    const again = await vic.send('into the void', { clientMsgId: 'void-1' });
    const page = await vic.history({ afterSeq: 0 });
    assert.deepEqual(
      page.messages.filter((m) => m.message === 'into the void').map((m) => m.message_id),
      [again.message_id],
      'stored once',
    );
    assert.ok(seen.handshakes >= 2);
  });

  it('a connection that receives frames sends no heartbeat ping; a silent one does', async () => {
    const { WebSocket: Instrumented } = instrumentedWebSocket();
    const sent: string[] = [];
    class Counting extends Instrumented {
      override send(data: string): void {
        sent.push(data);
        super.send(data);
      }
    }
    const heartbeatMs = 300;
    const { client: wes } = await join('wes', 'heartbeat-idle', { WebSocket: Counting, heartbeatMs });
    const { client: xia } = await join('xia', 'heartbeat-idle');
    const pings = () => sent.filter((frame) => JSON.parse(frame).action === 'ping').length;
    const before = pings();
    // Busy: a message every 60 ms for 1.5 s; each resets the silence.
    for (let i = 0; i < 25; i++) {
      await xia.send(`busy ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    const busy = pings() - before;
    // Silent: a ping per period.
    const silentFrom = pings();
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs * 5));
    const silent = pings() - silentFrom;
    assert.ok(busy <= 1, `${busy} pings while frames kept arriving`);
    assert.ok(silent >= 2, `${silent} pings while silent`);
    wes.close();
  });
});

describe('options', () => {
  it('are checked when connect() is called, each with a message that names it', () => {
    const base = { url: 'ws://127.0.0.1:9/dev', room: 'lobby', token: 'x.y.z', WebSocket };
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a url that is not a URL', { url: 'not a url' }, /url must be a ws: or wss: URL/],
      ['an http url', { url: 'http://example.com' }, /url must be a ws: or wss: URL/],
      ['no token and no getToken', { token: undefined }, /token or getToken/],
      ['an empty token', { token: '' }, /token must be a non-empty string/],
      [
        'a getToken that is not a function',
        { token: undefined, getToken: 'abc' },
        /getToken must be a function/,
      ],
      ['a bad room', { room: 'a room' }, /room must be/],
      ['a negative heartbeat', { heartbeatMs: -1 }, /heartbeatMs/],
      ['a fractional timeout', { sendTimeoutMs: 1.5 }, /sendTimeoutMs/],
      ['a zero request timeout', { requestTimeoutMs: 0 }, /requestTimeoutMs/],
      [
        'maxDelayMs below initialDelayMs',
        { reconnect: { initialDelayMs: 500, maxDelayMs: 100 } },
        /maxDelayMs/,
      ],
      ['zero attempts', { reconnect: { maxAttempts: 0 } }, /maxAttempts/],
      ['initial past one page', { catchUp: { initial: 101 } }, /catchUp.initial/],
      ['no sends in flight', { maxSendsInFlight: 0 }, /maxSendsInFlight/],
    ];
    for (const [name, change, message] of cases) {
      assert.throws(() => connect({ ...base, ...change } as never), message, name);
    }
    connect({ ...base, reconnect: { maxAttempts: Number.POSITIVE_INFINITY } }).close();
  });
});
