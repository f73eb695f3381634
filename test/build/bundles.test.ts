import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type BundleReport, buildBundles } from '../../scripts/bundle.ts';
import {
  bundleInvoker,
  DEPLOYED_STAGE,
  deployedConnection,
  type InvokeBundle,
} from '../../scripts/bundle-invoker.ts';
import { signDevToken } from '../../src/auth.ts';
import type { ShardSummary } from '../../src/fan-out.ts';
import { FUNCTION_NAMES } from '../../src/handlers/routes.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { LOCAL_CREDENTIALS } from '../../src/local/stack.ts';
import { CONNECT_GRACE_SECONDS } from '../../src/rooms.ts';
import { SEQ_TIMING } from '../../src/store/messages.ts';
import {
  connectionsTable,
  createDocumentClient,
  messagesTable,
  subscriptionsTable,
} from '../../src/store/tables.ts';
import { DYNAMODB_NEEDS, type DynamoDbNeed, needText, type Table } from '../infra/dynamodb-needs.ts';
import { ChatClient, putOldRecord, startTestStack, TEST_SECRET } from '../support/chat.ts';
import { dynamoOperation, type FaultProxy, FORWARD, startFaultProxy } from '../support/fault-proxy.ts';
import { serveLambdaApi } from '../support/lambda-http.ts';

let dir: string;
let bundles: BundleReport[];
let stack: LocalStack;
let invoker: InvokeBundle;
let alice: ChatClient;
let aliceId: string;
/** Between the bundles and DynamoDB: what each invocation calls is recorded. */
let recorder: FaultProxy;
/** What each function was seen to call, over all its invocations. */
const called = new Map<string, Set<string>>();
/** Straight to the stack's store: items written and read back around the bundles. */
let doc: DynamoDBDocumentClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roomcast-bundles-'));
  bundles = await buildBundles(join(dir, 'dist'));
  // Not the default table names: a function that lacks the environment naming a table it uses (and so would use
  // the default) finds no such table, as on AWS, where the tables are named after the deployment.
  stack = await startTestStack({
    env: {
      DYNAMO_TABLE_NAME_CHAT_CONNECTIONS: 'bundled-chat_connections',
      DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS: 'bundled-chat_subscriptions',
      DYNAMO_TABLE_NAME_CHAT_MESSAGES: 'bundled-chat_messages',
    },
  });
  doc = createDocumentClient({
    endpoint: stack.dynamodbEndpoint,
    region: stack.config.region,
    credentials: LOCAL_CREDENTIALS,
  });
  recorder = await startFaultProxy(stack.dynamodbEndpoint);
  invoker = await bundleInvoker(dir, stack);
  alice = await ChatClient.connect(stack, 'alice', 'bundles');
  aliceId = (await stack.deps.connections.roomMembers('bundles'))[0]?.connection_id as string;
});

after(async () => {
  await alice?.close();
  doc?.destroy();
  await stack?.close();
  await recorder?.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Imports a bundle in a fresh Node process, as the Lambda runtime would, invokes its handler once, and records
 * what it called in DynamoDB.
 */
async function invoke(
  functionName: string,
  event: object,
  env: Record<string, string> = {},
): Promise<{ result: unknown; stdout: string }> {
  const bundle = bundles.find((b) => b.functionName === functionName);
  assert.ok(bundle, `no bundle for ${functionName}`);
  const from = recorder.requests.length;
  const invocation = await invoker(bundle.file, functionName, event, {
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'WARN',
    DYNAMODB_ENDPOINT: recorder.url,
    ...env,
  });
  const seen = called.get(functionName) ?? new Set<string>();
  called.set(functionName, seen);
  for (const request of recorder.requests.slice(from)) {
    for (const need of asNeeds(request.body, dynamoOperation(request))) seen.add(needText(need));
  }
  return invocation;
}

/**
 * A DynamoDB request as the needs it is: action, which of the stack's tables, and index. A batch names its
 * tables in RequestItems, one need each.
 */
function asNeeds(body: Buffer, operation = ''): DynamoDbNeed[] {
  const { TableName, IndexName, RequestItems } = JSON.parse(body.toString()) as {
    TableName?: string;
    IndexName?: string;
    RequestItems?: Record<string, unknown>;
  };
  const tableOf = (name: string | undefined) =>
    (Object.entries(stack.config.tables).find(([, table]) => table === name)?.[0] ??
      `unknown table ${name}`) as Table;
  const action = operation as DynamoDbNeed['action'];
  if (RequestItems) return Object.keys(RequestItems).map((name) => ({ action, table: tableOf(name) }));
  return [{ action, table: tableOf(TableName), ...(IndexName && { index: IndexName }) }];
}

/** Milliseconds since the epoch, far enough back that an item written then is past the connect grace period. */
const pastGrace = () => Date.now() - (CONNECT_GRACE_SECONDS + 60) * 1000;

/** A record as versions before subscriptions wrote it: one `room_id`, no `rooms`, no subscription item. */
async function putPreviousVersionRecord(record: {
  connectionId: string;
  userId: string;
  roomId: string;
}): Promise<void> {
  const now = Date.now();
  await doc.send(
    new PutCommand({
      TableName: stack.config.tables.connections,
      Item: {
        connection_id: record.connectionId,
        room_id: record.roomId,
        user_id: record.userId,
        ttl: Math.floor(now / 1000) + stack.config.connectionTtlSeconds,
        created_at: new Date(now).toISOString(),
        joined_seq: 0,
        joined_direct_seq: 0,
      },
    }),
  );
}

/** A connection record as stored, without the upgrade that ConnectionStore.get makes on its read. */
async function rawRecord(connectionId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await doc.send(
    new GetCommand({
      TableName: stack.config.tables.connections,
      Key: { [connectionsTable.hashKey]: connectionId },
      ConsistentRead: true,
    }),
  );
  return Item;
}

async function subscription(
  roomId: string,
  connectionId: string,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await doc.send(
    new GetCommand({
      TableName: stack.config.tables.subscriptions,
      Key: { [subscriptionsTable.hashKey]: roomId, [subscriptionsTable.rangeKey]: connectionId },
      ConsistentRead: true,
    }),
  );
  return Item;
}

/** A seq of `roomId` taken long enough ago and never written: the next forward read voids it. */
async function leaveHole(roomId: string): Promise<number> {
  const latest = await stack.deps.messages.roomLatestSeq(roomId, { consistent: true });
  await doc.send(
    new UpdateCommand({
      TableName: stack.config.tables.messages,
      Key: { [messagesTable.hashKey]: `seq#${roomId}`, [messagesTable.rangeKey]: 0 },
      UpdateExpression: 'SET #last = :last, #at = :at',
      ExpressionAttributeNames: { '#last': 'last', '#at': 'at' },
      ExpressionAttributeValues: {
        ':last': latest + 1,
        ':at': Date.now() - SEQ_TIMING.holePendingMs - 1000,
      },
    }),
  );
  return latest + 1;
}

describe('Lambda bundles', () => {
  it('are built for every function of the route list, minified ESM', () => {
    assert.deepEqual(
      bundles.map((b) => b.functionName),
      FUNCTION_NAMES,
    );
    // The target (bench/README.md): under 400 KB, so a cold start reads little.
    for (const bundle of bundles)
      assert.ok(
        bundle.bytes > 10_000 && bundle.bytes < 400_000,
        `${bundle.functionName}: ${bundle.bytes} bytes`,
      );
  });

  it('are invoked with events shaped as a deployed stage sends them', () => {
    const connection = deployedConnection('BundleShape0000=');
    const connect = connection.connect({ token: 't', room_id: 'bundles' });
    assert.deepEqual(Object.keys(connect.headers), [
      'Host',
      'Sec-WebSocket-Extensions',
      'Sec-WebSocket-Key',
      'Sec-WebSocket-Version',
      'User-Agent',
      'X-Amzn-Trace-Id',
      'X-Forwarded-For',
      'X-Forwarded-Port',
      'X-Forwarded-Proto',
    ]);
    assert.equal(connect.headers.Host, DEPLOYED_STAGE.domainName);
    assert.equal(connect.headers['X-Forwarded-Proto'], 'https');
    assert.equal(connect.headers['X-Forwarded-Port'], '443');
    assert.deepEqual(connect.multiValueHeaders['X-Forwarded-For'], [connect.headers['X-Forwarded-For']]);
    assert.deepEqual(connect.multiValueQueryStringParameters, { token: ['t'], room_id: ['bundles'] });
    const message = connection.message('ping', '{"action":"ping"}');
    const disconnect = connection.disconnect();
    for (const { requestContext: rc } of [connect, message, disconnect]) {
      assert.deepEqual(
        { stage: rc.stage, apiId: rc.apiId, domainName: rc.domainName },
        { stage: 'prod', apiId: DEPLOYED_STAGE.apiId, domainName: DEPLOYED_STAGE.domainName },
      );
      assert.match(rc.requestTime, /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
      assert.equal(rc.identity.sourceIp, connect.headers['X-Forwarded-For']);
      assert.equal(rc.identity.userAgent, connect.headers['User-Agent']);
      assert.equal('messageId' in rc, rc.eventType === 'MESSAGE');
    }
    assert.deepEqual(
      [disconnect.requestContext.disconnectStatusCode, disconnect.requestContext.disconnectReason],
      [1001, 'Going away'],
    );
  });

  it('connect: verifies the token and stores the connection', async () => {
    const token = await signDevToken(TEST_SECRET, 'bob');
    const { result } = await invoke(
      'connect',
      deployedConnection('BundleConnect00=').connect({ token, room_id: 'bundles' }),
    );
    assert.deepEqual(result, { statusCode: 200 });
    assert.equal((await stack.deps.connections.get('BundleConnect00='))?.user_id, 'bob');
    assert.equal((await subscription('bundles', 'BundleConnect00='))?.user_id, 'bob');
    // Without a room in the URL: the record alone.
    const roomless = await invoke('connect', deployedConnection('BundleConnect02=').connect({ token }));
    assert.deepEqual(roomless.result, { statusCode: 200 });
    assert.equal((await stack.deps.connections.get('BundleConnect02='))?.rooms, undefined);
    const refused = await invoke(
      'connect',
      deployedConnection('BundleConnect01=').connect({ token: 'garbage', room_id: 'bundles' }),
    );
    assert.equal((refused.result as { statusCode: number }).statusCode, 401);
  });

  it('send-message: fans out through the management API, prunes the gone connection, emits metrics', async () => {
    await putOldRecord(stack, { connectionId: 'BundleGhost0000=', roomId: 'bundles', userId: 'ghost' });
    // A subscription left behind without its record (a prune that died between its two deletes).
    await doc.send(
      new PutCommand({
        TableName: stack.config.tables.subscriptions,
        Item: {
          room_id: 'bundles',
          connection_id: 'BundleOrphan000=',
          user_id: 'ghost',
          ttl: Math.floor(Date.now() / 1000) + 3600,
          created_at: new Date(pastGrace()).toISOString(),
        },
      }),
    );
    const { stdout } = await invoke(
      'send-message',
      deployedConnection(aliceId).message(
        'sendMessage',
        JSON.stringify({ action: 'sendMessage', message: 'from a bundle' }),
      ),
    );
    const frame = await alice.next((f) => f.action === 'message');
    assert.equal(frame.message, 'from a bundle');
    assert.equal(frame.user_id, 'alice');
    // BundleGhost0000= has no socket: the gateway answered 410, and the record and its subscription are gone, as
    // is the orphan's subscription. BundleConnect00= has none either, but it was written moments ago, as if its
    // $connect were still running: it is kept.
    assert.equal(await rawRecord('BundleGhost0000='), undefined);
    assert.equal(await subscription('bundles', 'BundleGhost0000='), undefined);
    assert.equal(await subscription('bundles', 'BundleOrphan000='), undefined);
    assert.equal((await stack.deps.connections.get('BundleConnect00='))?.user_id, 'bob');
    const emf = stdout
      .split('\n')
      .filter((l) => l.includes('"CloudWatchMetrics"'))
      .map((l) => JSON.parse(l));
    assert.ok(
      emf.some(
        (m) => m.DeliveriesSucceeded === 1 && m.StaleConnectionsPruned === 2 && m.MessagesReceived === 1,
      ),
    );
  });

  it('send-message in a room above the threshold: hands the room to a worker through Lambda Invoke, signed', async () => {
    const lambda = await serveLambdaApi(stack.functions);
    try {
      const accepted = stack.functions.stats.accepted;
      await invoke(
        'send-message',
        deployedConnection(aliceId).message(
          'sendMessage',
          JSON.stringify({ action: 'sendMessage', message: 'through a worker' }),
        ),
        {
          // Above one connection; the worker is the local stack's, under its local name.
          FANOUT_THRESHOLD: '1',
          FANOUT_WORKER_FUNCTION: 'fan-out-worker',
          AWS_ENDPOINT_URL_LAMBDA: lambda.url,
        },
      );
      assert.equal((await alice.next((f) => f.action === 'message', 10_000)).message, 'through a worker');
      await stack.functions.whenIdle();
      assert.equal(stack.functions.stats.accepted, accepted + 1);
      // The client the bundle loaded on first use: Lambda's Invoke API, asynchronous, SigV4-signed.
      const [request] = lambda.requests;
      assert.equal(request?.path, '/2015-03-31/functions/fan-out-worker/invocations');
      assert.equal(request?.headers['x-amz-invocation-type'], 'Event');
      assert.match(
        String(request?.headers.authorization),
        /^AWS4-HMAC-SHA256 Credential=.*\/lambda\/aws4_request/,
      );
    } finally {
      await lambda.close();
    }
  });

  it('fan-out-worker: posts to its shard, prunes the gone connection, emits the delivery metrics', async () => {
    await putOldRecord(stack, { connectionId: 'BundleShard0000=', roomId: 'bundles', userId: 'ghost' });
    // And a subscription left behind without its record: the room's item goes too.
    await doc.send(
      new PutCommand({
        TableName: stack.config.tables.subscriptions,
        Item: {
          room_id: 'bundles',
          connection_id: 'BundleShard0001=',
          user_id: 'ghost',
          ttl: Math.floor(Date.now() / 1000) + 3600,
          created_at: new Date(pastGrace()).toISOString(),
        },
      }),
    );
    const frame = {
      action: 'message',
      room_id: 'bundles',
      user_id: 'bob',
      message: 'from a worker',
      message_id: '01BUNDLEWORKER000000000000',
      timestamp: new Date().toISOString(),
      seq: 1_000,
    };
    const { result, stdout } = await invoke('fan-out-worker', {
      v: 1,
      room_id: 'bundles',
      frame: JSON.stringify(frame),
      seq: frame.seq,
      message_id: frame.message_id,
      dispatched_at: Date.now(),
      shard: 0,
      connection_ids: [aliceId, 'BundleShard0000=', 'BundleShard0001='],
      attempt: 1,
      concurrency: 8,
    });
    assert.equal((await alice.next((f) => f.action === 'message')).message, 'from a worker');
    assert.deepEqual(
      [(result as ShardSummary).delivered, (result as ShardSummary).gone, (result as ShardSummary).pruned],
      [1, 2, 2],
    );
    assert.equal(await rawRecord('BundleShard0000='), undefined);
    assert.equal(await subscription('bundles', 'BundleShard0000='), undefined);
    assert.equal(await subscription('bundles', 'BundleShard0001='), undefined);
    const emf = stdout
      .split('\n')
      .filter((l) => l.includes('"CloudWatchMetrics"'))
      .map((l) => JSON.parse(l));
    assert.ok(emf.some((m) => m.DeliveriesSucceeded === 1 && typeof m.FanOutQueueDelay === 'number'));
  });

  it('ping and default: answer the caller', async () => {
    await invoke('ping', deployedConnection(aliceId).message('ping', '{"action":"ping"}'));
    const pong = await alice.next();
    // With the seqs: a ping that cannot read them still answers, without them.
    assert.deepEqual(
      [pong.action, typeof pong.latest_seq, typeof pong.joined_seq],
      ['pong', 'number', 'number'],
    );
    await invoke('default', deployedConnection(aliceId).message('$default', 'not json'));
    assert.equal((await alice.next()).code, 'BAD_REQUEST');
  });

  it('send-message and send-direct: store once per client_msg_id, with a seq', async () => {
    const frame = JSON.stringify({ action: 'sendMessage', message: 'once', client_msg_id: 'bundled-1' });
    for (let i = 0; i < 2; i++)
      await invoke('send-message', deployedConnection(aliceId).message('sendMessage', frame));
    const stored = await alice.next((f) => f.action === 'message' && f.message === 'once');
    const retried = await alice.next((f) => f.action === 'message' && f.message === 'once');
    assert.deepEqual(retried, stored, 'the retry is answered with the first message');
    // sendDirect asks API Gateway whether the recipient is there: a real connection, not a record alone. Bob's
    // gone connection is pruned with the subscription its record holds.
    const bob = await ChatClient.connect(stack, 'bob', 'bundles');
    await putOldRecord(stack, { connectionId: 'BundleGhostBob0=', roomId: 'bundles', userId: 'bob' });
    const direct = JSON.stringify({
      action: 'sendDirect',
      to_user_id: 'bob',
      message: 'psst',
      client_msg_id: 'd1',
    });
    for (let i = 0; i < 2; i++)
      await invoke('send-direct', deployedConnection(aliceId).message('sendDirect', direct));
    const own = await alice.next((f) => f.action === 'direct');
    assert.deepEqual([own.message, own.seq], ['psst', 1]);
    assert.deepEqual(await alice.next((f) => f.action === 'direct'), own, 'the retry is answered with it');
    assert.equal((await bob.next((f) => f.action === 'direct')).message, 'psst');
    assert.equal(await rawRecord('BundleGhostBob0='), undefined);
    assert.equal(await subscription('bundles', 'BundleGhostBob0='), undefined);
    await bob.close();
  });

  it('get-history and list-members: read the room, settle a seq a dead writer left', async () => {
    // A seq taken long enough ago and never written: the read voids it.
    const hole = await leaveHole('bundles');
    await invoke(
      'get-history',
      deployedConnection(aliceId).message(
        'getHistory',
        JSON.stringify({ action: 'getHistory', after_seq: 0 }),
      ),
    );
    const page = await alice.next((f) => f.action === 'history');
    assert.deepEqual([page.through_seq, page.latest_seq], [hole, hole]);
    await invoke(
      'list-members',
      deployedConnection(aliceId).message('listMembers', '{"action":"listMembers"}'),
    );
    const members = await alice.next((f) => f.action === 'members');
    assert.equal(members.latest_seq, hole);
  });

  it('subscribe and unsubscribe: a second room, with its history, and out of it again', async () => {
    const hole = await leaveHole('bundles-2');
    await invoke(
      'subscribe',
      deployedConnection(aliceId).message(
        'subscribe',
        JSON.stringify({ action: 'subscribe', room_id: 'bundles-2', after_seq: 0, ref: 's1' }),
      ),
    );
    const subscribed = await alice.next((f) => f.action === 'subscribed');
    assert.deepEqual([subscribed.room_id, subscribed.latest_seq, subscribed.ref], ['bundles-2', hole, 's1']);
    assert.equal((subscribed.history as { through_seq?: number } | undefined)?.through_seq, hole);
    assert.ok((await rawRecord(aliceId))?.rooms instanceof Set);
    assert.equal((await subscription('bundles-2', aliceId))?.user_id, 'alice');

    await invoke(
      'unsubscribe',
      deployedConnection(aliceId).message(
        'unsubscribe',
        JSON.stringify({ action: 'unsubscribe', room_id: 'bundles-2', ref: 'u1' }),
      ),
    );
    assert.deepEqual(await alice.next((f) => f.action === 'unsubscribed'), {
      action: 'unsubscribed',
      room_id: 'bundles-2',
      ref: 'u1',
    });
    assert.deepEqual(
      [...(((await rawRecord(aliceId))?.rooms as Set<string> | undefined) ?? [])],
      ['bundles'],
    );
    assert.equal(await subscription('bundles-2', aliceId), undefined);
  });

  it('subscribe: an unsubscribe that crosses it takes the item it wrote away again', async () => {
    // The subscription item's put is held in the network while the claim is removed, as a concurrent unsubscribe
    // would; the subscribe then finds no claim when it reads the record again, and deletes its item.
    const room = 'bundles-crossed';
    recorder.decide = (request) =>
      dynamoOperation(request) === 'PutItem' && request.body.includes(`"${room}"`)
        ? {
            kind: 'hold',
            until: doc.send(
              new UpdateCommand({
                TableName: stack.config.tables.connections,
                Key: { [connectionsTable.hashKey]: aliceId },
                UpdateExpression: 'DELETE #rooms :room',
                ExpressionAttributeNames: { '#rooms': 'rooms' },
                ExpressionAttributeValues: { ':room': new Set([room]) },
              }),
            ),
          }
        : FORWARD;
    try {
      await invoke(
        'subscribe',
        deployedConnection(aliceId).message(
          'subscribe',
          JSON.stringify({ action: 'subscribe', room_id: room, ref: 'crossed' }),
        ),
      );
    } finally {
      recorder.decide = () => FORWARD;
    }
    const answer = await alice.next((f) => f.ref === 'crossed');
    assert.deepEqual([answer.action, answer.code], ['error', 'BAD_REQUEST']);
    assert.equal(await subscription(room, aliceId), undefined, 'no item without a claim');
  });

  it("every route that reads the caller's record moves a record of the previous version over", async () => {
    const frames: Record<string, object> = {
      subscribe: { action: 'subscribe', room_id: 'bundles' },
      unsubscribe: { action: 'unsubscribe', room_id: 'bundles' },
      'send-message': { action: 'sendMessage', message: 'from before the upgrade' },
      'send-direct': { action: 'sendDirect', to_user_id: 'alice', message: 'from before the upgrade' },
      'get-history': { action: 'getHistory' },
      'list-members': { action: 'listMembers' },
      ping: { action: 'ping' },
    };
    for (const [fn, frame] of Object.entries(frames)) {
      // No socket behind these ids: replies answer 410, which a route takes as a caller that left. Written just
      // now, the records are inside the connect grace, so the fan-outs that reach them do not prune them.
      const connectionId = `BundleOld-${fn}=`;
      await putPreviousVersionRecord({ connectionId, userId: `old-${fn}`, roomId: 'bundles' });
      const route = (frame as { action: string }).action;
      await invoke(fn, deployedConnection(connectionId).message(route, JSON.stringify(frame)));
      const record = await rawRecord(connectionId);
      assert.equal(record?.room_id, undefined, fn);
      assert.equal(record?.connect_room_id, 'bundles', fn);
      if (fn === 'unsubscribe') {
        assert.equal(record?.rooms, undefined, fn);
        assert.equal(await subscription('bundles', connectionId), undefined, fn);
      } else {
        assert.deepEqual([...((record?.rooms as Set<string> | undefined) ?? [])], ['bundles'], fn);
        assert.equal((await subscription('bundles', connectionId))?.user_id, `old-${fn}`, fn);
      }
    }
    // The room heard the old connection's message, and alice its direct message.
    assert.equal((await alice.next((f) => f.action === 'message')).message, 'from before the upgrade');
    assert.equal((await alice.next((f) => f.action === 'direct')).message, 'from before the upgrade');
  });

  it('admin: publishes as the system (pruning the gone), revokes, and counts', async () => {
    await putOldRecord(stack, { connectionId: 'BundleGhost0001=', roomId: 'bundles', userId: 'ghost' });
    await doc.send(
      new PutCommand({
        TableName: stack.config.tables.subscriptions,
        Item: {
          room_id: 'bundles',
          connection_id: 'BundleOrphan001=',
          user_id: 'ghost',
          ttl: Math.floor(Date.now() / 1000) + 3600,
          created_at: new Date(pastGrace()).toISOString(),
        },
      }),
    );
    const request = {
      op: 'publish',
      room_id: 'bundles',
      message: 'from operators',
      client_msg_id: 'bundle-1',
    };
    const published = await invoke('admin', request);
    assert.equal((published.result as { ok: boolean }).ok, true);
    // Again with its client_msg_id: read back, stored and delivered once.
    assert.equal(((await invoke('admin', request)).result as { retried: boolean }).retried, true);
    const frame = await alice.next((f) => f.action === 'message');
    assert.deepEqual([frame.message, frame.user_id, frame.system], ['from operators', 'system', true]);
    assert.equal(await rawRecord('BundleGhost0001='), undefined);
    assert.equal(await subscription('bundles', 'BundleOrphan001='), undefined);

    await invoke('admin', { op: 'publish', to_user_id: 'alice', message: 'to alice', sender: 'billing' });
    assert.equal((await alice.next((f) => f.action === 'direct')).from_user_id, 'billing');

    // bob's record (BundleConnect00=) has no socket: read, asked to close, found gone.
    const revoked = await invoke('admin', { op: 'revoke', user_id: 'bob' });
    assert.deepEqual((revoked.result as { ok: boolean; closed: number }).closed, 0);
    // An earlier time leaves the revocation in effect, and reads it back to say so.
    const earlier = await invoke('admin', { op: 'revoke', user_id: 'bob', before: '2020-01-01T00:00:00Z' });
    const inEffect = (result: unknown) => (result as { accepts_issued_from: string }).accepts_issued_from;
    assert.equal(inEffect(earlier.result), inEffect(revoked.result));
    const counted = await invoke('admin', { op: 'stats', publish_metrics: true });
    const stats = counted.result as { connections: number; biggest_rooms: Array<{ room_id: string }> };
    assert.ok(stats.connections >= 1);
    assert.ok(stats.biggest_rooms.some((room) => room.room_id === 'bundles'));
    const emf = counted.stdout
      .split('\n')
      .filter((l) => l.includes('"CloudWatchMetrics"'))
      .map((l) => JSON.parse(l));
    assert.ok(emf.some((m) => typeof m.ActiveConnections === 'number'));
    assert.ok(emf.some((m) => m.room_id === 'bundles' && typeof m.RoomConnections === 'number'));
  });

  it('disconnect: removes the record and its subscriptions', async () => {
    await invoke('disconnect', deployedConnection(aliceId).disconnect());
    assert.equal(await rawRecord(aliceId), undefined);
    assert.equal(await subscription('bundles', aliceId), undefined);
  });

  it('each bundle calls in DynamoDB only what its IAM policy allows (test/infra/dynamodb-needs.ts)', () => {
    for (const functionName of FUNCTION_NAMES) {
      const allowed = new Set((DYNAMODB_NEEDS[functionName] ?? []).map(needText));
      const seen = [...(called.get(functionName) ?? [])];
      assert.deepEqual(
        seen.filter((call) => !allowed.has(call)),
        [],
        `${functionName} calls what its policy does not allow`,
      );
      assert.ok(called.has(functionName), `${functionName} was invoked`);
    }
    // Every need was seen, so the list (and the policy) holds nothing the code does not call.
    const unseen = Object.entries(DYNAMODB_NEEDS).flatMap(([fn, needs]) =>
      needs
        .map(needText)
        .filter((need) => !called.get(fn)?.has(need))
        .map((need) => `${fn}: ${need}`),
    );
    assert.deepEqual(unseen, []);
  });
});
