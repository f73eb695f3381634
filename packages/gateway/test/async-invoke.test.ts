import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Context } from 'aws-lambda';
import { ASYNC_MAX_PAYLOAD_BYTES, LAMBDA_MAX_TIMEOUT_MS } from '../src/constants.js';
import {
  type AsyncInvocationRecord,
  createGateway,
  LambdaServiceException,
  LocalLambda,
  type LocalLambdaOptions,
} from '../src/index.js';
import {
  type AnyEvent,
  CLOCK_START,
  gate,
  localLambda,
  ManualClock,
  MINUTE,
  nextMessage,
  QUIET,
  SECOND,
  startGateway,
  UUID,
  waitUntil,
} from './helpers.js';

/** A few turns of the event loop: long enough for anything already runnable to run; no timing assertion. */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

interface Failure {
  record: AsyncInvocationRecord;
  error: unknown;
}

test('SPEC.md §10.14 asynchronous invocation: 202 at once, retries on the clock, event age, destinations, limits, close()', async (t) => {
  await t.test(
    'invoke answers 202 before the handler runs; the handler gets a copy of the payload and a Lambda context',
    async (t) => {
      const clock = new ManualClock();
      const calls: { event: AnyEvent; context: Context; remainingMs: number }[] = [];
      const local = localLambda(t, {
        clock,
        region: 'eu-west-1',
        accountId: '123456789012',
        functions: {
          fanOut: async (event: AnyEvent, context: Context) => {
            calls.push({ event, context, remainingMs: context.getRemainingTimeInMillis() });
          },
        },
      });
      const payload = { room: 'r1', recipients: ['a', 'b'] };
      const result = local.invoke('fanOut', payload, { invocationType: 'Event' });
      assert.equal(result.StatusCode, 202);
      assert.equal(result.$metadata.httpStatusCode, 202);
      assert.match(result.$metadata.requestId, UUID);
      assert.equal(calls.length, 0, 'invoke returned before the handler ran');
      assert.equal(local.stats.queued, 1);
      payload.recipients.push('c'); // a change after invoke does not reach the event
      await local.whenIdle();

      assert.equal(calls.length, 1);
      const [{ event, context, remainingMs } = assert.fail()] = calls;
      assert.deepEqual(event, { room: 'r1', recipients: ['a', 'b'] });
      assert.equal(context.functionName, 'fanOut');
      assert.equal(context.awsRequestId, result.$metadata.requestId);
      assert.equal(context.invokedFunctionArn, 'arn:aws:lambda:eu-west-1:123456789012:function:fanOut');
      assert.equal(remainingMs, 3 * SECOND, "Lambda's default timeout");

      // The other forms of FunctionName, and payloads as JSON text (string or bytes) or none at all.
      local.invoke('arn:aws:lambda:eu-west-1:123456789012:function:fanOut', '{"n":1}');
      local.invoke('123456789012:function:fanOut:$LATEST', new TextEncoder().encode('{"n":2}'));
      local.invoke('fanOut');
      await local.whenIdle();
      assert.deepEqual(
        calls.slice(1).map((call) => call.event),
        [{ n: 1 }, { n: 2 }, {}],
      );
      const { accepted, attempts, succeeded, queued, running, waitingForRetry } = local.stats;
      assert.deepEqual(
        { accepted, attempts, succeeded, queued, running, waitingForRetry },
        { accepted: 4, attempts: 4, succeeded: 4, queued: 0, running: 0, waitingForRetry: 0 },
      );
    },
  );

  await t.test(
    "a failing handler is retried after Lambda's one and two minutes, then on-failure gets RetriesExhausted and the error",
    async (t) => {
      const clock = new ManualClock();
      const attempts: { at: number; requestId: string }[] = [];
      const failures: Failure[] = [];
      const local = localLambda(t, {
        clock,
        functions: {
          fanOut: {
            handler: async (_event: AnyEvent, context: Context) => {
              attempts.push({ at: clock.now() - CLOCK_START, requestId: context.awsRequestId });
              throw new TypeError('boom');
            },
            onFailure: (record, error) => {
              failures.push({ record, error });
            },
          },
        },
      });
      const { requestId } = local.invoke('fanOut', { room: 'r1' }).$metadata;

      await waitUntil(() => local.stats.waitingForRetry === 1, 'the first retry to be scheduled');
      assert.equal(attempts.length, 1);
      clock.advance(MINUTE - 1);
      assert.equal(local.stats.waitingForRetry, 1, 'no retry before a minute');
      clock.advance(1);
      assert.equal(local.stats.waitingForRetry, 0);
      await waitUntil(
        () => attempts.length === 2 && local.stats.waitingForRetry === 1,
        'the second retry to be scheduled',
      );
      clock.advance(2 * MINUTE - 1);
      assert.equal(local.stats.waitingForRetry, 1, 'no second retry before two more minutes');
      clock.advance(1);
      await waitUntil(() => failures.length === 1, 'the on-failure record');

      assert.deepEqual(attempts, [
        { at: 0, requestId },
        { at: MINUTE, requestId },
        { at: 3 * MINUTE, requestId },
      ]);
      const [{ record, error } = assert.fail()] = failures;
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, 'boom');
      const { trace, ...response } = record.responsePayload as { trace: string[] };
      assert.deepEqual(
        { ...record, responsePayload: response },
        {
          version: '1.0',
          timestamp: new Date(CLOCK_START + 3 * MINUTE).toISOString(),
          requestContext: {
            requestId,
            functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fanOut:$LATEST',
            condition: 'RetriesExhausted',
            approximateInvokeCount: 3,
          },
          requestPayload: { room: 'r1' },
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: { errorType: 'TypeError', errorMessage: 'boom' },
        },
      );
      assert.equal(trace[0], 'TypeError: boom');

      clock.advance(60 * MINUTE);
      await local.whenIdle();
      assert.equal(attempts.length, 3, 'nothing after the last retry');
      const { retries, retriesExhausted, succeeded } = local.stats;
      assert.deepEqual(
        { retries, retriesExhausted, succeeded },
        { retries: 2, retriesExhausted: 1, succeeded: 0 },
      );
    },
  );

  await t.test(
    'configured retries: maxRetryAttempts 1 with a 250 ms delay, a timeout counts as an error; 0 retries fails at once',
    async (t) => {
      const clock = new ManualClock();
      const failures: Failure[] = [];
      const errors: string[] = [];
      let onceCalls = 0;
      const local = localLambda(t, {
        clock,
        logger: { ...QUIET, error: (msg) => errors.push(msg) },
        functions: {
          stuck: {
            handler: () => new Promise(() => {}),
            timeoutMs: SECOND,
            maxRetryAttempts: 1,
            retryDelaysMs: [250],
            onFailure: (record, error) => {
              failures.push({ record, error });
            },
          },
          once: {
            handler: () => {
              onceCalls += 1;
              throw 'a string';
            },
            maxRetryAttempts: 0,
            onFailure: (record, error) => {
              failures.push({ record, error });
              throw new Error('the destination is down');
            },
          },
        },
      });

      const { requestId } = local.invoke('stuck', { n: 1 }).$metadata;
      await waitUntil(() => local.stats.running === 1, 'the first attempt');
      clock.advance(SECOND - 1);
      assert.equal(local.stats.running, 1, 'still within its timeout');
      clock.advance(1);
      await waitUntil(() => local.stats.waitingForRetry === 1, 'the retry to be scheduled');
      clock.advance(249);
      assert.equal(local.stats.waitingForRetry, 1, 'no retry before 250 ms');
      clock.advance(1);
      await waitUntil(() => local.stats.running === 1, 'the retry');
      clock.advance(SECOND);
      await waitUntil(() => failures.length === 1, 'the on-failure record');
      const [{ record, error } = assert.fail()] = failures;
      assert.equal(record.requestContext.condition, 'RetriesExhausted');
      assert.equal(record.requestContext.approximateInvokeCount, 2);
      assert.deepEqual(record.responsePayload, {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds`,
      });
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'Sandbox.Timedout');

      local.invoke('once', { n: 2 });
      await local.whenIdle();
      assert.equal(onceCalls, 1, 'no retry');
      const [, { record: onceRecord, error: onceError } = assert.fail()] = failures;
      assert.equal(onceRecord.requestContext.approximateInvokeCount, 1);
      assert.deepEqual(onceRecord.responsePayload, {
        errorType: 'string',
        errorMessage: 'a string',
        trace: [],
      });
      assert.equal(onceError, 'a string');
      assert.equal(local.stats.destinationFailures, 1, 'a failing destination is counted…');
      assert.ok(errors.includes('once: onFailure destination failed'), '…and logged');
      assert.ok(errors.includes('stuck failed (asynchronous invocation)'), 'failed attempts are logged');
    },
  );

  await t.test('a success on a retry stops the retries; on-success gets the Success record', async (t) => {
    const clock = new ManualClock();
    const successes: AsyncInvocationRecord[] = [];
    const failures: Failure[] = [];
    let calls = 0;
    const local = localLambda(t, {
      clock,
      functions: {
        fanOut: {
          handler: async () => {
            calls += 1;
            if (calls === 1) throw new Error('table busy');
            return { delivered: 3 };
          },
          onSuccess: (record) => {
            successes.push(record);
          },
          onFailure: (record, error) => {
            failures.push({ record, error });
          },
        },
      },
    });
    const { requestId } = local.invoke('fanOut', { room: 'r1' }).$metadata;
    await waitUntil(() => local.stats.waitingForRetry === 1, 'the retry to be scheduled');
    clock.advance(MINUTE);
    await waitUntil(() => successes.length === 1, 'the on-success record');
    assert.equal(local.stats.waitingForRetry, 0, 'no further retry');
    clock.advance(60 * MINUTE);
    await local.whenIdle();
    assert.equal(calls, 2);
    assert.deepEqual(failures, []);
    assert.deepEqual(successes, [
      {
        version: '1.0',
        timestamp: new Date(CLOCK_START + MINUTE).toISOString(),
        requestContext: {
          requestId,
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fanOut:$LATEST',
          condition: 'Success',
          approximateInvokeCount: 2,
        },
        requestPayload: { room: 'r1' },
        responseContext: { statusCode: 200, executedVersion: '$LATEST' },
        responsePayload: { delivered: 3 },
      },
    ]);
    const { retries, succeeded, retriesExhausted } = local.stats;
    assert.deepEqual(
      { retries, succeeded, retriesExhausted },
      { retries: 1, succeeded: 1, retriesExhausted: 0 },
    );
  });

  await t.test(
    'an event older than maxEventAgeSeconds is not run: on-failure gets EventAgeExceeded',
    async (t) => {
      const clock = new ManualClock();
      const failures: Failure[] = [];
      const onFailure = (record: AsyncInvocationRecord, error: unknown) => {
        failures.push({ record, error });
      };
      const { released, release } = gate();
      const attempts: string[] = [];
      const local = localLambda(t, {
        clock,
        maxConcurrency: 1,
        functions: {
          failing: {
            handler: async () => {
              attempts.push('failing');
              throw new Error(`attempt ${attempts.length}`);
            },
            maxEventAgeSeconds: 60,
            onFailure,
          },
          blocker: { handler: () => released, timeoutMs: LAMBDA_MAX_TIMEOUT_MS },
          late: {
            handler: () => {
              attempts.push('late');
            },
            maxEventAgeSeconds: 60,
            onFailure,
          },
        },
      });

      // A retry: exactly as old as the maximum still runs (at 1 minute); older is given up (the next, at 3 minutes).
      const { requestId } = local.invoke('failing', { n: 1 }).$metadata;
      await waitUntil(() => local.stats.waitingForRetry === 1, 'the first retry to be scheduled');
      clock.advance(MINUTE);
      await waitUntil(
        () => attempts.length === 2 && local.stats.waitingForRetry === 1,
        'the second retry to be scheduled',
      );
      clock.advance(2 * MINUTE);
      await waitUntil(() => failures.length === 1, 'the EventAgeExceeded record');
      const [{ record, error } = assert.fail()] = failures;
      assert.deepEqual(attempts, ['failing', 'failing'], 'the third attempt never ran');
      assert.equal(record.requestContext.requestId, requestId);
      assert.equal(record.requestContext.condition, 'EventAgeExceeded');
      assert.equal(record.requestContext.approximateInvokeCount, 2);
      assert.equal(record.timestamp, new Date(CLOCK_START + 3 * MINUTE).toISOString());
      assert.equal((record.responsePayload as { errorMessage: string }).errorMessage, 'attempt 2');
      assert.ok(error instanceof Error && error.message === 'attempt 2', 'the last attempt’s error');

      // Waiting in the queue: the only slot is taken for longer than the event may live.
      local.invoke('blocker');
      await waitUntil(() => local.stats.running === 1, 'the blocker to run');
      const late = local.invoke('late', { n: 2 }).$metadata.requestId;
      await turns();
      assert.equal(local.stats.queued, 1);
      clock.advance(MINUTE + 1);
      release();
      await local.whenIdle();
      assert.deepEqual(attempts, ['failing', 'failing'], 'the late event never ran');
      const [, { record: lateRecord, error: lateError } = assert.fail()] = failures;
      assert.deepEqual(lateRecord, {
        version: '1.0',
        timestamp: new Date(CLOCK_START + 4 * MINUTE + 1).toISOString(),
        requestContext: {
          requestId: late,
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:late:$LATEST',
          condition: 'EventAgeExceeded',
          approximateInvokeCount: 0,
        },
        requestPayload: { n: 2 },
      });
      assert.equal(lateError, undefined);
      assert.equal(local.stats.eventAgeExceeded, 2);
    },
  );

  await t.test(
    'payloads: 1 MB is accepted, one byte more is 413 RequestEntityTooLargeException; other Invoke errors',
    async (t) => {
      const local = localLambda(t, { functions: { fanOut: () => {} } });
      const exact = JSON.stringify('x'.repeat(ASYNC_MAX_PAYLOAD_BYTES - 2));
      assert.equal(Buffer.byteLength(exact), ASYNC_MAX_PAYLOAD_BYTES);
      assert.equal(local.invoke('fanOut', exact).StatusCode, 202);
      assert.throws(() => local.invoke('fanOut', `${exact} `), {
        name: 'RequestEntityTooLargeException',
        message: `${ASYNC_MAX_PAYLOAD_BYTES + 1} byte payload is too large for the Event invocation type (limit ${ASYNC_MAX_PAYLOAD_BYTES} bytes)`,
        $fault: 'client',
        $metadata: { httpStatusCode: 413 },
      });
      // Objects are measured as JSON, in bytes: 2 bytes per é.
      assert.throws(
        () => local.invoke('fanOut', { text: 'é'.repeat(ASYNC_MAX_PAYLOAD_BYTES / 2) }),
        (error) => {
          assert.ok(error instanceof LambdaServiceException);
          assert.equal(error.name, 'RequestEntityTooLargeException');
          return true;
        },
      );

      const badRequest = { name: 'InvalidRequestContentException', $metadata: { httpStatusCode: 400 } };
      assert.throws(() => local.invoke('fanOut', '{"a":'), badRequest);
      assert.throws(() => local.invoke('fanOut', () => {}), badRequest);
      assert.throws(() => local.invoke('fanOut', { n: 1n }), badRequest);
      assert.throws(() => local.invoke('nope', {}), {
        name: 'ResourceNotFoundException',
        message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
        $metadata: { httpStatusCode: 404 },
      });
      const notFound = { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } };
      assert.throws(
        () => local.invoke('arn:aws:lambda:eu-west-1:000000000000:function:fanOut', {}),
        notFound,
      );
      assert.throws(() => local.invoke('111111111111:function:fanOut', {}), notFound);
      assert.throws(() => local.invoke('fanOut:prod', {}), notFound);
      assert.throws(() => local.invoke('fanOut', {}, { qualifier: 'prod' }), notFound);
      assert.throws(() => local.invoke('fanOut', {}, { invocationType: 'Sync' as 'Event' }), {
        name: 'InvalidParameterValueException',
        message:
          "1 validation error detected: Value 'Sync' at 'invocationType' failed to satisfy constraint: Member must " +
          'satisfy enum value set: [Event, RequestResponse, DryRun]',
        $metadata: { httpStatusCode: 400 },
      });
      assert.throws(() => local.invoke('fanOut:$LATEST', {}, { qualifier: 'prod' }), {
        name: 'InvalidParameterValueException',
        message: 'The derived qualifier from the function name does not match the specified qualifier.',
      });

      // DryRun: the same checks, except the queue, and nothing runs.
      const dryRun = local.invoke('fanOut', exact, { invocationType: 'DryRun', qualifier: '$LATEST' });
      assert.equal(dryRun.StatusCode, 204);
      assert.equal(dryRun.$metadata.httpStatusCode, 204);
      assert.throws(() => local.invoke('nope', {}, { invocationType: 'DryRun' }), notFound);
      assert.throws(() => local.invoke('fanOut', '{"a":', { invocationType: 'DryRun' }), badRequest);
      assert.throws(() => local.invoke('fanOut', `${exact} `, { invocationType: 'DryRun' }), {
        name: 'RequestEntityTooLargeException',
        message: `${ASYNC_MAX_PAYLOAD_BYTES + 1} byte payload is too large for the DryRun invocation type (limit ${ASYNC_MAX_PAYLOAD_BYTES} bytes)`,
      });
      await local.whenIdle();
      const { accepted, refusedTooLarge, attempts } = local.stats;
      assert.deepEqual(
        { accepted, refusedTooLarge, attempts },
        { accepted: 1, refusedTooLarge: 3, attempts: 1 },
      );
    },
  );

  await t.test(
    'the queue is bounded: past maxQueuedEvents waiting, 429 TooManyRequestsException, counted and logged once',
    async (t) => {
      const clock = new ManualClock();
      const warnings: string[] = [];
      const { released, release } = gate();
      const local = localLambda(t, {
        clock,
        maxConcurrency: 1,
        maxQueuedEvents: 2,
        logger: { ...QUIET, warn: (msg) => warnings.push(msg) },
        functions: {
          slow: { handler: () => released, timeoutMs: LAMBDA_MAX_TIMEOUT_MS },
          failing: {
            handler: () => {
              throw new Error('down');
            },
          },
        },
      });
      local.invoke('slow');
      await waitUntil(() => local.stats.running === 1, 'the first event to run');
      local.invoke('slow');
      local.invoke('slow');
      const full = { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } };
      assert.throws(() => local.invoke('slow'), full);
      assert.throws(() => local.invoke('slow'), full);
      assert.equal(local.stats.refusedQueueFull, 2);
      assert.deepEqual(warnings, ['asynchronous invocation refused: the event queue is full'], 'logged once');

      release();
      await local.whenIdle();
      assert.equal(local.stats.succeeded, 3, 'the accepted events all ran');

      // Events waiting for their retry count as waiting too.
      local.invoke('failing');
      local.invoke('failing');
      await waitUntil(() => local.stats.waitingForRetry === 2, 'both retries to be scheduled');
      assert.throws(() => local.invoke('slow'), full);
      assert.equal(warnings.length, 2, 'a new stretch of a full queue is logged again');
    },
  );

  await t.test(
    'close() runs the queued events, waits for running ones, drops those waiting for a retry, refuses new ones',
    async (t) => {
      const clock = new ManualClock();
      const warnings: string[] = [];
      const { released, release } = gate();
      const ran: string[] = [];
      const failures: Failure[] = [];
      const local = new LocalLambda({
        clock,
        maxConcurrency: 1,
        logger: { ...QUIET, warn: (msg) => warnings.push(msg) },
        functions: {
          failing: {
            handler: () => {
              ran.push('failing');
              throw new Error('down');
            },
            onFailure: (record, error) => {
              failures.push({ record, error });
            },
          },
          slow: {
            handler: async () => {
              ran.push('slow');
              await released;
              throw new Error('failed while closing');
            },
            timeoutMs: LAMBDA_MAX_TIMEOUT_MS,
            onFailure: (record, error) => {
              failures.push({ record, error });
            },
          },
          quick: () => {
            ran.push('quick');
          },
          lastTry: {
            handler: () => {
              ran.push('lastTry');
              throw new Error('no retry left');
            },
            maxRetryAttempts: 0,
            onFailure: (record, error) => {
              failures.push({ record, error });
            },
          },
        },
      });
      t.after(() => release());

      local.invoke('failing');
      await waitUntil(() => local.stats.waitingForRetry === 1, 'the retry to be scheduled');
      local.invoke('slow');
      await waitUntil(() => local.stats.running === 1, 'the slow event to run');
      local.invoke('quick');
      local.invoke('lastTry');
      let closed = false;
      const closing = local.close().then(() => {
        closed = true;
      });
      assert.equal(local.close(), local.close(), 'the same promise every time');
      assert.throws(() => local.invoke('quick'), {
        name: 'ServiceException',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      });
      assert.throws(() => local.register('later', () => {}), /closed/);
      assert.equal(local.stats.waitingForRetry, 0, 'the waiting retry is dropped');
      await turns();
      assert.equal(closed, false, 'close() waits for the running attempt');

      release();
      await closing;
      assert.deepEqual(
        ran,
        ['failing', 'slow', 'quick', 'lastTry'],
        'the queued events ran; the retry did not',
      );
      assert.deepEqual(
        failures.map(({ record }) => record.requestContext.functionArn.split(':')[6]),
        ['lastTry'],
        'dropped events do not go to on-failure; a failed last attempt still does',
      );
      assert.equal(
        local.stats.droppedAtClose,
        2,
        'the waiting retry and the attempt that failed while closing',
      );
      assert.deepEqual(warnings, ['2 asynchronous events dropped at close, each after a failed attempt']);
      clock.advance(60 * MINUTE);
      await turns();
      assert.deepEqual(ran, ['failing', 'slow', 'quick', 'lastTry'], 'no retry after close');
    },
  );

  await t.test(
    'gateway.functions: a route hands delivery to an asynchronous function that posts to the client; close() waits for it',
    async (t) => {
      const { released, release } = gate();
      t.after(() => release());
      const contexts: Context[] = [];
      const gw = await startGateway(t, {
        accountId: '123456789012',
        routes: {
          sendMessage: async (event: AnyEvent) => {
            const { text } = JSON.parse(event.body);
            gw.gateway.functions.invoke('fanOut', { connectionId: event.requestContext.connectionId, text });
          },
        },
        functions: {
          fanOut: {
            handler: async (event: AnyEvent, context: Context) => {
              contexts.push(context);
              await gw.managementClient('in-process').send(
                new PostToConnectionCommand({
                  ConnectionId: event.connectionId,
                  Data: `fanned out: ${event.text}`,
                }),
              );
            },
            timeoutMs: 10 * SECOND,
          },
        },
      });
      gw.gateway.functions.register('hold', () => released);

      const client = await gw.connect();
      const message = nextMessage(client);
      client.send(JSON.stringify({ action: 'sendMessage', text: 'hi' }));
      assert.equal((await message).text, 'fanned out: hi');
      const [context = assert.fail()] = contexts;
      assert.equal(context.invokedFunctionArn, 'arn:aws:lambda:us-east-1:123456789012:function:fanOut');

      gw.gateway.functions.invoke('hold');
      await waitUntil(() => gw.gateway.functions.stats.running === 1, 'the held function to run');
      let closed = false;
      const closing = gw.gateway.close().then(() => {
        closed = true;
      });
      await turns();
      assert.equal(closed, false, 'the gateway waits for the running asynchronous invocation');
      release();
      await closing;
      assert.equal(gw.gateway.functions.stats.succeeded, 2);
      assert.throws(() => gw.gateway.functions.invoke('hold'), { name: 'ServiceException' });
    },
  );

  await t.test('invalid functions and limits are refused when created', () => {
    const handler = () => {};
    const refused: [LocalLambdaOptions, RegExp][] = [
      [{ functions: { 'fan out': handler } }, /Invalid function name: fan out/],
      [{ functions: { ['x'.repeat(65)]: handler } }, /Invalid function name/],
      [{ functions: { f: { handler, maxRetryAttempts: 3 } } }, /maxRetryAttempts must be 0, 1 or 2/],
      [{ functions: { f: { handler, maxRetryAttempts: 1.5 } } }, /maxRetryAttempts must be 0, 1 or 2/],
      [
        { functions: { f: { handler, retryDelaysMs: [1_000] } } },
        /retryDelaysMs must give a delay .* 2 retries/,
      ],
      [{ functions: { f: { handler, retryDelaysMs: [-1, 0] } } }, /retryDelaysMs/],
      [{ functions: { f: { handler, maxEventAgeSeconds: 21_601 } } }, /at most 21600/],
      [
        { functions: { f: { handler, maxEventAgeSeconds: 0 } } },
        /maxEventAgeSeconds must be a positive number/,
      ],
      [
        { functions: { f: { handler, timeoutMs: 900_001 } } },
        /timeoutMs must be more than 0 and at most 900000/,
      ],
      [{ functions: { f: {} as never } }, /Function f: handler is not a function/],
      [{ functions: { f: { handler, onFailure: 'queue-arn' as never } } }, /onFailure must be a function/],
      [{ maxConcurrency: 0 }, /maxConcurrency must be a positive integer/],
      [{ maxQueuedEvents: 1.5 }, /maxQueuedEvents must be a positive integer/],
      [{ accountId: '42' }, /Invalid account id/],
    ];
    for (const [options, message] of refused) assert.throws(() => new LocalLambda(options), message);
    assert.doesNotThrow(
      () => new LocalLambda({ functions: { f: { handler, maxRetryAttempts: 0, retryDelaysMs: [] } } }),
    );

    const local = new LocalLambda({ functions: { f: handler } });
    assert.throws(() => local.register('f', handler), /Function f is already registered/);
    assert.throws(
      () => createGateway({ routes: {}, functions: { 'a.b': handler } }),
      /Invalid function name: a.b/,
    );
    assert.throws(
      () => createGateway({ routes: {}, asyncInvocation: { maxConcurrency: -1 } }),
      /maxConcurrency/,
    );
  });
});
