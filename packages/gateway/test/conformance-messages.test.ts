import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  framesUntil,
  GATEWAY_ID,
  isForbiddenFrame,
  nextMessage,
  Recorder,
  SECOND,
  startGateway,
} from './helpers.js';

// SPEC.md §10.5 (§2): route selection, the Forbidden and Internal server error frames, and concurrent
// invocations for one connection.
test('SPEC.md §10.5 routing, error frames, no per-connection serialization', async (t) => {
  await t.test('$request.body.action selects the route; $default catches the rest', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: {
        $connect: recorder.handler(),
        sendmessage: recorder.handler(),
        '1': recorder.handler(),
        true: recorder.handler(),
        $default: recorder.handler(),
      },
    });
    const client = await gw.connect();
    client.send('{"action":"sendmessage"}');
    client.send('{"action":1}');
    client.send('{"action":true}');
    await recorder.next('sendmessage');
    await recorder.next('1');
    await recorder.next('true');
    const fallbacks = [
      '{"action":"unknown"}',
      'not json',
      '{"action":"$connect"}',
      '{"action":"$default"}',
      '[1]',
      '"sendmessage"',
      '{"action":null}',
      '{"action":"SendMessage"}',
    ];
    for (const body of fallbacks) client.send(body);
    await recorder.next('$default', fallbacks.length - 1);
    assert.deepEqual(
      recorder.of('$default').map((e) => e.body),
      fallbacks,
    );
    assert.equal(recorder.of('$connect').length, 1, '$connect is never chosen by a message');
  });

  await t.test('templates with literals and nested paths', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: API Gateway's template syntax
      routeSelectionExpression: '${request.body.service}/${request.body.op.name}',
      routes: { 'chat/join': recorder.handler(), $default: recorder.handler() },
    });
    const client = await gw.connect();
    client.send('{"service":"chat","op":{"name":"join"}}');
    assert.equal((await recorder.next('chat/join')).requestContext.routeKey, 'chat/join');
  });

  await t.test('no route and no $default: the Forbidden frame; $-keys are never selected', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $disconnect: recorder.handler(), ping: recorder.handler() },
    });
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
    assert.equal((await recorder.next('ping')).requestContext.connectionId, frame.connectionId);
  });

  await t.test(
    'a throw or the integration timeout (29 s): Internal server error; a result is dropped',
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        routes: {
          fail: recorder.handler(() => {
            throw new Error('secret detail');
          }),
          slow: recorder.handler(() => new Promise(() => {})),
          ok: recorder.handler(() => ({ statusCode: 500, body: 'route responses are off' })),
        },
      });
      const client = await gw.connect();
      // No route matches `sentinel` and there is no $default: its Forbidden frame comes after anything else.
      const framesThenSentinel = async () => {
        const frames = framesUntil(client, isForbiddenFrame);
        client.send('{"action":"sentinel"}');
        return (await frames).slice(0, -1);
      };

      client.send('{"action":"fail"}');
      const { text } = await nextMessage(client);
      const failed = (await recorder.next('fail')).requestContext;
      assert.equal(
        text,
        `{"message": "Internal server error", "connectionId":"${failed.connectionId}", "requestId":"${failed.requestId}"}`,
      );

      client.send('{"action":"slow"}');
      const slow = (await recorder.next('slow')).requestContext;
      gw.clock.advance(29 * SECOND - 1);
      assert.deepEqual(await framesThenSentinel(), [], 'still running at 28.999 s');
      const timedOut = nextMessage(client);
      gw.clock.advance(1);
      const frame = JSON.parse((await timedOut).text);
      assert.equal(frame.message, 'Internal server error');
      assert.equal(frame.requestId, slow.requestId);

      client.send('{"action":"ok"}');
      await recorder.next('ok');
      assert.deepEqual(await framesThenSentinel(), [], 'a one-way route sends nothing back');
    },
  );

  await t.test('invocations of one connection run concurrently', async (t) => {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { wait: recorder.handler(() => released), go: recorder.handler(() => release()) },
    });
    const client = await gw.connect();
    client.send('{"action":"wait"}');
    client.send('{"action":"go"}');
    await recorder.next('go');
    await released;
  });
});

// SPEC.md §10.10 (§6): a two-way route (a `$default` route response) sends the handler's `body` back as one frame.
test('SPEC.md §10.10 two-way routes send the returned body back to the caller', async (t) => {
  const results: Record<string, unknown> = {
    json: { statusCode: 500, body: '{"reply":true}' },
    empty: { statusCode: 200, body: '' },
    none: { statusCode: 200 },
    plain: 'a plain string',
    base64: { body: Buffer.from('decoded').toString('base64'), isBase64Encoded: true },
    bytes: { body: Buffer.from([0xff, 0x00]).toString('base64'), isBase64Encoded: true },
    object: { body: { not: 'a string' } },
  };
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: {
      reply: { handler: recorder.handler((event) => results[JSON.parse(event.body).kind]), twoWay: true },
      oneWay: { handler: recorder.handler(() => results.json), twoWay: false },
      fail: {
        handler: recorder.handler(() => {
          throw new Error('x');
        }),
        twoWay: true,
      },
    },
    routeSelectionExpression: '$request.body.action',
  });
  const client = await gw.connect();
  // What a message gets back: the frames up to the Forbidden frame of a message sent once its handler has run,
  // which no route matches (there is no $default).
  const replyTo = async (action: string, kind = '') => {
    const frames = framesUntil(client, isForbiddenFrame);
    const seen = recorder.of(action).length;
    client.send(JSON.stringify({ action, kind }));
    await recorder.next(action, seen);
    client.send('{"action":"sentinel"}');
    return (await frames).slice(0, -1);
  };
  assert.deepEqual(await replyTo('reply', 'json'), ['{"reply":true}'], 'statusCode is ignored');
  assert.deepEqual(await replyTo('reply', 'empty'), []);
  assert.deepEqual(await replyTo('reply', 'none'), []);
  assert.deepEqual(await replyTo('reply', 'plain'), ['a plain string']);
  assert.deepEqual(await replyTo('reply', 'base64'), ['decoded']);
  const binary = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
    client.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })),
  );
  client.send('{"action":"reply","kind":"bytes"}');
  assert.deepEqual(await binary, { data: Buffer.from([0xff, 0x00]), isBinary: true });
  const [malformed] = await replyTo('reply', 'object');
  assert.equal(JSON.parse(malformed ?? '{}').message, 'Internal server error');
  assert.deepEqual(await replyTo('oneWay'), []);
  const [failed] = await replyTo('fail');
  assert.equal(JSON.parse(failed ?? '{}').message, 'Internal server error');
});
