import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Context } from 'aws-lambda';
import { SYNC_MAX_REQUEST_BYTES, SYNC_MAX_RESPONSE_BYTES } from '../src/constants.js';
import { LocalLambda, type RequestResponseResult } from '../src/index.js';
import { type AnyEvent, gate, localLambda, ManualClock, QUIET, SECOND, UUID } from './helpers.js';

const REQUEST_RESPONSE = { invocationType: 'RequestResponse' } as const;

/** The invocation's `Payload`, parsed. */
function payloadOf(result: RequestResponseResult): AnyEvent {
  return JSON.parse(Buffer.from(result.Payload).toString('utf8'));
}

test('SPEC.md §10.16 synchronous invocation: RequestResponse runs the handler at once and resolves with its result or error', async (t) => {
  await t.test(
    'the handler runs at once, once, with the payload and a context; the result comes back as JSON, null for none',
    async (t) => {
      const calls: { event: AnyEvent; requestId: string; remainingMs: number }[] = [];
      const local = localLambda(t, {
        clock: new ManualClock(),
        functions: {
          echo: {
            handler: async (event: AnyEvent, context: Context) => {
              calls.push({
                event,
                requestId: context.awsRequestId,
                remainingMs: context.getRemainingTimeInMillis(),
              });
              return { echoed: event };
            },
            timeoutMs: 10 * SECOND,
          },
          silent: () => {},
          callbackStyle: ((_event: unknown, _context: unknown, callback: (e: unknown, r: unknown) => void) =>
            callback(null, 'done')) as never,
        },
      });
      const pending = local.invoke('echo', { room: 'r1' }, REQUEST_RESPONSE);
      assert.equal(calls.length, 1, 'the handler started before invoke returned: nothing is queued');
      assert.equal(local.stats.runningSync, 1);
      const result = await pending;
      assert.deepEqual(
        { ...result, Payload: payloadOf(result) },
        {
          StatusCode: 200,
          ExecutedVersion: '$LATEST',
          Payload: { echoed: { room: 'r1' } },
          $metadata: { httpStatusCode: 200, requestId: calls[0]?.requestId },
        },
      );
      assert.match(result.$metadata.requestId, UUID);
      assert.equal(calls[0]?.remainingMs, 10 * SECOND, "the function's timeout");

      const none = await local.invoke('silent', undefined, REQUEST_RESPONSE);
      assert.equal(Buffer.from(none.Payload).toString(), 'null');
      assert.equal(none.FunctionError, undefined);
      assert.equal(payloadOf(await local.invoke('callbackStyle', '{}', REQUEST_RESPONSE)), 'done');
      const byArn = await local.invoke(
        'arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST',
        new TextEncoder().encode('{"n":1}'),
        REQUEST_RESPONSE,
      );
      assert.deepEqual(payloadOf(byArn), { echoed: { n: 1 } });

      const { syncInvocations, syncFunctionErrors, accepted, attempts, runningSync } = local.stats;
      assert.deepEqual(
        { syncInvocations, syncFunctionErrors, accepted, attempts, runningSync },
        { syncInvocations: 4, syncFunctionErrors: 0, accepted: 0, attempts: 0, runningSync: 0 },
        'nothing went through the asynchronous queue',
      );
    },
  );

  await t.test(
    "a thrown error or a timeout: 200 with FunctionError Unhandled and Lambda's error document, never retried",
    async (t) => {
      const clock = new ManualClock();
      const errors: string[] = [];
      const { released, release } = gate();
      t.after(() => release());
      let slowCalls = 0;
      const local = localLambda(t, {
        clock,
        logger: { ...QUIET, error: (msg) => errors.push(msg) },
        functions: {
          failing: () => {
            throw new TypeError('room is not defined');
          },
          throwsText: async () => {
            throw 'plain text';
          },
          circular: () => {
            const result: Record<string, unknown> = {};
            result.self = result;
            return result;
          },
          slow: {
            handler: () => {
              slowCalls += 1;
              return released.then(() => 'too late');
            },
            timeoutMs: 2 * SECOND,
          },
        },
      });
      const failed = await local.invoke('failing', {}, REQUEST_RESPONSE);
      assert.equal(failed.StatusCode, 200);
      assert.equal(failed.FunctionError, 'Unhandled');
      const document = payloadOf(failed);
      assert.deepEqual(Object.keys(document), ['errorType', 'errorMessage', 'trace']);
      assert.equal(document.errorType, 'TypeError');
      assert.equal(document.errorMessage, 'room is not defined');
      assert.equal(document.trace[0], 'TypeError: room is not defined');
      assert.match(document.trace[1], /^ {4}at /);

      assert.deepEqual(payloadOf(await local.invoke('throwsText', {}, REQUEST_RESPONSE)), {
        errorType: 'string',
        errorMessage: 'plain text',
        trace: [],
      });
      const circular = await local.invoke('circular', {}, REQUEST_RESPONSE);
      assert.equal(circular.FunctionError, 'Unhandled');
      assert.equal(payloadOf(circular).errorType, 'TypeError', 'a result JSON cannot serialize is an error');

      // The timeout is the function's own, on the clock: it fires when the clock reaches it, not before.
      const pending = local.invoke('slow', {}, REQUEST_RESPONSE);
      clock.advance(2 * SECOND);
      const timedOut = await pending;
      assert.equal(timedOut.FunctionError, 'Unhandled');
      assert.deepEqual(payloadOf(timedOut), {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${timedOut.$metadata.requestId} Error: Task timed out after 2.00 seconds`,
      });
      release();
      await local.whenIdle();
      assert.equal(slowCalls, 1, 'not retried');
      assert.equal(local.stats.syncFunctionErrors, 4);
      assert.equal(local.stats.retries, 0);
      assert.deepEqual(
        errors,
        [
          'failing failed (synchronous invocation)',
          'throwsText failed (synchronous invocation)',
          'circular failed (synchronous invocation)',
          'slow failed (synchronous invocation)',
        ],
        'through the failure log',
      );
    },
  );

  await t.test(
    '6 MB each way: a larger payload is refused with 413, a larger result is Function.ResponseSizeTooLarge',
    async (t) => {
      let runs = 0;
      const local = localLambda(t, {
        functions: {
          sized: (event: AnyEvent) => {
            runs += 1;
            return 'x'.repeat(event.resultChars ?? 0);
          },
        },
      });
      // A JSON string of exactly the limit is accepted; one byte more is not, and the handler does not run.
      const exact = JSON.stringify('x'.repeat(SYNC_MAX_REQUEST_BYTES - 2));
      assert.equal((await local.invoke('sized', exact, REQUEST_RESPONSE)).StatusCode, 200);
      await assert.rejects(local.invoke('sized', `${exact} `, REQUEST_RESPONSE), {
        name: 'RequestEntityTooLargeException',
        message: `${SYNC_MAX_REQUEST_BYTES + 1} byte payload is too large for the RequestResponse invocation type (limit ${SYNC_MAX_REQUEST_BYTES} bytes)`,
        $metadata: { httpStatusCode: 413 },
      });
      assert.equal(runs, 1, 'the refused payload ran nothing');
      assert.equal(local.stats.refusedTooLarge, 1);

      // The result: a JSON string of exactly the limit comes back; one byte more is a function error.
      const full = await local.invoke(
        'sized',
        { resultChars: SYNC_MAX_RESPONSE_BYTES - 2 },
        REQUEST_RESPONSE,
      );
      assert.equal(full.FunctionError, undefined);
      assert.equal(full.Payload.length, SYNC_MAX_RESPONSE_BYTES);
      const over = await local.invoke(
        'sized',
        { resultChars: SYNC_MAX_RESPONSE_BYTES - 1 },
        REQUEST_RESPONSE,
      );
      assert.equal(over.StatusCode, 200);
      assert.equal(over.FunctionError, 'Unhandled');
      assert.deepEqual(payloadOf(over), {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).',
      });
    },
  );

  await t.test(
    'refusals reject: 404, 400 and a qualifier; 429 past maxSyncConcurrency running; 500 once closing',
    async (t) => {
      const { released, release } = gate();
      t.after(() => release());
      const local = new LocalLambda({
        logger: QUIET,
        maxSyncConcurrency: 1,
        functions: { held: { handler: () => released.then(() => 'released'), timeoutMs: 60 * SECOND } },
      });
      t.after(() => local.close());
      // Every refusal is a rejection, never a throw from invoke itself.
      const notFound = local.invoke('nope', {}, REQUEST_RESPONSE);
      await assert.rejects(notFound, {
        name: 'ResourceNotFoundException',
        message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
        $metadata: { httpStatusCode: 404 },
      });
      await assert.rejects(local.invoke('held', '{"a":', REQUEST_RESPONSE), {
        name: 'InvalidRequestContentException',
        $metadata: { httpStatusCode: 400 },
      });
      await assert.rejects(local.invoke('held', {}, { ...REQUEST_RESPONSE, qualifier: '1' }), {
        name: 'ResourceNotFoundException',
      });

      const first = local.invoke('held', {}, REQUEST_RESPONSE);
      assert.equal(local.stats.runningSync, 1);
      await assert.rejects(local.invoke('held', {}, REQUEST_RESPONSE), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      });
      assert.equal(local.stats.refusedSyncConcurrency, 1);

      // close() refuses new invocations and waits for the running one.
      let closed = false;
      const closing = local.close().then(() => {
        closed = true;
      });
      await assert.rejects(local.invoke('held', {}, REQUEST_RESPONSE), {
        name: 'ServiceException',
        $metadata: { httpStatusCode: 500 },
      });
      assert.equal(closed, false, 'close() waits for the running invocation');
      release();
      assert.equal(payloadOf(await first), 'released');
      await closing;
      assert.equal(local.stats.runningSync, 0);
    },
  );
});
