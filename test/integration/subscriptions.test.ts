import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { signDevToken } from '../../src/auth.ts';
import { LOCAL_CREDENTIALS, type LocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { createDocumentClient } from '../../src/store/tables.ts';
import {
  ChatClient,
  eventually,
  type Frame,
  handshakeStatus,
  putOldRecord,
  recordingMetrics,
  startTestStack,
  TEST_SECRET,
} from '../support/chat.ts';

/**
 * Many rooms on one connection, through the local stack with real WebSocket clients and the real AWS SDK:
 * subscribe and unsubscribe, room frames naming their room, authorization by the token's `rooms` claim, the room
 * cap, presence per user and room, direct messages once per connection, cleanup on `$disconnect` and on Gone, and
 * connections of the previous version (one room in the URL, or a record of the old shape).
 */

const MAX_ROOMS = 4;
const metrics = recordingMetrics();
let stack: LocalStack;
let doc: ReturnType<typeof createDocumentClient>;
const clients: ChatClient[] = [];

async function connect(
  user: string,
  room: string | null = null,
  options: Parameters<typeof ChatClient.connect>[4] = {},
) {
  const client = await ChatClient.connect(stack, user, room, '', options);
  clients.push(client);
  return client;
}

/**
 * Proves that nothing more reaches `receivers` from what was sent so far: every invocation started until now has
 * ended (each flushes its metrics when it ends, and the ones we caused are counted in `atLeast`), and a ping round
 * trip on each receiver comes back after anything those invocations posted to it.
 */
async function settled(atLeast: number, receivers: ChatClient[]): Promise<void> {
  await eventually(
    () => metrics.invocationsEnded(),
    (ended) => ended >= atLeast,
    10_000,
  );
  for (const receiver of receivers) await receiver.request({ action: 'ping' });
}

const messages = (client: ChatClient, room?: string) =>
  client.frames.filter((f) => f.action === 'message' && (room === undefined || f.room_id === room));

async function send(client: ChatClient, roomId: string, text: string): Promise<Frame> {
  const id = `m-${Math.random().toString(36).slice(2)}`;
  client.send({ action: 'sendMessage', room_id: roomId, message: text, client_msg_id: id });
  return client.next((f) => f.client_msg_id === id && (f.action === 'message' || f.action === 'error'));
}

async function subscriptionRooms(connectionId: string): Promise<string[]> {
  const { Items = [] } = await doc.send(
    new ScanCommand({
      TableName: stack.config.tables.subscriptions,
      FilterExpression: 'connection_id = :c',
      ExpressionAttributeValues: { ':c': connectionId },
      ConsistentRead: true,
    }),
  );
  return Items.map((item) => item.room_id as string).sort();
}

/** A connection's id, as the server knows it: found through a subscription to a room only it holds. */
async function connectionIdOf(client: ChatClient): Promise<string> {
  const marker = `probe-${Math.random().toString(36).slice(2, 10)}`;
  await client.subscribe(marker);
  const { Items: probe = [] } = await doc.send(
    new ScanCommand({
      TableName: stack.config.tables.subscriptions,
      FilterExpression: 'room_id = :r',
      ExpressionAttributeValues: { ':r': marker },
      ConsistentRead: true,
    }),
  );
  await client.request({ action: 'unsubscribe', room_id: marker });
  assert.equal(probe.length, 1);
  return probe[0]?.connection_id as string;
}

before(async () => {
  stack = await startTestStack({
    env: { MAX_ROOMS_PER_CONNECTION: String(MAX_ROOMS) },
    depsOverrides: { metrics },
  });
  doc = createDocumentClient({
    endpoint: stack.dynamodbEndpoint,
    region: stack.config.region,
    credentials: LOCAL_CREDENTIALS,
  });
});

after(async () => {
  for (const client of clients) client.close();
  doc?.destroy();
  await stack?.close();
});

describe('one connection, many rooms', () => {
  test('a connection subscribed to three rooms gets exactly their messages, each once; after unsubscribing one, none of it', async () => {
    const rx = await connect('rx');
    const poster = await connect('poster');
    for (const room of ['m-a', 'm-b', 'm-c']) {
      const subscribed = await rx.subscribe(room);
      assert.deepEqual(subscribed.latest_seq, 0);
    }
    for (const room of ['m-a', 'm-b', 'm-c', 'm-d']) await poster.subscribe(room);

    for (const room of ['m-a', 'm-b', 'm-c', 'm-d']) {
      const ack = await send(poster, room, `hello ${room}`);
      assert.equal(ack.action, 'message');
      assert.equal(ack.room_id, room);
    }
    for (const room of ['m-a', 'm-b', 'm-c'])
      await rx.next((f) => f.action === 'message' && f.room_id === room);
    await settled(metrics.invocationsEnded(), [rx]);
    assert.deepEqual(
      messages(rx).map((f) => f.room_id),
      [],
      'each room message came once (the three were taken above), and nothing of m-d',
    );

    const unsubscribed = await rx.request({ action: 'unsubscribe', room_id: 'm-b' });
    assert.equal(unsubscribed.action, 'unsubscribed');
    assert.equal(unsubscribed.room_id, 'm-b');
    // The unsubscribe tells m-b that rx left (a presence frame to the poster) after answering: let it finish.
    await settled(metrics.invocationsEnded(), [rx]);
    const before = metrics.totals.get(METRIC.deliveriesSucceeded) ?? 0;
    await send(poster, 'm-b', 'after unsubscribe');
    await send(poster, 'm-a', 'still here');
    await rx.next((f) => f.action === 'message' && f.room_id === 'm-a');
    await settled(metrics.invocationsEnded(), [rx]);
    assert.deepEqual(messages(rx), [], 'no frame of m-b after its unsubscribe');
    assert.equal(
      (metrics.totals.get(METRIC.deliveriesSucceeded) ?? 0) - before,
      3,
      'm-b: the poster; m-a: both',
    );

    const again = await rx.request({ action: 'unsubscribe', room_id: 'm-b' });
    assert.equal(again.action, 'unsubscribed', 'unsubscribing a room not held is answered the same');
  });

  test('subscribing twice is idempotent: one item, each message once', async () => {
    const rx = await connect('twice');
    const first = await rx.subscribe('twice-room');
    const second = await rx.subscribe('twice-room');
    assert.equal(first.latest_seq, second.latest_seq);
    assert.deepEqual(await subscriptionRooms(await connectionIdOf(rx)), ['twice-room']);
    const poster = await connect('twice-poster', 'twice-room');
    await send(poster, 'twice-room', 'once');
    await rx.next((f) => f.action === 'message');
    await settled(metrics.invocationsEnded(), [rx]);
    assert.deepEqual(messages(rx), []);
  });

  test('room frames name their room: required with several, refused for a room not held', async () => {
    const c = await connect('framer');
    await c.subscribe('f-1');
    await c.subscribe('f-2');
    c.send({ action: 'sendMessage', message: 'which room?', client_msg_id: 'no-room' });
    const noRoom = await c.next((f) => f.client_msg_id === 'no-room');
    assert.equal(noRoom.code, 'BAD_REQUEST');
    assert.match(String(noRoom.message), /room_id is required: this connection holds 2 rooms/);
    const notHeld = await send(c, 'f-3', 'x');
    assert.equal(notHeld.code, 'FORBIDDEN');
    const history = await c.request({ action: 'getHistory', room_id: 'f-3' });
    assert.equal(history.code, 'FORBIDDEN');
    const members = await c.request({ action: 'listMembers', room_id: 'f-3' });
    assert.equal(members.code, 'FORBIDDEN');
    const both = await c.request({ action: 'getHistory', room_id: 'f-1', direct: true });
    assert.equal(both.code, 'BAD_REQUEST');

    const ack = await send(c, 'f-2', 'to f-2');
    assert.equal(ack.room_id, 'f-2');
    const page = await c.request({ action: 'getHistory', room_id: 'f-2', after_seq: 0 });
    assert.deepEqual(
      (page.messages as Frame[]).map((m) => m.message),
      ['to f-2'],
    );
    assert.equal(page.room_id, 'f-2');
    const empty = await c.request({ action: 'getHistory', room_id: 'f-1', after_seq: 0 });
    assert.deepEqual(empty.messages, []);

    const none = await connect('roomless');
    const nothing = await none.request({ action: 'listMembers' });
    assert.equal(nothing.code, 'BAD_REQUEST');
    assert.match(String(nothing.message), /holds no room/);
  });

  test('members: a user with two connections in a room is one member with two connections', async () => {
    const tab1 = await connect('dup-user');
    const tab2 = await connect('dup-user');
    const other = await connect('dup-other');
    for (const c of [tab1, tab2, other]) await c.subscribe('dup-room');
    await tab1.subscribe('dup-elsewhere');
    const members = await other.request({ action: 'listMembers', room_id: 'dup-room' });
    assert.deepEqual(members.users, [
      { user_id: 'dup-other', connections: 1 },
      { user_id: 'dup-user', connections: 2 },
    ]);
  });

  test('subscribe can bring a first page: after_seq reads forward, limit alone the newest', async () => {
    const poster = await connect('pager', 'paged');
    for (const text of ['one', 'two', 'three']) await send(poster, 'paged', text);
    const c = await connect('reader');
    const forward = await c.subscribe('paged', { after_seq: 1 });
    assert.equal(forward.latest_seq, 3);
    const page = forward.history as Frame;
    assert.equal(page.action, 'history');
    assert.equal(page.room_id, 'paged');
    assert.deepEqual(
      (page.messages as Frame[]).map((m) => m.seq),
      [2, 3],
    );
    assert.equal(page.through_seq, 3);
    assert.equal(page.has_more, false);
    const newest = await c.subscribe('paged', { limit: 2 });
    assert.deepEqual(
      ((newest.history as Frame).messages as Frame[]).map((m) => m.seq),
      [3, 2],
    );
    assert.equal((newest.history as Frame).next_before_seq, 2);
    const bare = await c.subscribe('paged');
    assert.equal(bare.history, undefined);
    const bad = await c.request({ action: 'subscribe', room_id: 'paged', limit: 101 });
    assert.equal(bad.code, 'BAD_REQUEST');
    const badRoom = await c.request({ action: 'subscribe', room_id: 'has space' });
    assert.equal(badRoom.code, 'BAD_REQUEST');
  });

  test('every message above the latest_seq a subscribe answers is delivered live: no hole at the join', async () => {
    const poster = await connect('joiner-poster', 'join-race');
    const total = 40;
    // Raw sends, pipelined: the subscribe below lands while messages are being stored and fanned out.
    for (let i = 0; i < total; i++)
      poster.send({
        action: 'sendMessage',
        room_id: 'join-race',
        message: `m${i}`,
        client_msg_id: `jr-${i}`,
      });
    await poster.next((f) => f.action === 'message' && f.client_msg_id === 'jr-5', 10_000);
    const rx = await connect('joiner');
    const { latest_seq: joinedAt } = await rx.subscribe('join-race');
    for (let i = 1; i < total; i++) await poster.next((f) => f.action === 'message', 10_000);
    await settled(metrics.invocationsEnded(), [rx]);
    const seqs = messages(rx, 'join-race').map((f) => f.seq as number);
    const expected = Array.from({ length: total - Number(joinedAt) }, (_, i) => Number(joinedAt) + i + 1);
    assert.deepEqual(
      [...new Set(seqs)].sort((a, b) => a - b),
      expected,
      `joined at ${joinedAt}`,
    );
    assert.equal(seqs.length, new Set(seqs).size, 'each once');
  });
});

describe('authorization and limits', () => {
  test("the token's rooms claim: exact ids and prefix patterns allow, everything else is FORBIDDEN", async () => {
    const c = await connect('claimed', null, { rooms: ['lobby', 'team-42:*'] });
    await c.subscribe('lobby');
    await c.subscribe('team-42:general');
    await c.subscribe('team-42:');
    for (const room of ['lobby2', 'team-43:general', 'team-4', 'Lobby']) {
      const refused = await c.request({ action: 'subscribe', room_id: room });
      assert.equal(refused.code, 'FORBIDDEN', room);
    }
    const none = await connect('claim-none', null, { rooms: [] });
    assert.equal((await none.request({ action: 'subscribe', room_id: 'lobby' })).code, 'FORBIDDEN');
    const any = await connect('claim-any', null, { rooms: ['*'] });
    await any.subscribe('anything-at-all');
    const noClaim = await connect('claim-absent');
    await noClaim.subscribe('whatever');
  });

  test('the connect URL room goes through the same check; a malformed claim is a bad token', async () => {
    const OPENED = 0; // handshakeStatus's answer for a handshake that succeeded
    const token = (rooms: string[]) => signDevToken(TEST_SECRET, 'u', { rooms });
    assert.equal(
      await handshakeStatus(`${stack.wsUrl}?token=${await token(['team-1:*'])}&room_id=team-1:x`),
      OPENED,
    );
    assert.equal(
      await handshakeStatus(`${stack.wsUrl}?token=${await token(['team-1:*'])}&room_id=team-2:x`),
      403,
    );
    assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${await token(['te*am'])}&room_id=team`), 401);
    assert.equal(
      await handshakeStatus(`${stack.wsUrl}?token=${await token(['lobby'])}`),
      OPENED,
      'no room is fine',
    );
    assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${await token(['lobby'])}&room_id=`), 400);
  });

  test('the per-connection room cap: TOO_MANY_ROOMS past it, a held room still subscribes, unsubscribing frees one', async () => {
    const c = await connect('capped', 'cap-0');
    for (let i = 1; i < MAX_ROOMS; i++) await c.subscribe(`cap-${i}`);
    const refused = await c.request({ action: 'subscribe', room_id: 'cap-over' });
    assert.equal(refused.action, 'error');
    assert.equal(refused.code, 'TOO_MANY_ROOMS');
    assert.match(String(refused.message), new RegExp(`at most ${MAX_ROOMS} rooms`));
    assert.ok(refused.ref, 'the ref is echoed');
    await c.subscribe('cap-0');
    await c.request({ action: 'unsubscribe', room_id: 'cap-2' });
    await c.subscribe('cap-over');
  });
});

describe('races a client can start', () => {
  test('a subscribe and an unsubscribe of one room sent together leave no item of a room the connection does not hold', async () => {
    const c = await connect('racer');
    const id = await connectionIdOf(c);
    for (let i = 0; i < 25; i++) {
      c.send({ action: 'subscribe', room_id: 'race-room', ref: `s${i}` });
      c.send({ action: 'unsubscribe', room_id: 'race-room', ref: `u${i}` });
      await c.next((f) => f.ref === `s${i}`);
      await c.next((f) => f.ref === `u${i}`);
      const pong = await c.request({ action: 'ping' });
      const held = Object.keys(pong.latest_seqs as Record<string, number>);
      for (const room of await subscriptionRooms(id))
        assert.ok(held.includes(room), `round ${i}: an item of ${room}, which the record does not hold`);
    }
    // Whatever the outcome, an unsubscribe now ends it for good: nothing of the room reaches the connection.
    await c.request({ action: 'unsubscribe', room_id: 'race-room' });
    const poster = await connect('race-poster', 'race-room');
    await send(poster, 'race-room', 'after the race');
    await settled(metrics.invocationsEnded(), [c]);
    assert.deepEqual(messages(c), []);
    assert.deepEqual(await subscriptionRooms(id), []);
  });
});

describe('room ids that are names of Object.prototype', () => {
  test('`__proto__` and `constructor` are rooms like any other, in pongs too', async () => {
    const c = await connect('protoroom', '__proto__');
    await c.subscribe('constructor');
    await send(c, '__proto__', 'one');
    const pong = await c.request({ action: 'ping' });
    assert.equal(pong.latest_seq, 1, 'a number, not an object');
    assert.equal(pong.joined_seq, 0);
    const seqs = pong.latest_seqs as Record<string, number>;
    assert.deepEqual(Object.entries(seqs).sort(), [
      ['__proto__', 1],
      ['constructor', 0],
    ]);
  });
});

describe('presence per user and room', () => {
  test('a user joins with its first subscription to a room and leaves with its last, across connections', async () => {
    const observer = await connect('watcher', null, { keepPresence: true });
    await observer.subscribe('pres');
    const tab1 = await connect('carol');
    const tab2 = await connect('carol');
    await tab1.subscribe('pres');
    const join = await observer.next((f) => f.action === 'presence');
    assert.deepEqual([join.user_id, join.event, join.room_id], ['carol', 'join', 'pres']);
    await tab2.subscribe('pres');
    await tab1.request({ action: 'unsubscribe', room_id: 'pres' });
    await settled(metrics.invocationsEnded(), [observer]);
    assert.deepEqual(
      observer.frames.filter((f) => f.action === 'presence'),
      [],
      'the second tab joining and the first leaving change nothing',
    );
    tab2.close();
    const leave = await observer.next((f) => f.action === 'presence', 10_000);
    assert.deepEqual([leave.user_id, leave.event, leave.room_id], ['carol', 'leave', 'pres']);
  });
});

describe('direct messages', () => {
  test('a direct message reaches each connection of the recipient once, whatever rooms it holds', async () => {
    const busy = await connect('dm-bob');
    for (const room of ['dm-x', 'dm-y', 'dm-z']) await busy.subscribe(room);
    const idle = await connect('dm-bob');
    const alice = await connect('dm-alice', 'dm-x');
    alice.send({ action: 'sendDirect', to_user_id: 'dm-bob', message: 'psst', client_msg_id: 'dm-1' });
    await alice.next((f) => f.action === 'direct');
    for (const c of [busy, idle]) await c.next((f) => f.action === 'direct');
    await settled(metrics.invocationsEnded(), [busy, idle, alice]);
    for (const c of [busy, idle, alice])
      assert.deepEqual(
        c.frames.filter((f) => f.action === 'direct'),
        [],
      );
  });
});

describe('cleanup', () => {
  test('$disconnect removes every subscription of the connection', async () => {
    const c = await connect('leaver', 'cl-0');
    for (const room of ['cl-1', 'cl-2']) await c.subscribe(room);
    const id = await connectionIdOf(c);
    assert.deepEqual(await subscriptionRooms(id), ['cl-0', 'cl-1', 'cl-2']);
    c.close();
    await eventually(
      () => subscriptionRooms(id),
      (rooms) => rooms.length === 0,
      10_000,
    );
    const record = await doc.send(
      new GetCommand({ TableName: stack.config.tables.connections, Key: { connection_id: id } }),
    );
    assert.equal(record.Item, undefined);
  });

  test('a connection gone without $disconnect: the first Gone prunes its record and every subscription', async () => {
    const ghost = 'GhostManyRooms0=';
    await putOldRecord(stack, { connectionId: ghost, roomId: 'haunt-1', userId: 'ghost' });
    // Its other rooms, subscribed before it vanished.
    const past = new Date(Date.now() - 120_000).toISOString();
    for (const room of ['haunt-2', 'haunt-3']) {
      await doc.send(
        new PutCommand({
          TableName: stack.config.tables.subscriptions,
          Item: { room_id: room, connection_id: ghost, user_id: 'ghost', ttl: 2e9, created_at: past },
        }),
      );
      await doc.send(
        new UpdateCommand({
          TableName: stack.config.tables.connections,
          Key: { connection_id: ghost },
          UpdateExpression: 'ADD #rooms :room',
          ExpressionAttributeNames: { '#rooms': 'rooms' },
          ExpressionAttributeValues: { ':room': new Set([room]) },
        }),
      );
    }
    const poster = await connect('exorcist', 'haunt-1');
    const failedBefore = metrics.totals.get(METRIC.staleConnectionsPruned) ?? 0;
    await send(poster, 'haunt-1', 'anyone?');
    await eventually(
      () => subscriptionRooms(ghost),
      (rooms) => rooms.length === 0,
      10_000,
    );
    assert.ok((metrics.totals.get(METRIC.staleConnectionsPruned) ?? 0) > failedBefore);
    const record = await doc.send(
      new GetCommand({ TableName: stack.config.tables.connections, Key: { connection_id: ghost } }),
    );
    assert.equal(record.Item, undefined);
  });
});

describe('clients and connections of the previous version', () => {
  test('a room in the connect URL is subscribed at connect: room frames without room_id, the pong of old', async () => {
    const old = await connect('old-client', 'legacy-room');
    old.send({ action: 'sendMessage', message: 'no room_id', client_msg_id: 'legacy-1' });
    const ack = await old.next((f) => f.client_msg_id === 'legacy-1');
    assert.equal(ack.room_id, 'legacy-room');
    const pong = await old.request({ action: 'ping' });
    assert.equal(pong.latest_seq, ack.seq);
    assert.equal(pong.joined_seq, 0);
    assert.deepEqual(pong.latest_seqs, { 'legacy-room': ack.seq });
    const members = await old.request({ action: 'listMembers' });
    assert.equal(members.room_id, 'legacy-room');
  });

  test('a record of the old shape (opened before the upgrade) gets its room back on its next frame', async () => {
    const old = await connect('pre-upgrade', 'upgrade-room');
    const id = await connectionIdOf(old);
    const ttl = Math.floor(Date.now() / 1000) + 3600;
    // What the previous version wrote: one room_id, no rooms set, no subscription item.
    await doc.send(
      new PutCommand({
        TableName: stack.config.tables.connections,
        Item: {
          connection_id: id,
          room_id: 'upgrade-room',
          user_id: 'pre-upgrade',
          ttl,
          created_at: new Date().toISOString(),
          joined_seq: 0,
        },
      }),
    );
    await doc.send(
      new DeleteCommand({
        TableName: stack.config.tables.subscriptions,
        Key: { room_id: 'upgrade-room', connection_id: id },
      }),
    );
    const poster = await connect('post-upgrade', 'upgrade-room');
    await send(poster, 'upgrade-room', 'missed live');
    const pong = await old.request({ action: 'ping' });
    assert.equal(pong.latest_seq, 1, 'its heartbeat tells it what it missed');
    await send(poster, 'upgrade-room', 'delivered live');
    const live = await old.next((f) => f.action === 'message' && f.message === 'delivered live');
    assert.equal(live.seq, 2);
    // The previous version kept nothing of the token's rooms claim: the room it let in is the only one allowed.
    const refused = await old.request({ action: 'subscribe', room_id: 'elsewhere' });
    assert.equal(refused.code, 'FORBIDDEN');
  });
});
