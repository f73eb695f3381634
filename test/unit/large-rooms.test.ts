import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LargeRooms } from '../../src/rooms.ts';

describe('LargeRooms', () => {
  it('remembers a room until its time is up', () => {
    let now = 1_000;
    const rooms = new LargeRooms({ ttlMs: 30_000, now: () => now });
    assert.equal(rooms.has('lobby'), false);
    rooms.add('lobby');
    now += 29_999;
    assert.equal(rooms.has('lobby'), true);
    now += 1;
    assert.equal(rooms.has('lobby'), false);
  });

  it('adding again restarts the time; past maxRooms the oldest is forgotten', () => {
    let now = 0;
    const rooms = new LargeRooms({ ttlMs: 100, now: () => now, maxRooms: 2 });
    rooms.add('a');
    now = 50;
    rooms.add('a');
    now = 120;
    assert.equal(rooms.has('a'), true, 'renewed at 50, so good until 150');
    rooms.add('b');
    rooms.add('c');
    assert.deepEqual(
      ['a', 'b', 'c'].map((room) => rooms.has(room)),
      [false, true, true],
    );
  });
});
