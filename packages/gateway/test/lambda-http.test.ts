import assert from 'node:assert/strict';
import { request } from 'node:http';
import { type TestContext, test } from 'node:test';
import { GetConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  ResourceNotFoundException,
  LambdaServiceException as SdkLambdaServiceException,
} from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { SYNC_MAX_REQUEST_BYTES } from '../src/constants.js';
import type { GatewayOptions } from '../src/index.js';
import {
  type AnyEvent,
  connectedId,
  gate,
  type RawResponse,
  Recorder,
  rejection,
  SECOND,
  startGateway,
  type TestGateway,
  UUID,
  waitUntil,
} from './helpers.js';

const KEYS = { accessKeyId: 'AKIDLAMBDATEST', secretAccessKey: 'lambda-test-secret' };
const SECOND_KEYS = { accessKeyId: 'ASIASECONDLAMBDA', secretAccessKey: 'second-lambda-secret' };
const WRONG_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access ' +
  'Key and signing method. Consult the service documentation for details.';
const INVOKE_ECHO = '/2015-03-31/functions/echo/invocations';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A gateway that verifies signatures, with functions callable over its listener. */
async function lambdaGateway(t: TestContext, options: Partial<GatewayOptions> = {}) {
  return startGateway(t, {
    routes: {},
    managementAuth: { credentials: [KEYS, SECOND_KEYS] },
    functions: {
      echo: async (event: AnyEvent, context: Context) => ({ echoed: event, requestId: context.awsRequestId }),
    },
    ...options,
  });
}

/**
 * The real SDK client over HTTP, as a separate process would make it: `endpoint` is the listener's `lambdaEndpoint`.
 * It signs as if the machine's clock read the gateway's (a ManualClock in 2024); tests that expect an error pass
 * `maxAttempts: 1`, since the SDK retries 429 and 5xx on its own.
 */
function lambdaClient(
  t: TestContext,
  gw: TestGateway,
  credentials: Credentials = KEYS,
  { maxAttempts = 1 }: { maxAttempts?: number } = {},
): LambdaClient {
  const client = new LambdaClient({
    endpoint: gw.lambdaEndpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts,
    systemClockOffset: gw.clock.now() - Date.now(),
  });
  t.after(() => client.destroy());
  return client;
}

function payloadOf(output: InvokeCommandOutput): AnyEvent {
  return JSON.parse(Buffer.from(output.Payload ?? []).toString('utf8'));
}

/** A request the SDK would not send: unsigned, or with a body of our own. */
function rawPost(
  gw: TestGateway,
  path: string,
  body: string | Buffer = '{}',
  method = 'POST',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw.port, method, path }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What the SDK put on the wire, recorded right after it signed. */
interface SignedRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

function recordSigned(client: LambdaClient): SignedRequest[] {
  const signed: SignedRequest[] = [];
  type Args = { request: { path: string; headers: Record<string, string>; body?: unknown } };
  const record = (next: (args: Args) => Promise<unknown>) => async (args: Args) => {
    const { path, headers, body } = args.request;
    signed.push({ path, headers: { ...headers }, body: Buffer.from((body as Uint8Array | string) ?? '') });
    return next(args);
  };
  client.middlewareStack.addRelativeTo(record as never, {
    relation: 'after',
    toMiddleware: 'httpSigningMiddleware',
    name: 'recordSignedRequest',
  });
  return signed;
}

/** Sends a recorded request again, byte for byte unless `change` says otherwise. */
function replay(
  gw: TestGateway,
  signed: SignedRequest,
  change: { body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const body = change.body === undefined ? signed.body : Buffer.from(change.body, 'utf8');
  const headers = { ...signed.headers, 'content-length': String(body.length), ...change.headers };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: gw.port, method: 'POST', path: signed.path, headers },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function assertRefused(response: RawResponse, errorType: string, message: string): void {
  assert.equal(response.status, 403, response.body);
  assert.equal(response.headers['x-amzn-errortype'], errorType);
  assert.match(String(response.headers['x-amzn-requestid']), UUID);
  assert.deepEqual(JSON.parse(response.body), { Type: 'User', message });
}

// SPEC.md §10.17 (§8.8, §8.9): another process's LambdaClient, given the listener's `lambdaEndpoint`, invokes the
// gateway's functions as it would invoke Lambda, signed with a key pair of `managementAuth`.
test("SPEC.md §10.17 Lambda's Invoke API over HTTP: the SDK's InvokeCommand from another process, signed as for AWS", async (t) => {
  await t.test(
    'RequestResponse (no InvocationType): 200 with the result, ExecutedVersion, the request id the handler saw',
    async (t) => {
      const gw = await lambdaGateway(t);
      assert.equal(gw.lambdaEndpoint, `http://127.0.0.1:${gw.port}`);
      const lambda = lambdaClient(t, gw);
      const output = await lambda.send(
        new InvokeCommand({ FunctionName: 'echo', Payload: JSON.stringify({ room: 'r1' }) }),
      );
      assert.equal(output.StatusCode, 200);
      assert.equal(output.ExecutedVersion, '$LATEST');
      assert.equal(output.FunctionError, undefined);
      assert.match(output.$metadata.requestId ?? '', UUID);
      assert.deepEqual(payloadOf(output), { echoed: { room: 'r1' }, requestId: output.$metadata.requestId });

      // A full ARN with a qualifier (percent-encoded by the SDK), the Qualifier parameter, LogType Tail, no payload.
      const byArn = await lambda.send(
        new InvokeCommand({
          FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST',
          InvocationType: 'RequestResponse',
          LogType: 'Tail',
        }),
      );
      assert.deepEqual(payloadOf(byArn).echoed, {});
      assert.equal(byArn.LogResult, '');
      const qualified = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Qualifier: '$LATEST' }));
      assert.equal(qualified.StatusCode, 200);

      // Any configured key pair: the management API's.
      const second = lambdaClient(t, gw, SECOND_KEYS);
      assert.equal((await second.send(new InvokeCommand({ FunctionName: 'echo' }))).StatusCode, 200);
      assert.equal(gw.gateway.functions.stats.syncInvocations, 4);
    },
  );

  await t.test(
    "a handler error: 200 with FunctionError Unhandled and the runtime's error document as Payload",
    async (t) => {
      const gw = await lambdaGateway(t, {
        functions: {
          failing: async () => {
            throw new TypeError("Cannot read properties of undefined (reading 'room')");
          },
        },
      });
      const output = await lambdaClient(t, gw).send(new InvokeCommand({ FunctionName: 'failing' }));
      assert.equal(output.StatusCode, 200);
      assert.equal(output.FunctionError, 'Unhandled');
      assert.equal(output.ExecutedVersion, '$LATEST');
      const { errorType, errorMessage, trace } = payloadOf(output);
      assert.deepEqual(
        { errorType, errorMessage, first: trace[0] },
        {
          errorType: 'TypeError',
          errorMessage: "Cannot read properties of undefined (reading 'room')",
          first: "TypeError: Cannot read properties of undefined (reading 'room')",
        },
      );
    },
  );

  await t.test(
    "a timeout: when the gateway's clock reaches the function's timeout, 200 with Sandbox.Timedout",
    async (t) => {
      const { released, release } = gate();
      t.after(() => release());
      const started: string[] = [];
      const gw = await lambdaGateway(t, {
        functions: {
          stuck: {
            handler: async (_event: AnyEvent, context: Context) => {
              started.push(context.awsRequestId);
              await released;
              return 'too late';
            },
            timeoutMs: 2 * SECOND,
          },
        },
      });
      const pending = lambdaClient(t, gw).send(new InvokeCommand({ FunctionName: 'stuck' }));
      await waitUntil(() => started.length === 1, 'the handler to start');
      gw.clock.advance(2 * SECOND);
      const output = await pending;
      assert.equal(output.StatusCode, 200);
      assert.equal(output.FunctionError, 'Unhandled');
      assert.equal(output.$metadata.requestId, started[0]);
      assert.deepEqual(payloadOf(output), {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${started[0]} Error: Task timed out after 2.00 seconds`,
      });
    },
  );

  await t.test(
    'over 6 MB: 413 RequestEntityTooLargeException, the body read no further than the limit',
    async (t) => {
      let runs = 0;
      const gw = await lambdaGateway(t, {
        managementAuth: 'none',
        functions: {
          count: () => {
            runs += 1;
            return runs;
          },
        },
      });
      const lambda = lambdaClient(t, gw);
      const exact = JSON.stringify('x'.repeat(SYNC_MAX_REQUEST_BYTES - 2));
      assert.equal(
        (await lambda.send(new InvokeCommand({ FunctionName: 'count', Payload: exact }))).StatusCode,
        200,
      );
      const tooLarge = await rejection(
        lambda.send(new InvokeCommand({ FunctionName: 'count', Payload: `${exact} ` })),
      );
      assert.ok(tooLarge instanceof SdkLambdaServiceException);
      assert.equal(tooLarge.name, 'RequestEntityTooLargeException');
      assert.equal(tooLarge.$metadata.httpStatusCode, 413);
      assert.equal(
        tooLarge.message,
        `${SYNC_MAX_REQUEST_BYTES + 1} byte payload is too large for the RequestResponse invocation type (limit ${SYNC_MAX_REQUEST_BYTES} bytes)`,
      );
      // 16 MB sent raw: the whole body is read (the sender is not cut off), its size counted, nothing run.
      const huge = await rawPost(
        gw,
        '/2015-03-31/functions/count/invocations',
        Buffer.alloc(16 * 1024 * 1024, ' '),
      );
      assert.equal(huge.status, 413);
      assert.match(JSON.parse(huge.body).message, /^16777216 byte payload is too large/);
      assert.equal(runs, 1);
    },
  );

  await t.test(
    "an unknown function: 404 ResourceNotFoundException, the SDK's own class; other operations 404 too",
    async (t) => {
      const gw = await lambdaGateway(t);
      const lambda = lambdaClient(t, gw);
      const notFound = await rejection(lambda.send(new InvokeCommand({ FunctionName: 'nope' })));
      assert.ok(notFound instanceof ResourceNotFoundException);
      assert.equal(notFound.$metadata.httpStatusCode, 404);
      assert.equal(
        notFound.message,
        'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
      );
      const versioned = await rejection(
        lambda.send(new InvokeCommand({ FunctionName: 'echo', Qualifier: '3' })),
      );
      assert.ok(versioned instanceof ResourceNotFoundException);
    },
  );

  await t.test(
    'unsigned: 403 MissingAuthenticationTokenException for any path under /2015-03-31/, nothing run',
    async (t) => {
      let runs = 0;
      const gw = await lambdaGateway(t, {
        functions: {
          echo: () => {
            runs += 1;
          },
        },
      });
      for (const [method, path, body] of [
        ['POST', INVOKE_ECHO, '{}'],
        ['POST', '/2015-03-31/functions/nope/invocations', '{}'],
        ['GET', '/2015-03-31/functions', ''],
      ] as const) {
        assertRefused(
          await rawPost(gw, path, body, method),
          'MissingAuthenticationTokenException',
          'Missing Authentication Token',
        );
      }
      assert.equal(runs, 0);
    },
  );

  await t.test(
    'a wrong secret: 403 InvalidSignatureException; an unknown key: 403 UnrecognizedClientException',
    async (t) => {
      const gw = await lambdaGateway(t);
      const wrongSecret = await rejection(
        lambdaClient(t, gw, { accessKeyId: KEYS.accessKeyId, secretAccessKey: 'not-the-secret' }).send(
          new InvokeCommand({ FunctionName: 'echo' }),
        ),
      );
      assert.deepEqual(
        {
          name: wrongSecret.name,
          status: wrongSecret.$metadata.httpStatusCode,
          message: wrongSecret.message,
        },
        { name: 'InvalidSignatureException', status: 403, message: WRONG_SIGNATURE },
      );
      const unknownKey = await rejection(
        lambdaClient(t, gw, { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: KEYS.secretAccessKey }).send(
          new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event' }),
        ),
      );
      assert.deepEqual(
        { name: unknownKey.name, status: unknownKey.$metadata.httpStatusCode, message: unknownKey.message },
        {
          name: 'UnrecognizedClientException',
          status: 403,
          message: 'The security token included in the request is invalid.',
        },
      );
      assert.equal(gw.gateway.functions.stats.syncInvocations, 0);
      assert.equal(gw.gateway.functions.stats.accepted, 0);
    },
  );

  await t.test(
    "a changed body or a scope for another service is refused; the SDK corrects its clock from Lambda's Date",
    async (t) => {
      const gw = await lambdaGateway(t);
      const lambda = lambdaClient(t, gw);
      const signed = recordSigned(lambda);
      await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: '{"room":"r1"}' }));
      const [original] = signed;
      assert.ok(original);
      assert.equal((await replay(gw, original)).status, 200, 'a replay within 5 minutes is a valid request');
      assertRefused(
        await replay(gw, original, { body: '{"room":"r2"}' }),
        'InvalidSignatureException',
        WRONG_SIGNATURE,
      );
      const authorization = original.headers.authorization ?? '';
      assertRefused(
        await replay(gw, original, {
          headers: { authorization: authorization.replace('/lambda/', '/execute-api/') },
        }),
        'InvalidSignatureException',
        "Credential should be scoped to correct service: 'lambda'. ",
      );

      // Signing with the machine's clock, years after the gateway's: Signature expired, then a retry that passes.
      const unsynced = new LambdaClient({
        endpoint: gw.lambdaEndpoint,
        region: 'us-east-1',
        credentials: KEYS,
        maxAttempts: 2,
      });
      t.after(() => unsynced.destroy());
      const output = await unsynced.send(new InvokeCommand({ FunctionName: 'echo' }));
      assert.equal(output.StatusCode, 200);
      assert.equal(output.$metadata.attempts, 2, 'the first attempt got Signature expired');
    },
  );

  await t.test("managementAuth 'none' (and no option): unsigned requests are served", async (t) => {
    for (const options of [{ managementAuth: 'none' as const }, { managementAuth: undefined }]) {
      const gw = await lambdaGateway(t, options);
      const response = await rawPost(gw, INVOKE_ECHO, '{"unsigned":true}');
      assert.equal(response.status, 200, JSON.stringify(options));
      assert.equal(response.headers['x-amz-executed-version'], '$LATEST');
      assert.equal(response.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(response.body).echoed, { unsigned: true });
      assert.match(String(response.headers.date), /GMT$/);
    }
  });

  await t.test('Event over HTTP: 202 at once, the handler runs later; DryRun 204, nothing run', async (t) => {
    const events: AnyEvent[] = [];
    const gw = await lambdaGateway(t, {
      functions: {
        worker: async (event: AnyEvent) => {
          events.push(event);
        },
      },
    });
    const lambda = lambdaClient(t, gw);
    const accepted = await lambda.send(
      new InvokeCommand({ FunctionName: 'worker', InvocationType: 'Event', Payload: '{"shard":1}' }),
    );
    assert.equal(accepted.StatusCode, 202);
    assert.equal(accepted.Payload?.length ?? 0, 0);
    const dryRun = await lambda.send(new InvokeCommand({ FunctionName: 'worker', InvocationType: 'DryRun' }));
    assert.equal(dryRun.StatusCode, 204);
    await gw.gateway.functions.whenIdle();
    assert.deepEqual(events, [{ shard: 1 }]);
  });

  await t.test(
    'beside the stage, the management API and httpHandler, which never sees /2015-03-31/, even for a stage of that name',
    async (t) => {
      const recorder = new Recorder();
      const demoPaths: string[] = [];
      const httpHandler: GatewayOptions['httpHandler'] = (req, res) => {
        demoPaths.push(req.url ?? '');
        res.end('demo page');
        return true;
      };
      for (const stage of ['dev', '2015-03-31']) {
        const gw = await lambdaGateway(t, {
          stage,
          managementAuth: 'none',
          routes: { $connect: recorder.handler() },
          httpHandler,
        });
        const unknown = await rawPost(gw, '/2015-03-31/functions', '', 'GET');
        assert.equal(unknown.status, 404, stage);
        assert.equal(unknown.headers['x-amzn-errortype'], 'UnknownOperationException');
        assert.equal((await rawPost(gw, INVOKE_ECHO)).status, 200, stage);
        assert.equal((await rawPost(gw, `/${stage}`, '', 'GET')).status, 426, stage);
        assert.equal((await rawPost(gw, '/demo', '', 'GET')).body, 'demo page');
        await gw.connect();
        const ConnectionId = await connectedId(recorder, stage === 'dev' ? 0 : 1);
        const described = await gw.management.send(new GetConnectionCommand({ ConnectionId }));
        assert.equal(described.$metadata.httpStatusCode, 200, stage);
      }
      assert.deepEqual(demoPaths, ['/demo', '/demo'], 'only the demo paths reached httpHandler');
    },
  );
});
