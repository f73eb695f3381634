import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { MessageFrame, Room, RoomcastClient, RoomEvents } from '@roomcast/client';
import type { LocalStack } from '../../src/local/stack.ts';
import { startTestStack } from '../support/chat.ts';
import { client, clientTestStack, gate, instrumentedWebSocket, Recorder, token } from './support.ts';

/**
 * Many rooms on one connection, against the local stack: each room's messages on its own Room object, in order;
 * leave() ends a room's events; every room subscribed again and caught up after a server restart, nothing lost or
 * twice; a direct message once per client, whatever the rooms it holds; the default room as before.
 */

const env = clientTestStack();
const { join: joinAs } = env;

/** Everything a room emits, with a way to wait for what comes next. */
class RoomRecorder {
  readonly messages: MessageFrame[] = [];
  readonly events: Array<{ name: keyof RoomEvents; value: unknown }> = [];
  #waiters: Array<() => void> = [];

  constructor(readonly room: Room) {
    for (const name of ['message', 'presence', 'members', 'repair', 'error'] as const) {
      room.on(name, (value) => {
        if (name === 'message') this.messages.push(value as MessageFrame);
        this.events.push({ name, value });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    }
  }

  texts(): string[] {
    return this.messages.map((frame) => frame.message);
  }

  /** Resolves once a message with this text was handed over. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<MessageFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((frame) => frame.message === text);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `room ${this.room.id}: no "${text}" within ${timeoutMs} ms: ${this.texts().join(' | ')}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** The room's whole history as the store holds it, read with getHistory page by page. */
async function storedHistory(room: Room): Promise<MessageFrame[]> {
  const messages: MessageFrame[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await room.history({ afterSeq, limit: 100 });
    messages.push(...(page.messages as MessageFrame[]));
    afterSeq = page.through_seq ?? afterSeq;
    if (!page.has_more && afterSeq >= page.latest_seq) return messages;
    if (!page.has_more) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What a room handed over is its stored history: the same messages, each once, in seq order. */
function assertIsHistory(name: string, got: readonly MessageFrame[], history: readonly MessageFrame[]): void {
  const ids = got.map((frame) => frame.message_id);
  assert.equal(new Set(ids).size, ids.length, `${name}: no message twice`);
  assert.deepEqual(
    got.map((frame) => `${frame.seq} ${frame.message}`),
    history.map((frame) => `${frame.seq} ${frame.message}`),
    `${name}: the history, in seq order`,
  );
}

describe('rooms on one connection', () => {
  it('one client with three rooms gets each room its own messages, in order, on the right Room', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const { client: alice } = await joinAs('alice', undefined, { WebSocket, rooms: ['three-a', 'three-b'] });
    const rooms = ['three-a', 'three-b', 'three-c'].map((id) => alice.room(id));
    const recorders = rooms.map((room) => new RoomRecorder(room));
    const clientMessages: MessageFrame[] = [];
    alice.on('message', (frame) => clientMessages.push(frame));
    await Promise.all(rooms.map((room) => room.ready));
    assert.deepEqual(alice.rooms, ['three-a', 'three-b', 'three-c']);

    // Bob holds the three rooms on one connection too, and writes to them in turn.
    const { client: bob } = await joinAs('bob', undefined, { rooms: ['three-a', 'three-b', 'three-c'] });
    await Promise.all(bob.rooms.map((id) => bob.room(id).ready));
    for (let i = 0; i < 5; i++) {
      for (const id of bob.rooms) await bob.room(id).send(`${id} ${i}`);
    }
    for (const recorder of recorders) await recorder.waitFor(`${recorder.room.id} 4`);
    for (const recorder of recorders) {
      const id = recorder.room.id;
      assert.deepEqual(
        recorder.texts(),
        [0, 1, 2, 3, 4].map((i) => `${id} ${i}`),
        `${id}: its own messages, in order`,
      );
      assert.ok(recorder.messages.every((frame) => frame.room_id === id));
      assertIsHistory(id, recorder.messages, await storedHistory(recorder.room));
      assert.equal(recorder.room.lastSeq, recorder.messages.at(-1)?.seq);
    }
    assert.deepEqual(clientMessages, [], 'no default room: the client itself has no room messages');
    assert.ok(
      seen.frames.every((frame) => frame.action !== 'error'),
      `no error frame: ${JSON.stringify(seen.frames.filter((frame) => frame.action === 'error'))}`,
    );
  });

  it('leave() unsubscribes: no more events of that room, the server no longer counts the client in it', async () => {
    const { client: alice } = await joinAs('alice', undefined, { rooms: ['leave-a', 'leave-b'] });
    const [a, b] = [alice.room('leave-a'), alice.room('leave-b')];
    const [aSees, bSees] = [new RoomRecorder(a), new RoomRecorder(b)];
    await Promise.all([a.ready, b.ready]);
    const { client: bob } = await joinAs('bob', undefined, { rooms: ['leave-a', 'leave-b'] });
    await Promise.all([bob.room('leave-a').ready, bob.room('leave-b').ready]);

    await bob.room('leave-b').send('before leaving');
    await bSees.waitFor('before leaving');
    const eventsBefore = bSees.events.length;
    await b.leave();
    assert.equal(b.subscribed, false);
    assert.deepEqual(alice.rooms, ['leave-a']);
    assert.deepEqual(
      (await bob.room('leave-b').members()).users.map((user) => user.user_id),
      ['bob'],
      'alice left leave-b on the server',
    );
    await bob.room('leave-b').send('after leaving');
    // A sentinel: bob's next message, in the room alice still holds, comes after the one she must not see.
    await bob.room('leave-a').send('sentinel');
    await aSees.waitFor('sentinel');
    assert.deepEqual(bSees.texts(), ['before leaving']);
    assert.equal(bSees.events.length, eventsBefore, 'no event of the room left');
    await assert.rejects(b.send('too late'), { code: 'CLOSED' });
  });

  it('a direct message arrives once on a client that holds several rooms', async () => {
    const { WebSocket, seen } = instrumentedWebSocket();
    const { client: alice, recorder } = await joinAs('alice', 'dm-lobby', {
      WebSocket,
      rooms: ['dm-a', 'dm-b', 'dm-c'],
    });
    await Promise.all(alice.rooms.map((id) => alice.room(id).ready));
    const { client: bob } = await joinAs('bob', undefined);
    const sent = await bob.sendDirect('alice', 'psst');
    await bob.sendDirect('alice', 'dm sentinel');
    await recorder.waitFor('direct', (frame) => frame.message === 'dm sentinel');
    assert.deepEqual(
      recorder.of('direct').map((frame) => frame.message),
      ['psst', 'dm sentinel'],
    );
    const frames = seen.frames.filter((frame) => frame.action === 'direct' && frame.message === 'psst');
    assert.equal(frames.length, 1, 'one frame on the connection, not one per room');
    assert.equal(frames[0]?.client_msg_id, sent.client_msg_id);
  });

  it('the default room works as before, beside other rooms', async () => {
    const { client: alice, recorder } = await joinAs('alice', 'default-lobby', { rooms: ['default-side'] });
    const side = alice.room('default-side');
    await side.ready;
    const sideSees = new RoomRecorder(side);
    const { client: bob, recorder: bobSees } = await joinAs('bob', 'default-lobby', {
      rooms: ['default-side'],
    });
    await bob.room('default-side').ready;

    const stored = await alice.send('hello lobby');
    assert.equal(stored.room_id, 'default-lobby');
    await side.send('hello side');
    await bob.send('bob in the lobby');
    await recorder.waitFor('message', (frame) => frame.message === 'bob in the lobby');
    await sideSees.waitFor('hello side');
    assert.deepEqual(
      recorder.texts(),
      ['hello lobby', 'bob in the lobby'],
      'client events: the default room only',
    );
    assert.deepEqual(sideSees.texts(), ['hello side']);
    assert.equal(alice.lastSeq, alice.room('default-lobby').lastSeq);
    assert.equal(
      alice.lastSeq,
      (await bobSees.waitFor('message', (m) => m.message === 'bob in the lobby')).seq,
    );
    assert.deepEqual(
      (await alice.members()).users.map((user) => user.user_id),
      ['alice', 'bob'],
    );
    const page = await alice.history({ limit: 10 });
    assert.deepEqual(
      page.messages.map((frame) => frame.message),
      ['bob in the lobby', 'hello lobby'],
    );
    assert.equal(alice.room('default-lobby'), alice.room('default-lobby'));
  });
});

describe('rooms across a server restart', () => {
  const stacks: LocalStack[] = [];
  const clients: RoomcastClient[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const c of clients) c.close();
    for (const stack of stacks.reverse()) await stack.close().catch(() => {});
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('subscribes every room again and catches each up: nothing lost, nothing twice, as the store holds it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-rooms-'));
    dirs.push(dataDir);
    let stack = await startTestStack({ dataDir, env: { PRESENCE_ENABLED: 'false' } });
    stacks.push(stack);
    const port = Number(new URL(stack.wsUrl).port);
    const ids = ['restart-a', 'restart-b', 'restart-c'];

    // Alice's token can be held back: while the stack restarts she stays away until every room has news.
    let hold: ReturnType<typeof gate> | undefined;
    const alice = client(stack.wsUrl, 'alice', undefined, {
      rooms: ids,
      requestTimeoutMs: 20_000,
      getToken: async () => {
        await hold?.promise;
        return token('alice');
      },
    });
    const bob = client(stack.wsUrl, 'bob', undefined, { rooms: ids, sendTimeoutMs: 60_000 });
    clients.push(alice, bob);
    const aliceSees = new Recorder(alice);
    const rooms = ids.map((id) => new RoomRecorder(alice.room(id)));
    await Promise.all([...ids.map((id) => alice.room(id).ready), ...ids.map((id) => bob.room(id).ready)]);

    for (let i = 0; i < 3; i++) for (const id of ids) await bob.room(id).send(`${id} before ${i}`);
    for (const room of rooms) await room.waitFor(`${room.room.id} before 2`);

    hold = gate();
    const from = aliceSees.events.length;
    await stack.close();
    stack = await startTestStack({ port, dataDir, env: { PRESENCE_ENABLED: 'false' } });
    stacks.push(stack);
    // Bob is back (his sends wait for it); alice is not: all of this is missed, a different number per room.
    for (const [n, id] of ids.entries()) {
      for (let i = 0; i < 2 + n * 60; i++) await bob.room(id).send(`${id} missed ${i}`);
    }
    hold.open();
    const recovered = await aliceSees.waitFor('recovered', () => true, { from, timeoutMs: 30_000 });
    assert.deepEqual(recovered.rooms, { 'restart-a': 2, 'restart-b': 62, 'restart-c': 122 });
    for (const id of ids) await bob.room(id).send(`${id} live again`);
    for (const room of rooms) await room.waitFor(`${room.room.id} live again`, 30_000);

    for (const [n, room] of rooms.entries()) {
      const history = await storedHistory(room.room);
      assertIsHistory(room.room.id, room.messages, history);
      assert.equal(history.length, 3 + (2 + n * 60) + 1, `${room.room.id}: each send stored once`);
    }
    const states = aliceSees.of('state').map((change) => change.state);
    assert.ok(states.filter((state) => state === 'open').length >= 2, `alice reconnected: ${states}`);
  });
});
