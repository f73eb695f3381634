import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LargeRooms, PresenceBudget } from '../../src/rooms.ts';

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

describe('PresenceBudget', () => {
  it('lets a room have 10 frames at once, then 2 a second, and says how many it left out', () => {
    let now = 0;
    const budget = new PresenceBudget({ now: () => now });
    const taken = Array.from({ length: 12 }, (_, i) => budget.take('lobby', `u${i}`));
    assert.deepEqual(taken.slice(0, 10), Array(10).fill(0));
    assert.deepEqual(taken.slice(10), [undefined, undefined]);
    now += 500;
    assert.equal(budget.take('lobby', 'u99'), 2, 'one token back after 0.5 s; two events were left out');
    assert.equal(budget.take('other', 'u0'), 0, 'rooms have budgets of their own');
  });

  it('bounds what one user causes across many rooms: 20 frames at once, then 2 a second', () => {
    let now = 0;
    const budget = new PresenceBudget({ now: () => now });
    const rooms = Array.from({ length: 100 }, (_, i) => `room-${i}`);
    // One user subscribing and unsubscribing across 100 rooms, each room's own budget untouched.
    const sent = rooms.filter((room) => budget.take(room, 'churner') !== undefined).length;
    assert.equal(sent, 20);
    assert.equal(
      budget.take('room-50', 'someone-else'),
      1,
      'others still announce; the room says one was missed',
    );
    now += 10_000;
    const later = rooms.filter((room) => budget.take(room, 'churner') !== undefined).length;
    assert.equal(later, 20, 'refilled at 2 a second, up to the burst');
  });
});
