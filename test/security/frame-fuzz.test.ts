import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import {
  CLIENT_ACTIONS,
  ERROR_CODES,
  fitToMessage,
  MAX_MESSAGE_BYTES,
  parseClientFrame,
} from '../../src/protocol.ts';
import { wholeHistory } from '../faults/support.ts';
import { ChatClient, eventually, type Frame, recordingMetrics, startTestStack } from '../support/chat.ts';

/**
 * Hostile frames through the running gateway: whatever a client sends, it gets an answer (an error frame, or the
 * gateway closes the connection as API Gateway would), the server never fails internally, and everyone else
 * keeps being served. Valid sends reach exactly their room and are stored once.
 */

const MAX_CHARS = 4000;
/** API Gateway's frame limit (the gateway closes a connection that sends more, with 1009). */
const MAX_CLIENT_FRAME_BYTES = 32 * 1024;

let stack: LocalStack;
const metrics = recordingMetrics();
const clients: ChatClient[] = [];
const prototypeNames = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  array: Object.getOwnPropertyNames(Array.prototype).sort(),
  function: Object.getOwnPropertyNames(Function.prototype).sort(),
};

async function join(user: string, room: string, rooms?: string[]): Promise<ChatClient> {
  const client = await ChatClient.connect(stack, user, room, '', rooms ? { rooms } : {});
  clients.push(client);
  return client;
}

before(async () => {
  stack = await startTestStack({ env: { PRESENCE_ENABLED: 'false' }, depsOverrides: { metrics } });
});
after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

// --- arbitraries --------------------------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
const edgeText = fc.constantFrom(
  '\u202Eevil\u202C', // right-to-left override
  'שלום עולם', // RTL script
  'a\u200Bb\u200C\u200D\uFEFF', // zero-width characters, BOM
  '👩‍👩‍👧‍👦🏳️‍🌈', // emoji ZWJ sequences
  'e\u0301\u0301\u0301', // combining marks
  '\u0000\u0001\u001F\u007F', // control characters
  '\uD800', // lone high surrogate
  '\uDFFF\uD800', // reversed pair
  '__proto__',
  'constructor',
  '{"action":"sendMessage"}',
  '<script>alert(1)</script>',
  "'; DROP TABLE chat_messages; --",
);
/** Text a person could never type as well as text anyone could. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.string({ unit: 'grapheme', maxLength: 1 })), maxLength: 20 }),
  edgeText,
  fc.constantFrom(
    'x'.repeat(MAX_CHARS),
    'x'.repeat(MAX_CHARS + 1),
    '😀'.repeat(MAX_CHARS),
    '😀'.repeat(MAX_CHARS + 1),
  ),
);
const ulid = fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/);
const json = fc.jsonValue({ maxDepth: 3 });
const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype');
const pollution = fc.constantFrom<unknown>(
  { polluted: 'yes' },
  { prototype: { polluted: 'yes' } },
  JSON.parse('{"__proto__":{"polluted":"yes"}}'),
  'polluted',
);
const action = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...CLIENT_ACTIONS) },
  fc.constantFrom(
    '$connect',
    '$disconnect',
    '$default',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'sendmessage',
    ' sendMessage',
    'sendMessage\u0000',
  ),
  fc.string({ maxLength: 80 }),
  json,
);
/** Field values the protocol accepts, and values it must refuse. */
const validValue: Record<string, fc.Arbitrary<unknown>> = {
  message: text.filter((value) => value.length > 0 && [...value].length <= MAX_CHARS),
  room_id: fc.constantFrom('fz', 'fz', 'fz-side', 'elsewhere'),
  // What the fuzzer may subscribe to: its room, and one nobody else holds (never the bystander's).
  'room_id@subscribe': fc.constantFrom('fz', 'fz-side'),
  client_msg_id: fc.string({ minLength: 1, maxLength: 64 }),
  to_user_id: fc.constantFrom('mate', 'fuzz', 'nobody', '__proto__'),
  before_seq: fc.integer({ min: 0, max: 200 }),
  after_seq: fc.integer({ min: 0, max: 200 }),
  // Well-formed message ids: the cursors of earlier versions, which are refused whatever they hold.
  before: ulid,
  after: ulid,
  limit: fc.integer({ min: 1, max: 100 }),
  direct: fc.boolean(),
  ref: fc.string({ minLength: 1, maxLength: 64 }),
};
const hostileValue: Record<string, fc.Arbitrary<unknown>> = {
  message: fc.oneof(text, json),
  room_id: fc.oneof(fc.constantFrom('', 'fz ', 'a'.repeat(65), 'fz#x'), text, json),
  'room_id@subscribe': fc.oneof(fc.constantFrom('', 'fz ', 'a'.repeat(65), 'fz*'), text, json),
  client_msg_id: fc.oneof(fc.constant(''), fc.string({ minLength: 65, maxLength: 70 }), json),
  to_user_id: fc.oneof(fc.constant(''), fc.string({ minLength: 129, maxLength: 130 }), text, json),
  before_seq: fc.oneof(fc.integer({ min: -5, max: -1 }), fc.double(), fc.constant(2 ** 53), text, json),
  after_seq: fc.oneof(fc.integer({ min: -5, max: -1 }), fc.double(), fc.constant(2 ** 53), text, json),
  // The message-id cursors of earlier versions.
  before: fc.oneof(text, json),
  after: fc.oneof(text, json),
  limit: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.integer({ min: 101, max: 1000 }), fc.double(), json),
  direct: json,
  ref: fc.oneof(fc.constant(''), fc.string({ minLength: 65, maxLength: 70 }), json),
};
/** `name@variant`: the field `name`, with the values of that variant. */
const FIELDS: Record<string, { required: string[]; optional: string[] }> = {
  subscribe: { required: ['room_id@subscribe'], optional: ['after_seq', 'limit', 'ref'] },
  unsubscribe: { required: ['room_id@subscribe'], optional: ['ref'] },
  sendMessage: { required: ['message'], optional: ['room_id', 'client_msg_id'] },
  sendDirect: { required: ['to_user_id', 'message'], optional: ['client_msg_id'] },
  getHistory: {
    required: [],
    optional: ['before_seq', 'after_seq', 'before', 'after', 'limit', 'direct', 'room_id', 'ref'],
  },
  listMembers: { required: [], optional: ['room_id', 'ref'] },
  ping: { required: [], optional: ['ref'] },
};
type Entry = [string, unknown];
const fieldOf = (name: string) => name.split('@')[0] as string;
const entryOf = (name: string): fc.Arbitrary<Entry> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constant(fieldOf(name)), validValue[name] as fc.Arbitrary<unknown>) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constant(fieldOf(name)), hostileValue[name] as fc.Arbitrary<unknown>),
    },
  );
/** Unknown fields (ignored by the protocol), claims to be someone else, prototype keys, and a second `action`. */
const extraEntry: fc.Arbitrary<Entry> = fc.oneof(
  fc.tuple(protoKey, pollution),
  fc.tuple(fc.string({ maxLength: 10 }), json),
  fc.tuple(
    fc.constantFrom('user_id', 'from_user_id', 'sub', 'connection_id'),
    fc.constantFrom('mate', 'admin'),
  ),
  fc.tuple(fc.constant('action'), action),
);

/** JSON text built entry by entry, so it can hold `__proto__` as a real key, duplicate keys and deep nesting. */
function jsonObjectText(entries: Entry[], depth = 0): string {
  const body = entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`);
  if (depth > 0) body.push(`"deep":${'['.repeat(depth)}${']'.repeat(depth)}`);
  return `{${body.join(',')}}`;
}

/** A frame for a real action with mostly valid fields: it gets past route selection and into the handlers. */
const nearlyValidFrame = fc.constantFrom(...CLIENT_ACTIONS, 'sendMessage', 'sendMessage').chain((name) => {
  const { required, optional } = FIELDS[name] as { required: string[]; optional: string[] };
  return fc
    .tuple(
      fc.tuple(...required.map(entryOf)),
      fc.tuple(...optional.map((field) => fc.option(entryOf(field), { nil: undefined, freq: 3 }))),
      fc.array(extraEntry, { maxLength: 2 }),
    )
    .map(([req, opt, extra]) =>
      jsonObjectText([
        ['action', name],
        ...req,
        ...opt.filter((entry): entry is Entry => entry !== undefined),
        ...extra,
      ]),
    );
});
/** Anything shaped like an object: random action, random fields, sometimes nested thousands deep. */
const objectFrame = fc
  .tuple(
    fc.option(action, { nil: undefined }),
    fc.array(fc.oneof(...Object.keys(hostileValue).map(entryOf), extraEntry), { maxLength: 6 }),
    fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 6000 })),
  )
  .map(([act, fields, depth]) =>
    jsonObjectText(act === undefined ? fields : [['action', act], ...fields], depth),
  );
const hostileFrame = fc
  .oneof(
    { weight: 6, arbitrary: nearlyValidFrame },
    { weight: 3, arbitrary: objectFrame },
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.json({ maxDepth: 4 }),
    fc.nat({ max: 12_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
    fc.nat({ max: 5000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
    fc.constantFrom(
      '',
      ' ',
      'null',
      'true',
      '[]',
      '{}',
      '"sendMessage"',
      '{"action":null}',
      '{"action":"ping"',
    ),
  )
  .filter((frame) => Buffer.byteLength(frame) <= MAX_CLIENT_FRAME_BYTES);

// --- checks -------------------------------------------------------------------------------------------------

const SUCCESS_ACTIONS = new Set([
  'subscribed',
  'unsubscribed',
  'message',
  'direct',
  'history',
  'members',
  'pong',
]);

/** What an answer must look like whatever the frame was; returns the reply for further checks. */
function assertWellFormedReply(frame: string, reply: Frame): void {
  assert.notEqual(reply.message, 'Internal server error', `a handler failed on ${frame}`);
  assert.notEqual(reply.message, 'Forbidden', `no route took ${frame}`);
  if (reply.action !== 'error') {
    assert.ok(SUCCESS_ACTIONS.has(String(reply.action)), `unexpected reply ${JSON.stringify(reply)}`);
    return;
  }
  assert.ok((ERROR_CODES as readonly unknown[]).includes(reply.code), `code ${String(reply.code)}`);
  assert.notEqual(reply.code, 'INTERNAL', `internal failure on ${frame}`);
  assert.equal(typeof reply.request_id, 'string');
  assert.equal(typeof reply.message, 'string');
  assert.doesNotMatch(String(reply.message), /Exception|\bat .+:\d+|node_modules|\.ts\b|dynamo/i);
}

describe('hostile frames', () => {
  let fuzz: ChatClient;
  let mate: ChatClient;
  let bystander: ChatClient;
  const sentByFuzz = { message: [] as Frame[], direct: [] as Frame[] };
  const answered = new Map<string, Frame>();

  before(async () => {
    // Its token allows its two rooms: whatever the frames say (a second `action` can turn any frame into a
    // subscribe), the bystander's room stays out of reach.
    fuzz = await join('fuzz', 'fz', ['fz', 'fz-side']);
    mate = await join('mate', 'fz');
    bystander = await join('bystander', 'elsewhere');
  });

  it('each gets one well-formed answer, never an internal failure, and the bystander keeps its pongs', async (t) => {
    const answers = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(hostileFrame, async (frame) => {
        fuzz.send(frame);
        const reply = await fuzz.next(() => true, 5000);
        assertWellFormedReply(frame, reply);
        const answer = reply.action === 'error' ? String(reply.code) : String(reply.action);
        answers.set(answer, (answers.get(answer) ?? 0) + 1);

        // The protocol module is the oracle for what is valid; the server must agree through every layer.
        const verdict = parseClientFrame(frame, { maxMessageChars: MAX_CHARS });
        if (!verdict.ok) {
          assert.equal(reply.action, 'error', `${frame} was accepted: ${JSON.stringify(reply)}`);
          assert.equal(reply.code, verdict.code, frame);
          for (const [key, value] of Object.entries(verdict.correlation))
            assert.equal(reply[key], value, key);
        } else if (reply.action === 'message' || reply.action === 'direct') {
          const first = answered.get(String(reply.message_id));
          if (first) {
            // A client_msg_id used before: the retry is answered with the first message, to the sender alone.
            assert.deepEqual(reply, first);
          } else {
            assert.equal(reply.message, 'message' in verdict.frame && verdict.frame.message, 'text changed');
            // Who sent it comes from the token, whatever the frame claims; the room from the connection.
            if (reply.action === 'message') {
              assert.equal(reply.user_id, 'fuzz');
              assert.ok(['fz', 'fz-side'].includes(String(reply.room_id)), `room ${String(reply.room_id)}`);
            } else assert.equal(reply.from_user_id, 'fuzz');
            answered.set(String(reply.message_id), reply);
            sentByFuzz[reply.action].push(reply);
          }
        } else if (reply.action === 'error') {
          // A valid frame can still be refused: a room not held, a user not connected, or (holding fz-side too,
          // or neither room) a room frame that names no room.
          const roomless = reply.code === 'BAD_REQUEST' && /^room_id is required/.test(String(reply.message));
          assert.ok(
            ['FORBIDDEN', 'NOT_CONNECTED'].includes(String(reply.code)) || roomless,
            JSON.stringify(reply),
          );
        }

        bystander.send({ action: 'ping', ref: 'alive' });
        assert.deepEqual(
          { action: (await bystander.next()).action, queued: bystander.frames.length },
          { action: 'pong', queued: 0 },
        );
      }),
      { numRuns: 500 },
    );
    t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
    await fuzz.expectOnlyPong();
  });

  it('delivered what the fuzzer posted to its room only, and polluted no prototype', async () => {
    const toMate = sentByFuzz.direct.filter((frame) => frame.to_user_id === 'mate');
    const toRoom = sentByFuzz.message.filter((frame) => frame.room_id === 'fz');
    for (const expected of toRoom) {
      assert.deepEqual(await mate.next((frame) => frame.message_id === expected.message_id), expected);
    }
    // Mate's copy of a direct message carries the seq of mate's inbox, the fuzzer's the seq of its own.
    const mateSeqs: unknown[] = [];
    for (const { seq: _theirs, ...expected } of toMate) {
      const { seq, ...got } = await mate.next((frame) => frame.message_id === expected.message_id);
      assert.deepEqual(got, expected);
      mateSeqs.push(seq);
    }
    assert.deepEqual(
      mateSeqs,
      toMate.map((_, i) => i + 1),
      "mate's inbox numbers them 1, 2, 3, …",
    );
    await mate.expectOnlyPong();
    await bystander.expectOnlyPong();
    const stored = await wholeHistory(stack.deps.messages, 'fz');
    assert.deepEqual(
      stored.map((message) => message.message_id),
      toRoom.map((frame) => frame.message_id),
    );
    assert.equal(await wholeHistory(stack.deps.messages, 'elsewhere').then((list) => list.length), 0);

    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeNames.object);
    assert.deepEqual(Object.getOwnPropertyNames(Array.prototype).sort(), prototypeNames.array);
    assert.deepEqual(Object.getOwnPropertyNames(Function.prototype).sort(), prototypeNames.function);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('answers a read past the end of the room with an empty page, not an internal error', async () => {
    // The fuzzer may have unsubscribed from its room along the way.
    assert.equal((await fuzz.request({ action: 'subscribe', room_id: 'fz' })).action, 'subscribed');
    fuzz.send({ action: 'getHistory', room_id: 'fz', after_seq: Number.MAX_SAFE_INTEGER });
    const reply = await fuzz.next();
    assert.deepEqual(
      [reply.action, reply.messages, reply.has_more, reply.through_seq],
      ['history', [], false, Number.MAX_SAFE_INTEGER],
    );
    // The room's real newest seq: one per message, and one per retry of a client_msg_id (voided at once).
    const toRoom = sentByFuzz.message.filter((frame) => frame.room_id === 'fz').length;
    assert.ok(Number(reply.latest_seq) >= toRoom, String(reply.latest_seq));
    assert.ok(Number(reply.latest_seq) < 10_000, String(reply.latest_seq));
  });
});

describe('frames the gateway refuses', () => {
  async function expectClosedAndCleanedUp(client: ChatClient, user: string, code: number): Promise<void> {
    await eventually(
      async () => client.closeCode,
      (closeCode) => closeCode !== undefined,
    );
    assert.equal(client.closeCode, code);
    // `$disconnect` ran: the record is gone.
    await eventually(
      () => stack.deps.connections.userConnectionIds(user),
      (ids) => ids.length === 0,
    );
  }

  it('closes on a message over the size limit (1009), runs $disconnect, and serves the others', async () => {
    const bystander = await join('by-1009', 'big');
    const big = await join('big-sender', 'big');
    big.send(JSON.stringify({ action: 'sendMessage', message: 'x'.repeat(130 * 1024) }));
    await expectClosedAndCleanedUp(big, 'big-sender', 1009);
    await bystander.expectOnlyPong();
  });

  it('closes on a binary frame (1003) and runs $disconnect', async () => {
    const client = await join('binary-sender', 'bin');
    client.socket.send(Buffer.from(JSON.stringify({ action: 'ping' })), { binary: true });
    await expectClosedAndCleanedUp(client, 'binary-sender', 1003);
  });

  it('closes on a text frame that is not UTF-8 (1007) and runs $disconnect', async () => {
    const client = await join('utf8-sender', 'utf8');
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    await expectClosedAndCleanedUp(client, 'utf8-sender', 1007);
  });
});

describe('prototype names as identities', () => {
  it('connect, post, list members and message each other', async () => {
    const proto = await join('__proto__', 'proto-room');
    const ctor = await join('constructor', 'proto-room');
    const own = await join('hasOwnProperty', 'proto-room');
    proto.send({ action: 'sendMessage', message: 'hi', client_msg_id: '__proto__' });
    for (const client of [proto, ctor, own]) {
      const frame = await client.next();
      assert.deepEqual([frame.action, frame.user_id, frame.message], ['message', '__proto__', 'hi']);
    }
    ctor.send({ action: 'listMembers' });
    const members = await ctor.next();
    assert.deepEqual(members.users, [
      { user_id: '__proto__', connections: 1 },
      { user_id: 'constructor', connections: 1 },
      { user_id: 'hasOwnProperty', connections: 1 },
    ]);
    own.send({ action: 'sendDirect', to_user_id: 'constructor', message: 'psst' });
    assert.equal((await ctor.next()).message, 'psst');
    assert.equal((await own.next()).message, 'psst');
    await proto.expectOnlyPong();
  });
});

describe('valid sends', () => {
  it('reach exactly the connections of the sender room, once, and are stored once', async () => {
    // Room "va": alice twice and bob; room "vb": carol and alice's third connection.
    const conns = [
      { client: await join('alice', 'va'), room: 'va' },
      { client: await join('alice', 'va'), room: 'va' },
      { client: await join('bob', 'va'), room: 'va' },
      { client: await join('carol', 'vb'), room: 'vb' },
      { client: await join('alice', 'vb'), room: 'vb' },
    ];
    const acked: Frame[] = [];
    let sends = 0;
    const message = fc
      .oneof(text, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }))
      .filter((value) => value.length > 0 && [...value].length <= MAX_CHARS);
    const send = fc.record({
      from: fc.nat({ max: conns.length - 1 }),
      message,
      withId: fc.boolean(),
      retry: fc.boolean(),
    });

    await fc.assert(
      fc.asyncProperty(fc.array(send, { minLength: 1, maxLength: 3 }), async (batch) => {
        for (const { from, message: body, withId, retry } of batch) {
          const sender = conns[from] as (typeof conns)[number];
          const deliveredBefore = metrics.totals.get(METRIC.deliveriesSucceeded) ?? 0;
          const frame = {
            action: 'sendMessage',
            message: body,
            ...(withId && { client_msg_id: `v-${sends}` }),
          };
          sends++;
          sender.client.send(frame);
          const own = await sender.client.next();
          assert.equal(own.action, 'message', JSON.stringify(own));
          assert.equal(own.message, body);
          assert.equal(own.room_id, sender.room);
          acked.push(own);
          const roommates = conns.filter((conn) => conn.room === sender.room && conn !== sender);
          for (const mate of roommates) {
            assert.deepEqual(await mate.client.next(), own);
          }
          // The fan-out has finished once its deliveries are counted; only then can a stray post be ruled out.
          await eventually(
            async () => metrics.totals.get(METRIC.deliveriesSucceeded) ?? 0,
            (total) => total === deliveredBefore + roommates.length + 1,
          );
          if (withId && retry) {
            sender.client.send(frame);
            assert.deepEqual(await sender.client.next(), own, 'a retry is answered with the first message');
          }
          for (const conn of conns)
            assert.equal(conn.client.frames.length, 0, 'a frame reached another room');
        }
      }),
      { numRuns: 60 },
    );
    await Promise.all(conns.map((conn) => conn.client.expectOnlyPong()));

    for (const room of ['va', 'vb']) {
      const stored = await wholeHistory(stack.deps.messages, room);
      const expected = acked.filter((frame) => frame.room_id === room);
      assert.deepEqual(
        stored.map((message) => [message.message_id, message.message]),
        expected.map((frame) => [frame.message_id, frame.message]),
        `room ${room}: each acknowledged message stored once, in order`,
      );
    }
  });
});

describe('fitting a page into one frame', () => {
  /** The obvious version: re-serialize after each drop. */
  function naiveFit(items: unknown[]): number {
    const list = [...items];
    const encoder = new TextEncoder();
    while (
      list.length > 0 &&
      encoder.encode(JSON.stringify({ action: 'history', messages: list })).length > MAX_MESSAGE_BYTES
    )
      list.pop();
    return list.length;
  }

  it('keeps as many items as fit, like re-serializing after each drop would', () => {
    const message = fc.string({ unit: 'binary', minLength: 200, maxLength: 4000, size: 'max' });
    const item = fc.record({ message, n: fc.nat() });
    let trimmedRuns = 0;
    fc.assert(
      fc.property(fc.array(item, { maxLength: 100, size: 'max' }), (items) => {
        const { frame, trimmed } = fitToMessage({ action: 'history', messages: items }, 'messages');
        assert.equal(frame.messages.length, naiveFit(items));
        assert.equal(trimmed, frame.messages.length < items.length);
        if (trimmed) trimmedRuns++;
      }),
      { numRuns: 15 },
    );
    assert.ok(trimmedRuns > 0, 'no page needed trimming');
  });

  it('counts what a trimmed frame adds (a flag, a cursor) against the limit, and drops no more than it must', () => {
    const item = fc.record({ user_id: fc.string({ minLength: 40, maxLength: 128 }), connections: fc.nat(9) });
    let trimmedRuns = 0;
    fc.assert(
      fc.property(fc.array(item, { minLength: 1500, maxLength: 3000 }), fc.nat(200), (users, extra) => {
        const mark = <T extends { users: unknown[] }>(kept: T) => ({
          ...kept,
          truncated: true,
          pad: 'p'.repeat(extra),
        });
        const { frame, trimmed } = fitToMessage({ action: 'members', users }, 'users', mark);
        const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
        assert.ok(size(frame) <= MAX_MESSAGE_BYTES, `${size(frame)} bytes`);
        if (!trimmed) return;
        trimmedRuns++;
        assert.equal((frame as { truncated?: boolean }).truncated, true);
        const oneMore = mark({ action: 'members', users: users.slice(0, frame.users.length + 1) });
        assert.ok(size(oneMore) > MAX_MESSAGE_BYTES, 'dropped an item that fitted');
      }),
      { numRuns: 15 },
    );
    assert.ok(trimmedRuns > 0, 'no list needed trimming');
  });

  it('serializes a page of maximal messages a bounded number of times', () => {
    const messages = Array.from({ length: 100 }, (_, i) => ({ message: '😀'.repeat(MAX_CHARS), i }));
    const pageChars = JSON.stringify(messages).length;
    const stringify = JSON.stringify;
    let serialized = 0;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      const out = stringify(...args);
      serialized += out?.length ?? 0;
      return out;
    }) as typeof stringify;
    try {
      const { frame, trimmed } = fitToMessage({ action: 'history', messages }, 'messages');
      assert.ok(trimmed);
      assert.ok(frame.messages.length > 0);
    } finally {
      JSON.stringify = stringify;
    }
    // Linear: the page about twice. Re-serializing after each drop would be about 45 pages here.
    assert.ok(
      serialized < 3 * pageChars,
      `${serialized} characters serialized for a ${pageChars}-character page`,
    );
  });
});
