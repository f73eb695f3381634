import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WebSocket } from 'ws';
import { createGateway, type GatewayOptions } from '../src/index.js';
import {
  GATEWAY_ID,
  isForbiddenFrame,
  MINUTE,
  nextMessage,
  pingPong,
  QUIET,
  Recorder,
  startGateway,
} from './helpers.js';

/** The frame a throttled message gets (SPEC.md §7.7; its text is inferred from API Gateway's other frames). */
const TOO_MANY_REQUESTS =
  /^\{"message": "Too Many Requests", "connectionId":"([A-Za-z0-9_-]{15}=)", "requestId":"([A-Za-z0-9_-]{15}=)"\}$/;

/**
 * Sends `count` messages to `routeKey` (a body no route matches goes to `$default`) and tells what became of them:
 * how many invoked the route, and how many came back as the Too Many Requests frame. The ping sent after them is
 * answered once the gateway has read them all, and it answers a throttled message at once, so nothing is missed.
 */
async function sendMessages(
  client: WebSocket,
  recorder: Recorder,
  routeKey: string,
  count: number,
): Promise<{ invoked: number; throttled: number }> {
  const body = routeKey === '$default' ? 'not json' : JSON.stringify({ action: routeKey });
  const before = recorder.of(routeKey).length;
  const frames: string[] = [];
  const collect = (data: unknown) => frames.push(String(data));
  client.on('message', collect);
  for (let i = 0; i < count; i++) client.send(body);
  // A connection closed meanwhile (the idle timeout, say) would never answer: fail instead of waiting forever.
  await new Promise<void>((resolve, reject) => {
    const onClose = (code: number) => reject(new Error(`the connection closed with ${code}`));
    client.once('close', onClose);
    void pingPong(client).then(() => {
      client.off('close', onClose);
      resolve();
    });
  });
  client.off('message', collect);
  for (const frame of frames) assert.match(frame, TOO_MANY_REQUESTS);
  return { invoked: recorder.of(routeKey).length - before, throttled: frames.length };
}

// SPEC.md §10.13 (§7.7): stage and route throttling of messages, one token bucket per route for the whole API.
test('SPEC.md §10.13 stage and route throttling: shared token buckets per route, the Too Many Requests frame', async (t) => {
  await t.test(
    'a burst: burstLimit invocations, the Too Many Requests frame for the rest, counted',
    async (t) => {
      const recorder = new Recorder();
      const infos: { msg: string; extra?: { throttledMessages?: number } }[] = [];
      const gw = await startGateway(t, {
        throttling: { rateLimit: 1, burstLimit: 3 },
        logger: { ...QUIET, info: (msg, extra) => infos.push({ msg, extra: extra as never }) },
        routes: { $disconnect: recorder.handler(), send: recorder.handler() },
      });
      const client = await gw.connect();
      const frames: string[] = [];
      client.on('message', (data) => frames.push(String(data)));
      for (let i = 0; i < 5; i++) client.send('{"action":"send"}');
      await pingPong(client);
      assert.equal(recorder.of('send').length, 3, 'exactly burstLimit invocations');
      assert.equal(frames.length, 2);
      const { connectionId } = recorder.of('send')[0].requestContext;
      const invokedRequestIds = recorder.of('send').map((event) => event.requestContext.requestId);
      const requestIds = frames.map((frame) => {
        const [, frameConnectionId, requestId] = TOO_MANY_REQUESTS.exec(frame) ?? [];
        assert.equal(frameConnectionId, connectionId);
        assert.match(requestId ?? '', GATEWAY_ID);
        return requestId;
      });
      assert.equal(new Set([...requestIds, ...invokedRequestIds]).size, 5, 'every request has its own id');

      // A message no route matches has no bucket: it still gets the Forbidden frame.
      client.send('{"action":"nope"}');
      assert.ok(isForbiddenFrame((await nextMessage(client)).text));

      client.close();
      await recorder.next('$disconnect');
      const disconnected = infos.find((info) => info.msg === 'disconnected');
      assert.equal(disconnected?.extra?.throttledMessages, 2, JSON.stringify(disconnected));
    },
  );

  await t.test(
    "tokens refill at rateLimit per second of the gateway's clock, up to burstLimit",
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        throttling: { rateLimit: 2, burstLimit: 2 },
        routes: { send: recorder.handler() },
      });
      const client = await gw.connect();
      const send = (count: number) => sendMessages(client, recorder, 'send', count);
      assert.deepEqual(await send(3), { invoked: 2, throttled: 1 }, 'the bucket starts full');
      gw.clock.advance(499);
      assert.deepEqual(
        await send(1),
        { invoked: 0, throttled: 1 },
        '0.998 tokens after 499 ms at 2 per second',
      );
      gw.clock.advance(1);
      assert.deepEqual(await send(2), { invoked: 1, throttled: 1 }, 'one token after 500 ms');
      gw.clock.advance(60_000);
      assert.deepEqual(
        await send(3),
        { invoked: 2, throttled: 1 },
        'a minute later the bucket holds burstLimit',
      );
    },
  );

  await t.test(
    "the buckets belong to the API: a second client is throttled by the first one's burst",
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        throttling: { rateLimit: 1, burstLimit: 2 },
        routes: { send: recorder.handler() },
      });
      const first = await gw.connect();
      const second = await gw.connect();
      assert.deepEqual(await sendMessages(first, recorder, 'send', 2), { invoked: 2, throttled: 0 });
      assert.deepEqual(await sendMessages(second, recorder, 'send', 1), { invoked: 0, throttled: 1 });
      gw.clock.advance(1_000);
      assert.deepEqual(await sendMessages(second, recorder, 'send', 1), { invoked: 1, throttled: 0 });
      assert.deepEqual(await sendMessages(first, recorder, 'send', 1), { invoked: 0, throttled: 1 });
    },
  );

  await t.test(
    "each route has its own bucket; a route's setting replaces the stage default for it only",
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        throttling: {
          rateLimit: 1,
          burstLimit: 2,
          routes: { strict: { rateLimit: 0, burstLimit: 1 }, generous: { rateLimit: 1, burstLimit: 5 } },
        },
        routes: {
          other: recorder.handler(),
          strict: recorder.handler(),
          generous: recorder.handler(),
          $default: recorder.handler(),
        },
      });
      const client = await gw.connect();
      const send = (routeKey: string, count: number) => sendMessages(client, recorder, routeKey, count);
      assert.deepEqual(await send('other', 3), { invoked: 2, throttled: 1 }, 'the stage default');
      assert.deepEqual(
        await send('$default', 3),
        { invoked: 2, throttled: 1 },
        '$default: the default, in its own bucket',
      );
      assert.deepEqual(await send('strict', 3), { invoked: 1, throttled: 2 }, 'a smaller bucket of its own');
      assert.deepEqual(await send('generous', 6), { invoked: 5, throttled: 1 }, 'a larger bucket of its own');
      gw.clock.advance(60_000);
      assert.deepEqual(await send('strict', 1), { invoked: 0, throttled: 1 }, 'a rate of 0 never refills');
      assert.deepEqual(await send('other', 3), { invoked: 2, throttled: 1 }, 'the default refilled to 2');
    },
  );

  await t.test(
    'rate 0 and burst 0 block a route; without a stage default other routes are not throttled',
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        throttling: { routes: { $default: { rateLimit: 0, burstLimit: 0 } } },
        routes: { open: recorder.handler(), $default: recorder.handler() },
      });
      const client = await gw.connect();
      assert.deepEqual(await sendMessages(client, recorder, '$default', 3), { invoked: 0, throttled: 3 });
      assert.deepEqual(await sendMessages(client, recorder, 'open', 50), { invoked: 50, throttled: 0 });
      gw.clock.advance(5 * MINUTE); // within the idle timeout
      assert.deepEqual(await sendMessages(client, recorder, '$default', 1), { invoked: 0, throttled: 1 });
    },
  );

  await t.test('invalid settings are refused when the gateway is created', () => {
    const routes: GatewayOptions['routes'] = { $connect: () => undefined, send: () => undefined };
    const create = (throttling: unknown) => () => createGateway({ routes, throttling: throttling as never });
    const refused = (throttling: unknown, message: RegExp) =>
      assert.throws(
        create(throttling),
        (error: Error) => error instanceof TypeError && message.test(error.message),
      );
    refused('fast', /^throttling must be \{ rateLimit\?, burstLimit\?, routes\? \}$/);
    refused(null, /^throttling must be/);
    refused(
      { rateLimit: 10 },
      /^throttling: set both rateLimit and burstLimit \(the stage default\), or neither$/,
    );
    refused({ burstLimit: 10 }, /set both rateLimit and burstLimit/);
    refused(
      { rateLimit: -1, burstLimit: 1 },
      /^throttling\.rateLimit must be a number ≥ 0 \(messages per second\), got -1$/,
    );
    refused({ rateLimit: Number.POSITIVE_INFINITY, burstLimit: 1 }, /^throttling\.rateLimit must be/);
    refused({ rateLimit: '5', burstLimit: 1 }, /^throttling\.rateLimit must be/);
    refused({ rateLimit: 1, burstLimit: 1.5 }, /^throttling\.burstLimit must be an integer ≥ 0, got 1\.5$/);
    refused({ rateLimit: 1, burstLimit: -1 }, /^throttling\.burstLimit must be an integer ≥ 0/);
    refused({ routes: 'send' }, /^throttling\.routes must map route keys to \{ rateLimit, burstLimit \}$/);
    refused(
      { routes: { nope: { rateLimit: 1, burstLimit: 1 } } },
      /^throttling\.routes\.nope: nope is not a route of this API$/,
    );
    refused(
      { routes: { $connect: { rateLimit: 1, burstLimit: 1 } } },
      /^throttling\.routes\.\$connect: only message routes are throttled; limit new connections with connectionRateLimit$/,
    );
    refused(
      { routes: { send: { rateLimit: 1 } } },
      /^throttling\.routes\.send\.burstLimit must be an integer ≥ 0/,
    );
    refused({ routes: { send: null } }, /^throttling\.routes\.send\.rateLimit must be/);
    assert.doesNotThrow(create(undefined));
    assert.doesNotThrow(create({}));
    assert.doesNotThrow(create({ rateLimit: 0, burstLimit: 0 }));
    assert.doesNotThrow(
      create({ rateLimit: 0.5, burstLimit: 0, routes: { send: { rateLimit: 2, burstLimit: 9 } } }),
    );
  });
});
