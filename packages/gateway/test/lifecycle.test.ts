import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { createGateway } from '../src/index.js';
import { closeOf, opened, QUIET, sleep } from './helpers.js';

test('close() says Going away to every client and waits for their $disconnect', async () => {
  const disconnected: number[] = [];
  const gateway = createGateway({
    logger: QUIET,
    routes: {
      $disconnect: async (event: { requestContext: { disconnectStatusCode: number } }) => {
        await sleep(50);
        disconnected.push(event.requestContext.disconnectStatusCode);
      },
    },
  });
  const { url } = await gateway.listen(0, '127.0.0.1');
  const clients = [new WebSocket(url), new WebSocket(url)];
  await Promise.all(clients.map(opened));
  assert.equal(gateway.connectionCount, 2);
  const closes = clients.map(closeOf);
  await gateway.close();
  assert.deepEqual(disconnected, [1001, 1001]);
  assert.equal(gateway.connectionCount, 0);
  for (const close of await Promise.all(closes))
    assert.deepEqual(close, { code: 1001, reason: 'Going away' });
  await assert.rejects(fetch(url.replace('ws:', 'http:')));
});

test('close() on a gateway that never listened resolves', async () => {
  await createGateway({ routes: {} }).close();
});

test('invalid options are refused when the gateway is created', () => {
  assert.throws(() => createGateway({ routes: { $custom: () => undefined } }), /Invalid route key/);
  assert.throws(() => createGateway({ routes: { x: 'nope' as never } }), /not a function/);
  assert.throws(() => createGateway({ routes: {}, stage: 'a/b' }), /Invalid stage/);
  assert.throws(() => createGateway({ routes: {}, accountId: '12' }), /Invalid account id/);
  assert.throws(() => createGateway({ routes: {}, idleTimeoutMs: 0 }), /positive/);
  assert.throws(() => createGateway({ routes: {}, maxConnectionMs: 2 ** 31 }), /at most/);
  assert.throws(() => createGateway({ routes: {}, connectionRateLimit: {} as never }), /perSecond/);
  assert.throws(
    () =>
      createGateway({ routes: {}, authorizer: { handler: () => undefined, identitySources: ['header.x'] } }),
    /Invalid identity source/,
  );
});
