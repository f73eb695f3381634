import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientTestStack } from './support.ts';

const IDLE_TIMEOUT_MS = 400;
const env = clientTestStack({ idleTimeoutMs: IDLE_TIMEOUT_MS });
const { join } = env;

describe('heartbeat', () => {
  it('treats a connection whose pings go unanswered as dead, and reconnects', async () => {
    const { client: alice, recorder } = await join('alice', 'dead', {
      url: env.proxy.url,
      heartbeatMs: 50,
      heartbeatTimeoutMs: 100,
    });
    const from = recorder.events.length;
    env.proxy.blackhole('both');
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
