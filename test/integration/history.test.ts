import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, eventually, type Frame, recordingMetrics, startTestStack } from '../support/chat.ts';

let stack: LocalStack;
const clients: ChatClient[] = [];
const metrics = recordingMetrics();

async function join(
  user: string,
  room: string,
  options: { keepPresence?: boolean } = {},
): Promise<ChatClient> {
  const client = await ChatClient.connect(stack, user, room, '', options);
  clients.push(client);
  return client;
}

before(async () => {
  stack = await startTestStack({ depsOverrides: { metrics } });
});

after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

const is = (action: string) => (frame: Frame) => frame.action === action;
type Message = { message: string; message_id: string; seq: number; user_id?: string };

describe('history and resume', () => {
  it('a client that blinked catches up on exactly the missed messages, in order, with after_seq', async () => {
    const alice = await join('alice', 'resume');
    let bob = await join('bob', 'resume');
    alice.send({ action: 'sendMessage', message: 'before the blink' });
    await alice.next(is('message'));
    const seen = (await bob.next(is('message'))) as unknown as Message;

    await bob.close();
    await eventually(
      () => stack.deps.connections.roomMembers('resume'),
      (members) => members.length === 1,
    );
    for (const text of ['missed 1', 'missed 2', 'missed 3']) {
      alice.send({ action: 'sendMessage', message: text });
      assert.equal((await alice.next(is('message'))).message, text);
    }

    bob = await join('bob', 'resume');
    bob.send({ action: 'getHistory', after_seq: seen.seq });
    const history = await bob.next(is('history'));
    const messages = history.messages as Message[];
    assert.deepEqual(
      messages.map((m) => `${m.seq} ${m.message}`),
      ['2 missed 1', '3 missed 2', '4 missed 3'],
    );
    assert.deepEqual([history.through_seq, history.latest_seq, history.has_more], [4, 4, false]);
    assert.equal(history.room_id, 'resume');
    assert.deepEqual(Object.keys(messages[0] ?? {}).sort(), [
      'action',
      'message',
      'message_id',
      'room_id',
      'seq',
      'timestamp',
      'user_id',
    ]);
  });

  it('pages backwards with before_seq and limit, newest first', async () => {
    const carol = await join('carol', 'paging');
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      carol.send({ action: 'sendMessage', message: `p${i}` });
      seqs.push(Number((await carol.next(is('message'))).seq));
    }
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    carol.send({ action: 'getHistory', limit: 2 });
    const first = await carol.next(is('history'));
    assert.deepEqual(
      (first.messages as Message[]).map((m) => m.message),
      ['p4', 'p3'],
    );
    assert.equal(first.has_more, true);
    assert.equal(first.latest_seq, 5);
    assert.equal('through_seq' in first, false, 'a backward page settles nothing');
    carol.send({ action: 'getHistory', limit: 2, before_seq: seqs[3] });
    const second = await carol.next(is('history'));
    assert.deepEqual(
      (second.messages as Message[]).map((m) => m.message),
      ['p2', 'p1'],
    );
  });

  it('enforces limits and cursors with error frames', async () => {
    const dave = await join('dave', 'limits');
    for (const frame of [
      { action: 'getHistory', limit: 101 },
      { action: 'getHistory', limit: 0 },
      { action: 'getHistory', limit: 'ten' },
      { action: 'getHistory', before_seq: -1 },
      { action: 'getHistory', after_seq: 1.5 },
      { action: 'getHistory', after_seq: '3' },
      { action: 'getHistory', after_seq: 2 ** 53 },
      { action: 'getHistory', after_seq: 1, before_seq: 9 },
      { action: 'getHistory', direct: 'yes' },
      // The message-id cursors of earlier versions: refused, not silently read as "the newest page".
      { action: 'getHistory', before: '01KB7Q3W6Y0F8R1VJ2M4N5P6QS' },
      { action: 'getHistory', after: '01KB7Q3W6Y0F8R1VJ2M4N5P6QS' },
    ]) {
      dave.send(frame);
      const error = await dave.next();
      assert.equal(error.action, 'error', JSON.stringify(frame));
      assert.equal(error.code, 'BAD_REQUEST', JSON.stringify(frame));
    }
    dave.send({ action: 'getHistory', after: 'x' });
    assert.match(String((await dave.next()).message), /after_seq/);
  });

  it('reads only the caller room: history of another room cannot be asked for', async () => {
    const eve = await join('eve', 'secret-room');
    eve.send({ action: 'sendMessage', message: 'classified' });
    await eve.next(is('message'));
    const mallory = await join('mallory', 'public-room');
    mallory.send({ action: 'getHistory', room_id: 'secret-room', ref: 'peek' });
    const refused = await mallory.next((f) => f.ref === 'peek');
    assert.equal(refused.action, 'error');
    assert.equal(refused.code, 'FORBIDDEN', 'a room the connection does not hold');
    mallory.send({ action: 'getHistory' });
    const own = await mallory.next(is('history'));
    assert.equal(own.room_id, 'public-room');
    assert.deepEqual(own.messages, []);
  });
});

describe('idempotent sends', () => {
  it('a retried client_msg_id is stored once and delivered once to each member; the sender gets the same id', async () => {
    const sender = await join('frank', 'idem');
    const peer = await join('gina', 'idem');
    sender.send({ action: 'sendMessage', message: 'exactly once', client_msg_id: 'c-42' });
    const delivered = await peer.next(is('message'));
    assert.equal(delivered.client_msg_id, 'c-42');
    const ack = await sender.next(is('message'));

    sender.send({ action: 'sendMessage', message: 'exactly once', client_msg_id: 'c-42' });
    const retryAck = await sender.next(is('message'));
    assert.equal(retryAck.message_id, ack.message_id);
    await peer.expectOnlyPong();

    sender.send({ action: 'getHistory' });
    const history = await sender.next(is('history'));
    assert.equal((history.messages as Message[]).filter((m) => m.message === 'exactly once').length, 1);
  });

  it('concurrent retries of one client_msg_id yield one stored message and one delivery each', async () => {
    const senders = await Promise.all([join('hank', 'race'), join('hank', 'race'), join('hank', 'race')]);
    const peer = await join('ivy', 'race');
    const ended = metrics.invocationsEnded();
    for (const sender of senders)
      sender.send({ action: 'sendMessage', message: 'race', client_msg_id: 'same' });
    const frames = await Promise.all(senders.map((s) => s.next(is('message'))));
    assert.equal(new Set(frames.map((f) => f.message_id)).size, 1);
    await peer.next(is('message'));
    // Once all three invocations have ended, a second delivery to the peer would have been posted already.
    await eventually(metrics.invocationsEnded, (count) => count >= ended + 3);
    await peer.expectOnlyPong();
    peer.send({ action: 'getHistory' });
    assert.equal(((await peer.next(is('history'))).messages as Message[]).length, 1);
  });
});

describe('direct messages', () => {
  it('reach every connection of the recipient and the sender, and nobody else', async () => {
    const [jack1, jack2] = [await join('jack', 'dm-a'), await join('jack', 'dm-b')];
    const [kate1, kate2] = [await join('kate', 'dm-a'), await join('kate', 'dm-c')];
    const bystander = await join('leo', 'dm-a');

    jack1.send({ action: 'sendDirect', to_user_id: 'kate', message: 'psst', client_msg_id: 'd-1' });
    const received = await Promise.all([kate1, kate2, jack1, jack2].map((c) => c.next(is('direct'))));
    for (const frame of received) {
      assert.equal(frame.from_user_id, 'jack');
      assert.equal(frame.to_user_id, 'kate');
      assert.equal(frame.message, 'psst');
      assert.equal(frame.message_id, received[0]?.message_id);
    }
    await bystander.expectOnlyPong();

    kate2.send({ action: 'getHistory', direct: true });
    const inbox = await kate2.next(is('history'));
    assert.equal(inbox.direct, true);
    assert.deepEqual(
      (inbox.messages as Message[]).map((m) => m.message),
      ['psst'],
    );
  });

  it('answer NOT_CONNECTED for a user with no connection, and store nothing', async () => {
    const mia = await join('mia', 'dm-d');
    mia.send({ action: 'sendDirect', to_user_id: 'nobody-here', message: 'hello?', client_msg_id: 'd-2' });
    const error = await mia.next();
    assert.equal(error.code, 'NOT_CONNECTED');
    assert.equal(error.client_msg_id, 'd-2');
    mia.send({ action: 'getHistory', direct: true });
    assert.deepEqual((await mia.next(is('history'))).messages, []);
  });
});

describe('direct messages retried', () => {
  it('are acknowledged with the stored message after the recipient has left, not NOT_CONNECTED', async () => {
    const pia = await join('pia', 'dm-retry');
    const quin = await join('quin', 'dm-retry');
    pia.send({ action: 'sendDirect', to_user_id: 'quin', message: 'once', client_msg_id: 'd-retry' });
    const first = await pia.next(is('direct'));
    await quin.next(is('direct'));
    await quin.close();
    await eventually(
      () => stack.deps.connections.userConnectionIds('quin'),
      (ids) => ids.length === 0,
    );

    pia.send({ action: 'sendDirect', to_user_id: 'quin', message: 'once', client_msg_id: 'd-retry' });
    const again = await pia.next();
    assert.equal(again.action, 'direct', `a retry is acknowledged, not refused: ${JSON.stringify(again)}`);
    assert.equal(again.message_id, first.message_id);

    // A new message to the absent user is still refused.
    pia.send({ action: 'sendDirect', to_user_id: 'quin', message: 'new', client_msg_id: 'd-new' });
    assert.equal((await pia.next()).code, 'NOT_CONNECTED');
    pia.send({ action: 'getHistory', direct: true });
    const inbox = (await pia.next(is('history'))).messages as Message[];
    assert.deepEqual(
      inbox.map((m) => m.message),
      ['once'],
    );
  });
});

describe('presence and members', () => {
  it('announces join and leave to the others in the room', async () => {
    const nina = await join('nina', 'presence', { keepPresence: true });
    const omar = await join('omar', 'presence', { keepPresence: true });
    const joined = await nina.next(is('presence'));
    assert.deepEqual([joined.user_id, joined.event, joined.room_id], ['omar', 'join', 'presence']);
    await omar.close();
    const left = await nina.next(is('presence'));
    assert.deepEqual([left.user_id, left.event], ['omar', 'leave']);
    // The joining connection did not hear about itself.
    assert.equal(omar.frames.filter((f) => f.action === 'presence' && f.user_id === 'omar').length, 0);
  });

  it('listMembers counts each user once with its connections', async () => {
    const p1 = await join('pat', 'members');
    await join('pat', 'members');
    await join('quinn', 'members');
    p1.send({ action: 'listMembers' });
    const members = await p1.next(is('members'));
    assert.equal(members.room_id, 'members');
    assert.deepEqual(members.users, [
      { user_id: 'pat', connections: 2 },
      { user_id: 'quinn', connections: 1 },
    ]);
  });
});

describe('presence limits', () => {
  it('skips join and leave frames in rooms over PRESENCE_MAX_ROOM_SIZE', async () => {
    const capped = await startTestStack({ env: { PRESENCE_MAX_ROOM_SIZE: '2' } });
    try {
      const a = await ChatClient.connect(capped, 'ann', 'capped', '', { keepPresence: true });
      await ChatClient.connect(capped, 'ben', 'capped', '', { keepPresence: true });
      assert.equal((await a.next(is('presence'))).user_id, 'ben');
      const c = await ChatClient.connect(capped, 'cal', 'capped', '', { keepPresence: true });
      await c.close();
      await eventually(
        () => capped.deps.connections.roomMembers('capped'),
        (members) => members.length === 2,
      );
      await a.expectOnlyPong();
    } finally {
      await capped.close();
    }
  });
});

describe('presence in a room recently found large', () => {
  it('is skipped without a query for 30 s, then announced again', async () => {
    let offsetMs = 0;
    const ended = recordingMetrics();
    const stack = await startTestStack({
      env: { PRESENCE_MAX_ROOM_SIZE: '3' },
      depsOverrides: { now: () => new Date(Date.now() + offsetMs), metrics: ended },
    });
    // A disconnect's record is removed before it decides on presence: wait for the invocation itself to end.
    const disconnected = async (client: ChatClient) => {
      const before = ended.invocationsEnded();
      await client.close();
      await eventually(ended.invocationsEnded, (count) => count > before);
    };
    const members = (n: number) =>
      eventually(
        () => stack.deps.connections.roomMembers('big'),
        (list) => list.length === n,
      );
    try {
      const ann = await ChatClient.connect(stack, 'ann', 'big', '', { keepPresence: true });
      const ben = await ChatClient.connect(stack, 'ben', 'big', '', { keepPresence: true });
      const cal = await ChatClient.connect(stack, 'cal', 'big', '', { keepPresence: true });
      assert.deepEqual(
        [(await ann.next(is('presence'))).user_id, (await ann.next(is('presence'))).user_id],
        ['ben', 'cal'],
      );
      const dee = await ChatClient.connect(stack, 'dee', 'big', '', { keepPresence: true });
      await disconnected(dee); // 4 > 3: no join, no leave, and the room is remembered as large
      await members(3);
      await disconnected(cal); // 2 would be announced, but the room is remembered
      await members(2);
      await ann.expectOnlyPong();

      // Only now, with no invocation in flight, may the clock pass the memory's 30 s.
      offsetMs = 31_000;
      await ben.close();
      const left = await ann.next(is('presence'));
      assert.deepEqual([left.user_id, left.event], ['ben', 'leave']);
      await ann.close();
    } finally {
      await stack.close();
    }
  });
});

describe('presence switched off', () => {
  it('sends no presence frames when PRESENCE_ENABLED=false', async () => {
    const quiet = await startTestStack({ env: { PRESENCE_ENABLED: 'false' } });
    try {
      const a = await ChatClient.connect(quiet, 'rita', 'quiet', '', { keepPresence: true });
      const b = await ChatClient.connect(quiet, 'sam', 'quiet', '', { keepPresence: true });
      await b.close();
      await eventually(
        () => quiet.deps.connections.roomMembers('quiet'),
        (members) => members.length === 1,
      );
      await a.expectOnlyPong();
      await a.close();
    } finally {
      await quiet.close();
    }
  });
});

describe('correlation', () => {
  it('replies and errors echo ref and client_msg_id', async () => {
    const uma = await join('uma', 'refs');
    uma.send({ action: 'ping', ref: 'p-1' });
    assert.equal((await uma.next(is('pong'))).ref, 'p-1');
    uma.send({ action: 'listMembers', ref: 'm-1' });
    assert.equal((await uma.next(is('members'))).ref, 'm-1');
    uma.send({ action: 'getHistory', ref: 'h-1' });
    assert.equal((await uma.next(is('history'))).ref, 'h-1');
    uma.send({ action: 'getHistory', limit: 500, ref: 'h-2' });
    assert.deepEqual(await uma.next(is('error')).then((e) => [e.code, e.ref]), ['BAD_REQUEST', 'h-2']);
    uma.send({ action: 'sendMessage', message: 'x'.repeat(5000), client_msg_id: 'big-1' });
    assert.deepEqual(await uma.next(is('error')).then((e) => [e.code, e.client_msg_id]), [
      'TOO_LARGE',
      'big-1',
    ]);
    uma.send({ action: 'teleport', ref: 't-1' });
    assert.deepEqual(await uma.next(is('error')).then((e) => [e.code, e.ref]), ['UNKNOWN_ACTION', 't-1']);
  });
});
