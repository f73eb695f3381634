import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signDevToken } from '../../src/auth.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../src/local/dynamo.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, type Frame, handshakeStatus, startTestStack, TEST_SECRET } from '../support/chat.ts';
import { dynamoOperation, type FaultProxy, FORWARD, RESET, startFaultProxy } from '../support/fault-proxy.ts';
import { scanRegistry, wholeHistory } from './support.ts';

/**
 * DynamoDB stops in the middle of a broadcast (after the message was stored, when the room is queried) and comes
 * back: clients get INTERNAL error frames, nothing crashes, no record is deleted, and service resumes with every
 * stored message stored once.
 */

let dynamo: EmbeddedDynamo;
let proxy: FaultProxy;
let stack: LocalStack;
const clients: ChatClient[] = [];
let down = false;

async function join(user: string, room: string): Promise<ChatClient> {
  const client = await ChatClient.connect(stack, user, room);
  clients.push(client);
  return client;
}

/** The fan-out's query: a room's subscriptions. */
const isRoomQuery = (body: Buffer) => body.includes('"TableName":"chat_subscriptions"');

function assertInternal(frame: Frame, correlation: Record<string, string> = {}): void {
  assert.equal(frame.action, 'error', JSON.stringify(frame));
  assert.equal(frame.code, 'INTERNAL');
  assert.equal(frame.message, 'internal error');
  assert.equal(typeof frame.request_id, 'string');
  for (const [key, value] of Object.entries(correlation)) assert.equal(frame[key], value);
}

before(async () => {
  dynamo = await startEmbeddedDynamo();
  proxy = await startFaultProxy(dynamo.endpoint);
  proxy.decide = () => (down ? RESET : FORWARD);
  stack = await startTestStack({ env: { DYNAMODB_ENDPOINT: proxy.url } });
});
after(async () => {
  down = false;
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
  await proxy.close();
  await dynamo.close();
});

describe('DynamoDB stops mid-broadcast and comes back', () => {
  let alice: ChatClient;
  let bob: ChatClient;
  let carol: ChatClient;
  let dan: ChatClient;
  let m1: Frame;

  it('serves the room before the outage', async () => {
    alice = await join('alice', 'r');
    bob = await join('bob', 'r');
    carol = await join('carol', 'r');
    dan = await join('dan', 'elsewhere');
    alice.send({ action: 'sendMessage', message: 'one', client_msg_id: 'm1' });
    m1 = await alice.next();
    for (const member of [bob, carol]) assert.deepEqual(await member.next(), m1);
  });

  it('answers INTERNAL when the store dies between storing a message and querying its room', async () => {
    const stored = proxy.requests.length;
    proxy.decide = (request) => {
      if (!down && dynamoOperation(request) === 'Query' && isRoomQuery(request.body)) {
        down = true;
        proxy.dropConnections();
      }
      return down ? RESET : FORWARD;
    };
    alice.send({ action: 'sendMessage', message: 'two', client_msg_id: 'm2' });
    assertInternal(await alice.next(() => true, 10_000), { client_msg_id: 'm2' });
    assert.ok(down, 'the outage began at the room query');
    const before = proxy.requests.slice(stored).map((request) => dynamoOperation(request));
    assert.deepEqual(
      before.slice(0, 6),
      ['GetItem', 'GetItem', 'UpdateItem', 'PutItem', 'PutItem', 'Query'],
      'the record read, the client_msg_id looked up, a seq taken, the marker and the message stored, then cut',
    );
  });

  it('keeps every connection usable and answers INTERNAL while the store is down', async () => {
    // The heartbeat keeps working (so API Gateway keeps the connection), without the seqs it cannot read.
    dan.send({ action: 'ping', ref: 'alive' });
    const pong = await dan.next();
    assert.deepEqual([pong.action, pong.ref, 'latest_seq' in pong], ['pong', 'alive', false]);

    alice.send({ action: 'sendMessage', message: 'three', client_msg_id: 'm3' });
    assertInternal(await alice.next(() => true, 10_000), { client_msg_id: 'm3' });
    bob.send({ action: 'getHistory', ref: 'h1' });
    assertInternal(await bob.next(() => true, 10_000), { ref: 'h1' });
    carol.send({ action: 'listMembers' });
    assertInternal(await carol.next(() => true, 10_000));

    // `$connect` cannot register anyone: the handshake fails instead of opening a connection nobody can reach.
    const token = await signDevToken(TEST_SECRET, 'erin');
    const status = await handshakeStatus(`${stack.wsUrl}?token=${token}&room_id=r`);
    assert.ok(status >= 500, `handshake status ${status}`);

    dan.send({ action: 'ping', ref: 'still-alive' });
    assert.equal((await dan.next()).ref, 'still-alive');
  });

  it('resumes when the store is back: no record lost or deleted, each stored message stored once', async () => {
    down = false;
    proxy.decide = () => FORWARD;

    const registry = await scanRegistry(stack);
    assert.deepEqual(registry.map((record) => record.user_id).sort(), ['alice', 'bob', 'carol', 'dan']);

    alice.send({ action: 'sendMessage', message: 'four', client_msg_id: 'm4' });
    const m4 = await alice.next();
    assert.equal(m4.message, 'four');
    for (const member of [bob, carol]) assert.deepEqual(await member.next(), m4);

    // The retry of the message stored before the cut is acknowledged with the stored copy (same message_id).
    alice.send({ action: 'sendMessage', message: 'two', client_msg_id: 'm2' });
    const m2 = await alice.next();
    assert.equal(m2.message, 'two');
    assert.ok(Number(m2.seq) < Number(m4.seq), 'm2 was stored before the outage');

    // Nothing was lost: the room reads it from history (the live fan-out of m2 never happened; see SECURITY.md).
    bob.send({ action: 'getHistory', after_seq: m1.seq });
    const page = await bob.next();
    assert.deepEqual(
      (page.messages as Frame[]).map((message) => message.message),
      ['two', 'four'],
    );
    const history = await wholeHistory(stack.deps.messages, 'r');
    assert.deepEqual(
      history.map((message) => message.message),
      ['one', 'two', 'four'],
    );
    await Promise.all([alice, bob, carol, dan].map((client) => client.expectOnlyPong()));
  });
});
