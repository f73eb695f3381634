import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiGatewayManagementApiClient,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  CLOCK_START,
  connectedId,
  nextMessage,
  pingPong,
  Recorder,
  rawManagement,
  rejection,
  SECOND,
  startGateway,
  TRANSPORTS,
  waitUntil,
} from './helpers.js';

// SPEC.md §10.7 (§5.1–§5.4): every response carries x-amzn-ErrorType and x-amzn-RequestId, so the SDK
// raises the modeled exception. The same assertions run over HTTP and over the in-process request handler.
test('SPEC.md §10.7 management API errors and PostToConnection, over HTTP and in-process', async (t) => {
  for (const transport of TRANSPORTS) {
    await t.test(`${transport}: PostToConnection sends text, and binary for non-UTF-8 data`, async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
      const management = gw.managementClient(transport);
      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);

      const text = nextMessage(client);
      const response = await management.send(
        new PostToConnectionCommand({ ConnectionId, Data: '{"hi":"wörld"}' }),
      );
      assert.equal(response.$metadata.httpStatusCode, 200);
      assert.match(response.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(await text, { text: '{"hi":"wörld"}', isBinary: false });

      const binary = new Promise<Buffer>((resolve) =>
        client.once('message', (data) => resolve(data as Buffer)),
      );
      await management.send(
        new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array([0xff, 0xfe]) }),
      );
      assert.deepEqual([...(await binary)], [0xff, 0xfe]);

      const empty = nextMessage(client);
      await management.send(new PostToConnectionCommand({ ConnectionId, Data: '' }));
      assert.deepEqual(await empty, { text: '', isBinary: false }, 'empty Data is an empty frame, not a 410');
    });

    await t.test(`${transport}: 410 GoneException for unknown, closing and closed connections`, async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
      });
      const management = gw.managementClient(transport);
      const unknown = await rejection(
        management.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: 'x' })),
      );
      assert.ok(unknown instanceof GoneException);
      assert.equal(unknown.name, 'GoneException');
      assert.equal(unknown.$metadata.httpStatusCode, 410);
      assert.match(unknown.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);

      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);
      client.close(1000);
      await recorder.next('$disconnect');
      const closed = await rejection(management.send(new GetConnectionCommand({ ConnectionId })));
      assert.ok(closed instanceof GoneException);

      const raw = await rawManagement(gw, transport, 'POST', '/dev/@connections/BBBBBBBBBBBBBBB%3D', 'x');
      assert.equal(raw.status, 410);
      assert.equal(raw.headers['x-amzn-errortype'], 'GoneException');
      assert.equal(raw.headers['content-type'], 'application/json');
      assert.equal(raw.body, '', 'an empty body, as AWS sends');
    });

    await t.test(`${transport}: 410 while $connect runs and while $disconnect runs`, async (t) => {
      const seen: unknown[] = [];
      const probe = async (event: { requestContext: { connectionId: string } }) => {
        const ConnectionId = event.requestContext.connectionId;
        seen.push(await rejection(management.send(new PostToConnectionCommand({ ConnectionId, Data: 'x' }))));
        return { statusCode: 200 };
      };
      const gw = await startGateway(t, { routes: { $connect: probe, $disconnect: probe } });
      const management = gw.managementClient(transport);
      const client = await gw.connect();
      await waitUntil(() => seen.length === 1, 'the $connect probe');
      client.close(1001);
      await waitUntil(() => seen.length === 2, 'the $disconnect probe');
      for (const error of seen) assert.ok(error instanceof GoneException);
    });

    await t.test(`${transport}: 400 BadRequestException for a malformed connection id`, async (t) => {
      const gw = await startGateway(t, { routes: {} });
      const management = gw.managementClient(transport);
      for (const ConnectionId of ['not-an-id', 'AAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAA+=']) {
        const error = await rejection(management.send(new GetConnectionCommand({ ConnectionId })));
        assert.equal(error.name, 'BadRequestException');
        assert.equal(error.message, `Invalid connectionId: ${ConnectionId}`);
        assert.equal(error.$metadata.httpStatusCode, 400);
      }
    });

    await t.test(`${transport}: 413 PayloadTooLargeException over 131072 bytes`, async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
      const management = gw.managementClient(transport);
      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);
      const error = await rejection(
        management.send(
          new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array(131_073).fill(97) }),
        ),
      );
      assert.ok(error instanceof PayloadTooLargeException);
      assert.equal(error.$metadata.httpStatusCode, 413);
      assert.equal(error.message, 'Message too long');
      const delivered = nextMessage(client);
      await management.send(
        new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array(131_072).fill(97) }),
      );
      assert.equal((await delivered).text.length, 131_072);
    });

    await t.test(`${transport}: 429 LimitExceededException while the client's buffer is full`, async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        sendBufferLimitBytes: 65_536,
        routes: { $connect: recorder.handler() },
      });
      const management = gw.managementClient(transport, { maxAttempts: 1 });
      const client = await gw.connect();
      const ConnectionId = await connectedId(recorder);
      client.pause();
      const Data = new Uint8Array(131_072).fill(97);
      let error: Awaited<ReturnType<typeof rejection>> | undefined;
      for (let i = 0; i < 500 && !error; i++) {
        error = await management.send(new PostToConnectionCommand({ ConnectionId, Data })).then(
          () => undefined,
          (e) => e,
        );
      }
      assert.ok(error instanceof LimitExceededException, String(error));
      assert.equal(error.$metadata.httpStatusCode, 429);
      client.resume();
      const post = () => management.send(new PostToConnectionCommand({ ConnectionId, Data: 'x' }));
      await waitUntil(
        () =>
          post().then(
            () => true,
            () => false,
          ),
        'a post once the client reads again',
      );
    });

    await t.test(
      `${transport}: 403 ForbiddenException for another stage, a bad path or method`,
      async (t) => {
        const recorder = new Recorder();
        const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
        await gw.connect();
        const encoded = encodeURIComponent(await connectedId(recorder));
        for (const [method, path] of [
          ['PUT', `/dev/@connections/${encoded}`],
          ['GET', `/prod/@connections/${encoded}`],
          ['GET', '/dev/@connections'],
          ['GET', `/dev/@connections/${encoded}/more`],
          ['GET', '/dev/elsewhere'],
        ] as const) {
          const res = await rawManagement(gw, transport, method, path);
          if (transport === 'http' && path === '/dev/elsewhere') {
            assert.equal(res.status, 404, 'not a management path: the HTTP listener has other pages');
            continue;
          }
          assert.equal(res.status, 403, `${method} ${path}`);
          assert.equal(res.headers['x-amzn-errortype'], 'ForbiddenException');
          assert.deepEqual(JSON.parse(res.body), { message: 'Forbidden' });
        }
      },
    );
  }

  await t.test('a handler can post back through the endpoint built from its event', async (t) => {
    const clients: ApiGatewayManagementApiClient[] = [];
    t.after(() => {
      for (const client of clients) client.destroy();
    });
    const gw = await startGateway(t, {
      routes: {
        echo: async (event: {
          body: string;
          requestContext: { domainName: string; stage: string; connectionId: string };
        }) => {
          const { domainName, stage, connectionId } = event.requestContext;
          const client = new ApiGatewayManagementApiClient({
            endpoint: `http://${domainName}/${stage}`,
            region: 'us-east-1',
            credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
          });
          clients.push(client);
          await client.send(
            new PostToConnectionCommand({ ConnectionId: connectionId, Data: `echo ${event.body}` }),
          );
        },
      },
    });
    const client = await gw.connect();
    const reply = nextMessage(client);
    client.send('{"action":"echo"}');
    assert.equal((await reply).text, 'echo {"action":"echo"}');
  });
});

// SPEC.md §10.8 (§5.5): GetConnection with ISO-8601 timestamps and the identity.
test('SPEC.md §10.8 GetConnection: ISO connectedAt/lastActiveAt and the identity, over HTTP and in-process', async (t) => {
  for (const transport of TRANSPORTS) {
    await t.test(transport, async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, {
        routes: { $connect: recorder.handler(), $default: recorder.handler() },
      });
      const management = gw.managementClient(transport);
      const client = await gw.connect();
      await gw.connect('', { headers: { 'User-Agent': 'agent/2' } });
      const connect = await recorder.next('$connect');
      const ConnectionId = connect.requestContext.connectionId;
      assert.equal(connect.requestContext.connectedAt, CLOCK_START);

      const raw = await rawManagement(
        gw,
        transport,
        'GET',
        `/dev/@connections/${encodeURIComponent(ConnectionId)}`,
      );
      assert.deepEqual(JSON.parse(raw.body), {
        connectedAt: '2024-02-19T07:11:42.000Z',
        identity: { sourceIp: '127.0.0.1', userAgent: '' },
        lastActiveAt: '2024-02-19T07:11:42.000Z',
      });

      const first = await management.send(new GetConnectionCommand({ ConnectionId }));
      assert.ok(first.ConnectedAt instanceof Date && first.LastActiveAt instanceof Date);
      assert.equal(first.ConnectedAt.getTime(), CLOCK_START);
      assert.deepEqual(first.Identity, { SourceIp: '127.0.0.1', UserAgent: '' });
      const withAgent = await management.send(
        new GetConnectionCommand({
          ConnectionId: (await recorder.next('$connect', 1)).requestContext.connectionId,
        }),
      );
      assert.deepEqual(withAgent.Identity, { SourceIp: '127.0.0.1', UserAgent: 'agent/2' });

      const lastActiveAt = async () =>
        (await management.send(new GetConnectionCommand({ ConnectionId }))).LastActiveAt?.getTime();
      gw.clock.advance(5 * SECOND);
      client.send('hello');
      await recorder.next('$default');
      assert.equal(await lastActiveAt(), CLOCK_START + 5 * SECOND, 'a message from the client');
      gw.clock.advance(2 * SECOND);
      const delivered = nextMessage(client);
      await management.send(new PostToConnectionCommand({ ConnectionId, Data: 'to the client' }));
      await delivered;
      assert.equal(await lastActiveAt(), CLOCK_START + 7 * SECOND, 'a message to the client');
      gw.clock.advance(2 * SECOND);
      await pingPong(client);
      assert.equal(await lastActiveAt(), CLOCK_START + 7 * SECOND, 'not a ping');
      assert.equal(
        (await management.send(new GetConnectionCommand({ ConnectionId }))).ConnectedAt?.getTime(),
        CLOCK_START,
      );
    });
  }
});
