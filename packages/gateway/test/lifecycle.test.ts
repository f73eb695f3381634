import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { createGateway } from '../src/index.js';
import { closeOf, handshakeResponse, opened, QUIET, Recorder } from './helpers.js';

test('close() says Going away to every client, refuses new handshakes and waits for every $disconnect', async () => {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const recorder = new Recorder();
  const disconnected: number[] = [];
  const gateway = createGateway({
    logger: QUIET,
    routes: {
      $disconnect: recorder.handler(async (event) => {
        await released;
        disconnected.push(event.requestContext.disconnectStatusCode);
      }),
    },
  });
  const { url } = await gateway.listen(0, '127.0.0.1');
  const clients = [new WebSocket(url), new WebSocket(url)];
  await Promise.all(clients.map(opened));
  assert.equal(gateway.connectionCount, 2);
  const closes = clients.map(closeOf);
  const closing = gateway.close();
  await recorder.next('$disconnect', 1);
  assert.equal((await handshakeResponse(url)).status, 503, 'no new connections while closing');
  release();
  await closing;
  assert.deepEqual(disconnected, [1001, 1001], 'close() resolved after every $disconnect');
  assert.equal(gateway.connectionCount, 0);
  for (const close of await Promise.all(closes))
    assert.deepEqual(close, { code: 1001, reason: 'Going away' });
  await assert.rejects(fetch(url.replace('ws:', 'http:')));
});

test('a failing $disconnect is only logged', async () => {
  const errors: string[] = [];
  const gateway = createGateway({
    logger: { ...QUIET, error: (msg) => errors.push(msg) },
    routes: {
      $disconnect: () => {
        throw new Error('table gone');
      },
    },
  });
  const { url } = await gateway.listen(0, '127.0.0.1');
  const client = new WebSocket(url);
  await opened(client);
  await gateway.close();
  assert.deepEqual(errors, ['$disconnect failed']);
});

test('without a clock option, real time drives the timers', async () => {
  const gateway = createGateway({ logger: QUIET, idleTimeoutMs: 20, routes: {} });
  const { url } = await gateway.listen(0, '127.0.0.1');
  const client = new WebSocket(url);
  await opened(client);
  assert.deepEqual(await closeOf(client), { code: 1001, reason: 'Going away' });
  await gateway.close();
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
  assert.throws(() => createGateway({ routes: {}, clock: { now: () => 0 } as never }), /clock.setTimeout/);
  assert.throws(
    () =>
      createGateway({ routes: {}, authorizer: { handler: () => undefined, identitySources: ['header.x'] } }),
    /Invalid identity source/,
  );
  const auth = (managementAuth: unknown) => () =>
    createGateway({ routes: {}, managementAuth: managementAuth as never });
  assert.throws(auth('sigv4'), /managementAuth must be 'none' or \{ credentials/);
  assert.throws(auth({ credentials: [] }), /managementAuth must be/);
  assert.throws(
    auth({ credentials: [{ accessKeyId: 'a/b', secretAccessKey: 's' }] }),
    /without \/ or spaces/,
  );
  assert.throws(
    auth({ credentials: [{ accessKeyId: 'AKID', secretAccessKey: '' }] }),
    /non-empty secretAccessKey/,
  );
  assert.throws(
    auth({
      credentials: [
        { accessKeyId: 'AKID', secretAccessKey: 'one' },
        { accessKeyId: 'AKID', secretAccessKey: 'two' },
      ],
    }),
    /two different secrets for AKID/,
  );
  assert.doesNotThrow(auth('none'));
  assert.doesNotThrow(auth({ credentials: [{ accessKeyId: 'AKID', secretAccessKey: 'one' }] }));
});
