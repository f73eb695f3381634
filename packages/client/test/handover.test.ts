/**
 * Handovers against the fake server, on a mocked clock: the connection is replaced by a fresh one before its
 * token expires or it reaches its maximum age, with no state change and every message once, in order; a failed
 * handover keeps the open connection and is tried again; close() and a lost connection end one under way.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, type TestContext } from 'node:test';
import { type ClientEvents, connect, type RoomcastClient } from '../src/index.js';
import type { ConnectOptions } from '../src/options.js';
import { FakeServer, token } from './fake-server.js';

/** A whole second, so that a token's `iat` is exactly the mocked clock's start. */
const START = 1_700_000_000_000;

const clients: RoomcastClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

/** A client on the fake server, on a mocked clock (setTimeout, setInterval and Date) that `advance` moves. */
function open(t: TestContext, server: FakeServer, options: Partial<ConnectOptions> = {}): RoomcastClient {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: START });
  const client = connect({
    url: 'ws://fake/dev',
    WebSocket: server.WebSocket,
    heartbeatMs: 0,
    repairDelayMs: 10,
    reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
    ...(options.token === undefined && { getToken: () => token('alice') }),
    ...options,
  } as ConnectOptions);
  clients.push(client);
  return client;
}

/** Lets every answer and continuation that is due run (the fake server answers on setTimeout 0). */
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Moves the mocked clock on by `ms`, in steps, letting what is due run after each. */
async function advance(t: TestContext, ms: number, step = 100): Promise<void> {
  for (let passed = 0; passed < ms; passed += step) {
    t.mock.timers.tick(Math.min(step, ms - passed));
    await flush();
  }
}

/** Moves the mocked clock on in 10 ms steps until `check` holds (it proves presence, never absence). */
async function until(t: TestContext, check: () => boolean, what: string, maxMs = 60_000): Promise<void> {
  for (let passed = 0; !check(); passed += 10) {
    if (passed > maxMs) throw new Error(`not within ${maxMs} ms (mocked): ${what}`);
    t.mock.timers.tick(10);
    await flush();
  }
}

/** The value of `promise`, moving the mocked clock on until it settles. */
async function settled<T>(t: TestContext, promise: Promise<T>): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  await until(t, () => done, 'the promise settled');
  return watched;
}

/** What a client emits that a handover must not disturb. */
function record(client: RoomcastClient) {
  const seen = {
    states: [] as string[],
    handovers: [] as Array<ClientEvents['handover']>,
    messages: [] as number[],
    errors: [] as string[],
  };
  client.on('state', (change) => seen.states.push(change.state));
  client.on('handover', (event) => seen.handovers.push(event));
  client.on('message', (m) => seen.messages.push(m.seq));
  client.on('error', (error) => seen.errors.push(error.code));
  return seen;
}

/** Handovers every 8 s (a connection's age cap 10 s, a lead of 2 s). */
const SHORT_AGE = { maxAgeMs: 10_000, maxAgeLeadMs: 2_000 };

/** A getToken that counts its calls (`count`); each a fresh token of alice, for `lifetimeSeconds` (default 3600). */
function countedTokens(lifetimeSeconds?: number) {
  const tokens = {
    count: 0,
    getToken: () => {
      tokens.count += 1;
      return token('alice', undefined, lifetimeSeconds);
    },
  };
  return tokens;
}

/**
 * Lets a handover get as far as its new connection's subscribe, which takes effect but whose answer is held
 * (until `server.release()`): from then on both connections deliver.
 */
async function holdHandoverAtSubscribe(t: TestContext, server: FakeServer): Promise<void> {
  server.hold = (frame, socket) => socket === server.sockets[1] && frame.action === 'subscribe';
  await until(t, () => server.sockets[1]?.rooms.has('lobby') === true, 'the new connection subscribed');
}

const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const open_ = (server: FakeServer) => server.sockets.filter((socket) => socket.open);
const withoutRef = (frames: Array<{ ref?: string }>) => frames.map(({ ref: _, ...frame }) => frame);

describe('handover', () => {
  it('refreshes the token before exp: getToken, a new connection caught up, the old closed with 1000, no state change', async (t) => {
    const server = new FakeServer();
    const tokens = countedTokens(120);
    const client = open(t, server, { room: 'lobby', getToken: tokens.getToken });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    server.store('lobby', 'one');
    await until(t, () => seen.messages.length === 1, 'the first message');

    // 120 s token: the margin is min(60 s, a third of 120 s) = 40 s, so the handover is due 80 s after iat.
    await advance(t, 79_000, 1000);
    assert.deepEqual([tokens.count, server.sockets.length], [1, 1], 'not yet');
    await until(t, () => seen.handovers.length === 1, 'the handover');
    assert.equal(tokens.count, 2);
    const [old, fresh] = server.sockets;
    assert.ok(old && fresh);
    assert.equal(old.closedWith, 1000, 'the old connection closed normally');
    assert.equal(fresh.open, true);
    assert.deepEqual(withoutRef(fresh.sent.filter((f) => f.action === 'subscribe')), [
      { action: 'subscribe', room_id: 'lobby', after_seq: 1, limit: 100 },
    ]);
    assert.equal(seen.handovers[0]?.reason, 'token-expiry');
    assert.ok(Date.now() < START + 120_000 - 30_000, 'well before exp');

    server.store('lobby', 'two');
    const stored = await client.send('three');
    assert.equal(stored.seq, 3);
    assert.deepEqual(
      fresh.sent.filter((f) => f.action === 'sendMessage').map((f) => f.message),
      ['three'],
      'sends go out on the new connection',
    );
    await until(t, () => seen.messages.length === 3, 'every message');
    assert.deepEqual(seen.messages, [1, 2, 3]);
    assert.deepEqual(seen.states, ['connecting', 'open'], 'no reconnecting, no state change at all');
    assert.deepEqual(seen.errors, []);
    // The next one is planned from the new token.
    await advance(t, 80_000, 1000);
    await until(t, () => seen.handovers.length === 2, 'the second handover');
    assert.deepEqual([tokens.count, open_(server).length], [3, 1]);
  });

  it('hands over before the maximum age, with a fixed token too', async (t) => {
    const server = new FakeServer();
    const fixed = token('alice');
    const client = open(t, server, {
      room: 'lobby',
      token: fixed,
      handover: SHORT_AGE,
    });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    await advance(t, 7_800);
    assert.equal(server.sockets.length, 1, 'not before maxAgeMs - maxAgeLeadMs');
    await until(t, () => seen.handovers.length === 1, 'the handover');
    assert.equal(seen.handovers[0]?.reason, 'max-age');
    assert.ok(Date.now() < START + 10_000, 'before the maximum age');
    await until(t, () => seen.handovers.length === 2, 'the next one, 8 s after the new connection started');
    assert.deepEqual(
      server.sockets.map((socket) => [new URL(socket.url).searchParams.get('token'), socket.closedWith]),
      [
        [fixed, 1000],
        [fixed, 1000],
        [fixed, undefined],
      ],
    );
    assert.deepEqual(seen.states, ['connecting', 'open']);
  });

  it('hands each message over once, in seq order, while both connections deliver', async (t) => {
    const server = new FakeServer();
    const client = open(t, server, { room: 'lobby', handover: SHORT_AGE });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    server.store('lobby', 'before');
    await until(t, () => seen.messages.length === 1, 'the first message');
    await holdHandoverAtSubscribe(t, server);
    const [old, fresh] = server.sockets;
    assert.ok(old && fresh);
    server.store('lobby', 'both 2');
    server.store('lobby', 'both 3');
    fresh.push(server.store('lobby', 'only the new one has 4', { deliver: false }));
    server.store('lobby', 'both 5');
    old.push(server.store('lobby', 'only the old one has 6', { deliver: false }));
    fresh.push(server.stored.get('lobby')?.[5] as never);
    old.push(server.stored.get('lobby')?.[3] as never);
    server.store('lobby', 'both 7');
    await until(t, () => seen.messages.length === 7, 'the overlap');
    assert.deepEqual(seen.handovers, [], 'still overlapping');
    // A send now goes out on the old connection, which is still the one that sends.
    await client.send('8 on the old one');
    assert.deepEqual(
      [old, fresh].map((socket) => socket.sent.filter((f) => f.action === 'sendMessage').length),
      [1, 0],
    );
    server.release();
    await until(t, () => seen.handovers.length === 1, 'the swap');
    server.store('lobby', 'after 9');
    await client.send('10 on the new one');
    await until(t, () => seen.messages.length === 10, 'every message');
    assert.deepEqual(seen.messages, seqs(1, 10));
    assert.deepEqual(seen.states, ['connecting', 'open']);
  });

  it('with catchUp: false, still hands each message over once during the overlap', async (t) => {
    const server = new FakeServer();
    const client = open(t, server, {
      room: 'lobby',
      catchUp: false,
      handover: SHORT_AGE,
    });
    const seen = record(client);
    await until(t, () => client.room('lobby').subscribed, 'subscribed');
    await holdHandoverAtSubscribe(t, server);
    for (let i = 1; i <= 5; i++) server.store('lobby', `both ${i}`);
    await until(t, () => seen.messages.length === 5, 'the overlap');
    server.release();
    await until(t, () => seen.handovers.length === 1, 'the swap');
    server.store('lobby', 'after');
    await until(t, () => seen.messages.length === 6, 'the last one');
    assert.deepEqual(seen.messages, seqs(1, 6));
    assert.deepEqual(
      server.sockets[1]?.sent.map((f) => [f.action, f.after_seq]),
      [['subscribe', undefined]],
      'no history read',
    );
  });

  it('sends a request in flight on the old connection again on the new one, with the same client_msg_id', async (t) => {
    const server = new FakeServer();
    const client = open(t, server, { room: 'lobby', handover: SHORT_AGE });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    // The old connection loses the send: it is answered only once it goes out again on the new one.
    server.lose = (frame, socket) => socket === server.sockets[0] && frame.action === 'sendMessage';
    await advance(t, 7_000);
    const sent = client.send('in flight', { clientMsgId: 'flight-1' });
    await until(t, () => seen.handovers.length === 1, 'the handover');
    const stored = await sent;
    assert.deepEqual([stored.message, stored.client_msg_id], ['in flight', 'flight-1']);
    assert.deepEqual(
      server.sockets[1]?.sent.filter((f) => f.action === 'sendMessage').map((f) => f.client_msg_id),
      ['flight-1'],
    );
    await until(t, () => seen.messages.length === 1, 'the message');
    assert.deepEqual(seen.states, ['connecting', 'open']);
  });

  it('a refused or hung handover keeps the old connection, and is tried again after a backoff delay', async (t) => {
    const server = new FakeServer();
    const outcomes = ['open', 'refuse', 'hang', 'refuse', 'open'] as const;
    server.handshake = () => outcomes[server.sockets.length - 1] ?? 'open';
    const tokens = countedTokens();
    const client = open(t, server, {
      room: 'lobby',
      getToken: tokens.getToken,
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      handover: { maxAgeMs: 60_000, maxAgeLeadMs: 20_000 },
    });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    await until(t, () => server.sockets.length === 3, 'a refused handshake, then one that hangs');
    const [old, refused, hung] = server.sockets;
    assert.ok(old && refused && hung);
    assert.deepEqual([old.open, refused.open], [true, false]);
    // The old connection still serves: a round trip through it.
    server.store('lobby', 'still here');
    assert.equal((await client.send('and sending')).seq, 2);
    assert.equal(
      old.sent.filter((f) => f.action === 'sendMessage').length,
      1,
      'on the old connection, still the one',
    );
    // The hung handshake is given up after connectTimeoutMs + requestTimeoutMs, and tried again.
    await until(t, () => seen.handovers.length === 1, 'a handover that succeeds');
    assert.equal(hung.open, false, 'the hung socket was closed');
    assert.deepEqual(
      server.sockets.map((socket) => socket.open),
      [false, false, false, false, true],
    );
    assert.equal(tokens.count, 5, 'a fresh token for every try');
    await until(t, () => seen.messages.length === 2, 'the messages');
    assert.deepEqual(seen.states, ['connecting', 'open'], 'the failures were not visible');
  });

  it('close() during a handover closes both connections and stops every timer', async (t) => {
    const server = new FakeServer();
    const tokens = countedTokens();
    const client = open(t, server, {
      room: 'lobby',
      getToken: tokens.getToken,
      handover: SHORT_AGE,
    });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    await holdHandoverAtSubscribe(t, server);
    client.close();
    await flush();
    assert.deepEqual(open_(server), [], 'no socket left open');
    assert.deepEqual(seen.states, ['connecting', 'open', 'closed']);
    server.release();
    await advance(t, 10 * 60_000, 1000);
    assert.deepEqual([server.sockets.length, tokens.count], [2, 2], 'nothing ran after close()');
    assert.deepEqual(seen.handovers, []);
  });

  it('when the old connection is lost during a handover, the new one is closed and the client reconnects', async (t) => {
    const server = new FakeServer();
    const client = open(t, server, { room: 'lobby', handover: SHORT_AGE });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    await holdHandoverAtSubscribe(t, server);
    server.sockets[0]?.drop();
    await until(t, () => server.sockets.length === 3 && client.state === 'open', 'reconnected');
    server.release();
    assert.deepEqual(
      server.sockets.map((socket) => socket.open),
      [false, false, true],
    );
    assert.deepEqual(seen.states, ['connecting', 'open', 'reconnecting', 'connecting', 'open']);
    assert.deepEqual(seen.handovers, []);
  });

  it('TOKEN_EXPIRED is not fatal: the client reconnects with a fresh token and the send is stored', async (t) => {
    const server = new FakeServer();
    const tokens = countedTokens();
    const client = open(t, server, {
      room: 'lobby',
      getToken: tokens.getToken,
    });
    const seen = record(client);
    await until(t, () => client.lastSeq !== undefined, 'caught up');
    server.expired.add(server.socket);
    const stored = await settled(t, client.send('after exp'));
    assert.equal(stored.message, 'after exp');
    assert.equal(tokens.count, 2);
    assert.deepEqual(seen.states, ['connecting', 'open', 'reconnecting', 'connecting', 'open']);
    assert.deepEqual(seen.errors, [], 'not reported as an error');
    assert.equal(server.sockets[0]?.sent.at(-1)?.action, 'sendMessage', 'refused on the expired connection');
  });

  it('refuses handover options that cannot work, naming the option', () => {
    const base = { url: 'ws://fake/dev', token: token('alice'), WebSocket: new FakeServer().WebSocket };
    for (const [handover, message] of [
      [{ maxAgeMs: 10_000, maxAgeLeadMs: 6_000 }, /handover.maxAgeLeadMs must be at most half of/],
      [{ maxAgeLeadMs: 0 }, /handover.maxAgeLeadMs must be a whole number, 1 or more/],
      [{ refreshMarginMs: 1.5 }, /handover.refreshMarginMs must be a whole number/],
      [{ maxAgeMs: -1 }, /handover.maxAgeMs must be a whole number, 2 or more, or Infinity/],
    ] as const) {
      assert.throws(
        () => connect({ ...base, handover }),
        { name: 'TypeError', message },
        JSON.stringify(handover),
      );
    }
    connect({ ...base, handover: { maxAgeMs: Number.POSITIVE_INFINITY, maxAgeLeadMs: undefined } }).close();
  });
});
