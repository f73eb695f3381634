import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { WebSocket } from 'ws';
import { FrameSizeGuard } from '../src/connections.js';
import {
  CLOCK_START,
  closeOf,
  connectedId,
  MINUTE,
  nextMessage,
  pingPong,
  Recorder,
  rejection,
  SECOND,
  startGateway,
  TRANSPORTS,
} from './helpers.js';

/** Sends `bytes` of text as one message cut into frames of `frameBytes`. */
function sendFragmented(client: WebSocket, bytes: number, frameBytes: number): void {
  for (let offset = 0; offset < bytes; offset += frameBytes) {
    const size = Math.min(frameBytes, bytes - offset);
    client.send('x'.repeat(size), { fin: offset + size >= bytes });
  }
}

// SPEC.md §10.6 (§4.2, §7.2, §7.3): what closes a connection, with which code, and that `$disconnect` follows.
test('SPEC.md §10.6 binary 1003, oversize 1009, idle and maximum duration 1001, DeleteConnection 1000', async (t) => {
  await t.test('a binary frame closes with 1003 without invoking anything', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $default: recorder.handler(), $disconnect: recorder.handler() },
    });
    const client = await gw.connect();
    const closed = closeOf(client);
    client.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await closed).code, 1003);
    const { requestContext } = await recorder.next('$disconnect');
    assert.equal(requestContext.disconnectStatusCode, 1003);
    assert.equal(requestContext.disconnectReason, 'Unsupported data');
    assert.equal(recorder.of('$default').length, 0);
  });

  await t.test('a message over 128 KB closes with 1009; 128 KB in 32 KB frames passes', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $default: recorder.handler(), $disconnect: recorder.handler() },
    });
    const client = await gw.connect();
    sendFragmented(client, 131_072, 32_768);
    assert.equal((await recorder.next('$default')).body.length, 131_072);
    const closed = closeOf(client);
    sendFragmented(client, 131_073, 32_768);
    assert.equal((await closed).code, 1009);
    const { requestContext } = await recorder.next('$disconnect');
    assert.equal(requestContext.disconnectStatusCode, 1009);
    assert.equal(requestContext.disconnectReason, 'Message too big');
    assert.equal(recorder.of('$default').length, 1);
  });

  await t.test('a frame over 32 KB closes with 1009 before its message is delivered', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $default: recorder.handler(), $disconnect: recorder.handler() },
    });
    const client = await gw.connect();
    client.send('x'.repeat(32_768));
    await recorder.next('$default');
    const closed = closeOf(client);
    client.send('x'.repeat(32_769));
    assert.equal((await closed).code, 1009);
    assert.equal((await recorder.next('$disconnect')).requestContext.disconnectStatusCode, 1009);
    assert.equal(recorder.of('$default').length, 1);
  });

  await t.test('maxMessageBytes and maxFrameBytes are configurable', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      maxMessageBytes: 1024,
      maxFrameBytes: 1024,
      routes: { $default: recorder.handler() },
    });
    const client = await gw.connect();
    client.send('x'.repeat(1024));
    await recorder.next('$default');
    const closed = closeOf(client);
    client.send('x'.repeat(1025));
    assert.equal((await closed).code, 1009);
  });

  await t.test('messages to the client are cut into frames of at most 32 KB', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
    const client = await gw.connect();
    const guard = new FrameSizeGuard(32_768);
    let oversized = false;
    // biome-ignore lint/suspicious/noExplicitAny: the raw TCP socket under the ws client
    (client as any)._socket.prependListener('data', (chunk: Buffer) => {
      if (!guard.push(chunk)) oversized = true;
    });
    const delivered = nextMessage(client);
    const ConnectionId = await connectedId(recorder);
    // Odd-length prefix: frame boundaries fall inside two-byte characters, which the client reassembles.
    const text = `y${'é'.repeat(50_000)}`;
    await gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: text }));
    assert.equal((await delivered).text, text);
    assert.equal(oversized, false);
  });

  await t.test(
    'an idle connection is closed after 10 minutes with 1001 Going away, then $disconnect runs',
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
      });
      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);
      const closed = closeOf(client);
      gw.clock.advance(10 * MINUTE - 1);
      await gw.management.send(new GetConnectionCommand({ ConnectionId })); // still open: no 410
      gw.clock.advance(1);
      assert.deepEqual(await closed, { code: 1001, reason: 'Going away' });
      const { requestContext } = await recorder.next('$disconnect');
      assert.equal(requestContext.disconnectStatusCode, 1001);
      assert.equal(requestContext.disconnectReason, 'Going away');
      assert.equal(requestContext.requestTimeEpoch, CLOCK_START + 10 * MINUTE);
      assert.equal(gw.gateway.connectionCount, 0);

      const configured = await startGateway(t, { idleTimeoutMs: 5 * SECOND, routes: {} });
      const short = closeOf(await configured.connect());
      configured.clock.advance(5 * SECOND);
      assert.equal((await short).code, 1001, 'idleTimeoutMs is configurable');
    },
  );

  await t.test('inbound messages and PostToConnection reset the idle timer; pings do not', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $connect: recorder.handler(), $default: recorder.handler() },
    });
    const client = await gw.connect();
    const ConnectionId = await connectedId(recorder);
    const stillOpen = () => gw.management.send(new GetConnectionCommand({ ConnectionId }));
    gw.clock.advance(9 * MINUTE);
    client.send('keep-alive');
    await recorder.next('$default');
    gw.clock.advance(9 * MINUTE); // 18 minutes old, 9 since the message
    await stillOpen();
    const delivered = nextMessage(client);
    await gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: 'keep-alive' }));
    await delivered;
    gw.clock.advance(9 * MINUTE); // 27 minutes old, 9 since the post
    await stillOpen();
    const closed = closeOf(client);
    await pingPong(client);
    gw.clock.advance(1 * MINUTE); // 10 minutes after the post, 1 after the ping
    assert.deepEqual(await closed, { code: 1001, reason: 'Going away' });
  });

  await t.test(
    'the maximum connection duration, 2 hours, closes even a busy connection with 1001',
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        routes: {
          $connect: recorder.handler(),
          $default: recorder.handler(),
          $disconnect: recorder.handler(),
        },
      });
      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);
      const closed = closeOf(client);
      let messages = 0;
      while ((messages + 1) * 9 * MINUTE < 2 * 60 * MINUTE) {
        gw.clock.advance(9 * MINUTE);
        client.send('busy');
        await recorder.next('$default', messages++);
      }
      gw.clock.advance(2 * 60 * MINUTE - messages * 9 * MINUTE - 1);
      await gw.management.send(new GetConnectionCommand({ ConnectionId })); // still open at 1:59:59.999
      gw.clock.advance(1);
      assert.deepEqual(await closed, { code: 1001, reason: 'Going away' });
      assert.equal((await recorder.next('$disconnect')).requestContext.disconnectStatusCode, 1001);

      const configured = await startGateway(t, { maxConnectionMs: 30 * SECOND, routes: {} });
      const short = closeOf(await configured.connect());
      configured.clock.advance(30 * SECOND);
      assert.equal((await short).code, 1001, 'maxConnectionMs is configurable');
    },
  );

  for (const transport of TRANSPORTS) {
    await t.test(`DeleteConnection (${transport}) closes with 1000, then $disconnect 1000`, async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
      });
      const management = gw.managementClient(transport);
      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);
      const closed = closeOf(client);
      const response = await management.send(new DeleteConnectionCommand({ ConnectionId }));
      assert.equal(response.$metadata.httpStatusCode, 204);
      assert.equal((await closed).code, 1000);
      const { requestContext } = await recorder.next('$disconnect');
      assert.equal(requestContext.disconnectStatusCode, 1000);
      assert.equal(requestContext.disconnectReason, 'Connection Closed Normally');
      const again = await rejection(management.send(new DeleteConnectionCommand({ ConnectionId })));
      assert.ok(again instanceof GoneException);
    });
  }
});
