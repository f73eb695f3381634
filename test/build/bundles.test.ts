import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BundleReport, buildBundles } from '../../scripts/bundle.ts';
import { bundleInvoker, type InvokeBundle, webSocketRequestContext } from '../../scripts/bundle-invoker.ts';
import { signDevToken } from '../../src/auth/index.ts';
import { ROUTES } from '../../src/handlers/routes.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, putOldRecord, startTestStack, TEST_SECRET } from '../integration/support.ts';

let dir: string;
let bundles: BundleReport[];
let stack: LocalStack;
let invoker: InvokeBundle;
let alice: ChatClient;
let aliceId: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roomcast-bundles-'));
  bundles = await buildBundles(join(dir, 'dist'));
  stack = await startTestStack();
  invoker = await bundleInvoker(dir, stack);
  alice = await ChatClient.connect(stack, 'alice', 'bundles');
  aliceId = (await stack.deps.store.roomMembers('bundles'))[0]?.connection_id as string;
});

after(async () => {
  await alice?.close();
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

const requestContext = (routeKey: string, connectionId: string) =>
  webSocketRequestContext(routeKey, connectionId, 'BundleRequest00=');

/** Imports a bundle in a fresh Node process, as the Lambda runtime would, and invokes its handler once. */
async function invoke(functionName: string, event: object): Promise<{ result: unknown; stdout: string }> {
  const bundle = bundles.find((b) => b.functionName === functionName);
  assert.ok(bundle, `no bundle for ${functionName}`);
  return invoker(bundle.file, functionName, event, { JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'WARN' });
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
