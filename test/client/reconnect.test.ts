import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '../support/chat.ts';
import {
  BrowserLikeWebSocket,
  clientTestStack,
  connectionIdOf,
  dropConnection,
  instrumentedWebSocket,
  token,
} from './support.ts';

const env = clientTestStack();
const { open } = env;

describe('reconnect', () => {
  it('reconnects after the server drops the connection, with a fresh token for each attempt', async () => {
    let tokens = 0;
    const { client: alice, recorder } = open('alice', 'reconnect', {
      getToken: () => {
        tokens += 1;
        return token('alice');
      },
    });
    await recorder.waitForState('open', 0);
    assert.equal(tokens, 1);
    assert.equal(alice.userId, 'alice');

    const first = await connectionIdOf(env.stack, 'reconnect', 'alice');
    const from = recorder.events.length;
    await dropConnection(env.stack, first);
    const reconnecting = await recorder.waitFor('state', (s) => s.state === 'reconnecting', { from });
    assert.equal(reconnecting.state === 'reconnecting' && reconnecting.reason, 'connection closed (1000)');
    await recorder.waitForState('open', from);
    assert.equal(tokens, 2);
    assert.notEqual(await connectionIdOf(env.stack, 'reconnect', 'alice'), first);
    assert.equal((await alice.send('still here')).message, 'still here');
  });

  it('does not reconnect when the next token has expired: no handshake is even tried', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    let tokens = 0;
    const { recorder } = open('expiring', 'reconnect', {
      WebSocket,
      getToken: () => {
        tokens += 1;
        return token('expiring', { expiresInSeconds: tokens === 1 ? 3600 : -60 });
      },
    });
    await recorder.waitForState('open', 0);
    await dropConnection(env.stack, await connectionIdOf(env.stack, 'reconnect', 'expiring'));
    const closed = await recorder.waitForState('closed', 0);
    assert.deepEqual(closed, { state: 'closed', reason: 'unauthorized', detail: 'the token has expired' });
    assert.equal(seen.handshakes, 1);
    assert.equal(tokens, 2);
  });

  it('stops at a 401 handshake when the socket shows the status (ws)', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const { client: c, recorder } = open('mallory', 'reconnect', {
      WebSocket,
      getToken: () => token('mallory', { secret: 'not-the-server-secret-0123456789abcdef' }),
    });
    const closed = await recorder.waitForState('closed', 0);
    assert.deepEqual(closed, {
      state: 'closed',
      reason: 'unauthorized',
      detail: 'the handshake was refused with 401',
      status: 401,
    });
    assert.equal(seen.handshakes, 1);
    await assert.rejects(c.send('hi'), { name: 'RoomcastError', code: 'CLOSED' });
  });

  it('stops before connecting when the token does not allow the room (rooms claim)', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const { recorder } = open('carol', 'reconnect', {
      WebSocket,
      getToken: () => token('carol', { rooms: ['elsewhere'] }),
    });
    const closed = await recorder.waitForState('closed', 0);
    assert.equal(closed.state === 'closed' && closed.reason, 'forbidden');
    assert.equal(seen.handshakes, 0);
  });

  it('where the status is invisible (browsers), gives up after maxFailedHandshakes', async () => {
    BrowserLikeWebSocket.instances = 0;
    const { recorder } = open('mallory', 'reconnect', {
      WebSocket: BrowserLikeWebSocket,
      getToken: () => token('mallory', { secret: 'not-the-server-secret-0123456789abcdef' }),
      reconnect: { initialDelayMs: 5, maxDelayMs: 20, maxFailedHandshakes: 3 },
    });
    const closed = await recorder.waitForState('closed', 0);
    assert.deepEqual(closed, { state: 'closed', reason: 'gave-up', detail: '3 handshakes failed in a row' });
    assert.equal(BrowserLikeWebSocket.instances, 3);
    const attempts = recorder.of('state').filter((s) => s.state === 'connecting');
    assert.deepEqual(
      attempts.map((s) => s.state === 'connecting' && s.attempt),
      [1, 2, 3],
    );
  });

  it('gives up after maxAttempts when nothing answers', async () => {
    const { client: c, recorder } = open('dave', 'reconnect', {
      url: 'ws://127.0.0.1:9/dev',
      reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 2 },
    });
    const closed = await recorder.waitForState('closed', 0);
    assert.equal(closed.state === 'closed' && closed.reason, 'gave-up');
    assert.equal(recorder.of('state').filter((s) => s.state === 'connecting').length, 2);
    assert.equal(c.state, 'closed');
  });

  it('close() is final: the server sees the connection leave, pending requests fail with CLOSED', async () => {
    const { client: erin, recorder } = open('erin', 'closing');
    await recorder.waitForState('open', 0);
    const members = erin.members();
    erin.close();
    await assert.rejects(members, { code: 'CLOSED' });
    assert.deepEqual(recorder.of('state').at(-1), {
      state: 'closed',
      reason: 'client',
      detail: 'close() was called',
    });
    await assert.rejects(erin.history(), { code: 'CLOSED' });
    await eventually(
      () => env.stack.deps.connections.roomMembers('closing'),
      (members) => members.length === 0,
    );
  });
});
