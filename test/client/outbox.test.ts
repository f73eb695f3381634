import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoomcastClient, RoomcastError } from '@roomcast/client';
import {
  clientTestStack,
  connectionIdOf,
  dropConnection,
  gate,
  instrumentedWebSocket,
  type Recorder,
  token,
} from './support.ts';

const env = clientTestStack();
const { join } = env;

/** A message sent last: once the recorders have it, they have had the chance to see everything before it. */
async function sentinel(sender: RoomcastClient, text: string, ...recorders: Recorder[]): Promise<void> {
  await sender.send(text);
  for (const recorder of recorders) await recorder.waitFor('message', (frame) => frame.message === text);
}

describe('outbox', () => {
  it('holds a send made while reconnecting and delivers it once when the connection is back', async () => {
    const hold = gate();
    let attempts = 0;
    const { client: alice, recorder: aliceSees } = await join('alice', 'outbox-held', {
      getToken: async () => {
        attempts += 1;
        if (attempts === 2) await hold.promise;
        return token('alice');
      },
    });
    const { client: bob, recorder: bobSees } = await join('bob', 'outbox-held');

    const from = aliceSees.events.length;
    await dropConnection(env.stack, await connectionIdOf(env.stack, 'outbox-held', 'alice'));
    await aliceSees.waitFor('state', (s) => s.state === 'connecting', { from });
    const sent = alice.send('written while away', { clientMsgId: 'away-1' });
    hold.open();

    const stored = await sent;
    assert.equal(stored.client_msg_id, 'away-1');
    assert.equal(stored.user_id, 'alice');
    await sentinel(bob, 'bob: sentinel', bobSees, aliceSees);
    assert.deepEqual(bobSees.texts(), ['written while away', 'bob: sentinel']);
    assert.deepEqual(aliceSees.texts(), ['written while away', 'bob: sentinel']);
  });

  it('answers a send whose acknowledgement was lost on the next connection: stored and delivered once', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const { client: alice, recorder: aliceSees } = await join('alice', 'outbox-lost', {
      url: env.proxy.url,
      WebSocket,
    });
    const { client: bob, recorder: bobSees } = await join('bob', 'outbox-lost');

    env.proxy.blackhole('to-client');
    const sent = alice.send('ack lost');
    const delivered = await bobSees.waitFor('message', (frame) => frame.message === 'ack lost');
    const from = aliceSees.events.length;
    env.proxy.cut();
    await aliceSees.waitForState('open', from);

    const stored = await sent;
    assert.equal(stored.message_id, delivered.message_id, 'the retry is answered with the first message');
    await sentinel(bob, 'bob: sentinel', bobSees, aliceSees);
    assert.deepEqual(bobSees.texts(), ['ack lost', 'bob: sentinel']);
    assert.deepEqual(aliceSees.texts(), ['ack lost', 'bob: sentinel'], 'alice sees her message once');
    // The page of the re-subscribe's catch-up holds the stored message, and answers the send: it goes out again
    // only if the page did not (then the retry is answered with the first message, to alice alone).
    const retryAnswers = seen.frames.filter(
      (frame) => frame.action === 'message' && frame.message_id === delivered.message_id,
    );
    const inCatchUp = seen.frames.some(
      (frame) =>
        frame.action === 'subscribed' && JSON.stringify(frame.history ?? {}).includes(delivered.message_id),
    );
    assert.ok(inCatchUp ? retryAnswers.length === 0 : retryAnswers.length === 1, JSON.stringify(seen.frames));
    const page = await alice.history({ afterSeq: 0 });
    assert.equal(page.messages.filter((m) => m.message === 'ack lost').length, 1, 'stored once');
  });

  it('rejects a send the server refuses with the error code, and sends direct messages', async () => {
    const { client: alice, recorder: aliceSees } = await join('alice', 'outbox-errors');
    const { recorder: bobSees } = await join('bob', 'outbox-errors');

    await assert.rejects(alice.send('x'.repeat(env.stack.config.maxMessageChars + 1)), (error: Error) => {
      assert.equal(error.name, 'RoomcastError');
      assert.equal((error as { code?: string }).code, 'TOO_LARGE');
      return true;
    });
    await assert.rejects(alice.sendDirect('nobody-here', 'psst'), { code: 'NOT_CONNECTED' });

    const direct = await alice.sendDirect('bob', 'psst, bob');
    assert.equal(direct.to_user_id, 'bob');
    assert.equal((await bobSees.waitFor('direct')).message_id, direct.message_id);
    assert.equal((await aliceSees.waitFor('direct')).message_id, direct.message_id);
    assert.deepEqual(aliceSees.of('error'), [], 'answered errors are not also emitted as events');
  });

  it('times out a send that gets no answer', async () => {
    const { client: alice } = await join('alice', 'outbox-timeout', {
      url: env.proxy.url,
      sendTimeoutMs: 150,
      heartbeatMs: 0,
    });
    env.proxy.blackhole('both');
    await assert.rejects(alice.send('into the void'), { code: 'TIMEOUT' });
  });

  it('refuses a message too big for one frame itself, with TOO_LARGE, and the connection and other sends go on', async () => {
    const { client: alice, recorder: aliceSees } = await join('alice', 'outbox-large');
    const { recorder: bobSees } = await join('bob', 'outbox-large');
    const from = aliceSees.events.length;
    // A pasted 40 KB log, and 6,000 NULs (each escaped to 6 bytes in JSON: 36 KB): either frame would make API
    // Gateway close the connection (1009), and its resend on every new connection would loop.
    for (const text of ['x'.repeat(40_000), '\u0000'.repeat(6_000)]) {
      await assert.rejects(alice.send(text), (error: RoomcastError) => {
        assert.equal(error.code, 'TOO_LARGE');
        assert.match(error.message, /at most 32768 bytes/);
        return true;
      });
      await assert.rejects(alice.sendDirect('bob', text), { code: 'TOO_LARGE' });
    }
    await sentinel(alice, 'alice: still connected', bobSees, aliceSees);
    assert.deepEqual(
      aliceSees.events.slice(from).filter((event) => event.name === 'state'),
      [],
      'the connection never dropped',
    );
    assert.deepEqual(bobSees.texts(), ['alice: still connected']);
  });
});
