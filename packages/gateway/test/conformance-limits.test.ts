import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocket } from 'ws';
import { FrameSizeGuard } from '../src/frame-guard.js';
import {
  closeOf,
  connectedId,
  nextMessage,
  Recorder,
  rejection,
  sleep,
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
    assert.equal((await recorder.next('$disconnect')).requestContext.disconnectStatusCode, 1003);
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
    assert.equal((await recorder.next('$disconnect')).requestContext.disconnectStatusCode, 1009);
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

  await t.test('an idle connection is closed with 1001 Going away, then $disconnect runs', async (t) => {
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

  await t.test('inbound messages and PostToConnection reset the idle timer; pings do not', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      idleTimeoutMs: 300,
      routes: { $connect: recorder.handler(), $default: recorder.handler() },
    });
    const client = await gw.connect();
    const ConnectionId = await connectedId(recorder);
    let closed = false;
    client.once('close', () => (closed = true));
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      client.send('keep-alive');
      await sleep(100);
      await gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: 'keep-alive' }));
    }
    assert.equal(closed, false, 'still open after 600 ms of traffic');
    const pinging = setInterval(() => client.readyState === WebSocket.OPEN && client.ping(), 50);
    t.after(() => clearInterval(pinging));
    assert.equal((await closeOf(client)).code, 1001);
  });

  await t.test('the maximum connection duration closes even a busy connection with 1001', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, { maxConnectionMs: 250, routes: { $disconnect: recorder.handler() } });
    const client = await gw.connect();
    const closed = closeOf(client);
    const chatter = setInterval(() => client.readyState === WebSocket.OPEN && client.send('x'), 50);
    t.after(() => clearInterval(chatter));
    assert.deepEqual(await closed, { code: 1001, reason: 'Going away' });
    assert.equal((await recorder.next('$disconnect')).requestContext.disconnectStatusCode, 1001);
  });

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
