import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
import { ChatClient, putOldRecord, startTestStack, TEST_SECRET } from '../support/chat.ts';

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
  aliceId = (await stack.deps.connections.roomMembers('bundles'))[0]?.connection_id as string;
});

after(async () => {
  await alice?.close();
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

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
    assert.equal((await alice.next()).action, 'pong');
    await invoke('default', deployedConnection(aliceId).message('$default', 'not json'));
    assert.equal((await alice.next()).code, 'BAD_REQUEST');
  });

  it('disconnect: removes the record', async () => {
    await invoke('disconnect', deployedConnection(aliceId).disconnect());
    assert.equal(await stack.deps.connections.get(aliceId), undefined);
  });
});
