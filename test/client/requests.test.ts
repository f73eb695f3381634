import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientTestStack,
  connectionIdOf,
  dropConnection,
  gate,
  instrumentedWebSocket,
  token,
} from './support.ts';

const env = clientTestStack();
const { join } = env;

describe('requests', () => {
  it('matches concurrent history and members replies by ref, whatever order they arrive in', async (t) => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const { client: alice } = await join('alice', 'busy', { WebSocket });
    await join('bob', 'busy');
    for (let i = 1; i <= 12; i += 1) await alice.send(`message ${i}`);

    const limits = Array.from({ length: 12 }, (_, i) => i + 1);
    const [pages, members] = await Promise.all([
      Promise.all(limits.map((limit) => alice.history({ limit }))),
      Promise.all([alice.members(), alice.members(), alice.members()]),
    ]);
    pages.forEach((page, i) => {
      assert.equal(page.messages.length, limits[i], `history({ limit: ${limits[i]} })`);
      assert.equal(page.messages[0]?.message, 'message 12', 'newest first');
    });
    for (const list of members)
      assert.deepEqual(
        list.users.map((u) => u.user_id),
        ['alice', 'bob'],
      );
    const refs = [...pages, ...members].map((reply) => reply.ref);
    assert.equal(new Set(refs).size, refs.length, 'every reply has its own ref');

    const requested = pages.map((page) => page.ref);
    const arrival = seen.frames.map((f) => f.ref).filter((ref) => requested.includes(ref as string));
    t.diagnostic(`history replies in arrival order: ${arrival.join(' ')}`);
  });

  it('rejects a request the server refuses with its code (the error frame echoes the ref)', async () => {
    const { client: alice, recorder } = await join('alice', 'refused');
    await assert.rejects(alice.history({ beforeSeq: -1 }), { code: 'BAD_REQUEST' });
    await assert.rejects(alice.history({ afterSeq: 1, beforeSeq: 5 }), { code: 'BAD_REQUEST' });
    await assert.rejects(alice.history({ limit: 1000 }), { code: 'BAD_REQUEST' });
    assert.deepEqual(recorder.of('error'), []);
  });

  it('sends a request made while reconnecting once the connection is back', async () => {
    const hold = gate();
    let attempts = 0;
    const { client: alice, recorder } = await join('alice', 'waiting', {
      getToken: async () => {
        attempts += 1;
        if (attempts === 2) await hold.promise;
        return token('alice');
      },
    });
    const from = recorder.events.length;
    await dropConnection(env.stack, await connectionIdOf(env.stack, 'waiting', 'alice'));
    await recorder.waitFor('state', (s) => s.state === 'connecting', { from });
    const members = alice.members();
    hold.open();
    assert.deepEqual((await members).users, [{ user_id: 'alice', connections: 1 }]);
  });

  it('times out a request that gets no answer', async () => {
    const { client: alice } = await join('alice', 'silent', {
      url: env.proxy.url,
      requestTimeoutMs: 150,
      heartbeatMs: 0,
    });
    env.proxy.blackhole('both');
    await assert.rejects(alice.members(), { name: 'RoomcastError', code: 'TIMEOUT' });
  });
});
