import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameLimiter, type FrameLimits } from '../../src/frame-limiter.ts';

const LIMITS: FrameLimits = {
  framesPerSecond: 10,
  frameBurst: 20,
  bytesPerSecond: 1000,
  byteBurst: 4000,
  closeAfterRefusals: 50,
};

function limiter(limits: Partial<FrameLimits> = {}, maxConnections?: number) {
  const clock = { now: 0 };
  const frames = new FrameLimiter(
    { ...LIMITS, ...limits },
    { now: () => clock.now, ...(maxConnections && { maxConnections }) },
  );
  const burst = (id: string, count: number, bytes = 10) =>
    Array.from({ length: count }, () => frames.check(id, bytes));
  return { clock, frames, burst };
}

describe('FrameLimiter', () => {
  it('admits a burst, then the rate, per connection', () => {
    const { clock, frames, burst } = limiter();
    assert.deepEqual(new Set(burst('a', 20)), new Set(['admit']));
    assert.equal(frames.check('a', 10), 'refuse');
    assert.equal(frames.check('b', 10), 'admit', 'another connection has its own bucket');
    assert.equal(frames.retryAfterMs('a', 10), 100);
    clock.now += 100;
    assert.equal(frames.check('a', 10), 'admit');
    assert.equal(frames.check('a', 10), 'refuse');
    clock.now += 10_000;
    assert.equal(
      burst('a', 21).filter((verdict) => verdict === 'admit').length,
      20,
      'refilled to the burst only',
    );
  });

  it('limits bytes as well as frames', () => {
    const { clock, frames } = limiter();
    assert.equal(frames.check('a', 3000), 'admit');
    assert.equal(frames.check('a', 3000), 'refuse');
    assert.equal(frames.retryAfterMs('a', 3000), 2000);
    clock.now += 2000;
    assert.equal(frames.check('a', 3000), 'admit');
  });

  it('answers the first 50 refusals of a minute, drops the rest, and closes on sustained abuse', () => {
    const { clock, frames, burst } = limiter({ closeAfterRefusals: 80 });
    burst('a', 20);
    const refused = burst('a', 80);
    assert.deepEqual(new Set(refused.slice(0, 50)), new Set(['refuse']));
    assert.deepEqual(new Set(refused.slice(50)), new Set(['drop']));
    assert.equal(frames.check('a', 10), 'close', 'the 81st refusal within a minute');
    clock.now += 120_000;
    assert.equal(frames.check('a', 10), 'drop', 'a closed connection stays closed');
    frames.forget('a');
    assert.equal(frames.check('a', 10), 'admit', 'forgotten once it is gone');

    // Refusals spread over minutes are not abuse.
    const slow = limiter({ closeAfterRefusals: 50 });
    slow.burst('b', 20);
    for (let minute = 0; minute < 5; minute++) {
      assert.ok(!slow.burst('b', 40).includes('close'));
      slow.clock.now += 60_000;
      slow.burst('b', 20);
    }
  });

  it('counts refusals per minute without windows: a burst split across a minute boundary is still abuse', () => {
    const { clock, burst } = limiter({ closeAfterRefusals: 100 });
    burst('a', 1);
    clock.now += 59_900;
    const before = burst('a', 80); // 20 admitted (the burst), 60 refused
    clock.now += 200;
    const after = burst('a', 60); // 2 admitted (the refill), 58 refused: 118 within a fraction of a second
    assert.ok(!before.includes('close'));
    assert.ok(after.includes('close'), 'a fixed window would have started over at 60 s');
  });

  it('tracks a bounded number of connections, forgetting the least recently seen', () => {
    const { frames, burst } = limiter({}, 3);
    burst('a', 20);
    burst('b', 20);
    burst('c', 20);
    assert.equal(frames.check('a', 10), 'refuse', 'a is still tracked (and now the most recent)');
    burst('d', 1);
    assert.equal(frames.check('b', 10), 'admit', 'b, the least recently seen, was forgotten');
  });
});
