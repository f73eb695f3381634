import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type BundleReport, buildBundles } from '../../scripts/bundle.ts';
import { signDevToken } from '../../src/auth/index.ts';
import { ROUTES } from '../../src/handlers/routes.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, putOldRecord, startTestStack, TEST_SECRET } from '../integration/support.ts';

const run = promisify(execFile);

/** Imports a bundle in a fresh Node process, as the Lambda runtime would, and invokes its handler once. */
const INVOKER = `
const { handler } = await import(process.argv[2]);
const context = {
  awsRequestId: 'bundle-test', functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST',
  memoryLimitInMB: '256', getRemainingTimeInMillis: () => 29000, callbackWaitsForEmptyEventLoop: true,
};
const result = await handler(JSON.parse(process.env.TEST_EVENT), context);
console.log('RESULT ' + JSON.stringify(result ?? null));
`;

let dir: string;
let bundles: BundleReport[];
let stack: LocalStack;
let alice: ChatClient;
let aliceId: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roomcast-bundles-'));
  bundles = await buildBundles(join(dir, 'dist'));
  await writeFile(join(dir, 'invoke.mjs'), INVOKER);
  stack = await startTestStack();
  alice = await ChatClient.connect(stack, 'alice', 'bundles');
  aliceId = (await stack.deps.store.roomMembers('bundles'))[0]?.connection_id as string;
});

after(async () => {
  await alice?.close();
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

function requestContext(routeKey: string, connectionId: string) {
  const eventType =
    routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE';
  return {
    routeKey,
    eventType,
    connectionId,
    requestId: 'BundleRequest00=',
    extendedRequestId: 'BundleRequest00=',
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    stage: 'dev',
    apiId: 'abc123',
    connectedAt: Date.now(),
    requestTimeEpoch: Date.now(),
    messageDirection: 'IN',
  };
}

async function invoke(functionName: string, event: object): Promise<{ result: unknown; stdout: string }> {
  const bundle = bundles.find((b) => b.functionName === functionName);
  assert.ok(bundle, `no bundle for ${functionName}`);
  const { stdout } = await run(process.execPath, [join(dir, 'invoke.mjs'), pathToFileURL(bundle.file).href], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_LAMBDA_FUNCTION_NAME: `roomcast-${functionName}`,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DYNAMO_TABLE_NAME_CHAT_CONNECTIONS: stack.config.tables.connections,
      DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
      WEBSOCKET_MANAGEMENT_ENDPOINT: stack.managementEndpoint,
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'WARN',
      TEST_EVENT: JSON.stringify(event),
    },
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no result from ${functionName}: ${stdout}`);
  return { result: JSON.parse(line.slice('RESULT '.length)), stdout };
}

describe('Lambda bundles', () => {
  it('are built for every function of the route list, minified ESM', () => {
    assert.deepEqual(
      bundles.map((b) => b.functionName),
      ROUTES.map((r) => r.functionName),
    );
    for (const bundle of bundles)
      assert.ok(bundle.bytes > 10_000 && bundle.bytes < 3_000_000, `${bundle.bytes}`);
  });

  it('connect: verifies the token and stores the connection', async () => {
    const token = await signDevToken(TEST_SECRET, 'bob');
    const { result } = await invoke('connect', {
      requestContext: requestContext('$connect', 'BundleConnect00='),
      queryStringParameters: { token, room_id: 'bundles' },
      headers: { Host: 'abc123.execute-api.us-east-1.amazonaws.com' },
      isBase64Encoded: false,
    });
    assert.deepEqual(result, { statusCode: 200 });
    assert.equal((await stack.deps.store.get('BundleConnect00='))?.user_id, 'bob');
    const refused = await invoke('connect', {
      requestContext: requestContext('$connect', 'BundleConnect01='),
      queryStringParameters: { token: 'garbage', room_id: 'bundles' },
      isBase64Encoded: false,
    });
    assert.equal((refused.result as { statusCode: number }).statusCode, 401);
  });

  it('send-message: fans out through the management API, prunes the gone connection, emits metrics', async () => {
    await putOldRecord(stack, { connectionId: 'BundleGhost0000=', roomId: 'bundles', userId: 'ghost' });
    const { stdout } = await invoke('send-message', {
      requestContext: requestContext('sendMessage', aliceId),
      body: JSON.stringify({ action: 'sendMessage', message: 'from a bundle' }),
      isBase64Encoded: false,
    });
    const frame = await alice.next((f) => f.action === 'message');
    assert.equal(frame.message, 'from a bundle');
    assert.equal(frame.user_id, 'alice');
    // BundleGhost0000= has no socket: the gateway answered 410 and the record is gone. BundleConnect00= has none
    // either, but it was written moments ago, as if its $connect were still running: it is kept.
    assert.equal(await stack.deps.store.get('BundleGhost0000='), undefined);
    assert.equal((await stack.deps.store.get('BundleConnect00='))?.user_id, 'bob');
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
    await invoke('ping', {
      requestContext: requestContext('ping', aliceId),
      body: '{"action":"ping"}',
      isBase64Encoded: false,
    });
    assert.equal((await alice.next()).action, 'pong');
    await invoke('default', {
      requestContext: requestContext('$default', aliceId),
      body: 'not json',
      isBase64Encoded: false,
    });
    assert.equal((await alice.next()).code, 'BAD_REQUEST');
  });

  it('disconnect: removes the record', async () => {
    await invoke('disconnect', {
      requestContext: {
        ...requestContext('$disconnect', aliceId),
        disconnectStatusCode: 1001,
        disconnectReason: 'Going away',
      },
      headers: {
        Host: 'abc123.execute-api.us-east-1.amazonaws.com',
        'x-api-key': '',
        'X-Forwarded-For': '',
        'x-restapi': '',
      },
      isBase64Encoded: false,
    });
    assert.equal(await stack.deps.store.get(aliceId), undefined);
  });
});
