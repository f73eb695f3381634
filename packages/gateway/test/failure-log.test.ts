import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FAILURE_LOG_BURST,
  FAILURE_LOG_LINES_PER_SECOND,
  FAILURE_LOG_MAX_KINDS,
  FAILURE_LOG_SUMMARY_INTERVAL_MS,
  MAX_LOGGED_ERROR_CHARS,
} from '../src/constants.js';
import { describeError, FailureLog } from '../src/failure-log.js';
import type { GatewayLogger } from '../src/index.js';
import { ManualClock, QUIET, SECOND, startGateway, waitUntil } from './helpers.js';

interface Line {
  msg: string;
  extra: { error?: string; suppressed?: number; connectionId?: string; requestId?: string };
}

function recordingLogger(): { logger: GatewayLogger; errors: Line[] } {
  const errors: Line[] = [];
  return {
    logger: { ...QUIET, error: (msg, extra) => errors.push({ msg, extra: extra as Line['extra'] }) },
    errors,
  };
}

/** The count each summary line reports, added up. */
function suppressedIn(errors: Line[]): number {
  return errors.reduce((sum, line) => sum + (line.extra.suppressed ?? 0), 0);
}

// SPEC.md §8.5: what one client can make the gateway log is bounded, in lines and in memory.
test('failure log: the first failure of a kind with its stack, then a few lines a second and a summary', () => {
  const clock = new ManualClock();
  const { logger, errors } = recordingLogger();
  const log = new FailureLog(logger, clock);
  const failure = describeError(new TypeError('x is undefined'));
  for (let i = 0; i < 10_000; i++) log.report('sendMessage failed', failure, { requestId: String(i) });

  assert.equal(errors.length, 1 + FAILURE_LOG_BURST);
  assert.match(
    errors[0]?.extra.error ?? '',
    /^TypeError: x is undefined\n\s+at /,
    'the first one has the stack',
  );
  assert.equal(errors[0]?.extra.requestId, '0');
  for (const line of errors.slice(1)) assert.equal(line.extra.error, 'TypeError: x is undefined', 'no stack');

  clock.advance(FAILURE_LOG_SUMMARY_INTERVAL_MS);
  const summary = errors.at(-1);
  assert.equal(summary?.msg, `${10_000 - 1 - FAILURE_LOG_BURST} more failures suppressed`);
  assert.equal(errors.length, 2 + FAILURE_LOG_BURST);

  // The bucket refills on the clock; a quiet interval logs no summary.
  for (let i = 0; i < 100; i++) log.report('sendMessage failed', failure);
  assert.equal(errors.length, 2 + 2 * FAILURE_LOG_BURST, 'refilled to the burst after the interval');
  clock.advance(SECOND);
  for (let i = 0; i < 100; i++) log.report('sendMessage failed', failure);
  assert.equal(errors.length, 2 + 2 * FAILURE_LOG_BURST + FAILURE_LOG_LINES_PER_SECOND);
  clock.advance(FAILURE_LOG_SUMMARY_INTERVAL_MS);
  assert.equal(
    suppressedIn(errors),
    10_000 - 1 - FAILURE_LOG_BURST + 200 - FAILURE_LOG_BURST - FAILURE_LOG_LINES_PER_SECOND,
  );
  const lines = errors.length;
  clock.advance(10 * FAILURE_LOG_SUMMARY_INTERVAL_MS);
  assert.equal(errors.length, lines, 'no summary without suppressed failures');

  // Another kind (another route, or another message) gets its own first line with a stack.
  log.report('$disconnect failed', failure);
  log.report('sendMessage failed', describeError(new Error('other')));
  assert.match(errors.at(-2)?.extra.error ?? '', /\n\s+at /);
  assert.match(errors.at(-1)?.extra.error ?? '', /^Error: other\n\s+at /);
});

test('failure log: bounded memory and line length whatever the messages', () => {
  const clock = new ManualClock();
  const { logger, errors } = recordingLogger();
  const log = new FailureLog(logger, clock);
  // Every message distinct, and long: a handler that quotes the client's frame in its error.
  for (let i = 0; i < 10_000; i++)
    log.report('$default failed', describeError(new Error(`${i} ${'x'.repeat(5_000)}`)));
  const withStack = errors.filter((line) => /\n\s+at /.test(line.extra.error ?? ''));
  assert.equal(withStack.length, FAILURE_LOG_MAX_KINDS, 'only so many kinds are remembered');
  assert.equal(errors.length, FAILURE_LOG_MAX_KINDS + FAILURE_LOG_BURST);
  // A long message is cut, and so is a long stack: a line holds at most one of each.
  for (const line of errors) {
    assert.ok((line.extra.error?.length ?? 0) < 2 * MAX_LOGGED_ERROR_CHARS + 100, 'long texts are cut');
  }
  assert.match(errors[0]?.extra.error ?? '', /^Error: 0 x+… \(\d+ more characters\)\n\s+at /);
  log.flush();
  assert.equal(
    errors.at(-1)?.msg,
    `${10_000 - FAILURE_LOG_MAX_KINDS - FAILURE_LOG_BURST} more failures suppressed`,
  );
  assert.deepEqual(describeError('a string'), { summary: 'a string' });
  assert.deepEqual(describeError({ code: 42 }), { summary: '{ code: 42 }' });
});

// The gateway uses it for the per-frame failures: a client flooding a failing route fills no disk.
test('failure log: 10 000 frames to a failing route log its stack once, a bounded number of lines and a summary', async (t) => {
  const { logger, errors } = recordingLogger();
  const gw = await startGateway(t, {
    logger,
    routes: {
      $default: async () => {
        throw new Error('cannot parse the frame');
      },
    },
  });
  const client = await gw.connect();
  let answered = 0;
  client.on('message', () => (answered += 1));
  for (let i = 0; i < 10_000; i++) client.send(`frame ${i}`);
  await waitUntil(() => answered === 10_000, 'an error frame for every frame');

  const failures = errors.filter((line) => line.msg === '$default failed');
  assert.equal(failures.length, 1 + FAILURE_LOG_BURST, 'the clock stood still: no refill');
  assert.match(failures[0]?.extra.error ?? '', /^Error: cannot parse the frame\n\s+at /);
  assert.ok(failures[0]?.extra.connectionId && failures[0].extra.requestId, 'the ids of the failed frame');

  gw.clock.advance(FAILURE_LOG_SUMMARY_INTERVAL_MS);
  assert.equal(errors.at(-1)?.msg, `${10_000 - 1 - FAILURE_LOG_BURST} more failures suppressed`);
  assert.equal(errors.length, 2 + FAILURE_LOG_BURST);
});
