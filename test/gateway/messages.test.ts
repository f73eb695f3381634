import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeOf, GATEWAY_ID, nextMessage, Recorder, startGateway, waitUntil } from './helpers.ts';

test('messages are routed by $request.body.action, falling back to $default', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: {
      $connect: recorder.handler(),
      sendmessage: recorder.handler(),
      $default: recorder.handler(),
    },
  });
  const client = await gw.connect();
  client.send('{"action":"sendmessage"}');
  await recorder.next('sendmessage');
  for (const body of [
    '{"action":"unknown"}',
    'not json',
    '{"action":"$connect"}',
    '[1]',
    '{"action":"SendMessage"}',
  ]) {
    client.send(body);
  }
  await waitUntil(() => recorder.of('$default').length === 5, 'five $default events');
  assert.deepEqual(
    recorder.of('$default').map((e) => e.body),
    ['{"action":"unknown"}', 'not json', '{"action":"$connect"}', '[1]', '{"action":"SendMessage"}'],
  );
  assert.equal(recorder.of('$connect').length, 1, '$connect is never chosen by a message');
});

test('a custom selection expression with templates and literals', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: API Gateway's template syntax
    routeSelectionExpression: '${request.body.service}/${request.body.op.name}',
    routes: { 'chat/join': recorder.handler(), $default: recorder.handler() },
  });
  const client = await gw.connect();
  client.send('{"service":"chat","op":{"name":"join"}}');
  const event = await recorder.next('chat/join');
  assert.equal(event.requestContext.routeKey, 'chat/join');
});

test('no matching route and no $default: a Forbidden frame, and the connection stays open', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { routes: { $disconnect: recorder.handler(), ping: recorder.handler() } });
  const client = await gw.connect();
  client.send('{"action":"nope"}');
  const { text, isBinary } = await nextMessage(client);
  assert.equal(isBinary, false);
  assert.match(
    text,
    /^\{"message": "Forbidden", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/,
  );
  const frame = JSON.parse(text);
  assert.match(frame.requestId, GATEWAY_ID);

  client.send('{"action":"$disconnect"}');
  assert.equal(JSON.parse((await nextMessage(client)).text).message, 'Forbidden');
  assert.equal(recorder.of('$disconnect').length, 0);

  client.send('{"action":"ping"}');
  const ping = await recorder.next('ping');
  assert.equal(ping.requestContext.connectionId, frame.connectionId);
});

test('a failing handler sends an Internal server error frame; the connection stays usable', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    integrationTimeoutMs: 100,
    routes: {
      fail: recorder.handler(() => {
        throw new Error('secret detail');
      }),
      slow: recorder.handler(() => new Promise((resolve) => setTimeout(resolve, 400))),
      ok: recorder.handler(() => ({ statusCode: 500, body: 'route responses are off' })),
    },
  });
  const client = await gw.connect();
  client.send('{"action":"fail"}');
  const { text } = await nextMessage(client);
  const failed = await recorder.next('fail');
  assert.equal(
    text,
    `{"message": "Internal server error", "connectionId":"${failed.requestContext.connectionId}", "requestId":"${failed.requestContext.requestId}"}`,
  );

  client.send('{"action":"slow"}');
  const timedOut = JSON.parse((await nextMessage(client)).text);
  assert.equal(timedOut.message, 'Internal server error');
  assert.equal(timedOut.requestId, (await recorder.next('slow')).requestContext.requestId);

  // A returned value, even an error status with a body, is never sent back on a one-way route.
  const frames: string[] = [];
  client.on('message', (data) => frames.push(String(data)));
  client.send('{"action":"ok"}');
  await recorder.next('ok');
  client.send('{"action":"fail"}');
  await waitUntil(() => frames.length > 0, 'a frame');
  assert.equal(frames.length, 1);
  assert.equal(JSON.parse(frames[0] as string).message, 'Internal server error');
});

test('invocations of one connection run concurrently', async (t) => {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: {
      wait: recorder.handler(() => released),
      go: recorder.handler(() => release()),
    },
  });
  const client = await gw.connect();
  client.send('{"action":"wait"}');
  client.send('{"action":"go"}');
  await recorder.next('go');
  await released;
});

test('a binary frame closes the connection with 1003 without invoking anything', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $default: recorder.handler(), $disconnect: recorder.handler() },
  });
  const client = await gw.connect();
  const closed = closeOf(client);
  client.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await closed).code, 1003);
  const event = await recorder.next('$disconnect');
  assert.equal(event.requestContext.disconnectStatusCode, 1003);
  assert.equal(recorder.of('$default').length, 0);
});

test('a message over maxMessageBytes closes the connection with 1009', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    maxMessageBytes: 1024,
    routes: { $default: recorder.handler(), $disconnect: recorder.handler() },
  });
  const client = await gw.connect();
  client.send('x'.repeat(1024));
  await recorder.next('$default');
  const closed = closeOf(client);
  client.send('x'.repeat(1025));
  assert.equal((await closed).code, 1009);
  const event = await recorder.next('$disconnect');
  assert.equal(event.requestContext.disconnectStatusCode, 1009);
  assert.equal(recorder.of('$default').length, 1);
});
