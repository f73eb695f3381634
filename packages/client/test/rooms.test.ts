/**
 * Many rooms on one connection, against a fake server in memory: each room its own stream and events, frames of
 * rooms not held dropped, every room subscribed again after a reconnect from its position, sends and reads of a
 * room held back until the connection holds it, and the refusals that end a room.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { connect, type RoomcastClient, type RoomcastError } from '../src/index.js';
import { type ConnectOptions, MAX_READS_IN_FLIGHT } from '../src/options.js';
import { FakeServer, token } from './fake-server.js';

const clients: RoomcastClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function open(server: FakeServer, options: Partial<ConnectOptions> = {}): RoomcastClient {
  const client = connect({
    url: 'ws://fake/dev',
    token: token('alice'),
    WebSocket: server.WebSocket,
    heartbeatMs: 0,
    repairDelayMs: 10,
    reconnect: { initialDelayMs: 1, maxDelayMs: 5 },
    ...options,
  } as ConnectOptions);
  clients.push(client);
  return client;
}

/** Resolves once `check` holds, looked at after every event loop turn (it proves presence, never absence). */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A round trip through the server after everything sent before it: frames pushed before it were handled. */
async function roundTrip(client: RoomcastClient, room: string): Promise<void> {
  await client.room(room).members();
}

describe('rooms on one connection', () => {
  it('opens without a room in the URL, subscribes each room, and hands each room its messages in seq order', async () => {
    const server = new FakeServer();
    server.store('b', 'b before');
    const client = open(server, { rooms: ['a', 'b'] });
    const c = client.room('c');
    const a = client.room('a');
    const b = client.room('b');
    assert.equal(client.room('a'), a, 'the same object while held');
    assert.deepEqual(client.rooms, ['a', 'b', 'c']);
    await Promise.all([a.ready, b.ready, c.ready]);
    assert.equal(new URL(server.socket.url).searchParams.has('room_id'), false);
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'subscribe').map(({ ref: _, ...f }) => f),
      [
        { action: 'subscribe', room_id: 'a' },
        { action: 'subscribe', room_id: 'b' },
        { action: 'subscribe', room_id: 'c' },
      ],
    );
    assert.deepEqual([a.lastSeq, b.lastSeq, c.lastSeq], [0, 1, 0]);
    assert.equal(a.subscribed, true);

    const got: Record<string, string[]> = { a: [], b: [], c: [], client: [] };
    for (const room of [a, b, c])
      room.on('message', (m) => got[room.id]?.push(`${m.room_id} ${m.seq} ${m.message}`));
    client.on('message', (m) => got.client?.push(m.message));
    // Seq 2 of room a arrives before seq 1: held back, then both in order.
    const a1 = server.store('a', 'a1', { deliver: false });
    server.store('a', 'a2');
    server.store('b', 'b2');
    server.socket.push(a1);
    await c.send('c1');
    await until(() => got.a?.length === 2 && got.b?.length === 1 && got.c?.length === 1, 'every message');
    assert.deepEqual(got, { a: ['a 1 a1', 'a 2 a2'], b: ['b 2 b2'], c: ['c 1 c1'], client: [] });
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'sendMessage').map((f) => f.room_id),
      ['c'],
    );
  });

  it('drops frames of rooms it does not hold: never taken, and after leave()', async () => {
    const server = new FakeServer();
    const client = open(server, { rooms: ['a', 'b'] });
    const a = client.room('a');
    const b = client.room('b');
    await Promise.all([a.ready, b.ready]);
    const got: string[] = [];
    a.on('message', (m) => got.push(m.message));
    b.on('message', (m) => got.push(m.message));
    b.on('presence', (p) => got.push(`presence ${p.user_id}`));

    server.socket.push({ ...server.store('elsewhere', 'not mine', { deliver: false }) });
    await b.leave();
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'unsubscribe').map((f) => f.room_id),
      ['b'],
    );
    assert.equal(b.subscribed, false);
    assert.deepEqual(client.rooms, ['a']);
    // A fan-out that began before the unsubscribe still brings frames of b: they are not handed over.
    server.socket.push(server.store('b', 'late', { deliver: false }));
    server.socket.push({ action: 'presence', room_id: 'b', user_id: 'bob', event: 'join', timestamp: '' });
    server.store('a', 'sentinel');
    await until(() => got.includes('sentinel'), 'the sentinel');
    assert.deepEqual(got, ['sentinel']);
    await assert.rejects(b.send('after leaving'), { code: 'CLOSED' });
    await assert.rejects(
      b.ready.then(() => b.history()),
      { code: 'CLOSED' },
    );

    const again = client.room('b');
    assert.notEqual(again, b, 'a room taken again is a new object');
    await again.ready;
    assert.equal(again.lastSeq, 1, 'it starts afresh, after the newest message');
  });

  it('after a reconnect, subscribes every room again after its position and hands over what it missed, once', async () => {
    const server = new FakeServer();
    const client = open(server, { room: 'lobby', rooms: ['a', 'b'] });
    const rooms = ['lobby', 'a', 'b'].map((id) => client.room(id));
    await Promise.all(rooms.map((room) => room.ready));
    const got = new Map(rooms.map((room) => [room.id, [] as number[]]));
    for (const room of rooms) room.on('message', (m) => got.get(room.id)?.push(m.seq));
    for (const id of ['lobby', 'a', 'b']) for (let i = 0; i < 3; i++) server.store(id, `${id} seen ${i}`);
    await until(() => [...got.values()].every((seqs) => seqs.length === 3), 'the live messages');

    const recovered = new Promise((resolve) => client.once('recovered', resolve));
    server.socket.drop();
    await until(() => client.state !== 'open', 'the connection lost');
    // While away: a page and a half for room a (the catch-up reads on with getHistory), two for b, none for lobby.
    for (let i = 0; i < 150; i++) server.store('a', `a missed ${i}`);
    for (let i = 0; i < 2; i++) server.store('b', `b missed ${i}`);
    assert.deepEqual(await recovered, { room: 0, direct: 0, rooms: { lobby: 0, a: 150, b: 2 } });
    const second = server.sent.slice(
      server.sent.findIndex((f) => f.action === 'subscribe' && f.after_seq !== undefined),
    );
    assert.deepEqual(
      second.filter((f) => f.action === 'subscribe').map(({ ref: _, ...f }) => f),
      [
        { action: 'subscribe', room_id: 'lobby', after_seq: 3, limit: 100 },
        { action: 'subscribe', room_id: 'a', after_seq: 3, limit: 100 },
        { action: 'subscribe', room_id: 'b', after_seq: 3, limit: 100 },
      ],
    );
    assert.deepEqual(
      second.filter((f) => f.action === 'getHistory' && !f.direct).map(({ ref: _, ...f }) => f),
      [{ action: 'getHistory', room_id: 'a', after_seq: 103, limit: 100 }],
      'the page of the subscribe is not read again',
    );
    const seqs = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    assert.deepEqual(Object.fromEntries(got), { lobby: seqs(3), a: seqs(153), b: seqs(5) });
    assert.equal(client.lastSeq, 3);
  });

  it('a system message under the user’s own name and client_msg_id answers none of its sends', async () => {
    const server = new FakeServer();
    const client = open(server, { room: 'lobby' });
    await client.room('lobby').ready;
    // The send reaches no one: it stays pending until its own stored message arrives.
    let lost = 0;
    server.lose = (frame) => frame.action === 'sendMessage' && ++lost > 0;
    let settled = false;
    const sent = client.send('mine', { clientMsgId: 'same-1' }).finally(() => {
      settled = true;
    });
    await until(() => lost === 1, 'the send went out');
    const announcement = server.store('lobby', 'from the system', {
      user: 'alice',
      clientMsgId: 'same-1',
      deliver: false,
    });
    server.socket.push({ ...announcement, system: true });
    await roundTrip(client, 'lobby');
    assert.equal(settled, false, 'not taken for the answer to the send');
    const own = server.store('lobby', 'mine', { user: 'alice', clientMsgId: 'same-1' });
    assert.equal((await sent).seq, own.seq);
  });

  it('holds back the sends and reads of a room until the connection holds it', async () => {
    const server = new FakeServer();
    server.hold = (frame) => frame.action === 'subscribe';
    const client = open(server, { room: 'lobby' });
    const sent = client.send('early', { clientMsgId: 'early-1' });
    const members = client.members();
    await until(() => server.sent.some((f) => f.action === 'subscribe'), 'the subscribe');
    // The direct stream's ping went out and was answered meanwhile: the connection works, only the room waits.
    await until(() => server.sent.some((f) => f.action === 'ping'), 'the ping');
    assert.deepEqual(
      server.sent
        .map((f) => f.action)
        .filter((action) => action === 'sendMessage' || action === 'listMembers'),
      [],
    );
    server.release();
    const stored = await sent;
    assert.deepEqual([stored.room_id, stored.message, stored.client_msg_id], ['lobby', 'early', 'early-1']);
    assert.equal((await members).room_id, 'lobby');
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'sendMessage').map((f) => f.room_id),
      ['lobby'],
    );
  });

  it('a room the token does not allow, or past the server cap, fails for good: ready rejects, error event', async () => {
    const server = new FakeServer();
    server.refuse.set('full', 'TOO_MANY_ROOMS');
    const client = open(server, { token: token('alice', ['a', 'full']), rooms: ['a'] });
    const errors: RoomcastError[] = [];
    const outside = client.room('outside');
    outside.on('error', (error) => errors.push(error));
    const full = client.room('full');
    full.on('error', (error) => errors.push(error));
    const pending = full.send('into a full room');
    await assert.rejects(outside.ready, { code: 'FORBIDDEN' });
    await assert.rejects(full.ready, { code: 'TOO_MANY_ROOMS' });
    await assert.rejects(pending, { code: 'TOO_MANY_ROOMS' });
    await client.room('a').ready;
    assert.deepEqual(
      errors.map((error) => error.code),
      ['FORBIDDEN', 'TOO_MANY_ROOMS'],
    );
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'subscribe').map((f) => f.room_id),
      ['a', 'full'],
      'a room outside the token is not even asked for; a refused one is not asked again',
    );
    assert.deepEqual(client.rooms, ['a']);
    assert.equal(client.state, 'open');
    const stateChanges: string[] = [];
    client.on('state', (s) => stateChanges.push(s.state));
    await roundTrip(client, 'a');
    assert.deepEqual(stateChanges, []);
  });

  it('FORBIDDEN for a room the token allows: reconnects once (a forgotten connection), then gives the room up', async () => {
    const server = new FakeServer();
    server.refuse.set('shaky', 'FORBIDDEN');
    const client = open(server, { rooms: ['shaky', 'fine'] });
    await assert.rejects(client.room('shaky').ready, { code: 'FORBIDDEN' });
    assert.equal(server.sockets.length, 2);
    await client.room('fine').ready;
    assert.deepEqual(client.rooms, ['fine']);
  });

  it('retries a subscribe refused for now: RATE_LIMITED on the same connection, INTERNAL on a new one', async () => {
    const server = new FakeServer();
    server.refuseNext.set('slow', ['RATE_LIMITED', 'RATE_LIMITED']);
    server.refuseNext.set('broken', ['INTERNAL']);
    const client = open(server, { rooms: ['slow'] });
    const errors: RoomcastError[] = [];
    client.on('error', (error) => errors.push(error));
    await client.room('slow').ready;
    assert.equal(server.sockets.length, 1, 'RATE_LIMITED is waited out');
    const broken = client.room('broken');
    await broken.ready;
    assert.equal(server.sockets.length, 2, 'INTERNAL: the catch-up failed, so a new connection');
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'subscribe').map((f) => f.room_id),
      ['slow', 'slow', 'slow', 'broken', 'slow', 'broken'],
    );
    assert.deepEqual(errors, [], 'answered errors are not also client errors');
    assert.deepEqual(client.rooms, ['slow', 'broken']);
  });

  it('reads a room whose newest message was missed when a pong reports it (latest_seqs)', async () => {
    const server = new FakeServer();
    const client = open(server, { rooms: ['a', 'b'], heartbeatMs: 20 });
    const b = client.room('b');
    await Promise.all([client.room('a').ready, b.ready]);
    const repairs: unknown[] = [];
    b.on('repair', (repair) => repairs.push(repair));
    const got: string[] = [];
    b.on('message', (m) => got.push(m.message));
    server.store('b', 'fan-out failed', { deliver: false });
    await until(() => got.length === 1, 'the missed message');
    assert.deepEqual(got, ['fan-out failed']);
    assert.deepEqual(repairs, [{ stream: 'room', room: 'b', reason: 'heartbeat', recovered: 1, skipped: 0 }]);
  });

  it('starts a room from a kept seq (afterSeq) or with the newest `initial` messages', async () => {
    const server = new FakeServer();
    for (let i = 1; i <= 5; i++) server.store('kept', `k${i}`);
    for (let i = 1; i <= 5; i++) server.store('fresh', `f${i}`);
    const client = open(server);
    const got: string[] = [];
    const kept = client.room('kept', { afterSeq: 3 });
    const fresh = client.room('fresh', { initial: 2 });
    kept.on('message', (m) => got.push(m.message));
    fresh.on('message', (m) => got.push(m.message));
    await Promise.all([kept.ready, fresh.ready]);
    assert.deepEqual(got.sort(), ['f4', 'f5', 'k4', 'k5']);
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'subscribe').map(({ ref: _, ...f }) => f),
      [
        { action: 'subscribe', room_id: 'kept', after_seq: 3, limit: 100 },
        { action: 'subscribe', room_id: 'fresh' },
      ],
    );
    // The kept room's page came with its subscribe; the fresh one reads forward from `initial` seqs below the
    // newest its subscribe answered, so a seq still being written there would not be skipped.
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'getHistory' && !f.direct).map((f) => [f.room_id, f.after_seq]),
      [['fresh', 3]],
    );
  });

  it('without a default room: room calls of the client reject, direct history works', async () => {
    const server = new FakeServer();
    const client = open(server);
    await assert.rejects(client.send('where?'), { code: 'BAD_REQUEST', message: /no default room/ });
    await assert.rejects(client.members(), { code: 'BAD_REQUEST' });
    assert.equal((await client.history({ direct: true })).direct, true);
    assert.equal(client.lastSeq, undefined);
    client.close();
    await assert.rejects(client.send('closed'), { code: 'CLOSED' });
    await assert.rejects(client.room('late').ready, { code: 'CLOSED' });
  });

  it('checks room ids and room options', () => {
    const server = new FakeServer();
    const base = { url: 'ws://fake/dev', token: token('alice'), WebSocket: server.WebSocket };
    assert.throws(() => connect({ ...base, rooms: ['ok', 'not ok'] }), /rooms must be 1-64 characters/);
    assert.throws(() => connect({ ...base, rooms: 'a' as never }), /rooms must be an array/);
    const client = connect(base);
    try {
      assert.throws(() => client.room('a b'), /room id must be 1-64 characters/);
      assert.throws(() => client.room('a', { initial: 101 }), /initial must be a whole number from 0 to 100/);
      assert.throws(() => client.room('a', { afterSeq: -1 }), /afterSeq must be a seq/);
      assert.deepEqual(client.rooms, []);
    } finally {
      client.close();
    }
  });
});

describe('the default room', () => {
  it('is what the client calls and events are about, as before; client.room(id) gives the same room', async () => {
    const server = new FakeServer();
    const client = open(server, { room: 'lobby', rooms: ['side'] });
    const lobby = client.room('lobby');
    assert.equal(client.defaultRoom, 'lobby');
    const events: string[] = [];
    client.on('message', (m) => events.push(`client message ${m.room_id} ${m.message}`));
    client.on('presence', (p) => events.push(`client presence ${p.room_id}`));
    client.on('members', (m) => events.push(`client members ${m.room_id}`));
    lobby.on('message', (m) => events.push(`lobby message ${m.message}`));
    await lobby.ready;
    const stored = await client.send('hi');
    assert.deepEqual([stored.room_id, client.lastSeq], ['lobby', 1]);
    await client.room('side').send('elsewhere');
    server.socket.push({
      action: 'presence',
      room_id: 'lobby',
      user_id: 'bob',
      event: 'join',
      timestamp: '',
    });
    server.socket.push({ action: 'presence', room_id: 'side', user_id: 'bob', event: 'join', timestamp: '' });
    await client.members();
    assert.equal((await client.history({ limit: 5 })).messages[0]?.message, 'hi');
    assert.deepEqual(events, [
      'lobby message hi',
      'client message lobby hi',
      'client presence lobby',
      'client members lobby',
    ]);
  });

  it('reports a room listener that throws as the room error LISTENER_FAILED, and carries on', async () => {
    const server = new FakeServer();
    const client = open(server, { rooms: ['a'] });
    const a = client.room('a');
    const errors: string[] = [];
    a.on('error', (error) => errors.push(`${error.code} ${error.message}`));
    a.on('message', () => {
      throw new Error('app bug');
    });
    const got: string[] = [];
    a.on('message', (m) => got.push(m.message));
    await a.send('one');
    await a.send('two');
    await until(() => got.length === 2, 'both messages');
    assert.deepEqual(got, ['one', 'two']);
    assert.deepEqual(errors, [
      'LISTENER_FAILED a "message" listener threw: app bug',
      'LISTENER_FAILED a "message" listener threw: app bug',
    ]);
  });
});

describe('bounds and races', () => {
  it('keeps at most MAX_READS_IN_FLIGHT subscribes on the wire; the others follow as answers come', async () => {
    const server = new FakeServer();
    server.hold = (frame) => frame.action === 'subscribe';
    const ids = Array.from({ length: 40 }, (_, i) => `room-${i}`);
    const client = open(server, { rooms: ids });
    await until(
      () => server.sent.filter((f) => f.action === 'subscribe').length === MAX_READS_IN_FLIGHT,
      '16',
    );
    // A round trip on the outbox (its own window): whatever the client had to send by then, it sent.
    await client.sendDirect('bob', 'sentinel');
    assert.equal(server.sent.filter((f) => f.action === 'subscribe').length, MAX_READS_IN_FLIGHT);
    server.release();
    await Promise.all(ids.map((id) => client.room(id).ready));
    assert.deepEqual(
      server.sent.filter((f) => f.action === 'subscribe').map((f) => f.room_id),
      ids,
      'each room subscribed once',
    );
  });

  it('leave() during the subscribe unsubscribes after its answer; the room taken again waits for the leave', async () => {
    const server = new FakeServer();
    const client = open(server, { rooms: ['other'] });
    await client.room('other').ready;
    server.hold = (frame) => frame.action === 'subscribe';
    const room = client.room('racy');
    await until(
      () => server.sent.some((f) => f.action === 'subscribe' && f.room_id === 'racy'),
      'the subscribe',
    );
    const left = room.leave();
    const again = client.room('racy');
    await roundTrip(client, 'other');
    assert.deepEqual(
      server.sent.filter((f) => f.room_id === 'racy').map((f) => f.action),
      ['subscribe'],
      'nothing more before the subscribe is answered',
    );
    server.release();
    await left;
    await again.ready;
    assert.deepEqual(
      server.sent.filter((f) => f.room_id === 'racy').map((f) => f.action),
      ['subscribe', 'unsubscribe', 'subscribe'],
    );
    assert.equal(server.socket.rooms.has('racy'), true, 'held in the end');
  });
});
