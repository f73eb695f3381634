import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { test } from 'node:test';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { GatewayOptions } from '../src/index.js';
import {
  closeOf,
  connectedId,
  MINUTE,
  nextMessage,
  type RawResponse,
  Recorder,
  rawManagement,
  rejection,
  startGateway,
  type TestGateway,
} from './helpers.js';

const KEYS = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway-test-secret' };
const SECOND_KEYS = { accessKeyId: 'ASIASECONDKEY', secretAccessKey: 'second-secret' };
const WRONG_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access ' +
  'Key and signing method. Consult the service documentation for details.';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What the SDK put on the wire, recorded right after it signed. */
interface SignedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A gateway that verifies signatures, one open client, and SDK clients that sign on the gateway's clock. */
async function signedGateway(t: Parameters<typeof startGateway>[0], options: Partial<GatewayOptions> = {}) {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    managementAuth: { credentials: [KEYS, SECOND_KEYS] },
    routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
    ...options,
  });
  const sdk = (credentials: Credentials = KEYS, config: { region?: string; skewMs?: number } = {}) => {
    const client = new ApiGatewayManagementApiClient({
      endpoint: gw.managementEndpoint,
      region: config.region ?? 'us-east-1',
      credentials,
      maxAttempts: 1,
      // Signs as if the machine's clock read the gateway's (a ManualClock in 2024), plus the skew asked for.
      systemClockOffset: gw.clock.now() - Date.now() + (config.skewMs ?? 0),
    });
    t.after(() => client.destroy());
    return client;
  };
  const client = await gw.connect();
  const ConnectionId = await connectedId(recorder);
  return { gw, recorder, sdk, client, ConnectionId };
}

/** Records every request `client` sends, as signed. */
function recordSigned(client: ApiGatewayManagementApiClient): SignedRequest[] {
  const signed: SignedRequest[] = [];
  type Args = { request: { method: string; path: string; headers: Record<string, string>; body?: unknown } };
  const record = (next: (args: Args) => Promise<unknown>) => async (args: Args) => {
    const { method, path, headers, body } = args.request;
    signed.push({ method, path, headers: { ...headers }, body: bodyBytes(body) });
    return next(args);
  };
  client.middlewareStack.addRelativeTo(record as never, {
    relation: 'after',
    toMiddleware: 'httpSigningMiddleware',
    name: 'recordSignedRequest',
  });
  return signed;
}

function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new TypeError('unexpected body');
}

/** Sends a recorded request again over raw HTTP, byte for byte unless `change` says otherwise. */
function replay(
  gw: TestGateway,
  signed: SignedRequest,
  change: { path?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const body = change.body === undefined ? signed.body : Buffer.from(change.body, 'utf8');
  const headers = { ...signed.headers, 'content-length': String(body.length), ...change.headers };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: gw.port, method: signed.method, path: change.path ?? signed.path, headers },
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

function assertRefused(response: RawResponse, errorType: string, message: string | RegExp): void {
  assert.equal(response.status, 403, response.body);
  assert.equal(response.headers['x-amzn-errortype'], errorType);
  const body = JSON.parse(response.body) as { message: string };
  if (typeof message === 'string') assert.equal(body.message, message);
  else assert.match(body.message, message);
}

const pathOf = (id: string) => `/dev/@connections/${encodeURIComponent(id)}`;

// SPEC.md §10.11 (§5.7): with `managementAuth`, the HTTP listener serves only requests that carry a valid SigV4
// signature, checked the way AWS checks them; the real SDK's requests pass.
test('SPEC.md §10.11 SigV4 on the management API: the SDK’s signatures pass, anything else gets AWS’s 403', async (t) => {
  await t.test(
    'signed by a configured key pair: PostToConnection, GetConnection, DeleteConnection succeed',
    async (t) => {
      const { sdk, client, ConnectionId } = await signedGateway(t);
      const management = sdk();
      const delivered = nextMessage(client);
      const posted = await management.send(new PostToConnectionCommand({ ConnectionId, Data: 'hello' }));
      assert.equal(posted.$metadata.httpStatusCode, 200);
      assert.deepEqual(await delivered, { text: 'hello', isBinary: false });
      const binary = nextMessage(client);
      await management.send(new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array([0xff, 0]) }));
      assert.equal((await binary).isBinary, true);
      const described = await management.send(new GetConnectionCommand({ ConnectionId }));
      assert.equal(described.$metadata.httpStatusCode, 200);
      assert.equal(described.Identity?.SourceIp, '127.0.0.1');

      // Any configured pair; a session token is sent and signed, but not checked (there is no STS here).
      const second = sdk({ ...SECOND_KEYS, sessionToken: 'any-session-token' });
      const closed = closeOf(client);
      const deleted = await second.send(new DeleteConnectionCommand({ ConnectionId }));
      assert.equal(deleted.$metadata.httpStatusCode, 204);
      assert.equal((await closed).code, 1000);
    },
  );

  await t.test(
    'no Authorization header: 403 MissingAuthenticationTokenException, for any method and path',
    async (t) => {
      const { gw, sdk, client, ConnectionId } = await signedGateway(t);
      const received: string[] = [];
      client.on('message', (data) => received.push(String(data)));
      const url = `http://127.0.0.1:${gw.port}${pathOf(ConnectionId)}`;
      const unsigned = await fetch(url, { method: 'POST', body: 'injected' });
      assert.equal(unsigned.status, 403);
      assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
      assert.match(unsigned.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(await unsigned.text(), '{"message":"Missing Authentication Token"}');

      for (const method of ['GET', 'DELETE']) {
        assertRefused(
          await rawManagement(gw, 'http', method, pathOf(ConnectionId)),
          'MissingAuthenticationTokenException',
          'Missing Authentication Token',
        );
      }
      // The signature is checked before the path: an unsigned caller learns nothing about paths or ids.
      for (const path of [
        '/dev/@connections',
        '/prod/@connections/AAAAAAAAAAAAAAA%3D',
        '/dev/@connections/x',
      ]) {
        const response = await rawManagement(gw, 'http', 'GET', path);
        assert.equal(response.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException', path);
      }
      // A presigned URL (the signature in the query string) is not supported: it counts as unsigned.
      const presigned =
        `${pathOf(ConnectionId)}?X-Amz-Algorithm=AWS4-HMAC-SHA256` +
        `&X-Amz-Credential=${KEYS.accessKeyId}%2F20240219%2Fus-east-1%2Fexecute-api%2Faws4_request` +
        `&X-Amz-Date=20240219T071142Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=${'0'.repeat(64)}`;
      assertRefused(
        await rawManagement(gw, 'http', 'POST', presigned, 'x'),
        'MissingAuthenticationTokenException',
        'Missing Authentication Token',
      );

      // None of that reached the client or closed it: the next frame is the signed one.
      const next = nextMessage(client);
      await sdk().send(new PostToConnectionCommand({ ConnectionId, Data: 'signed' }));
      assert.equal((await next).text, 'signed');
      assert.deepEqual(received, ['signed']);
    },
  );

  await t.test(
    'a wrong secret or an unknown key: the SDK throws InvalidSignatureException or AccessDeniedException, 403',
    async (t) => {
      const { sdk, ConnectionId } = await signedGateway(t);
      const wrongSecret = await rejection(
        sdk({ accessKeyId: KEYS.accessKeyId, secretAccessKey: 'not-the-secret' }).send(
          new PostToConnectionCommand({ ConnectionId, Data: 'x' }),
        ),
      );
      assert.equal(wrongSecret.name, 'InvalidSignatureException');
      assert.equal(wrongSecret.$metadata.httpStatusCode, 403);
      assert.equal(wrongSecret.message, WRONG_SIGNATURE);

      const unknownKey = await rejection(
        sdk({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: KEYS.secretAccessKey }).send(
          new GetConnectionCommand({ ConnectionId }),
        ),
      );
      assert.equal(unknownKey.name, 'AccessDeniedException');
      assert.equal(unknownKey.$metadata.httpStatusCode, 403);
      assert.equal(unknownKey.message, 'The security token included in the request is invalid.');

      // Another key's secret does not sign for this key either.
      const crossed = await rejection(
        sdk({ accessKeyId: SECOND_KEYS.accessKeyId, secretAccessKey: KEYS.secretAccessKey }).send(
          new DeleteConnectionCommand({ ConnectionId }),
        ),
      );
      assert.equal(crossed.name, 'InvalidSignatureException');
    },
  );

  await t.test(
    'a replay: accepted up to 5 minutes after X-Amz-Date, refused 6 minutes later; the future too',
    async (t) => {
      const { gw, sdk, client, ConnectionId } = await signedGateway(t);
      const management = sdk();
      const signed = recordSigned(management);
      const first = nextMessage(client);
      await management.send(new PostToConnectionCommand({ ConnectionId, Data: 'once' }));
      await first;
      const [original] = signed;
      assert.ok(original);

      // AWS has no nonce: a replay inside the window is a valid request.
      gw.clock.advance(5 * MINUTE);
      const again = nextMessage(client);
      assert.equal((await replay(gw, original)).status, 200);
      assert.equal((await again).text, 'once');

      gw.clock.advance(MINUTE);
      const expired = await replay(gw, original);
      const amzDate = original.headers['x-amz-date'];
      assert.equal(amzDate, '20240219T071142Z', 'signed on the gateway’s clock');
      assertRefused(
        expired,
        'InvalidSignatureException',
        'Signature expired: 20240219T071142Z is now earlier than 20240219T071242Z (20240219T071742Z - 5 min.)',
      );

      // A request signed 6 minutes ahead of the gateway's clock is not yet valid.
      const ahead = await rejection(
        sdk(KEYS, { skewMs: 6 * MINUTE }).send(new GetConnectionCommand({ ConnectionId })),
      );
      assert.equal(ahead.name, 'InvalidSignatureException');
      assert.match(
        ahead.message,
        /^Signature not yet current: \d{8}T\d{6}Z is still later than .* \+ 5 min\.\)$/,
      );
    },
  );

  await t.test(
    'a request altered after signing is refused: body, path, a matching x-amz-content-sha256',
    async (t) => {
      const { gw, recorder, sdk, client, ConnectionId } = await signedGateway(t);
      const other = await gw.connect();
      const otherId = await connectedId(recorder, 1);
      const received: string[] = [];
      client.on('message', (data) => received.push(String(data)));
      other.on('message', (data) => received.push(`other: ${data}`));
      const management = sdk();
      const signed = recordSigned(management);
      await management.send(new PostToConnectionCommand({ ConnectionId, Data: 'hello' }));
      const [original] = signed;
      assert.ok(original);
      assert.equal(original.headers['x-amz-content-sha256']?.length, 64, 'the SDK signs the payload hash');

      assertRefused(
        await replay(gw, original, { body: 'HELLO' }),
        'InvalidSignatureException',
        WRONG_SIGNATURE,
      );
      // An attacker who also fixes up the payload hash header breaks the signature instead.
      const forged = { 'x-amz-content-sha256': sha256Hex('HELLO') };
      assertRefused(
        await replay(gw, original, { body: 'HELLO', headers: forged }),
        'InvalidSignatureException',
        WRONG_SIGNATURE,
      );
      assertRefused(
        await replay(gw, original, { path: pathOf(otherId) }),
        'InvalidSignatureException',
        WRONG_SIGNATURE,
      );

      const next = [nextMessage(client), nextMessage(other)];
      await management.send(new PostToConnectionCommand({ ConnectionId, Data: 'last' }));
      await management.send(new PostToConnectionCommand({ ConnectionId: otherId, Data: 'last' }));
      await Promise.all(next);
      assert.deepEqual(received, ['hello', 'last', 'other: last'], 'no altered request reached a client');
    },
  );

  await t.test(
    'the credential scope and the header: region, service, date, host, malformed headers',
    async (t) => {
      const { gw, sdk, ConnectionId } = await signedGateway(t);
      const wrongRegion = await rejection(
        sdk(KEYS, { region: 'eu-west-1' }).send(new GetConnectionCommand({ ConnectionId })),
      );
      assert.equal(wrongRegion.name, 'InvalidSignatureException');
      assert.equal(wrongRegion.message, "Credential should be scoped to a valid region, not 'eu-west-1'. ");

      const management = sdk();
      const signed = recordSigned(management);
      await management.send(new GetConnectionCommand({ ConnectionId }));
      const [original] = signed;
      assert.ok(original);
      const authorization = original.headers.authorization ?? '';
      const withAuthorization = (value: string) =>
        replay(gw, original, { headers: { authorization: value } });
      assertRefused(
        await withAuthorization(authorization.replace('/execute-api/', '/s3/')),
        'InvalidSignatureException',
        "Credential should be scoped to correct service: 'execute-api'. ",
      );
      assertRefused(
        await withAuthorization(authorization.replace('/20240219/', '/20240218/')),
        'InvalidSignatureException',
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240218' != " +
          "'20240219', from '20240219T071142Z'.",
      );
      assertRefused(
        await withAuthorization(authorization.replace(/;host;/, ';')),
        'IncompleteSignatureException',
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
      );
      assertRefused(
        await withAuthorization('Bearer eyJhbGciOi'),
        'IncompleteSignatureException',
        "'eyJhbGciOi' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer eyJhbGciOi'.",
      );
      assertRefused(
        await withAuthorization(
          `AWS4-HMAC-SHA256 Credential=${KEYS.accessKeyId}/20240219/us-east-1/execute-api/aws4_request`,
        ),
        'IncompleteSignatureException',
        /^Authorization header requires 'Signature' parameter\. Authorization header requires 'SignedHeaders' parameter\. Authorization=AWS4-HMAC-SHA256 /,
      );
      assertRefused(
        await replay(gw, original, { headers: { 'x-amz-date': '' } }),
        'IncompleteSignatureException',
        /^Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header\. Authorization=/,
      );
      assertRefused(
        await replay(gw, original, { headers: { 'x-amz-date': '2024-02-19T07:11:42Z' } }),
        'IncompleteSignatureException',
        "Date must be in ISO-8601 'basic format'. Got '2024-02-19T07:11:42Z'.",
      );
    },
  );

  await t.test(
    'the SDK corrects its clock from the gateway’s Date header and retries, as against AWS',
    async (t) => {
      const { gw, ConnectionId } = await signedGateway(t);
      // Signs with the machine's clock, years after the gateway's 2024 ManualClock.
      const client = new ApiGatewayManagementApiClient({
        endpoint: gw.managementEndpoint,
        region: 'us-east-1',
        credentials: KEYS,
        maxAttempts: 2,
      });
      t.after(() => client.destroy());
      const response = await client.send(new GetConnectionCommand({ ConnectionId }));
      assert.equal(response.$metadata.attempts, 2, 'the first attempt got Signature expired');
      assert.ok(Math.abs(Date.now() + client.config.systemClockOffset - gw.clock.now()) < MINUTE);
    },
  );

  await t.test('in process: signatures are not checked, since no network client can reach it', async (t) => {
    const { gw, client, ConnectionId } = await signedGateway(t);
    const inProcess = new ApiGatewayManagementApiClient({
      endpoint: gw.managementEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'anything', secretAccessKey: 'anything' },
      requestHandler: gw.gateway.managementRequestHandler(),
    });
    t.after(() => inProcess.destroy());
    const delivered = nextMessage(client);
    await inProcess.send(new PostToConnectionCommand({ ConnectionId, Data: 'in process' }));
    assert.equal((await delivered).text, 'in process');
    const raw = await rawManagement(gw, 'in-process', 'GET', pathOf(ConnectionId));
    assert.equal(raw.status, 200, 'not even an Authorization header is needed');
  });

  await t.test("'none' and no option: unsigned requests are served", async (t) => {
    for (const options of [{ managementAuth: 'none' as const }, {}]) {
      const gw = await startGateway(t, { routes: {}, ...options });
      const response = await rawManagement(gw, 'http', 'GET', '/dev/@connections/AAAAAAAAAAAAAAA%3D');
      assert.equal(response.status, 410, JSON.stringify(options));
    }
  });
});

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
