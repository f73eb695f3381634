import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { signDevToken } from '../../src/auth.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { LOCAL_CREDENTIALS } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { createDocumentClient } from '../../src/store/tables.ts';
import {
  ChatClient,
  eventually,
  handshakeStatus,
  putOldRecord,
  recordingMetrics,
  startTestStack,
  TEST_SECRET,
} from '../support/chat.ts';

let stack: LocalStack;
const metrics = recordingMetrics();
const clients: ChatClient[] = [];

async function join(user: string, room: string, extraQuery = ''): Promise<ChatClient> {
  const client = await ChatClient.connect(stack, user, room, extraQuery);
  clients.push(client);
  return client;
}

before(async () => {
  stack = await startTestStack({ depsOverrides: { metrics } });
});

after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

const isMessage = (frame: Record<string, unknown>) => frame.action === 'message';

describe('broadcast', () => {
  it('reaches exactly the sender room, with user_id from the token', async () => {
    const alice = await join('alice', 'r1');
    const bob = await join('bob', 'r1');
    const carol = await join('carol', 'r2');

    alice.send({ action: 'sendMessage', message: 'hello r1', client_msg_id: 'c-1' });
    const [toAlice, toBob] = await Promise.all([alice.next(isMessage), bob.next(isMessage)]);
    assert.deepEqual(toAlice, toBob);
    assert.equal(toBob.room_id, 'r1');
    assert.equal(toBob.user_id, 'alice');
    assert.equal(toBob.message, 'hello r1');
    assert.equal(toBob.client_msg_id, 'c-1');
    assert.match(String(toBob.message_id), /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(!Number.isNaN(Date.parse(String(toBob.timestamp))));

    carol.send({ action: 'sendMessage', message: 'hello r2' });
    assert.equal((await carol.next(isMessage)).user_id, 'carol');
    await Promise.all([alice.expectOnlyPong(), bob.expectOnlyPong()]);
    await carol.expectOnlyPong();
  });

  it('refuses a post to another room and delivers it nowhere', async () => {
    const mallory = await join('mallory', 'r3');
    const victim = await join('victim', 'r4');
    mallory.send({ action: 'sendMessage', message: 'spam', room_id: 'r4' });
    const error = await mallory.next();
    assert.equal(error.action, 'error');
    assert.equal(error.code, 'FORBIDDEN');
    assert.equal(typeof error.request_id, 'string');
    await victim.expectOnlyPong();
    await mallory.expectOnlyPong();
  });

  it('accepts room_id when it is the joined room', async () => {
    const dan = await join('dan', 'r5');
    dan.send({ action: 'sendMessage', message: 'mine', room_id: 'r5' });
    assert.equal((await dan.next()).action, 'message');
  });
});

describe('bad frames', () => {
  it('answer error frames and leave the connection usable', async () => {
    const erin = await join('erin', 'r6');
    for (const [body, code] of [
      ['not json', 'BAD_REQUEST'],
      [JSON.stringify({ action: 'shout' }), 'UNKNOWN_ACTION'],
      [JSON.stringify({ message: 'no action' }), 'BAD_REQUEST'],
      [JSON.stringify({ action: 'sendMessage' }), 'BAD_REQUEST'],
      [JSON.stringify({ action: 'sendMessage', message: 'x'.repeat(4001) }), 'TOO_LARGE'],
    ] as const) {
      erin.send(body);
      const frame = await erin.next();
      assert.equal(frame.action, 'error', body);
      assert.equal(frame.code, code, body);
      assert.doesNotMatch(String(frame.message), /at .*\.ts|Exception|stack/i);
    }
    await erin.expectOnlyPong();
    erin.send({ action: 'sendMessage', message: 'still here' });
    assert.equal((await erin.next()).message, 'still here');
  });
});

describe('handshake refusals', () => {
  const url = (query: string) => `${stack.wsUrl}?${query}`;

  it('401 for a missing, garbled, expired or wrongly signed token', async () => {
    const expired = await signDevToken(TEST_SECRET, 'alice', { expiresInSeconds: -5 });
    const forged = await signDevToken('another-secret-that-is-long-enough-123', 'alice');
    for (const query of [
      'room_id=r1',
      'token=&room_id=r1',
      'token=garbage&room_id=r1',
      `token=${expired}&room_id=r1`,
      `token=${forged}&room_id=r1`,
    ]) {
      assert.equal(await handshakeStatus(url(query)), 401, query);
    }
  });

  it('400 for a malformed room_id; none at all is a connection that subscribes later', async () => {
    const token = await signDevToken(TEST_SECRET, 'alice');
    for (const room of ['&room_id=', '&room_id=a%20b', `&room_id=${'x'.repeat(65)}`]) {
      assert.equal(await handshakeStatus(url(`token=${token}${room}`)), 400, room);
    }
    assert.equal(await handshakeStatus(url(`token=${token}`)), 0);
  });

  it('403 for a user_id other than sub, or a room outside the token', async () => {
    const token = await signDevToken(TEST_SECRET, 'alice', { rooms: ['r1'] });
    assert.equal(await handshakeStatus(url(`token=${token}&room_id=r1&user_id=bob`)), 403);
    assert.equal(await handshakeStatus(url(`token=${token}&room_id=r2`)), 403);
    assert.equal(await handshakeStatus(url(`token=${token}&room_id=r1&user_id=alice`)), 0);
  });

  it('stores nothing for a refused handshake', async () => {
    const token = await signDevToken(TEST_SECRET, 'zed', { rooms: ['r1'] });
    await handshakeStatus(url(`token=${token}&room_id=r-refused`));
    assert.deepEqual(await stack.deps.connections.roomMembers('r-refused'), []);
  });
});

describe('stale and failing connections', () => {
  it('prunes a record whose connection is gone, and keeps one whose post fails otherwise', async () => {
    const { connections: store } = stack.deps;
    const frank = await join('frank', 'r7');
    const ghost = 'GhostConnAAAAAA=';
    const broken = 'not-a-connection-id';
    await putOldRecord(stack, { connectionId: ghost, roomId: 'r7', userId: 'ghost' });
    await putOldRecord(stack, { connectionId: broken, roomId: 'r7', userId: 'broken' });
    const before = { ...Object.fromEntries(metrics.totals) };
    const ended = metrics.invocationsEnded();

    frank.send({ action: 'sendMessage', message: 'who is here?' });
    assert.equal((await frank.next()).message, 'who is here?');
    // The Gone prune and the failed post run in the same fan-out: once that invocation has ended, a wrong delete
    // would have happened.
    await eventually(metrics.invocationsEnded, (count) => count > ended);
    assert.equal(await store.get(ghost), undefined);
    assert.equal((await store.get(broken))?.user_id, 'broken');
    const delta = (name: string) => (metrics.totals.get(name as never) ?? 0) - (before[name] ?? 0);
    assert.equal(delta(METRIC.messagesReceived), 1);
    assert.equal(delta(METRIC.deliveriesSucceeded), 1);
    assert.equal(delta(METRIC.staleConnectionsPruned), 1);
    assert.equal(delta(METRIC.deliveriesFailed), 1);
    await store.remove(broken);
  });

  it('presence posts do not prune (410 there is mostly a newcomer still in $connect); messages do', async () => {
    const { connections: store } = stack.deps;
    const ghost = 'GhostConnBBBBBB=';
    await putOldRecord(stack, { connectionId: ghost, roomId: 'r7b', userId: 'ghost' });
    const before = { ...Object.fromEntries(metrics.totals) };
    const delta = (name: string) => (metrics.totals.get(name as never) ?? 0) - (before[name] ?? 0);

    // $connect announces her join before it returns, so the ghost has answered 410 by the time she is open.
    const gina = await join('gina', 'r7b');
    assert.equal((await store.get(ghost))?.user_id, 'ghost', 'kept after the presence post');
    assert.equal(delta(METRIC.staleConnectionsPruned), 0);

    gina.send({ action: 'sendMessage', message: 'anyone?' });
    assert.equal((await gina.next()).message, 'anyone?');
    // The metric is counted when the whole fan-out has ended, after the record is gone.
    await eventually(
      () => delta(METRIC.staleConnectionsPruned),
      (pruned) => pruned > 0,
    );
    assert.equal(delta(METRIC.staleConnectionsPruned), 1);
    assert.equal(await store.get(ghost), undefined);
  });

  it('reaches every member of a room whose index data spans several 1 MB pages, and skips expired records', async () => {
    const doc = createDocumentClient({
      endpoint: stack.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    const table = stack.config.tables.subscriptions;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const padding = 'p'.repeat(1900);
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    // ~2 KB each: 600 stale subscriptions ≈ 1.2 MB of the room's partition.
    for (let batch = 0; batch < 600; batch += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const n = String(batch + i).padStart(4, '0');
          return doc.send(
            new PutCommand({
              TableName: table,
              Item: {
                connection_id: `StaleConn${n}AA=`,
                room_id: 'big',
                user_id: `${padding}${n}`,
                ttl: nowSeconds + 3600,
                created_at: longAgo,
              },
            }),
          );
        }),
      );
    }
    const members = await Promise.all(['m1', 'm2', 'm3', 'm4'].map((user) => join(user, 'big')));
    const expired = await join('expired-user', 'big');
    const expiredId = (
      await eventually(
        () => stack.deps.connections.roomMembers('big'),
        (list) => list.some((m) => m.user_id === 'expired-user'),
      )
    ).find((m) => m.user_id === 'expired-user')?.connection_id as string;
    // Its record and its subscription, both past their ttl (TTL deletion lags; reads filter).
    const expiredItem = { connection_id: expiredId, user_id: 'expired-user', ttl: nowSeconds - 10 };
    await doc.send(
      new PutCommand({
        TableName: stack.config.tables.connections,
        Item: { ...expiredItem, rooms: new Set(['big']), created_at: new Date().toISOString() },
      }),
    );
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...expiredItem, room_id: 'big', created_at: new Date().toISOString() },
      }),
    );

    members[0]?.send({ action: 'sendMessage', message: 'to everyone' });
    for (const member of members) assert.equal((await member.next(isMessage, 15_000)).message, 'to everyone');
    // The answer to its ping is its next frame, so no message came before it; and it says to reconnect, since
    // nothing reaches a connection whose record is gone.
    expired.send({ action: 'ping' });
    const answer = await expired.next();
    assert.deepEqual([answer.action, answer.code], ['error', 'FORBIDDEN']);
    // Every stale record answered 410 and was pruned.
    const left = await eventually(
      () => stack.deps.connections.roomMembers('big'),
      (list) => list.length === 4,
      15_000,
    );
    assert.deepEqual(left.map((m) => m.user_id).sort(), ['m1', 'm2', 'm3', 'm4']);
    doc.destroy();
  });
});

describe('disconnect', () => {
  it('removes the record; a room everyone left has no records', async () => {
    const a = await ChatClient.connect(stack, 'gina', 'r8');
    const b = await ChatClient.connect(stack, 'hank', 'r8');
    assert.equal((await stack.deps.connections.roomMembers('r8')).length, 2);
    await a.close();
    await eventually(
      () => stack.deps.connections.roomMembers('r8'),
      (list) => list.length === 1,
    );
    await b.close();
    await eventually(
      () => stack.deps.connections.roomMembers('r8'),
      (list) => list.length === 0,
    );
  });
});
