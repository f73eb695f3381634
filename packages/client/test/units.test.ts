import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { catchUp, FIRST_ID, MessageStream, rewind } from '../src/catch-up.js';
import { Emitter } from '../src/client.js';
import { backoffDelay, checkToken, decodeJwtPayload } from '../src/connection.js';
import { connect } from '../src/index.js';
import { CATCH_UP_PAGE_LIMIT, DEFAULTS, REMEMBERED_IDS } from '../src/options.js';
import { MAX_HISTORY_LIMIT, MESSAGE_ID_PATTERN, type MessageFrame } from '../src/protocol.js';

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

function message(id: string, text = id): MessageFrame {
  return { action: 'message', room_id: 'r', user_id: 'u', message: text, message_id: id, timestamp: '' };
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
    const outside = checkToken(limited, 'c', now);
    assert.equal(!outside.ok && outside.reason, 'forbidden');
    assert.equal(checkToken('not a jwt', 'lobby', now).ok, false);
  });

  it('decodes base64url payloads with UTF-8 text', () => {
    const payload = base64url({ sub: 'zoë/élan?', exp: 1 });
    assert.deepEqual(decodeJwtPayload(`x.${payload}.y`), { sub: 'zoë/élan?', exp: 1 });
    assert.equal(decodeJwtPayload('x.!!!.y'), undefined);
  });
});

describe('cursor', () => {
  it('rewinds a ULID by whole milliseconds to the smallest id of that time', () => {
    const id = '01ARZ3NDEKTSV4RRFFQ69G5FAV'; // 1469922850259 ms
    const back = rewind(id, 1000);
    assert.match(back, MESSAGE_ID_PATTERN);
    assert.equal(back, `01ARZ3NCFB${'0'.repeat(16)}`);
    assert.ok(back < id);
    assert.equal(rewind(id, 0) < id, true);
    assert.equal(rewind(id, Number.MAX_SAFE_INTEGER), FIRST_ID);
    assert.equal(rewind('not-a-ulid', 1000), 'not-a-ulid');
  });

  it('pages with the largest limit the protocol allows', () => {
    assert.equal(CATCH_UP_PAGE_LIMIT, MAX_HISTORY_LIMIT);
  });
});

describe('message stream', () => {
  it('hands over each message once; held live messages merge with the catch-up in id order', () => {
    const seen: string[] = [];
    const stream = new MessageStream<MessageFrame>((frame) => seen.push(frame.message_id));
    stream.live(message('A1'));
    stream.hold();
    stream.live(message('A5'));
    stream.live(message('A3'));
    assert.deepEqual(seen, ['A1']);
    stream.release([message('A1'), message('A2'), message('A3'), message('A4')]);
    assert.deepEqual(seen, ['A1', 'A2', 'A3', 'A4', 'A5']);
    stream.live(message('A4'));
    assert.deepEqual(seen, ['A1', 'A2', 'A3', 'A4', 'A5']);
    assert.equal(stream.newest, 'A5');
  });

  it('has no cursor before it has a start, and never reads before its start', async () => {
    const stream = new MessageStream<MessageFrame>(() => {});
    assert.equal(stream.cursor(1000), undefined);
    const queries: unknown[] = [];
    const caughtUp = await catchUp(
      stream,
      async (query) => {
        queries.push(query);
        return { action: 'history', messages: [], has_more: false };
      },
      { initial: 0, overlapMs: 1000 },
    );
    assert.deepEqual(caughtUp, []);
    assert.deepEqual(queries, [{ limit: 1 }]);
    assert.equal(stream.cursor(1000), FIRST_ID);

    const started = new MessageStream<MessageFrame>(() => {}, '01ARZ3NDEKTSV4RRFFQ69G5FAV');
    started.live(message('01ARZ3NDEMAAAAAAAAAAAAAAAA'));
    assert.equal(
      started.cursor(60_000),
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'the start, not the overlap before it',
    );
    assert.equal(started.cursor(0), '01ARZ3NDEM0000000000000000');
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
    assert.throws(() => connect({ ...base, catchUp: { after: 'not-an-id' } }), /catchUp.after/);
    assert.throws(
      () => connect({ ...base, catchUp: { directAfter: '01arz3ndektsv4rrffq69g5fav' } }),
      TypeError,
    );
    const valid = connect({
      ...base,
      catchUp: { initial: MAX_HISTORY_LIMIT, after: '01ARZ3NDEKTSV4RRFFQ69G5FAV', directAfter: undefined },
    });
    valid.close();
  });
});

describe('defaults', () => {
  /** The defaults by option name (they are unique across ConnectOptions, ReconnectOptions and CatchUpOptions). */
  const { reconnect: reconnectDefaults, catchUp: catchUpDefaults, ...connectDefaults } = DEFAULTS;
  const defaults: Record<string, number> = { ...connectDefaults, ...reconnectDefaults, ...catchUpDefaults };

  it('are the ones the README lists, in its option tables and its prose', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    // Rows like "| `heartbeatMs` | 300 000 | meaning |"; a default that is a number (or ∞) is ours to check.
    const documented: Record<string, number> = {};
    for (const [, name = '', cell = ''] of readme.matchAll(/^\| `(\w+)` +\| ([\d ]+|∞) +\|/gm)) {
      documented[name] = cell === '∞' ? Number.POSITIVE_INFINITY : Number(cell.replaceAll(' ', ''));
    }
    assert.deepEqual(documented, defaults);
    const remembered = `${(REMEMBERED_IDS / 2).toLocaleString('en-US')} to ${REMEMBERED_IDS.toLocaleString('en-US')} ids`;
    assert.ok(readme.includes(remembered), `the README says it remembers ${remembered}`);
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
