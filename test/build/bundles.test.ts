import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type BundleReport, buildBundles } from '../../scripts/bundle.ts';
import {
  bundleInvoker,
  DEPLOYED_STAGE,
  deployedConnection,
  type InvokeBundle,
} from '../../scripts/bundle-invoker.ts';
import { signDevToken } from '../../src/auth.ts';
import { ROUTES } from '../../src/handlers/routes.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { LOCAL_CREDENTIALS } from '../../src/local/stack.ts';
import { SEQ_TIMING } from '../../src/store/messages.ts';
import { createDocumentClient, messagesTable } from '../../src/store/tables.ts';
import { DYNAMODB_NEEDS, type DynamoDbNeed, needText, type Table } from '../infra/dynamodb-needs.ts';
import { ChatClient, putOldRecord, startTestStack, TEST_SECRET } from '../support/chat.ts';
import { dynamoOperation, type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts';

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

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roomcast-bundles-'));
  bundles = await buildBundles(join(dir, 'dist'));
  // Not the default table names: a function that lacks the environment naming a table it uses (and so would use
  // the default) finds no such table, as on AWS, where the tables are named after the deployment.
  stack = await startTestStack({
    env: {
      DYNAMO_TABLE_NAME_CHAT_CONNECTIONS: 'bundled-chat_connections',
      DYNAMO_TABLE_NAME_CHAT_MESSAGES: 'bundled-chat_messages',
    },
  });
  recorder = await startFaultProxy(stack.dynamodbEndpoint);
  invoker = await bundleInvoker(dir, stack);
  alice = await ChatClient.connect(stack, 'alice', 'bundles');
  aliceId = (await stack.deps.connections.roomMembers('bundles'))[0]?.connection_id as string;
});

after(async () => {
  await alice?.close();
  await stack?.close();
  await recorder?.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Imports a bundle in a fresh Node process, as the Lambda runtime would, invokes its handler once, and records
 * what it called in DynamoDB.
 */
async function invoke(functionName: string, event: object): Promise<{ result: unknown; stdout: string }> {
  const bundle = bundles.find((b) => b.functionName === functionName);
  assert.ok(bundle, `no bundle for ${functionName}`);
  const from = recorder.requests.length;
  const invocation = await invoker(bundle.file, functionName, event, {
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'WARN',
    DYNAMODB_ENDPOINT: recorder.url,
  });
  const seen = called.get(functionName) ?? new Set<string>();
  called.set(functionName, seen);
  for (const request of recorder.requests.slice(from)) {
    seen.add(needText(asNeed(request.body, dynamoOperation(request))));
  }
  return invocation;
}

/** A DynamoDB request as the need it is: action, which of the stack's tables, and index. */
function asNeed(body: Buffer, operation = ''): DynamoDbNeed {
  const { TableName, IndexName } = JSON.parse(body.toString()) as { TableName?: string; IndexName?: string };
  const table = (Object.entries(stack.config.tables).find(([, name]) => name === TableName)?.[0] ??
    `unknown table ${TableName}`) as Table;
  return { action: operation as DynamoDbNeed['action'], table, ...(IndexName && { index: IndexName }) };
}

describe('Lambda bundles', () => {
  it('are built for every function of the route list, minified ESM', () => {
    assert.deepEqual(
      bundles.map((b) => b.functionName),
      ROUTES.map((r) => r.functionName),
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
    const refused = await invoke(
      'connect',
      deployedConnection('BundleConnect01=').connect({ token: 'garbage', room_id: 'bundles' }),
    );
    assert.equal((refused.result as { statusCode: number }).statusCode, 401);
  });

  it('send-message: fans out through the management API, prunes the gone connection, emits metrics', async () => {
    await putOldRecord(stack, { connectionId: 'BundleGhost0000=', roomId: 'bundles', userId: 'ghost' });
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
    // BundleGhost0000= has no socket: the gateway answered 410 and the record is gone. BundleConnect00= has none
    // either, but it was written moments ago, as if its $connect were still running: it is kept.
    assert.equal(await stack.deps.connections.get('BundleGhost0000='), undefined);
    assert.equal((await stack.deps.connections.get('BundleConnect00='))?.user_id, 'bob');
    const emf = stdout
      .split('\n')
      .filter((l) => l.includes('"CloudWatchMetrics"'))
      .map((l) => JSON.parse(l));
    assert.ok(
      emf.some(
        (m) => m.DeliveriesSucceeded === 1 && m.StaleConnectionsPruned === 1 && m.MessagesReceived === 1,
      ),
    );
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
    // sendDirect asks API Gateway whether the recipient is there: a real connection, not a record alone.
    const bob = await ChatClient.connect(stack, 'bob', 'bundles');
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
    await bob.close();
  });

  it('get-history and list-members: read the room, settle a seq a dead writer left', async () => {
    // A seq taken long enough ago and never written: the read voids it.
    const doc = createDocumentClient({
      endpoint: stack.dynamodbEndpoint,
      region: stack.config.region,
      credentials: LOCAL_CREDENTIALS,
    });
    const latest = await stack.deps.messages.roomLatestSeq('bundles');
    await doc.send(
      new UpdateCommand({
        TableName: stack.config.tables.messages,
        Key: { [messagesTable.hashKey]: 'seq#bundles', [messagesTable.rangeKey]: 0 },
        UpdateExpression: 'SET #last = :last, #at = :at',
        ExpressionAttributeNames: { '#last': 'last', '#at': 'at' },
        ExpressionAttributeValues: {
          ':last': latest + 1,
          ':at': Date.now() - SEQ_TIMING.holePendingMs - 1000,
        },
      }),
    );
    doc.destroy();
    await invoke(
      'get-history',
      deployedConnection(aliceId).message(
        'getHistory',
        JSON.stringify({ action: 'getHistory', after_seq: 0 }),
      ),
    );
    const page = await alice.next((f) => f.action === 'history');
    assert.deepEqual([page.through_seq, page.latest_seq], [latest + 1, latest + 1]);
    await invoke(
      'list-members',
      deployedConnection(aliceId).message('listMembers', '{"action":"listMembers"}'),
    );
    const members = await alice.next((f) => f.action === 'members');
    assert.equal(members.latest_seq, latest + 1);
  });

  it('disconnect: removes the record', async () => {
    await invoke('disconnect', deployedConnection(aliceId).disconnect());
    assert.equal(await stack.deps.connections.get(aliceId), undefined);
  });

  it('each bundle calls in DynamoDB only what its IAM policy allows (test/infra/dynamodb-needs.ts)', () => {
    for (const { functionName } of ROUTES) {
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
