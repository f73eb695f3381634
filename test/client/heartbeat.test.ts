import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RoomcastClient } from '../../src/client/index.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import { BlackholeProxy, type client, joinOpen, startTestStack } from './support.ts';

const IDLE_TIMEOUT_MS = 400;
let stack: LocalStack;
let proxy: BlackholeProxy;
const clients: RoomcastClient[] = [];

const join = (user: string, room: string, options: Parameters<typeof client>[3] = {}) =>
  joinOpen(clients, stack.wsUrl, user, room, options);

before(async () => {
  stack = await startTestStack({ idleTimeoutMs: IDLE_TIMEOUT_MS });
  proxy = await BlackholeProxy.start(stack);
});

after(async () => {
  for (const c of clients) c.close();
  await proxy.close();
  await stack.close();
});

describe('heartbeat', () => {
  it('treats a connection whose pings go unanswered as dead, and reconnects', async () => {
    const { client: alice, recorder } = await join('alice', 'dead', {
      url: proxy.url,
      heartbeatMs: 50,
      heartbeatTimeoutMs: 100,
    });
    const from = recorder.events.length;
    proxy.blackhole('both');
    const lost = await recorder.waitFor('state', (s) => s.state === 'reconnecting', { from });
    assert.equal(lost.state === 'reconnecting' && lost.reason, 'no pong within 100 ms');
    await recorder.waitForState('open', from);
    assert.equal((await alice.send('alive')).message, 'alive');
  });

  it('keeps an idle connection open past the idle timeout', async () => {
    const { recorder: pinging } = await join('alice', 'idle', { heartbeatMs: IDLE_TIMEOUT_MS / 4 });
    // Connected after the pinging client: once this one is dropped for idling, the other would have been too.
    const { recorder: silent } = await join('bob', 'idle', { heartbeatMs: 0 });
    const dropped = await silent.waitFor('state', (s) => s.state === 'reconnecting');
    assert.equal(dropped.state === 'reconnecting' && dropped.reason, 'connection closed (1001 Going away)');
    assert.deepEqual(
      pinging.of('state').map((s) => s.state),
      ['connecting', 'open'],
    );
  });
});
