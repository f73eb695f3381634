import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { createGateway, type ManagementCredentials } from '@roomcast/gateway';
import type { AwsCredentialIdentity } from '@smithy/types';
import WebSocket from 'ws';
import { createManagementClient, isConnected, postOne } from '../../src/delivery.ts';
import {
  type ConnectionsApiStub,
  FORBIDDEN,
  GONE,
  HANGS,
  INTERNAL,
  OK,
  type ScriptedResponse,
  startConnectionsApiStub,
  THROTTLED,
} from '../support/connections-api-stub.ts';

/**
 * The direct path of the management client (src/management-client.ts): PostToConnection, GetConnection and
 * DeleteConnection go straight to Node's HTTP client, signed by @smithy/signature-v4, and must keep what the SDK
 * gave: signatures the @connections API accepts, the SDK's exception classes, retries with backoff for 429 and
 * 5xx but not for a timeout, and credentials asked for on every request.
 */

const KEYS = { accessKeyId: 'AKIDDIRECTPATH', secretAccessKey: 'direct-path-secret' };
const ROTATED = { accessKeyId: 'ASIAROTATEDKEY', secretAccessKey: 'rotated-secret' };
const SESSION = { ...ROTATED, sessionToken: 'IQoJb3JpZ2luX2VjE'.padEnd(1024, 'x') };
const region = 'us-east-1';

/** A gateway that checks SigV4 signatures against `keys`, with `clients` WebSocket clients connected. */
async function signingGateway(keys: ManagementCredentials[], clients = 1) {
  const ids: string[] = [];
  const gateway = createGateway({
    stage: 'dev',
    region,
    managementAuth: { credentials: keys },
    routes: {
      $connect: async (event: { requestContext: { connectionId: string } }) => {
        ids.push(event.requestContext.connectionId);
        return { statusCode: 200 };
      },
    },
  });
  const { url, managementEndpoint } = await gateway.listen(0, '127.0.0.1');
  const received: string[][] = [];
  const sockets = await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const socket = new WebSocket(url);
      received[i] = [];
      socket.on('message', (data) => received[i]?.push(String(data)));
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      return socket;
    }),
  );
  // The $connect of the last client may still be recording its id.
  while (ids.length < clients) await new Promise((resolve) => setTimeout(resolve, 5));
  return {
    managementEndpoint,
    ids,
    sockets,
    received,
    async close() {
      for (const socket of sockets) socket.terminate();
      await gateway.close();
    },
  };
}

async function eventually(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('signatures the local gateway checks with the SDK signer', () => {
  test('a post, a GetConnection and a DeleteConnection are signed as the @connections API requires', async () => {
    const gw = await signingGateway([KEYS]);
    const client = createManagementClient(gw.managementEndpoint, { region, credentials: KEYS });
    try {
      const [id] = gw.ids as [string];
      assert.match(id, /=$/, 'the connection id needs escaping in the path');
      await postOne(client, id, 'héllo');
      await eventually(() => gw.received[0]?.length === 1);
      assert.deepEqual(gw.received[0], ['héllo']);

      assert.equal(await isConnected(client, id), true);
      const connection = await client.send(new GetConnectionCommand({ ConnectionId: id }));
      assert.ok(connection.ConnectedAt instanceof Date, 'the output is read by the SDK protocol');
      assert.equal(connection.$metadata.httpStatusCode, 200);
      assert.equal(connection.$metadata.attempts, 1);

      const deleted = await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
      assert.equal(deleted.$metadata.httpStatusCode, 204);
      await eventually(() => gw.sockets[0]?.readyState === WebSocket.CLOSED);
      assert.equal(await isConnected(client, id), false);
      await assert.rejects(postOne(client, id, 'gone'), GoneException);
    } finally {
      client.destroy();
      await gw.close();
    }
  });

  test('temporary credentials: the session token is sent and signed', async () => {
    const gw = await signingGateway([ROTATED]);
    const client = createManagementClient(gw.managementEndpoint, { region, credentials: SESSION });
    try {
      await postOne(client, gw.ids[0] as string, 'with a token');
      await eventually(() => gw.received[0]?.length === 1);
    } finally {
      client.destroy();
      await gw.close();
    }
  });

  test('a wrong secret is refused with the SDK exception the API names, and not retried', async () => {
    const gw = await signingGateway([KEYS]);
    const client = createManagementClient(gw.managementEndpoint, {
      region,
      credentials: { ...KEYS, secretAccessKey: 'guessed' },
    });
    try {
      const error = await rejectionOf(postOne(client, gw.ids[0] as string, 'forged'));
      assert.ok(error instanceof ApiGatewayManagementApiServiceException, String(error));
      assert.equal(error.name, 'InvalidSignatureException');
      assert.deepEqual(error.$metadata, {
        httpStatusCode: 403,
        requestId: error.$metadata && (error.$metadata as { requestId?: string }).requestId,
        extendedRequestId: undefined,
        cfId: undefined,
        attempts: 1,
        totalRetryDelay: 0,
      });
      assert.deepEqual(gw.received[0], []);
    } finally {
      client.destroy();
      await gw.close();
    }
  });

  test('a rotated key pair with a session token signs what the gateway accepts', async () => {
    const gw = await signingGateway([KEYS, ROTATED], 1);
    let calls = 0;
    // Each identity is about to expire (within the SDK's five minutes), so every request asks for a new one.
    const credentials = async (): Promise<AwsCredentialIdentity> => ({
      ...(calls++ % 2 === 0 ? KEYS : SESSION),
      expiration: new Date(Date.now() + 60_000),
    });
    const client = createManagementClient(gw.managementEndpoint, { region, credentials });
    try {
      for (let i = 0; i < 4; i++) await postOne(client, gw.ids[0] as string, `post ${i}`);
      await eventually(() => gw.received[0]?.length === 4);
    } finally {
      client.destroy();
      await gw.close();
    }
  });
});

describe("the local gateway's in-process transport", () => {
  test("takes the direct path: the SDK middleware never runs, outputs and errors are the SDK's", async () => {
    const ids: string[] = [];
    const gateway = createGateway({
      stage: 'dev',
      region,
      routes: {
        $connect: async (event: { requestContext: { connectionId: string } }) => {
          ids.push(event.requestContext.connectionId);
          return { statusCode: 200 };
        },
      },
    });
    const { url, managementEndpoint } = await gateway.listen(0, '127.0.0.1');
    const received: string[] = [];
    const socket = new WebSocket(url);
    socket.on('message', (data) => received.push(String(data)));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const client = createManagementClient(managementEndpoint, {
      region,
      transport: gateway.managementRequestHandler(),
      unsigned: true,
    });
    // Any request that went through the SDK's stack would pass its serialize step.
    let throughMiddleware = 0;
    client.middlewareStack.add(
      (next) => (args) => {
        throughMiddleware++;
        return next(args);
      },
      { step: 'serialize', name: 'countSdkRequests' },
    );
    try {
      await eventually(() => ids.length === 1);
      const [id] = ids as [string];
      await postOne(client, id, 'in process');
      await eventually(() => received.length === 1);
      assert.deepEqual(received, ['in process']);
      const connection = await client.send(new GetConnectionCommand({ ConnectionId: id }));
      assert.ok(connection.ConnectedAt instanceof Date, 'the output is read by the SDK protocol');
      await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
      await assert.rejects(postOne(client, id, 'gone'), GoneException);
      assert.equal(throughMiddleware, 0);
    } finally {
      client.destroy();
      socket.terminate();
      await gateway.close();
    }
  });
});

describe('errors, retries and timeouts of the direct path', () => {
  let stub: ConnectionsApiStub;
  before(async () => {
    stub = await startConnectionsApiStub({ latencyMs: 1 });
  });
  beforeEach(() => {
    stub.script.clear();
    stub.posts.length = 0;
  });
  after(() => stub.close());

  const postsTo = (id: string) => stub.posts.filter((post) => post.connectionId === id);
  const direct = (options: Parameters<typeof createManagementClient>[1] = {}) =>
    createManagementClient(stub.endpoint, { region, credentials: KEYS, ...options });

  test('a 410 is a GoneException, at once', async () => {
    stub.script.set('gone', [GONE]);
    const client = direct();
    try {
      const error = await rejectionOf(postOne(client, 'gone', 'x'));
      assert.ok(error instanceof GoneException);
      assert.equal(error.$fault, 'client');
      assert.equal((error.$metadata as { attempts: number }).attempts, 1);
      assert.equal(postsTo('gone').length, 1);
    } finally {
      client.destroy();
    }
  });

  test('each error is the one the SDK itself throws for the same response', async () => {
    const responses: Record<string, ScriptedResponse> = {
      gone: GONE,
      throttled: THROTTLED,
      forbidden: FORBIDDEN,
      internal: INTERNAL,
      tooLarge: {
        status: 413,
        errorType: 'PayloadTooLargeException',
        body: '{"message":"Payload too large"}',
      },
      unknownType: {
        status: 400,
        errorType: 'BadRequestException:http://internal',
        body: '{"message":"no"}',
      },
    };
    for (const [id, response] of Object.entries(responses)) stub.script.set(id, [response]);
    const client = direct({ maxAttempts: 1 });
    const sdk = new ApiGatewayManagementApiClient({
      endpoint: stub.endpoint,
      region,
      credentials: KEYS,
      maxAttempts: 1,
    });
    try {
      for (const id of Object.keys(responses)) {
        const ours = await rejectionOf(
          client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' })),
        );
        const theirs = await rejectionOf(
          sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' })),
        );
        assert.equal(Object.getPrototypeOf(ours), Object.getPrototypeOf(theirs), id);
        const shape = (error: Record<string, unknown>) => ({
          name: error.name,
          message: error.message,
          $fault: error.$fault,
          status: (error.$metadata as { httpStatusCode?: number }).httpStatusCode,
          attempts: (error.$metadata as { attempts?: number }).attempts,
          Message: error.Message,
        });
        assert.deepEqual(shape(ours), shape(theirs), id);
      }
      const [forbidden, tooLarge, throttled] = await Promise.all(
        ['forbidden', 'tooLarge', 'throttled'].map((id) => rejectionOf(postOne(client, id, 'x'))),
      );
      assert.ok(forbidden instanceof ForbiddenException);
      assert.ok(tooLarge instanceof PayloadTooLargeException);
      assert.ok(throttled instanceof LimitExceededException);
    } finally {
      client.destroy();
      sdk.destroy();
    }
  });

  test('429 is retried with backoff, then thrown as LimitExceededException', async () => {
    stub.script.set('throttled', [THROTTLED]);
    const client = direct({ maxAttempts: 3 });
    try {
      const started = performance.now();
      const error = await rejectionOf(postOne(client, 'throttled', 'x'));
      const elapsed = performance.now() - started;
      assert.ok(error instanceof LimitExceededException);
      const { attempts, totalRetryDelay } = error.$metadata as { attempts: number; totalRetryDelay: number };
      assert.equal(attempts, 3);
      assert.equal(postsTo('throttled').length, 3);
      // The SDK's throttling backoff: a random part of 1 s, then of 2 s.
      assert.ok(totalRetryDelay > 0, `waited ${totalRetryDelay} ms`);
      assert.ok(
        elapsed >= totalRetryDelay - 5,
        `${elapsed.toFixed(0)} ms elapsed, ${totalRetryDelay} ms waited`,
      );

      stub.script.set('throttled-once', [THROTTLED, OK]);
      await postOne(client, 'throttled-once', 'x');
      assert.equal(postsTo('throttled-once').length, 2);
    } finally {
      client.destroy();
    }
  });

  test('5xx is retried up to the attempts, then thrown; a 5xx that passes is delivered', async () => {
    stub.script.set('broken', [INTERNAL]);
    stub.script.set('flaky', [INTERNAL, OK]);
    const client = direct({ maxAttempts: 3 });
    try {
      const error = await rejectionOf(postOne(client, 'broken', 'x'));
      assert.equal(error.$fault, 'server');
      assert.equal((error.$metadata as { httpStatusCode: number }).httpStatusCode, 500);
      assert.equal(postsTo('broken').length, 3);
      await postOne(client, 'flaky', 'x');
      assert.equal(postsTo('flaky').length, 2);
    } finally {
      client.destroy();
    }
  });

  test('a post that times out fails with a TimeoutError and is not sent again', async () => {
    stub.script.set('slow', [HANGS]);
    const client = direct({ maxAttempts: 3, requestTimeoutMs: 200 });
    try {
      const started = performance.now();
      const error = await rejectionOf(postOne(client, 'slow', 'x'));
      assert.equal(error.name, 'TimeoutError');
      assert.ok(performance.now() - started < 900, 'gave up at the timeout, not after the answer');
      assert.equal((error.$metadata as { attempts: number }).attempts, 1);
      assert.equal(postsTo('slow').length, 1);
    } finally {
      client.destroy();
    }
  });

  test('a request that never left (connection refused) is retried', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const client = createManagementClient(`http://127.0.0.1:${port}/dev`, { region, credentials: KEYS });
    try {
      const error = await rejectionOf(postOne(client, 'nobody', 'x'));
      assert.equal(error.code, 'ECONNREFUSED');
      assert.notEqual(error.name, 'TimeoutError', 'not counted as a post that may have arrived');
      assert.equal((error.$metadata as { attempts: number }).attempts, 3);
    } finally {
      client.destroy();
    }
  });

  test('credentials are asked for on every request: expiring ones are refreshed, lasting ones kept', async () => {
    let calls = 0;
    const expiring = async (): Promise<AwsCredentialIdentity> => ({
      ...(calls++ % 2 === 0 ? KEYS : ROTATED),
      expiration: new Date(Date.now() + 60_000),
    });
    let lastingCalls = 0;
    const lasting = async (): Promise<AwsCredentialIdentity> => {
      lastingCalls++;
      return { ...KEYS, expiration: new Date(Date.now() + 3_600_000) };
    };
    const refreshed = direct({ credentials: expiring });
    const kept = direct({ credentials: lasting });
    try {
      for (let i = 0; i < 4; i++) await postOne(refreshed, 'refreshed', 'x');
      for (let i = 0; i < 4; i++) await postOne(kept, 'kept', 'x');
      const keyIds = postsTo('refreshed').map(
        (post) => /Credential=([^/]+)/.exec(post.authorization ?? '')?.[1],
      );
      assert.equal(keyIds.length, 4);
      for (let i = 1; i < keyIds.length; i++) assert.notEqual(keyIds[i], keyIds[i - 1], String(keyIds));
      assert.ok(calls >= 4, `asked ${calls} times`);
      assert.equal(lastingCalls, 1);
    } finally {
      refreshed.destroy();
      kept.destroy();
    }
  });

  test('signed with SigV4 over the headers a hand-rolled client would sign; unsigned when asked', async () => {
    const client = direct({ credentials: SESSION });
    const unsigned = direct({ unsigned: true });
    try {
      await postOne(client, 'signed', 'x');
      await postOne(unsigned, 'unsigned', 'x');
      assert.match(
        postsTo('signed')[0]?.authorization ?? '',
        /^AWS4-HMAC-SHA256 Credential=ASIAROTATEDKEY\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
      assert.equal(postsTo('unsigned')[0]?.authorization, undefined);
    } finally {
      client.destroy();
      unsigned.destroy();
    }
  });
});

describe('clock skew', () => {
  test("a refusal for the client's clock sets the offset from the server's Date, and the post is sent again", async () => {
    const serverOffset = 3_600_000;
    const seen: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.once('end', () => {
        seen.push(String(req.headers['x-amz-date']));
        const date = new Date(Date.now() + serverOffset).toUTCString();
        if (seen.length === 1) {
          res.writeHead(403, { 'x-amzn-errortype': 'InvalidSignatureException', date });
          res.end('{"message":"Signature expired: 20240101T000000Z is now earlier than ..."}');
        } else {
          res.writeHead(200, { date }).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = createManagementClient(`http://127.0.0.1:${port}/dev`, { region, credentials: KEYS });
    try {
      await postOne(client, 'skewed', 'x');
      assert.equal(seen.length, 2);
      const signedAt = (amzDate: string) =>
        Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      assert.ok(Math.abs(signedAt(seen[1] as string) - (Date.now() + serverOffset)) < 60_000, String(seen));
      assert.ok(Math.abs(client.config.systemClockOffset - serverOffset) < 60_000);
    } finally {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
