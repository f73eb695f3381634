import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIENT_ACTIONS,
  isRoomClaimEntry,
  isRoomId,
  parseClientFrame,
  roomAllowed,
} from '../../src/protocol.ts';

const limits = { maxMessageChars: 10 };

describe('parseClientFrame', () => {
  it('accepts a sendMessage frame and keeps optional fields', () => {
    const result = parseClientFrame(
      JSON.stringify({ action: 'sendMessage', message: 'hi', room_id: 'r1', client_msg_id: 'c1' }),
      limits,
    );
    assert.deepEqual(result, {
      ok: true,
      frame: { action: 'sendMessage', message: 'hi', room_id: 'r1', client_msg_id: 'c1' },
    });
  });

  it('ignores unknown fields rather than refusing newer clients', () => {
    const result = parseClientFrame(JSON.stringify({ action: 'ping', extra: 1 }), limits);
    assert.deepEqual(result, { ok: true, frame: { action: 'ping' } });
  });

  for (const [name, body, code] of [
    ['not JSON', '{nope', 'BAD_REQUEST'],
    ['empty body', undefined, 'BAD_REQUEST'],
    ['an array', '[1]', 'BAD_REQUEST'],
    ['no action', '{"message":"x"}', 'BAD_REQUEST'],
    ['unknown action', '{"action":"shout"}', 'UNKNOWN_ACTION'],
    ['missing message', '{"action":"sendMessage"}', 'BAD_REQUEST'],
    ['empty message', '{"action":"sendMessage","message":""}', 'BAD_REQUEST'],
    ['message not a string', '{"action":"sendMessage","message":5}', 'BAD_REQUEST'],
    ['malformed room_id', '{"action":"sendMessage","message":"x","room_id":"a b"}', 'BAD_REQUEST'],
    [
      'too long client_msg_id',
      JSON.stringify({ action: 'sendMessage', message: 'x', client_msg_id: 'c'.repeat(65) }),
      'BAD_REQUEST',
    ],
    [
      'message over the limit',
      JSON.stringify({ action: 'sendMessage', message: 'x'.repeat(11) }),
      'TOO_LARGE',
    ],
  ] as const) {
    it(`refuses ${name} with ${code}`, () => {
      const result = parseClientFrame(body, limits);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.code, code);
        assert.ok(result.message.length > 0);
      }
    });
  }

  it('counts characters, not UTF-16 units, against the limit', () => {
    const tenEmoji = '😀'.repeat(10);
    assert.equal(
      parseClientFrame(JSON.stringify({ action: 'sendMessage', message: tenEmoji }), limits).ok,
      true,
    );
  });

  it('does not echo a huge unknown action back', () => {
    const result = parseClientFrame(JSON.stringify({ action: 'x'.repeat(5000) }), limits);
    assert.ok(!result.ok && result.message.length < 100);
  });

  it('lists the client actions', () => {
    assert.deepEqual([...CLIENT_ACTIONS].sort(), [
      'getHistory',
      'listMembers',
      'ping',
      'sendDirect',
      'sendMessage',
      'subscribe',
      'unsubscribe',
    ]);
  });
});

describe('isRoomId', () => {
  it('accepts 1-64 of [A-Za-z0-9_.:-]', () => {
    for (const id of ['r', 'room-1', 'a.b:c_d', 'x'.repeat(64)]) assert.equal(isRoomId(id), true, id);
  });
  it('refuses anything else', () => {
    for (const id of ['', 'x'.repeat(65), 'a b', 'a/b', 'ä', undefined, 5])
      assert.equal(isRoomId(id), false, String(id));
  });
});

describe('the rooms claim', () => {
  it('allows exact ids and prefix patterns, and nothing else', () => {
    const claim = ['lobby', 'team-42:*'];
    const cases: Array<[string, boolean]> = [
      ['lobby', true],
      ['lobby2', false],
      ['Lobby', false],
      ['team-42:general', true],
      ['team-42:', true],
      ['team-42', false],
      ['team-4', false],
      ['team-43:general', false],
    ];
    for (const [room, allowed] of cases) assert.equal(roomAllowed(claim, room), allowed, room);
    assert.equal(roomAllowed(undefined, 'anything'), true, 'no claim: any room');
    assert.equal(roomAllowed([], 'lobby'), false, 'an empty claim: no room');
    assert.equal(roomAllowed(['*'], 'anything'), true);
  });

  it('knows a well-formed entry: a room id, or room-id characters and one * at the end', () => {
    for (const entry of ['lobby', '*', 'team-42:*', `${'a'.repeat(63)}*`, 'a.b_c-d:*'])
      assert.equal(isRoomClaimEntry(entry), true, entry);
    for (const entry of ['', 'te*am', '**', '*a', 'a b', 'a#b*', `${'a'.repeat(64)}*`, 42, null])
      assert.equal(isRoomClaimEntry(entry), false, String(entry));
  });
});
