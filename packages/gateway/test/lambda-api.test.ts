import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  GetFunctionCommand,
  InvalidParameterValueException,
  InvalidRequestContentException,
  InvokeCommand,
  type InvokeCommandInput,
  LambdaClient,
  RequestTooLargeException,
  ResourceNotFoundException,
  LambdaServiceException as SdkLambdaServiceException,
  ServiceException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import type { HttpRequest } from '@smithy/types';
import type { Context } from 'aws-lambda';
import { ASYNC_MAX_PAYLOAD_BYTES, LAMBDA_MAX_TIMEOUT_MS, SYNC_MAX_REQUEST_BYTES } from '../src/constants.js';
import type { LambdaRequestHandler } from '../src/index.js';
import {
  type AnyEvent,
  gate,
  localLambda,
  ManualClock,
  nextMessage,
  SECOND,
  startGateway,
  UUID,
  waitUntil,
} from './helpers.js';

/**
 * The AWS SDK's own client on the in-process transport, destroyed when the test ends. Tests that expect an error
 * pass `maxAttempts: 1`: the SDK retries 429 and 5xx on its own, after delays of up to seconds.
 */
function lambdaClient(
  t: TestContext,
  requestHandler: LambdaRequestHandler,
  { maxAttempts }: { maxAttempts?: number } = {},
): LambdaClient {
  const client = new LambdaClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    endpoint: 'http://lambda.local',
    requestHandler,
    ...(maxAttempts !== undefined && { maxAttempts }),
  });
  t.after(() => client.destroy());
  return client;
}

function event(
  input: Omit<InvokeCommandInput, 'InvocationType'> & { InvocationType?: string },
): InvokeCommand {
  return new InvokeCommand({ InvocationType: 'Event', ...input } as InvokeCommandInput);
}

/** A request as the SDK would hand it to the handler, for what the SDK cannot send. */
function rawRequest(method: string, path: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method,
    protocol: 'http:',
    hostname: 'lambda.local',
    path,
    query: {},
    headers: { 'x-amz-invocation-type': 'Event' },
    ...extra,
  };
}

function bodyText(body: unknown): string {
  return Buffer.from(body as Uint8Array).toString('utf8');
}

test("SPEC.md §10.15 Lambda's Invoke API in process: the SDK's LambdaClient and InvokeCommand through functions.requestHandler()", async (t) => {
  await t.test(
    'Event: 202 through InvokeCommand; the handler gets the parsed payload, and the response request id as awsRequestId',
    async (t) => {
      const calls: { event: AnyEvent; requestId: string; arn: string }[] = [];
      const local = localLambda(t, {
        clock: new ManualClock(),
        functions: {
          fanOut: async (event: AnyEvent, context: Context) => {
            calls.push({ event, requestId: context.awsRequestId, arn: context.invokedFunctionArn });
          },
        },
      });
      const client = lambdaClient(t, local.requestHandler());
      const output = await client.send(
        event({ FunctionName: 'fanOut', Payload: JSON.stringify({ room: 'r1', recipients: ['a', 'b'] }) }),
      );
      assert.equal(output.StatusCode, 202);
      assert.equal(output.$metadata.httpStatusCode, 202);
      assert.equal(output.$metadata.attempts, 1);
      assert.match(output.$metadata.requestId ?? '', UUID);
      await local.whenIdle();
      assert.deepEqual(calls, [
        {
          event: { room: 'r1', recipients: ['a', 'b'] },
          requestId: output.$metadata.requestId,
          arn: 'arn:aws:lambda:us-east-1:000000000000:function:fanOut',
        },
      ]);

      // Every form of FunctionName, percent-encoded in the path by the SDK; the Qualifier parameter; bytes; none.
      for (const input of [
        { FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:fanOut', Payload: '{"n":1}' },
        {
          FunctionName: '000000000000:function:fanOut:$LATEST',
          Payload: new TextEncoder().encode('{"n":2}'),
        },
        { FunctionName: 'fanOut', Qualifier: '$LATEST', Payload: '{"n":3}' },
        { FunctionName: 'fanOut' },
      ]) {
        assert.equal((await client.send(event(input))).StatusCode, 202);
      }
      await local.whenIdle();
      assert.deepEqual(
        calls.slice(1).map((call) => call.event),
        [{ n: 1 }, { n: 2 }, { n: 3 }, {}],
      );
      assert.equal(local.requestHandler(), local.requestHandler(), 'one handler, shared');
    },
  );

  await t.test('DryRun: 204 after the same checks, and nothing is queued or run', async (t) => {
    const ran: AnyEvent[] = [];
    const local = localLambda(t, { functions: { fanOut: (event: AnyEvent) => ran.push(event) } });
    const client = lambdaClient(t, local.requestHandler(), { maxAttempts: 1 });
    const output = await client.send(
      event({ FunctionName: 'fanOut', InvocationType: 'DryRun', Payload: '{}' }),
    );
    assert.equal(output.StatusCode, 204);
    assert.equal(output.$metadata.httpStatusCode, 204);
    await assert.rejects(
      client.send(event({ FunctionName: 'nope', InvocationType: 'DryRun' })),
      ResourceNotFoundException,
    );
    await assert.rejects(
      client.send(event({ FunctionName: 'fanOut', InvocationType: 'DryRun', Payload: '{"a":' })),
      InvalidRequestContentException,
    );
    await local.whenIdle();
    assert.deepEqual(ran, []);
    assert.equal(local.stats.accepted, 0);
  });

  await t.test(
    "RequestResponse, the SDK's default: 200 with the result; function errors and timeouts as the SDK reads them",
    async (t) => {
      const clock = new ManualClock();
      const local = localLambda(t, {
        clock,
        functions: {
          echo: async (event: AnyEvent, context: Context) => ({ echoed: event, id: context.awsRequestId }),
          failing: () => {
            throw new RangeError('no such room');
          },
          stuck: { handler: () => new Promise(() => {}), timeoutMs: SECOND },
        },
      });
      const client = lambdaClient(t, local.requestHandler(), { maxAttempts: 1 });
      const payloadOf = (output: { Payload?: Uint8Array }) => JSON.parse(bodyText(output.Payload));

      // No InvocationType: the SDK sends none, and Lambda runs the function synchronously.
      const output = await client.send(new InvokeCommand({ FunctionName: 'echo', Payload: '{"room":"r1"}' }));
      assert.deepEqual(
        {
          StatusCode: output.StatusCode,
          ExecutedVersion: output.ExecutedVersion,
          FunctionError: output.FunctionError,
          LogResult: output.LogResult,
          httpStatusCode: output.$metadata.httpStatusCode,
        },
        {
          StatusCode: 200,
          ExecutedVersion: '$LATEST',
          FunctionError: undefined,
          LogResult: undefined,
          httpStatusCode: 200,
        },
      );
      assert.deepEqual(payloadOf(output), { echoed: { room: 'r1' }, id: output.$metadata.requestId });
      assert.equal(local.stats.accepted, 0, 'nothing was queued');

      // LogType Tail: logs are not captured, the log is empty.
      const tail = await client.send(
        new InvokeCommand({ FunctionName: 'echo', InvocationType: 'RequestResponse', LogType: 'Tail' }),
      );
      assert.equal(tail.LogResult, '');
      assert.deepEqual(payloadOf(tail).echoed, {});

      // A function error is a 200 too: the SDK resolves, with FunctionError and the error document.
      const failed = await client.send(new InvokeCommand({ FunctionName: 'failing' }));
      assert.equal(failed.StatusCode, 200);
      assert.equal(failed.FunctionError, 'Unhandled');
      assert.deepEqual(
        { ...payloadOf(failed), trace: undefined },
        { errorType: 'RangeError', errorMessage: 'no such room', trace: undefined },
      );

      const pending = client.send(new InvokeCommand({ FunctionName: 'stuck' }));
      await waitUntil(() => local.stats.runningSync === 1, 'the invocation to start');
      clock.advance(SECOND);
      const timedOut = await pending;
      assert.equal(timedOut.FunctionError, 'Unhandled');
      assert.deepEqual(payloadOf(timedOut), {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${timedOut.$metadata.requestId} Error: Task timed out after 1.00 seconds`,
      });

      // 6 MB for a synchronous payload; one byte more is the same 413 as for Event, with this type's limit.
      const tooLarge = await client
        .send(new InvokeCommand({ FunctionName: 'echo', Payload: 'x'.repeat(SYNC_MAX_REQUEST_BYTES + 1) }))
        .then(
          () => assert.fail('accepted'),
          (error: unknown) => error as SdkLambdaServiceException,
        );
      assert.deepEqual(
        { name: tooLarge.name, status: tooLarge.$metadata.httpStatusCode, message: tooLarge.message },
        {
          name: 'RequestEntityTooLargeException',
          status: 413,
          message: `${SYNC_MAX_REQUEST_BYTES + 1} byte payload is too large for the RequestResponse invocation type (limit ${SYNC_MAX_REQUEST_BYTES} bytes)`,
        },
      );

      // The wire, as Lambda sends it.
      const raw = await local
        .requestHandler()
        .handle(rawRequest('POST', '/2015-03-31/functions/failing/invocations', { headers: {} }));
      const { date, ...headers } = raw.response.headers;
      assert.equal(date, new Date(clock.now()).toUTCString());
      assert.deepEqual(headers, {
        'x-amzn-requestid': headers['x-amzn-requestid'],
        'x-amz-executed-version': '$LATEST',
        'x-amz-function-error': 'Unhandled',
        'content-type': 'application/json',
        'content-length': String(bodyText(raw.response.body).length),
      });
      assert.match(headers['x-amzn-requestid'] ?? '', UUID);
    },
  );

  await t.test(
    "errors are the SDK's own exceptions, with Lambda's status, type and message: 404, 400, 413, 429, 500",
    async (t) => {
      const { released, release } = gate();
      t.after(() => release());
      const local = localLambda(t, {
        maxConcurrency: 1,
        maxQueuedEvents: 1,
        functions: { fanOut: () => {}, slow: { handler: () => released, timeoutMs: LAMBDA_MAX_TIMEOUT_MS } },
      });
      const client = lambdaClient(t, local.requestHandler(), { maxAttempts: 1 });
      const refusal = async (input: Parameters<typeof event>[0], type: new (...args: never[]) => Error) => {
        const error = await client.send(event(input)).then(
          () => assert.fail(`${JSON.stringify(input).slice(0, 80)} was accepted`),
          (error: unknown) => error,
        );
        assert.ok(error instanceof type, `${String(error)} is a ${type.name}`);
        assert.ok(error instanceof SdkLambdaServiceException);
        assert.equal(error.$metadata.attempts, 1);
        assert.match(error.$metadata.requestId ?? '', UUID);
        return error;
      };

      const notFound = await refusal({ FunctionName: 'nope' }, ResourceNotFoundException);
      assert.deepEqual(
        {
          name: notFound.name,
          status: notFound.$metadata.httpStatusCode,
          fault: notFound.$fault,
          message: notFound.message,
          Type: (notFound as ResourceNotFoundException).Type,
        },
        {
          name: 'ResourceNotFoundException',
          status: 404,
          fault: 'client',
          message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
          Type: 'User',
        },
      );
      // Versions and aliases are not emulated: any qualifier but $LATEST is not found.
      for (const input of [
        { FunctionName: 'fanOut:prod' },
        { FunctionName: 'fanOut', Qualifier: 'prod' },
        { FunctionName: 'fanOut', Qualifier: '1' },
      ]) {
        const error = await refusal(input, ResourceNotFoundException);
        assert.match(
          error.message,
          /^Function not found: arn:aws:lambda:us-east-1:000000000000:function:fanOut:/,
        );
      }
      const mismatch = await refusal(
        { FunctionName: 'fanOut:$LATEST', Qualifier: 'prod' },
        InvalidParameterValueException,
      );
      assert.equal(mismatch.$metadata.httpStatusCode, 400);

      const notJson = await refusal(
        { FunctionName: 'fanOut', Payload: '{"a":' },
        InvalidRequestContentException,
      );
      assert.equal(notJson.$metadata.httpStatusCode, 400);
      assert.match(notJson.message, /^Could not parse request body into json: /);

      // An invocation type Lambda does not know: its validation error.
      const unknownType = await refusal(
        { FunctionName: 'fanOut', InvocationType: 'Sync' },
        InvalidParameterValueException,
      );
      assert.equal(unknownType.$metadata.httpStatusCode, 400);
      assert.equal(
        unknownType.message,
        "1 validation error detected: Value 'Sync' at 'invocationType' failed to satisfy constraint: Member must " +
          'satisfy enum value set: [Event, RequestResponse, DryRun]',
      );

      // 1 MB is accepted; one byte more is Lambda's 413, whose error type the SDK does not model (SPEC.md §8.6).
      const exact = JSON.stringify('x'.repeat(ASYNC_MAX_PAYLOAD_BYTES - 2));
      assert.equal((await client.send(event({ FunctionName: 'fanOut', Payload: exact }))).StatusCode, 202);
      const tooLarge = await refusal(
        { FunctionName: 'fanOut', Payload: `${exact} ` },
        SdkLambdaServiceException,
      );
      assert.ok(!(tooLarge instanceof RequestTooLargeException), 'not the class the SDK models, as on AWS');
      assert.deepEqual(
        { name: tooLarge.name, status: tooLarge.$metadata.httpStatusCode, fault: tooLarge.$fault },
        { name: 'RequestEntityTooLargeException', status: 413, fault: 'client' },
      );
      assert.equal(
        tooLarge.message,
        `${ASYNC_MAX_PAYLOAD_BYTES + 1} byte payload is too large for the Event invocation type (limit ${ASYNC_MAX_PAYLOAD_BYTES} bytes)`,
      );

      // The queue holds one event: one running, one queued, the next is refused.
      await local.whenIdle();
      local.invoke('slow');
      await waitUntil(() => local.stats.running === 1, 'the first event to run');
      local.invoke('slow');
      const full = await refusal({ FunctionName: 'fanOut' }, TooManyRequestsException);
      assert.equal(full.$metadata.httpStatusCode, 429);
      assert.equal((full as TooManyRequestsException).Type, 'User');
      assert.equal(local.stats.refusedQueueFull, 1);
      release();
      await local.whenIdle();

      await local.close();
      const closed = await refusal({ FunctionName: 'fanOut' }, ServiceException);
      assert.deepEqual(
        {
          status: closed.$metadata.httpStatusCode,
          fault: closed.$fault,
          Type: (closed as ServiceException).Type,
        },
        { status: 500, fault: 'server', Type: 'Service' },
      );
      assert.equal(local.stats.accepted, 3, 'the exact megabyte and the two slow events');
    },
  );

  await t.test(
    "a full queue is retried by the SDK's standard strategy: 429, then 202 once the queue has room (maxAttempts 3)",
    async (t) => {
      const { released, release } = gate();
      t.after(() => release());
      const ran: string[] = [];
      const local = localLambda(t, {
        maxConcurrency: 1,
        maxQueuedEvents: 1,
        functions: {
          slow: { handler: () => released, timeoutMs: LAMBDA_MAX_TIMEOUT_MS },
          fanOut: (event: AnyEvent) => {
            ran.push(event.room);
          },
        },
      });
      local.invoke('slow');
      await waitUntil(() => local.stats.running === 1, 'the first event to run');
      local.invoke('slow');

      // The queue is freed before the SDK sees its 429, so the retry finds room whatever the SDK's delay.
      const inner = local.requestHandler();
      const statuses: number[] = [];
      const handler: LambdaRequestHandler = {
        ...inner,
        async handle(request, options) {
          const answer = await inner.handle(request, options);
          statuses.push(answer.response.statusCode);
          if (answer.response.statusCode === 429) {
            release();
            await local.whenIdle();
          }
          return answer;
        },
      };
      const client = lambdaClient(t, handler, { maxAttempts: 3 });
      const output = await client.send(event({ FunctionName: 'fanOut', Payload: '{"room":"r1"}' }));
      assert.equal(output.StatusCode, 202);
      assert.equal(output.$metadata.attempts, 2);
      assert.deepEqual(statuses, [429, 202]);
      await local.whenIdle();
      assert.deepEqual(ran, ['r1']);
      assert.equal(local.stats.refusedQueueFull, 1);
    },
  );

  await t.test(
    'the wire: other operations and methods, streamed bodies read no further than the limit, Date, abort',
    async (t) => {
      const clock = new ManualClock();
      const ran: AnyEvent[] = [];
      const local = localLambda(t, { clock, functions: { fanOut: (event: AnyEvent) => ran.push(event) } });
      const handler = local.requestHandler();

      // Operations other than Invoke: the SDK raises its base exception under the error type.
      const client = lambdaClient(t, handler, { maxAttempts: 1 });
      const other = await client.send(new GetFunctionCommand({ FunctionName: 'fanOut' })).then(
        () => assert.fail('GetFunction answered'),
        (error: unknown) => error,
      );
      assert.ok(other instanceof SdkLambdaServiceException);
      assert.equal(other.name, 'UnknownOperationException');
      assert.equal(other.$metadata.httpStatusCode, 404);

      const wrongMethod = await handler.handle(rawRequest('GET', '/2015-03-31/functions/fanOut/invocations'));
      assert.equal(wrongMethod.response.statusCode, 405);
      assert.equal(wrongMethod.response.headers['x-amzn-errortype'], 'UnknownOperationException');
      assert.deepEqual(JSON.parse(bodyText(wrongMethod.response.body)), {
        Type: 'User',
        message: 'Invoke takes POST, not GET',
      });
      assert.equal(wrongMethod.response.headers.date, new Date(clock.now()).toUTCString());
      // The message member as Lambda's model names it, `Message` for these two (the SDK reads either).
      const notFound = await handler.handle(rawRequest('POST', '/2015-03-31/functions/nope/invocations'));
      assert.deepEqual(
        {
          type: notFound.response.headers['x-amzn-errortype'],
          body: JSON.parse(bodyText(notFound.response.body)),
        },
        {
          type: 'ResourceNotFoundException',
          body: {
            Type: 'User',
            Message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
          },
        },
      );

      // A streamed body: read to its end when within the limit…
      async function* chunks(total: number, pulled: { count: number }) {
        const chunk = Buffer.alloc(64 * 1024, ' ');
        for (let sent = 0; sent < total; sent += chunk.length) {
          pulled.count += 1;
          yield sent === 0 ? Buffer.from('{"streamed":true}') : chunk;
        }
      }
      const small = { count: 0 };
      const accepted = await handler.handle(
        rawRequest('POST', '/2015-03-31/functions/fanOut/invocations', { body: chunks(1, small) }),
      );
      assert.equal(accepted.response.statusCode, 202);
      assert.equal(accepted.response.headers['content-length'], '0');
      assert.match(accepted.response.headers['x-amzn-requestid'] ?? '', UUID);
      await local.whenIdle();
      assert.deepEqual(ran, [{ streamed: true }]);

      // …and no further than the limit when longer: 8 MB offered, 17 chunks of 64 KB pulled.
      const large = { count: 0 };
      const refused = await handler.handle(
        rawRequest('POST', '/2015-03-31/functions/fanOut/invocations', {
          body: chunks(8 * 1024 * 1024, large),
        }),
      );
      assert.equal(refused.response.statusCode, 413);
      assert.equal(refused.response.headers['x-amzn-errortype'], 'RequestEntityTooLargeException');
      assert.deepEqual(JSON.parse(bodyText(refused.response.body)), {
        Type: 'User',
        message: `The payload is too large for the Event invocation type (limit ${ASYNC_MAX_PAYLOAD_BYTES} bytes)`,
      });
      assert.equal(large.count, ASYNC_MAX_PAYLOAD_BYTES / (64 * 1024) + 1);

      await assert.rejects(
        handler.handle(rawRequest('POST', '/2015-03-31/functions/fanOut/invocations'), {
          abortSignal: AbortSignal.abort(),
        }),
        { name: 'AbortError' },
      );
      await local.whenIdle();
      assert.equal(ran.length, 1, 'the aborted request queued nothing');
    },
  );

  await t.test(
    'gateway.functions.requestHandler(): a route hands delivery to a function with InvokeCommand, which posts back',
    async (t) => {
      const gw = await startGateway(t, {
        routes: {
          sendMessage: async (message: AnyEvent) => {
            const { text } = JSON.parse(message.body);
            const { connectionId } = message.requestContext;
            await lambda.send(
              event({ FunctionName: 'fanOut', Payload: JSON.stringify({ connectionId, text }) }),
            );
          },
        },
        functions: {
          fanOut: {
            handler: async (delivery: AnyEvent) => {
              await gw.managementClient('in-process').send(
                new PostToConnectionCommand({
                  ConnectionId: delivery.connectionId,
                  Data: `fanned out: ${delivery.text}`,
                }),
              );
            },
            timeoutMs: 10 * SECOND,
          },
        },
      });
      const lambda = lambdaClient(t, gw.gateway.functions.requestHandler());
      const client = await gw.connect();
      const message = nextMessage(client);
      client.send(JSON.stringify({ action: 'sendMessage', text: 'hi' }));
      assert.equal((await message).text, 'fanned out: hi');
      assert.equal(gw.gateway.functions.stats.succeeded, 1);
    },
  );
});
