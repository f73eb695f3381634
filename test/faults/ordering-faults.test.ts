import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, type LocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { SEQ_TIMING } from '../../src/store/messages.ts';
import { createDocumentClient, messagesTable } from '../../src/store/tables.ts';
import { client, instrumentedWebSocket, Recorder } from '../client/support.ts';
import { ChatClient, eventually, type Frame, recordingMetrics, startTestStack } from '../support/chat.ts';
import { INTERNAL } from '../support/connections-api-stub.ts';
import { dynamoOperation, type FaultProxy, FORWARD, startFaultProxy } from '../support/fault-proxy.ts';

/**
 * Ordered streams under faults: a fan-out that fails after the message was stored is repaired by the receiver's
 * next heartbeat, and concurrent senders get the seqs 1…N with no hole, also while DynamoDB throttles (a seq whose
 * write failed ends up a void, never a gap nobody settles).
 */

const stacks: LocalStack[] = [];
const proxies: FaultProxy[] = [];
const raw: ChatClient[] = [];
const closers: Array<() => void> = [];

after(async () => {
  for (const close of closers) close();
  await Promise.all(raw.map((c) => c.close()));
  // The stacks first: their requests in flight must not meet a closed proxy.
  for (const stack of stacks.reverse()) await stack.close();
  await Promise.all(proxies.map((proxy) => proxy.close()));
});

/** What the messages table holds in a stream, seq by seq: `message` for a message, `void` for a settled hole. */
async function streamItems(stack: LocalStack, stream: string): Promise<Array<{ seq: number; kind: string }>> {
  const doc = createDocumentClient({
    endpoint: stack.dynamodbEndpoint,
    region: stack.config.region,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const items: Array<{ seq: number; kind: string }> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: stack.config.tables.messages,
          KeyConditionExpression: '#s = :s',
          ExpressionAttributeNames: { '#s': messagesTable.hashKey },
          ExpressionAttributeValues: { ':s': stream },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) items.push({ seq: Number(item.seq), kind: String(item.kind) });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  } finally {
    doc.destroy();
  }
}

/**
 * Raw connections, one per sender, that each send `perSender` messages at once and send again, with the same
 * client_msg_id, whatever is answered with an error: as a client that retries does. Resolves when every sender has
 * its own messages acknowledged, with the number of errors they got.
 */
async function concurrentSenders(stack: LocalStack, room: string, senders: number, perSender: number) {
  const clients = await Promise.all(
    Array.from({ length: senders }, (_, s) => ChatClient.connect(stack, `sender${s}`, room)),
  );
  raw.push(...clients);
  let errors = 0;
  await Promise.all(
    clients.map(async (c, s) => {
      const frames = new Map(
        Array.from({ length: perSender }, (_, i) => {
          const id = `s${s}-${i}`;
          return [id, { action: 'sendMessage', message: id, client_msg_id: id }] as const;
        }),
      );
      for (const frame of frames.values()) c.send(frame);
      const waiting = new Set(frames.keys());
      while (waiting.size > 0) {
        const frame: Frame = await c.next(() => true, 30_000);
        const id = String(frame.client_msg_id);
        if (frame.action === 'error' && waiting.has(id)) {
          errors += 1;
          c.send(frames.get(id) as Frame);
        } else if (frame.action === 'message' && frame.user_id === `sender${s}`) {
          waiting.delete(id);
        }
      }
    }),
  );
  return { errors };
}

describe('ordered streams under faults', () => {
  it('a stored message whose fan-out failed reaches a live receiver within one heartbeat, with no new message', async () => {
    const proxy = await startFaultProxy();
    proxies.push(proxy);
    let failing = false;
    let bobId = '';
    proxy.decide = (request) => {
      const toBob = bobId !== '' && request.path.endsWith(`/@connections/${encodeURIComponent(bobId)}`);
      const delivery = /"action":"(message|direct)"/.test(request.body.toString());
      return failing && toBob && delivery
        ? { kind: 'respond', status: INTERNAL.status, body: INTERNAL.body ?? '' }
        : FORWARD;
    };
    const metrics = recordingMetrics();
    const stack = await startTestStack({
      env: { WEBSOCKET_MANAGEMENT_ENDPOINT: `${proxy.url}/dev`, PRESENCE_ENABLED: 'false' },
      managementTransport: 'http',
      depsOverrides: { metrics },
    });
    stacks.push(stack);
    proxy.target = new URL(stack.managementEndpoint).origin;

    const heartbeatMs = 2_000;
    const { WebSocket, seen } = instrumentedWebSocket();
    const bob = client(stack.wsUrl, 'bob', 'r', { WebSocket, heartbeatMs, repairDelayMs: 100 });
    const alice = client(stack.wsUrl, 'alice', 'r');
    closers.push(
      () => bob.close(),
      () => alice.close(),
    );
    const bobSees = new Recorder(bob);
    await Promise.all([bobSees.waitForState('open', 0), new Recorder(alice).waitForState('open', 0)]);
    // In the room: a message stored before bob's subscribe was answered is before his start.
    await bob.room('r').ready;
    bobId = (await stack.deps.connections.userConnectionIds('bob'))[0] ?? '';
    const pongs = () => seen.frames.filter((frame) => frame.action === 'pong').length;
    // Bob has started (his first pong told him where): from here on he has seen everything.
    await eventually(pongs, (n) => n >= 1);

    failing = true;
    const lost = await alice.send('lost on the way to bob');
    const lostDirect = await alice.sendDirect('bob', 'lost too');
    // Both deliveries to bob failed for good (after the SDK's retries) before the fault ends.
    await eventually(
      () => metrics.totals.get(METRIC.deliveriesFailed) ?? 0,
      (n) => n >= 2,
      10_000,
    );
    failing = false;
    const pongsAtFailure = pongs();

    const got = await bobSees.waitFor('message', (frame) => frame.message_id === lost.message_id, {
      timeoutMs: 4 * heartbeatMs,
    });
    const gotDirect = await bobSees.waitFor('direct', (frame) => frame.message_id === lostDirect.message_id, {
      timeoutMs: 4 * heartbeatMs,
    });
    assert.equal(pongs() - pongsAtFailure, 1, 'recovered on the first heartbeat after the failure');
    assert.equal(got.seq, lost.seq);
    assert.equal(gotDirect.message, 'lost too');
    // The two streams repair side by side, in either order, one message each. (Which wake-up a repair reports,
    // the pong's newest seq or the frame that followed it, depends on what arrives first.)
    assert.deepEqual(
      bobSees
        .of('repair')
        .map(({ stream, recovered }) => `${stream} ${recovered}`)
        .sort(),
      ['direct 1', 'room 1'],
    );
  });

  it('concurrent senders in one room (raw frames) get exactly the seqs 1…N', async () => {
    const stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false' } });
    stacks.push(stack);
    const { errors } = await concurrentSenders(stack, 'race', 5, 20);
    assert.equal(errors, 0);
    const items = await streamItems(stack, 'race');
    assert.deepEqual(
      items.map((item) => `${item.seq} ${item.kind}`),
      Array.from({ length: 100 }, (_, i) => `${i + 1} room`),
    );
  });

  it('the same under injected DynamoDB throttling: every seq 1…N holds a message or a void, each send once', async (t) => {
    const proxy = await startFaultProxy();
    proxies.push(proxy);
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let throttling = true;
    proxy.decide = (request) => {
      const write = ['PutItem', 'UpdateItem'].includes(dynamoOperation(request));
      const messages = request.body.includes('"TableName":"chat_messages"');
      return throttling && write && messages && random() < 0.5
        ? {
            kind: 'respond',
            status: 400,
            body: JSON.stringify({
              __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
              message: 'injected',
            }),
          }
        : FORWARD;
    };
    const embedded = await startTestStack({ env: { PRESENCE_ENABLED: 'false' } });
    stacks.push(embedded);
    proxy.target = embedded.dynamodbEndpoint;
    // A clock the test can move on, so that the seqs left empty are settled without waiting for them.
    let offsetMs = 0;
    const stack = await startTestStack({
      env: { PRESENCE_ENABLED: 'false', DYNAMODB_ENDPOINT: proxy.url },
      depsOverrides: { now: () => new Date(Date.now() + offsetMs) },
    });
    stacks.push(stack);
    assert.equal(stack.config.tables.messages, 'chat_messages');

    const { errors } = await concurrentSenders(stack, 'throttled', 5, 6);
    t.diagnostic(`${errors} sends answered INTERNAL and sent again`);
    assert.ok(errors > 0, 'the throttling failed some sends');
    throttling = false;

    offsetMs = SEQ_TIMING.holePendingMs;
    let page = await stack.deps.messages.roomHistory('throttled', { afterSeq: 0, limit: 100 });
    const messages = [...page.messages];
    while (page.hasMore) {
      page = await stack.deps.messages.roomHistory('throttled', {
        afterSeq: page.throughSeq ?? 0,
        limit: 100,
      });
      messages.push(...page.messages);
    }
    assert.equal(page.throughSeq, page.latestSeq, 'every seq settled');
    const sent = Array.from({ length: 5 }, (_, s) =>
      Array.from({ length: 6 }, (_, i) => `s${s}-${i}`),
    ).flat();
    assert.deepEqual(messages.map((m) => m.message).sort(), sent.sort(), 'each send stored once');
    const items = await streamItems(stack, 'throttled');
    assert.deepEqual(
      items.map((item) => item.seq),
      Array.from({ length: page.latestSeq }, (_, i) => i + 1),
      'messages and voids are exactly 1…latest',
    );
    t.diagnostic(`${items.filter((item) => item.kind === 'void').length} voids among ${items.length} seqs`);
  });
});
