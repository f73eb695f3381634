import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectFrame, MessageFrame, RoomcastClient } from '@roomcast/client';
import { eventually } from '../support/chat.ts';
import {
  clientTestStack,
  connectionIdOf,
  dropConnection,
  instrumentedWebSocket,
  type Recorder,
  token,
} from './support.ts';

/**
 * Handovers against the real local stack: the SDK replaces its connection before the gateway's age cap (here a few
 * seconds, as API Gateway's 2 hours) and before its token expires, and the application sees no drop: no state
 * change, every stored message once, in seq order. A handover the server refuses (a revoked user) leaves the open
 * connection working until it is closed.
 */

const MAX_AGE_MS = 4000;
/** The gateway closes connections at MAX_AGE_MS (1001), as API Gateway does at 2 hours. */
const capped = clientTestStack({ maxConnectionMs: MAX_AGE_MS });
const plain = clientTestStack();
/** Handovers 2.5 s after each handshake: 1.5 s to spare on a loaded machine. */
const handover = { maxAgeMs: MAX_AGE_MS, maxAgeLeadMs: 1500 };

/** Every message stored in `room`, oldest first, read page by page with `reader`. */
async function storedMessages(reader: RoomcastClient, room: string): Promise<MessageFrame[]> {
  const stored: MessageFrame[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await reader.room(room).history({ afterSeq, limit: 100 });
    stored.push(...(page.messages as MessageFrame[]));
    if (!page.has_more || page.through_seq === undefined) return stored;
    afterSeq = page.through_seq;
  }
}

/** Every direct message of `reader`'s user, oldest first. */
async function storedDirects(reader: RoomcastClient): Promise<DirectFrame[]> {
  const stored: DirectFrame[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await reader.history({ direct: true, afterSeq, limit: 100 });
    stored.push(...(page.messages as DirectFrame[]));
    if (!page.has_more || page.through_seq === undefined) return stored;
    afterSeq = page.through_seq;
  }
}

/** The state changes a client emitted: a client that never dropped shows its first connection only. */
function states(recorder: Recorder): string[] {
  return recorder.of('state').map((change) => change.state);
}

/**
 * Sends from `sender` to `room`, one after another (each send waits for the previous one's answer), until
 * `enough` holds; resolves with every stored frame the sends resolved with. With `directTo`, a direct message
 * to that user after each.
 */
async function sendUntil(
  sender: RoomcastClient,
  room: string,
  enough: () => boolean,
  directTo?: string,
  limitMs = 60_000,
) {
  const sent: MessageFrame[] = [];
  const deadline = Date.now() + limitMs;
  while (!enough()) {
    if (Date.now() > deadline) throw new Error(`not enough handovers within ${limitMs} ms`);
    sent.push(await sender.room(room).send(`m${sent.length + 1}`));
    if (directTo !== undefined) await sender.sendDirect(directTo, `d${sent.length}`);
  }
  return sent;
}

/** Waits until `recorder`'s client has handed over seq `seq` of `room`, then one round trip more. */
async function receivedThrough(client: RoomcastClient, recorder: Recorder, room: string, seq: number) {
  await recorder.waitFor('message', (m) => m.room_id === room && m.seq === seq, { timeoutMs: 15_000 });
  // Whatever the server sent before this answer has been handled: a duplicate would be in the record by now.
  await client.room(room).members();
}

describe('handover', () => {
  it('replaces connections before the gateway closes them at their maximum age: nothing missed, nothing twice, no state change', async (t) => {
    const room = 'handover-age';
    const sender = await capped.join('sam', room, { handover });
    const receivers = await Promise.all(
      ['rita', 'rick'].map((user) => capped.join(user, room, { handover })),
    );
    const everyone = [sender, ...receivers];
    const sent = await sendUntil(
      sender.client,
      room,
      () => everyone.every(({ recorder }) => recorder.of('handover').length >= 3),
      'rita',
    );
    const last = sent.at(-1)?.seq ?? 0;
    for (const { client, recorder } of everyone) await receivedThrough(client, recorder, room, last);
    const [rita] = receivers;
    assert.ok(rita);
    // The direct stream, too: every direct message rita's inbox stored, once, in its order.
    const directs = await storedDirects(rita.client);
    assert.deepEqual(
      directs.map((m) => m.message),
      sent.map((_, i) => `d${i + 1}`),
    );
    await rita.recorder.waitFor('direct', (m) => m.seq === directs.at(-1)?.seq, { timeoutMs: 15_000 });
    await rita.client.members();
    assert.deepEqual(
      rita.recorder.of('direct').map((m) => [m.seq, m.message_id]),
      directs.map((m) => [m.seq, m.message_id]),
      'every direct message once, in inbox order',
    );
    t.diagnostic(
      `${sent.length} messages across ${everyone.map(({ recorder }) => recorder.of('handover').length)} handovers`,
    );

    const stored = await storedMessages(sender.client, room);
    assert.deepEqual(
      stored.map((m) => m.message),
      sent.map((m) => m.message),
      'every send stored once, in order',
    );
    for (const { recorder } of everyone) {
      const got = recorder.of('message').filter((m) => m.room_id === room);
      assert.deepEqual(
        got.map((m) => [m.seq, m.message_id]),
        stored.map((m) => [m.seq, m.message_id]),
        'every stored message once, in seq order',
      );
      assert.deepEqual(states(recorder), ['connecting', 'open'], 'no reconnecting, no state change at all');
      assert.deepEqual(recorder.of('reconnected'), []);
      assert.ok(recorder.of('handover').every((event) => event.reason === 'max-age'));
    }
  });

  it('hands over before the token expires, with tokens from getToken: no reconnect, nothing lost', async (t) => {
    const room = 'handover-token';
    const { WebSocket, seen } = instrumentedWebSocket();
    const tokens = { una: 0, sid: 0 };
    const shortLived = (user: 'una' | 'sid') => ({
      WebSocket,
      // 6 s tokens: refreshed at a third of their lifetime before exp, 2 s.
      getToken: () => {
        tokens[user] += 1;
        return token(user, { expiresInSeconds: 6 });
      },
    });
    const receiver = await plain.join('una', room, shortLived('una'));
    const sender = await plain.join('sid', room, shortLived('sid'));
    const sent = await sendUntil(sender.client, room, () =>
      [receiver, sender].every(({ recorder }) => recorder.of('handover').length >= 2),
    );
    await receivedThrough(receiver.client, receiver.recorder, room, sent.at(-1)?.seq ?? 0);
    t.diagnostic(`${sent.length} messages; tokens: ${JSON.stringify(tokens)}`);

    const stored = await storedMessages(sender.client, room);
    assert.deepEqual(
      stored.map((m) => m.message),
      sent.map((m) => m.message),
    );
    assert.deepEqual(
      receiver.recorder.of('message').map((m) => m.seq),
      stored.map((m) => m.seq),
    );
    for (const [user, { recorder }] of [
      ['una', receiver],
      ['sid', sender],
    ] as const) {
      assert.deepEqual(states(recorder), ['connecting', 'open'], `${user}: never reconnected`);
      const handovers = recorder.of('handover');
      assert.ok(handovers.every((event) => event.reason === 'token-expiry'));
      assert.equal(tokens[user], 1 + handovers.length, `${user}: a fresh token per handover, no other`);
    }
    const expired = seen.frames.filter((frame) => frame.code === 'TOKEN_EXPIRED');
    assert.deepEqual(expired, [], 'no connection outlived its token');
  });

  it('a refused handover (a revoked user) keeps the open connection working until it is closed', async () => {
    const room = 'handover-revoked';
    const { WebSocket, seen } = instrumentedWebSocket();
    let tokens = 0;
    const { client, recorder } = await plain.join('rev', room, {
      WebSocket,
      // The first token is good; every later one is refused with 401, as a revoked user's would be.
      getToken: () => {
        tokens += 1;
        return tokens === 1
          ? token('rev')
          : token('rev', { secret: 'not-the-server-secret-0123456789abcdef' });
      },
      handover,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    await eventually(
      () => seen.handshakes,
      (handshakes) => handshakes >= 3,
      15_000,
    );
    // The open connection still serves: a send and its delivery, a round trip through the server.
    const stored = await client.send('still here');
    await recorder.waitFor('message', (m) => m.seq === stored.seq);
    assert.deepEqual(states(recorder), ['connecting', 'open'], 'the refusals were not visible');
    assert.deepEqual(recorder.of('handover'), []);

    // Closed by the server (as a revocation does): the reconnect path reports the refusal, as it always has.
    await dropConnection(plain.stack, await connectionIdOf(plain.stack, room, 'rev'));
    const closed = await recorder.waitForState('closed', 0);
    assert.deepEqual(closed, {
      state: 'closed',
      reason: 'unauthorized',
      detail: 'the handshake was refused with 401',
      status: 401,
    });
  });
});
