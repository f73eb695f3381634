import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { ChatClient, eventually, recordingMetrics, startTestStack } from '../support/chat.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

/**
 * Connections that end without a close frame: a client whose TCP connection is destroyed (FIN or RST) is cleaned up
 * at once; one that goes silent (a partition: no FIN, no RST) is found by the idle timeout. Either way `$disconnect`
 * runs, the record goes, and the room hears the leave.
 */

const IDLE_MS = 1500;

let stack: LocalStack;
let proxy: TcpProxy;
const metrics = recordingMetrics();
const clients: ChatClient[] = [];

async function join(user: string, room: string, via: { wsUrl: string } = stack): Promise<ChatClient> {
  const client = await ChatClient.connect({ ...stack, wsUrl: via.wsUrl }, user, room, '', {
    keepPresence: true,
  });
  clients.push(client);
  return client;
}

/** Keeps a client inside the idle timeout while a test waits on something else. */
function keepAlive(client: ChatClient): () => void {
  const timer = setInterval(() => client.send({ action: 'ping', ref: 'keepalive' }), IDLE_MS / 4);
  return () => clearInterval(timer);
}

const leaveOf = (user: string) => (frame: Record<string, unknown>) =>
  frame.action === 'presence' && frame.event === 'leave' && frame.user_id === user;

before(async () => {
  stack = await startTestStack({ idleTimeoutMs: IDLE_MS, depsOverrides: { metrics } });
  proxy = await TcpProxy.start(stack.wsUrl);
});
after(async () => {
  // First the relay: a client behind it would otherwise wait 30 s for the answer to its close frame.
  await proxy.close();
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

describe('abrupt TCP drops', () => {
  for (const [how, drop] of [
    ['destroyed (FIN, no close frame)', (socket: Socket) => socket.destroy()],
    ['reset (RST)', (socket: Socket) => socket.resetAndDestroy()],
  ] as const) {
    it(`cleans up a connection whose socket is ${how} right away`, async () => {
      const room = `drop-${how.slice(0, 5)}`;
      const watcher = await join('watcher', room);
      const dropped = await join('dropped', room);
      await watcher.next((frame) => frame.action === 'presence' && frame.event === 'join');
      const [droppedId] = await stack.deps.connections.userConnectionIds('dropped');
      assert.ok(droppedId);
      const closedBefore = metrics.totals.get(METRIC.connectionsClosed) ?? 0;
      const started = performance.now();

      drop((dropped.socket as unknown as { _socket: Socket })._socket);

      await watcher.next(leaveOf('dropped'), IDLE_MS);
      assert.equal(await stack.deps.connections.get(droppedId), undefined, '$disconnect removed the record');
      assert.equal((metrics.totals.get(METRIC.connectionsClosed) ?? 0) - closedBefore, 1);
      assert.ok(performance.now() - started < IDLE_MS, 'found without waiting for the idle timeout');
      await watcher.expectOnlyPong();
    });
  }

  it('finds a connection that went silent with the idle timeout, and serves the room meanwhile', async () => {
    const watcher = await join('watcher', 'silent');
    const silent = await join('silent', 'silent', { wsUrl: proxy.url });
    await watcher.next((frame) => frame.action === 'presence' && frame.user_id === 'silent');
    const [silentId] = await stack.deps.connections.userConnectionIds('silent');
    assert.ok(silentId);
    const stop = keepAlive(watcher);
    try {
      proxy.blackhole('both');
      // The room keeps working; the post to the silent connection lands in a TCP buffer nobody reads.
      watcher.send({ action: 'sendMessage', message: 'anyone there?' });
      assert.equal((await watcher.next((frame) => frame.action === 'message')).message, 'anyone there?');

      // Idle timeout, then the unanswered close handshake times out: `$disconnect` runs.
      await watcher.next(leaveOf('silent'), IDLE_MS + 10_000);
      assert.equal(await stack.deps.connections.get(silentId), undefined);
      assert.equal(silent.closeCode, undefined, 'the silent client never heard of it (no FIN, no RST)');
    } finally {
      stop();
    }
  });

  it('closes a connection that is merely idle with 1001 and runs its $disconnect', async () => {
    const idle = await join('idle', 'idle');
    const [idleId] = await stack.deps.connections.userConnectionIds('idle');
    assert.ok(idleId);
    await eventually(
      async () => idle.closeCode,
      (code) => code !== undefined,
      IDLE_MS + 3000,
    );
    assert.equal(idle.closeCode, 1001);
    await eventually(
      () => stack.deps.connections.get(idleId),
      (record) => record === undefined,
    );
  });
});
