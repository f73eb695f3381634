import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocket } from 'ws';
import { createGateway } from '../../src/gateway/index.ts';
import { closeOf, opened, Recorder, startGateway } from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('an idle connection is closed with 1001 Going away, then $disconnect runs', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { idleTimeoutMs: 200, routes: { $disconnect: recorder.handler() } });
  const client = await gw.connect();
  const started = Date.now();
  assert.deepEqual(await closeOf(client), { code: 1001, reason: 'Going away' });
  assert.ok(Date.now() - started >= 150);
  const { requestContext } = await recorder.next('$disconnect');
  assert.equal(requestContext.disconnectStatusCode, 1001);
  assert.equal(requestContext.disconnectReason, 'Going away');
  assert.equal(gw.gateway.connectionCount, 0);
});

test('inbound and outbound messages reset the idle timer', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    idleTimeoutMs: 300,
    routes: { $connect: recorder.handler(), $default: recorder.handler() },
  });
  const client = await gw.connect();
  const ConnectionId = (await recorder.next('$connect')).requestContext.connectionId;
  let closed = false;
  client.once('close', () => (closed = true));
  for (let i = 0; i < 3; i++) {
    await sleep(100);
    client.send('keep-alive');
    await sleep(100);
    await gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: 'keep-alive' }));
  }
  assert.equal(closed, false, 'still open after 600 ms of traffic');
  assert.equal((await closeOf(client)).code, 1001);
});

test('the maximum connection duration closes even a busy connection with 1001', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { maxConnectionMs: 250, routes: { $disconnect: recorder.handler() } });
  const client = await gw.connect();
  const closed = closeOf(client);
  const chatter = setInterval(() => client.readyState === WebSocket.OPEN && client.send('x'), 50);
  t.after(() => clearInterval(chatter));
  assert.deepEqual(await closed, { code: 1001, reason: 'Going away' });
  assert.equal((await recorder.next('$disconnect')).requestContext.disconnectStatusCode, 1001);
});

test('close() says Going away to every client and waits for their $disconnect', async () => {
  const disconnected: number[] = [];
  const gateway = createGateway({
    logger: { info() {}, warn() {}, error() {} },
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
