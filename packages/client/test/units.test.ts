import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { backoffDelay, checkToken, decodeJwtPayload } from '../src/connection.js';
import { Emitter } from '../src/events.js';
import { connect } from '../src/index.js';
import { DEFAULTS } from '../src/options.js';
import { type HistoryFrame, MAX_HISTORY_LIMIT, type MessageFrame } from '../src/protocol.js';
import { OrderedStream, type Repair } from '../src/stream.js';

/** A JWT as the client sees one: it reads the claims and never verifies the signature (only the server can). */
function token(sub: string, claims: { expiresInSeconds?: number; rooms?: string[] } = {}): string {
  const exp = Math.floor(Date.now() / 1000) + (claims.expiresInSeconds ?? 3600);
  const payload = { sub, exp, ...(claims.rooms && { rooms: claims.rooms }) };
  return `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}.signature`;
}

/** A JWT part: JSON in base64url, UTF-8 included. */
function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function message(seq: number): MessageFrame {
  return {
    action: 'message',
    room_id: 'r',
    user_id: 'u',
    message: `m${seq}`,
    message_id: `id${seq}`,
    seq,
    timestamp: '',
  };
}

describe('backoff', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000 };

  it('doubles the ceiling per failure up to the maximum, with full jitter below it', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, () => 0.999999));
    assert.deepEqual(ceilings, [99, 199, 399, 799, 999, 999]);
    assert.equal(
      backoffDelay(3, options, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(3, options, () => 0.5),
      200,
    );
  });
});

describe('token check', () => {
  it('reads sub, and refuses an expired token or a room outside the rooms claim', async () => {
    const now = Date.now();
    assert.deepEqual(checkToken(token('ann'), 'lobby', now), {
      ok: true,
      userId: 'ann',
    });
    assert.deepEqual(checkToken(token('ann', { expiresInSeconds: -1 }), 'lobby', now), {
      ok: false,
      reason: 'unauthorized',
      detail: 'the token has expired',
    });
    const limited = token('ann', { rooms: ['a', 'b'] });
    assert.equal(checkToken(limited, 'b', now).ok, true);
    // Without a default room nothing is refused up front; the rooms claim is kept to check each room taken.
    assert.deepEqual(checkToken(limited, undefined, now), { ok: true, userId: 'ann', rooms: ['a', 'b'] });
    const outside = checkToken(limited, 'c', now);
    assert.equal(!outside.ok && outside.reason, 'forbidden');
    assert.equal(checkToken('not a jwt', 'lobby', now).ok, false);
    // Prefix patterns, as the server reads them (roomAllowed in the protocol module, shared by both).
    const team = token('ann', { rooms: ['team-42:*'] });
    assert.equal(checkToken(team, 'team-42:general', now).ok, true);
    const otherTeam = checkToken(team, 'team-43:general', now);
    assert.equal(!otherTeam.ok && otherTeam.reason, 'forbidden');
    const malformed = checkToken(token('ann', { rooms: ['te*am'] }), undefined, now);
    assert.equal(!malformed.ok && malformed.reason, 'unauthorized', 'the server would refuse it with 401');
  });

  it('decodes base64url payloads with UTF-8 text', () => {
    const payload = base64url({ sub: 'zoë/élan?', exp: 1 });
    assert.deepEqual(decodeJwtPayload(`x.${payload}.y`), { sub: 'zoë/élan?', exp: 1 });
    assert.equal(decodeJwtPayload('x.!!!.y'), undefined);
  });
});

/** A stream over a fake history: `stored` is what the server has; `settled` how far its seqs are settled. */
function streamOver(
  stored: number[],
  options: { settled?: number; maxBuffered?: number; start?: number; joined?: number } = {},
) {
  const server = { stored: new Set(stored), settled: options.settled ?? Number.POSITIVE_INFINITY };
  const handed: number[] = [];
  const repairs: Repair[] = [];
  const reads: string[] = [];
  const latest = () => Math.max(0, ...server.stored);
  const stream = new OrderedStream<MessageFrame>(
    'room',
    { deliver: (frame) => handed.push(frame.seq), repaired: (repair) => repairs.push(repair) },
    {
      after: async (afterSeq) => {
        reads.push(`after ${afterSeq}`);
        const through = Math.min(latest(), server.settled);
        const seqs = [...server.stored]
          .filter((seq) => seq > afterSeq && seq <= through)
          .sort((a, b) => a - b);
        return page(seqs.map(message), { through_seq: Math.max(afterSeq, through), latest_seq: latest() });
      },
      before: async (beforeSeq, limit) => {
        reads.push(`before ${beforeSeq} ${limit}`);
        const seqs = [...server.stored]
          .filter((seq) => beforeSeq === undefined || seq < beforeSeq)
          .sort((a, b) => b - a)
          .slice(0, limit);
        return page(seqs.map(message), { latest_seq: latest() });
      },
      joined: async () => {
        reads.push('joined');
        return options.joined;
      },
      ownSendsSettled: async () => {
        reads.push('own sends');
      },
    },
    { repairDelayMs: 1000, maxRetryDelayMs: 4000, maxBuffered: options.maxBuffered ?? 100 },
    options.start,
  );
  return { server, stream, handed, repairs, reads };
}

function page(messages: MessageFrame[], fields: Partial<HistoryFrame>): HistoryFrame {
  return { action: 'history', room_id: 'r', messages, latest_seq: 0, has_more: false, ...fields };
}

/** Lets the stream's pending reads settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ordered stream', () => {
  it('hands frames over in seq order, each once, holding one that arrives ahead of a missing one', () => {
    const { stream, handed, reads } = streamOver([], { start: 0 });
    for (const seq of [1, 3, 4, 2, 2, 1, 5]) stream.live(message(seq));
    assert.deepEqual(handed, [1, 2, 3, 4, 5]);
    assert.deepEqual(reads, [], 'a gap that filled in time costs no read');
    assert.equal(stream.position, 5);
  });

  it('repairs a gap that does not fill within repairDelayMs from history, and reports it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { stream, handed, repairs, reads } = streamOver([1, 2, 3, 4], { start: 1 });
    stream.live(message(4));
    t.mock.timers.tick(999);
    await settle();
    assert.deepEqual(handed, []);
    t.mock.timers.tick(1);
    await settle();
    assert.deepEqual(reads, ['after 1']);
    assert.deepEqual(handed, [2, 3, 4]);
    assert.deepEqual(repairs, [{ stream: 'room', reason: 'gap', recovered: 2, skipped: 0 }]);
  });

  it('waits for a seq the server has not settled, then skips it once settled empty', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    // Seq 2 was taken and never written; the server settles it only later.
    const { server, stream, handed, repairs, reads } = streamOver([1, 3], { start: 1, settled: 1 });
    stream.live(message(3));
    t.mock.timers.tick(1000);
    await settle();
    assert.deepEqual([reads, handed], [['after 1'], []]);
    t.mock.timers.tick(1000);
    await settle();
    assert.deepEqual(reads, ['after 1', 'after 1'], 'asked again after a wait');
    server.settled = 3;
    t.mock.timers.tick(2000);
    await settle();
    assert.deepEqual(handed, [3]);
    assert.deepEqual(repairs, [{ stream: 'room', reason: 'gap', recovered: 0, skipped: 1 }]);
  });

  it('reads a missed tail when a heartbeat reports a newer seq, with no message arriving', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { stream, handed, repairs } = streamOver([1, 2, 3], { start: 1 });
    stream.latest(1);
    t.mock.timers.tick(5000);
    await settle();
    assert.deepEqual(handed, [], 'nothing missed, nothing read');
    stream.latest(3);
    t.mock.timers.tick(1000);
    await settle();
    assert.deepEqual(handed, [2, 3]);
    assert.deepEqual(repairs, [{ stream: 'room', reason: 'heartbeat', recovered: 2, skipped: 0 }]);
  });

  it('holds at most maxBuffered frames; the ones dropped are read from history', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { stream, handed } = streamOver([1, 2, 3, 4, 5, 6], { start: 1, maxBuffered: 2 });
    for (const seq of [3, 4, 5, 6]) stream.live(message(seq));
    t.mock.timers.tick(1000);
    await settle();
    assert.deepEqual(handed, [2, 3, 4, 5, 6]);
  });

  it('starts `initial` seqs below where the stream stood when it was joined, and reads forward from there', async () => {
    // Seqs 1–4 were stored before the join; 5 after, and it arrives live before the start is known.
    const fresh = streamOver([1, 2, 3, 4, 5], { joined: 4 });
    fresh.stream.live(message(5));
    await fresh.stream.catchUp(2);
    assert.deepEqual(fresh.reads, ['own sends', 'joined', 'after 2']);
    assert.deepEqual(fresh.handed, [3, 4, 5], 'the two newest before joining, then the live frame');
    assert.deepEqual(fresh.repairs, [], 'the start is not a repair');

    // A message stored after joining and before the start was read is not lost: it is above the start.
    const racing = streamOver([1, 2, 3], { joined: 1 });
    await racing.stream.catchUp(0);
    assert.deepEqual([racing.reads, racing.stream.position], [['own sends', 'joined'], 1]);
    racing.stream.live(message(3));
    racing.stream.live(message(2));
    assert.deepEqual(racing.handed, [2, 3]);
    racing.stream.stop();

    // Seq 4 was taken before the join and is still being written while 5 is stored: above the start, it is
    // handed over in its place once it comes, not skipped because a newer message was already stored.
    const slowWriter = streamOver([1, 2, 3, 5], { joined: 5, settled: 3 });
    const catching = slowWriter.stream.catchUp(2);
    await settle();
    assert.deepEqual(slowWriter.handed, [], 'waiting for seq 4');
    slowWriter.stream.live(message(4));
    slowWriter.server.stored.add(4);
    slowWriter.server.settled = Number.POSITIVE_INFINITY;
    await catching;
    assert.deepEqual(slowWriter.handed, [4, 5]);

    // At or below the start a seq is before it, even one still being written at the join (here with initial 0).
    const atStart = streamOver([1, 2, 3, 4, 5], { joined: 6 });
    await atStart.stream.catchUp(0);
    assert.equal(atStart.stream.position, 6);
    atStart.stream.live(message(6));
    assert.deepEqual(atStart.handed, []);
    atStart.stream.stop();

    // A server that does not say: after the newest stored message.
    const older = streamOver([1, 2, 3, 4]);
    await older.stream.catchUp(0);
    assert.deepEqual(
      [older.reads, older.stream.position, older.handed],
      [['own sends', 'joined', 'before undefined 1'], 4, []],
    );

    // A first connection whose catch-up was cut off received seq 2 (its own send's answer, say); the start on
    // the next connection, which joined at 3, is placed below it, so 2 and 3 are handed over.
    const cutOff = streamOver([1, 2, 3], { joined: 3 });
    cutOff.stream.live(message(2));
    await cutOff.stream.catchUp(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await settle();
    assert.deepEqual([cutOff.handed, cutOff.stream.position], [[2, 3], 3]);

    const resumed = streamOver([1, 2, 3, 4], { start: 2 });
    await resumed.stream.catchUp(0);
    assert.deepEqual([resumed.reads, resumed.handed], [['after 2'], [3, 4]]);
    assert.deepEqual(resumed.repairs, [{ stream: 'room', reason: 'reconnect', recovered: 2, skipped: 0 }]);
  });

  it('follows a stream that starts over below its position (a replaced table)', async () => {
    const { stream, handed } = streamOver([1, 2], { start: 40 });
    await stream.catchUp(0);
    assert.equal(stream.position, 2);
    stream.live(message(3));
    assert.deepEqual(handed, [3]);
  });
});

describe('emitter', () => {
  it('keeps calling listeners when one throws, and hands the error over', () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<{ ping: number }>((error) => errors.push(error));
    const got: number[] = [];
    emitter.on('ping', () => {
      throw new Error('listener bug');
    });
    const off = emitter.on('ping', (n) => got.push(n));
    emitter.emit('ping', 1);
    off();
    emitter.emit('ping', 2);
    assert.deepEqual(got, [1]);
    assert.deepEqual(
      errors.map((error) => (error as Error).message),
      ['listener bug', 'listener bug'],
    );
  });
});

describe('connect', () => {
  const base = { url: 'ws://127.0.0.1:1/dev', room: 'lobby', token: 'x', WebSocket: class {} as never };

  it('refuses unusable options at once, before any connection attempt', () => {
    assert.throws(() => connect({ ...base, url: 'http://127.0.0.1/dev' }), TypeError);
    assert.throws(() => connect({ ...base, room: 'no spaces' }), TypeError);
    assert.throws(() => connect({ ...base, getToken: () => 'y' }), /either token or getToken/);
    assert.throws(() => connect({ ...base, token: undefined }), /either token or getToken/);
  });

  it('refuses catch-up options the server would refuse, which would reconnect forever', () => {
    for (const initial of [MAX_HISTORY_LIMIT + 1, -1, 1.5]) {
      assert.throws(
        () => connect({ ...base, catchUp: { initial } }),
        /catchUp.initial/,
        `initial: ${initial}`,
      );
    }
    assert.throws(() => connect({ ...base, catchUp: { afterSeq: -1 } }), /catchUp.afterSeq/);
    assert.throws(() => connect({ ...base, catchUp: { directAfterSeq: 1.5 } }), /catchUp.directAfterSeq/);
    for (const maxSendsInFlight of [0, 1.5, -1]) {
      assert.throws(() => connect({ ...base, maxSendsInFlight }), /maxSendsInFlight/);
    }
    const valid = connect({
      ...base,
      maxSendsInFlight: 4,
      catchUp: { initial: MAX_HISTORY_LIMIT, afterSeq: 12, directAfterSeq: undefined },
    });
    valid.close();
  });
});

describe('defaults', () => {
  /** The defaults by option name (unique across ConnectOptions and its groups: reconnect, catchUp, handover). */
  const { reconnect, catchUp, handover, ...connectDefaults } = DEFAULTS;
  const defaults: Record<string, number> = { ...connectDefaults, ...reconnect, ...catchUp, ...handover };

  it('are the ones the README lists, in its option tables and its prose', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    // Rows like "| `heartbeatMs` | 300 000 | meaning |"; a default that is a number (or ∞) is ours to check.
    const documented: Record<string, number> = {};
    for (const [, name = '', cell = ''] of readme.matchAll(/^\| `(\w+)` +\| ([\d ]+|∞) +\|/gm)) {
      documented[name] = cell === '∞' ? Number.POSITIVE_INFINITY : Number(cell.replaceAll(' ', ''));
    }
    assert.deepEqual(documented, defaults);
  });

  it("are the ones named in the options' doc comments", () => {
    const source = readFileSync(new URL('../src/options.ts', import.meta.url), 'utf8');
    const commented: Record<string, number> = {};
    // "/** … Default 30 000. */ maxDelayMs?:" (or "Default: never.", no default at all)
    for (const [, text = '', name = ''] of source.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)\?:/g)) {
      const stated = /Default(?:: never| ([\d ]+))\./.exec(text);
      if (stated)
        commented[name] = stated[1] ? Number(stated[1].replaceAll(' ', '')) : Number.POSITIVE_INFINITY;
    }
    assert.deepEqual(commented, defaults);
  });
});
