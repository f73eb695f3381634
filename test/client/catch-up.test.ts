import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ChatClient } from '../support/chat.ts';
import {
  type client,
  clientTestStack,
  connectionIdOf,
  dropConnection,
  gate,
  instrumentedWebSocket,
  token,
} from './support.ts';

const env = clientTestStack();
const { join } = env;

const raw: ChatClient[] = [];

/**
 * Joins with a getToken that can be held: `away()` drops the connection and keeps the client from reconnecting
 * until `back()`, so whatever happens in between is certainly missed.
 */
async function joinHoldable(user: string, room: string, options: Parameters<typeof client>[3] = {}) {
  let hold: ReturnType<typeof gate> | undefined;
  const joined = await join(user, room, {
    ...options,
    getToken: async () => {
      await hold?.promise;
      return token(user);
    },
  });
  return {
    ...joined,
    away: async () => {
      hold = gate();
      const from = joined.recorder.events.length;
      await dropConnection(env.stack, await connectionIdOf(env.stack, room, user));
      await joined.recorder.waitFor('state', (s) => s.state === 'connecting', { from });
    },
    back: () => hold?.open(),
  };
}

async function storeMessages(room: string, user: string, texts: string[]): Promise<void> {
  for (const message of texts) {
    await env.stack.deps.messages.saveRoomMessage({
      kind: 'room',
      room_id: room,
      user_id: user,
      message,
      message_id: env.stack.deps.newMessageId(),
      timestamp: new Date().toISOString(),
    });
  }
}

const isConsecutive = (seqs: number[]) =>
  seqs.every((seq, i) => i === 0 || seq === (seqs[i - 1] as number) + 1);

after(() => Promise.all(raw.map((c) => c.close())));

describe('catch-up', () => {
  it('hands over the messages missed while disconnected once each, in order, and no duplicate', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const alice = await joinHoldable('alice', 'missed', { WebSocket });
    const { client: bob } = await join('bob', 'missed');
    for (const text of ['seen 1', 'seen 2']) await bob.send(text);
    await alice.recorder.waitFor('message', (frame) => frame.message === 'seen 2');

    await alice.away();
    for (const text of ['missed 1', 'missed 2', 'missed 3']) await bob.send(text);
    alice.back();
    await alice.recorder.waitFor('message', (frame) => frame.message === 'missed 3');
    await bob.send('live again');
    await alice.recorder.waitFor('message', (frame) => frame.message === 'live again');

    assert.deepEqual(alice.recorder.texts(), [
      'seen 1',
      'seen 2',
      'missed 1',
      'missed 2',
      'missed 3',
      'live again',
    ]);
    assert.ok(isConsecutive(alice.recorder.of('message').map((frame) => frame.seq)));
    assert.equal(alice.client.lastSeq, alice.recorder.of('message').at(-1)?.seq);
    // The catch-up read from the last seq handed over: nothing before the drop was read again.
    const reread = seen.frames.filter(
      (frame) => frame.action === 'history' && JSON.stringify(frame.messages).includes('"seen 2"'),
    );
    assert.equal(reread.length, 0);
    assert.deepEqual(
      alice.recorder
        .of('repair')
        .map(({ stream, reason, recovered, skipped }) => [stream, reason, recovered, skipped]),
      [['room', 'reconnect', 3, 0]],
    );
  });

  it('reads every page while has_more: 250 stored messages arrive once, in order', async () => {
    const alice = await joinHoldable('alice', 'paged');
    // A live message is held back until the first catch-up ends: once it is seen, the client has its start.
    await alice.client.send('first');
    await alice.recorder.waitFor('message', (frame) => frame.message === 'first');
    await alice.away();
    const texts = Array.from({ length: 250 }, (_, i) => `stored ${i}`);
    await storeMessages('paged', 'bob', texts);
    alice.back();
    await alice.recorder.waitFor('message', (frame) => frame.message === 'stored 249');
    assert.deepEqual(alice.recorder.texts(), ['first', ...texts]);
  });

  it('catches up direct messages too', async () => {
    const alice = await joinHoldable('alice', 'dm-room');
    const { client: bob } = await join('bob', 'dm-room');
    // Alice's other tab keeps her reachable (direct messages need a connected recipient) while this one is away.
    raw.push(await ChatClient.connect(env.stack, 'alice', 'elsewhere'));
    await bob.sendDirect('alice', 'dm 1');
    await alice.recorder.waitFor('direct', (frame) => frame.message === 'dm 1');

    await alice.away();
    await bob.sendDirect('alice', 'dm 2');
    const fromAway = alice.client.sendDirect('bob', 'dm 3 sent while away');
    alice.back();
    await fromAway;
    await alice.recorder.waitFor('direct', (frame) => frame.message === 'dm 2');
    await bob.sendDirect('alice', 'dm 4');
    await alice.recorder.waitFor('direct', (frame) => frame.message === 'dm 4');
    assert.deepEqual(
      alice.recorder.of('direct').map((frame) => frame.message),
      ['dm 1', 'dm 2', 'dm 3 sent while away', 'dm 4'],
    );
  });

  it('starts from the newest messages (catchUp.initial) or from a kept seq (catchUp.afterSeq)', async () => {
    await storeMessages('resume', 'bob', ['one', 'two', 'three', 'four', 'five']);
    const { client: fresh, recorder: freshSees } = await join('carol', 'resume', { catchUp: { initial: 2 } });
    await freshSees.waitFor('message', (frame) => frame.message === 'five');
    assert.deepEqual(freshSees.texts(), ['four', 'five']);

    const page = await fresh.history({ limit: 5 });
    const two = page.messages.find((m) => m.message === 'two');
    const { recorder: resumed } = await join('dave', 'resume', { catchUp: { afterSeq: two?.seq } });
    await resumed.waitFor('message', (frame) => frame.message === 'five');
    assert.deepEqual(resumed.texts(), ['three', 'four', 'five']);

    const { client: plain, recorder: plainSees } = await join('erin', 'resume');
    await fresh.send('six');
    await plainSees.waitFor('message', (frame) => frame.message === 'six');
    assert.deepEqual(plainSees.texts(), ['six'], 'by default, nothing from before the client connected');
    assert.equal(plain.lastSeq, 6);
  });
});
