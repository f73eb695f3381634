import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LimitExceededException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { Connection, type SendResult } from '../src/connections.js';
import { MAX_FRAME_BYTES } from '../src/constants.js';
import { connectedId, framesUntil, QUIET, Recorder, rejection, startGateway, waitUntil } from './helpers.js';

const LIMIT = 65_536;
/** Frames from the client: a third fail their invocation, a third get a two-way response, a third are throttled. */
const FLOOD = 6_000;
const FLOOD_FRAMES = ['not json', '{"action":"echo"}', '{"action":"blocked"}'];
/** A 32 KB frame as ws queues it: the payload and a 4-byte header. */
const ONE_FRAME = MAX_FRAME_BYTES + 4;

// SPEC.md §10.12 (§7.6): the send buffer cap belongs to the connection, so no frame the gateway queues (a post, an
// error frame, a Too Many Requests frame, a two-way route's response) can grow a slow client's buffer past it.
test('SPEC.md §10.12 the send buffer cap holds for every frame: error frames and route responses are dropped', async (t) => {
  // Every message queued for a client, and the connection's buffer right after it.
  const sends: { result: SendResult; buffered: number; text: string }[] = [];
  const send = Connection.prototype.send;
  t.mock.method(
    Connection.prototype,
    'send',
    function (this: Connection, data: Buffer | string, binary: boolean): SendResult {
      const result = send.call(this, data, binary);
      sends.push({ result, buffered: this.bufferedAmount, text: String(data).slice(0, 40) });
      return result;
    },
  );

  const recorder = new Recorder();
  const infos: { msg: string; extra?: { droppedMessages?: number; throttledMessages?: number } }[] = [];
  const gw = await startGateway(t, {
    sendBufferLimitBytes: LIMIT,
    throttling: { routes: { blocked: { rateLimit: 0, burstLimit: 0 } } },
    logger: { ...QUIET, info: (msg, extra) => infos.push({ msg, extra: extra as never }) },
    routes: {
      $connect: recorder.handler(),
      $disconnect: recorder.handler(),
      echo: { handler: async () => ({ statusCode: 200, body: 'e'.repeat(200) }), twoWay: true },
      blocked: async () => undefined,
      $default: async () => {
        throw new Error('broken handler');
      },
    },
  });
  const management = gw.managementClient('in-process', { maxAttempts: 1 });
  const client = await gw.connect();
  const ConnectionId = await connectedId(recorder);

  // The client stops reading at the TCP level; posts of one frame each fill the kernel's buffers, then ours.
  client.pause();
  const Data = new Uint8Array(MAX_FRAME_BYTES).fill(97);
  let posted = 0;
  for (;;) {
    const refused = await management.send(new PostToConnectionCommand({ ConnectionId, Data })).then(
      () => false,
      (error: unknown) => (error instanceof LimitExceededException ? true : Promise.reject(error)),
    );
    if (refused) break;
    posted += 1;
    assert.ok(posted < 10_000, 'the buffer never filled');
  }

  // Thousands of frames whose answers (error frames, route responses) all find the buffer full.
  const before = sends.length;
  for (let i = 0; i < FLOOD; i++) client.send(FLOOD_FRAMES[i % FLOOD_FRAMES.length] ?? '');
  await waitUntil(() => sends.length - before >= FLOOD, 'an answer to every frame');
  const flood = sends.slice(before);
  const answers = (prefix: string) => flood.filter((s) => s.text.startsWith(prefix)).length;
  assert.equal(answers('{"message": "Internal server error"'), FLOOD / 3);
  assert.equal(answers('eee'), FLOOD / 3);
  assert.equal(answers('{"message": "Too Many Requests"'), FLOOD / 3);

  const peak = Math.max(...sends.map((s) => s.buffered));
  assert.ok(peak < LIMIT + ONE_FRAME, `the buffer peaked at ${peak} bytes: more than the cap plus one frame`);
  const dropped = flood.filter((s) => s.result === 'full').length;
  t.diagnostic(
    `${posted} posts before the 429; buffer peak ${peak} bytes; ${dropped} of ${FLOOD} answers dropped`,
  );
  assert.ok(dropped > FLOOD * 0.9, `only ${dropped} of ${FLOOD} answers were dropped`);

  const stillFull = await rejection(
    management.send(new PostToConnectionCommand({ ConnectionId, Data: 'x' })),
  );
  assert.ok(stillFull instanceof LimitExceededException, 'PostToConnection still answers 429');
  assert.equal(stillFull.$metadata.httpStatusCode, 429);

  // Once the client reads again it gets the posts and what was not dropped, then a post goes through again.
  const received = framesUntil(client, (text) => text === 'sentinel');
  client.resume();
  await waitUntil(
    () =>
      management.send(new PostToConnectionCommand({ ConnectionId, Data: 'sentinel' })).then(
        () => true,
        () => false,
      ),
    'a post once the client reads again',
  );
  const frames = await received;
  assert.equal(frames.length, posted + (FLOOD - dropped) + 1);

  // The count of dropped messages is logged when the connection ends.
  client.close();
  await recorder.next('$disconnect');
  const disconnected = infos.find((info) => info.msg === 'disconnected');
  assert.ok((disconnected?.extra?.droppedMessages ?? 0) >= dropped + 1, JSON.stringify(disconnected));
  assert.equal(disconnected?.extra?.throttledMessages, FLOOD / 3, JSON.stringify(disconnected));
});
