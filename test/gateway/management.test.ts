import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { closeOf, nextMessage, Recorder, startGateway, waitUntil } from './helpers.ts';

async function connectedId(recorder: Recorder, index = 0): Promise<string> {
  return (await recorder.next('$connect', index)).requestContext.connectionId;
}

async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number } };
  }
  throw new Error('Expected the call to fail');
}

test('PostToConnection delivers text frames, and binary ones for non-UTF-8 data', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
  const client = await gw.connect();
  const ConnectionId = await connectedId(recorder);

  const text = nextMessage(client);
  await gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: '{"hello":"wörld"}' }));
  assert.deepEqual(await text, { text: '{"hello":"wörld"}', isBinary: false });

  const binary = new Promise<Buffer>((resolve) => client.once('message', (data) => resolve(data as Buffer)));
  await gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array([0xff, 0xfe]) }));
  assert.deepEqual([...(await binary)], [0xff, 0xfe]);
});

test('a handler can post back through the endpoint built from its event', async (t) => {
  const clients = new Map<string, ApiGatewayManagementApiClient>();
  const gw = await startGateway(t, {
    routes: {
      echo: async (event: {
        body: string;
        requestContext: { domainName: string; stage: string; connectionId: string };
      }) => {
        const { domainName, stage, connectionId } = event.requestContext;
        const endpoint = `http://${domainName}/${stage}`;
        let client = clients.get(endpoint);
        if (!client) {
          client = new ApiGatewayManagementApiClient({
            endpoint,
            region: 'us-east-1',
            credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
          });
          clients.set(endpoint, client);
        }
        await client.send(
          new PostToConnectionCommand({ ConnectionId: connectionId, Data: `echo ${event.body}` }),
        );
      },
    },
  });
  t.after(() => {
    for (const client of clients.values()) client.destroy();
  });
  const client = await gw.connect();
  const reply = nextMessage(client);
  client.send('{"action":"echo"}');
  assert.equal((await reply).text, 'echo {"action":"echo"}');
});

test('PostToConnection to an unknown connection throws GoneException', async (t) => {
  const gw = await startGateway(t, { routes: {} });
  const error = await rejection(
    gw.management.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: 'x' })),
  );
  assert.ok(error instanceof GoneException);
  assert.equal(error.name, 'GoneException');
  assert.equal(error.$metadata.httpStatusCode, 410);
});

test('PostToConnection to a closed connection throws GoneException', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
  });
  const client = await gw.connect();
  const ConnectionId = await connectedId(recorder);
  client.close(1000);
  await recorder.next('$disconnect');
  const error = await rejection(
    gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: 'late' })),
  );
  assert.ok(error instanceof GoneException);
});

test('GetConnection returns Dates, the identity and a lastActiveAt that follows traffic', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(), $default: recorder.handler() },
  });
  const client = await gw.connect();
  const connect = await recorder.next('$connect');
  const ConnectionId = connect.requestContext.connectionId;

  const first = await gw.management.send(new GetConnectionCommand({ ConnectionId }));
  assert.ok(first.ConnectedAt instanceof Date);
  assert.ok(first.LastActiveAt instanceof Date);
  assert.equal(first.ConnectedAt.getTime(), connect.requestContext.connectedAt);
  assert.deepEqual(first.Identity, { SourceIp: '127.0.0.1', UserAgent: '' });

  await new Promise((resolve) => setTimeout(resolve, 20));
  client.send('hello');
  await recorder.next('$default');
  const second = await gw.management.send(new GetConnectionCommand({ ConnectionId }));
  assert.ok((second.LastActiveAt?.getTime() ?? 0) > first.LastActiveAt.getTime());
});

test('DeleteConnection closes the client with 1000 and runs $disconnect with 1000', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
  });
  const client = await gw.connect();
  const ConnectionId = await connectedId(recorder);
  const closed = closeOf(client);
  const response = await gw.management.send(new DeleteConnectionCommand({ ConnectionId }));
  assert.equal(response.$metadata.httpStatusCode, 204);
  assert.equal((await closed).code, 1000);
  const { requestContext } = await recorder.next('$disconnect');
  assert.equal(requestContext.disconnectStatusCode, 1000);
  assert.equal(requestContext.disconnectReason, 'Connection Closed Normally');
  const again = await rejection(gw.management.send(new DeleteConnectionCommand({ ConnectionId })));
  assert.ok(again instanceof GoneException);
});

test('the connection is unregistered before $disconnect runs', async (t) => {
  let seen: unknown;
  const gw = await startGateway(t, {
    routes: {
      $disconnect: async (event: { requestContext: { connectionId: string } }) => {
        seen = await rejection(
          gw.management.send(new GetConnectionCommand({ ConnectionId: event.requestContext.connectionId })),
        );
      },
    },
  });
  const client = await gw.connect();
  client.close(1001);
  await waitUntil(() => seen !== undefined, 'the $disconnect handler');
  assert.ok(seen instanceof GoneException);
});

test('a malformed connection id gives BadRequestException', async (t) => {
  const gw = await startGateway(t, { routes: {} });
  for (const ConnectionId of ['not-an-id', 'AAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAA+=']) {
    const error = await rejection(gw.management.send(new GetConnectionCommand({ ConnectionId })));
    assert.equal(error.name, 'BadRequestException');
    assert.equal(error.message, `Invalid connectionId: ${ConnectionId}`);
    assert.equal(error.$metadata.httpStatusCode, 400);
  }
});

test('PostToConnection over 131072 bytes throws PayloadTooLargeException', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
  const client = await gw.connect();
  const ConnectionId = await connectedId(recorder);
  const error = await rejection(
    gw.management.send(new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array(131_073).fill(97) })),
  );
  assert.ok(error instanceof PayloadTooLargeException);
  assert.equal(error.$metadata.httpStatusCode, 413);

  const delivered = nextMessage(client);
  await gw.management.send(
    new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array(131_072).fill(97) }),
  );
  assert.equal((await delivered).text.length, 131_072);
});

test('raw HTTP: %40connections, no stage prefix, wrong stage and other methods', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
  await gw.connect();
  const encoded = encodeURIComponent(await connectedId(recorder));
  const base = `http://127.0.0.1:${gw.port}`;

  for (const path of [
    `/dev/%40connections/${encoded}`,
    `/@connections/${encoded}`,
    `/dev//@connections/${encoded}`,
  ]) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(Object.keys((await res.json()) as object), ['connectedAt', 'identity', 'lastActiveAt']);
  }

  const gone = await fetch(`${base}/dev/@connections/${encodeURIComponent('BBBBBBBBBBBBBBB=')}`);
  assert.equal(gone.status, 410);
  assert.equal(gone.headers.get('x-amzn-errortype'), 'GoneException');
  assert.match(gone.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(await gone.text(), '');

  for (const [method, path] of [
    ['PUT', `/dev/@connections/${encoded}`],
    ['GET', `/prod/@connections/${encoded}`],
    ['GET', '/dev/@connections'],
  ] as const) {
    const res = await fetch(base + path, { method });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(res.headers.get('x-amzn-errortype'), 'ForbiddenException');
    assert.deepEqual(await res.json(), { message: 'Forbidden' });
  }
});
