import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import {
  handshakeResponse,
  opened,
  policy,
  Recorder,
  rawManagement,
  SECOND,
  startGateway,
  TRANSPORTS,
} from './helpers.js';

// SPEC.md §10.1: the upgrade goes path → handshake checks → identity sources → authorizer → `$connect`,
// and is refused with a bare status line (SPEC.md §3.1–§3.5, §3.7, §7.5 for new connections per second).
test('SPEC.md §10.1 upgrade: path, identity sources → authorizer → $connect, refusals, subprotocols', async (t) => {
  await t.test(
    'another path gets 404, another method 405, an invalid handshake 400, none invokes anything',
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
      assert.equal((await handshakeResponse(`ws://127.0.0.1:${gw.port}/prod`)).status, 404);
      assert.equal((await handshakeResponse(gw.url, {}, 'POST')).status, 405);
      assert.equal((await handshakeResponse(gw.url, { 'Sec-WebSocket-Version': '7' })).status, 400);
      assert.equal((await handshakeResponse(gw.url, { 'Sec-WebSocket-Key': 'short' })).status, 400);
      assert.equal((await handshakeResponse(gw.url, { Upgrade: 'h2c' })).status, 400);
      assert.equal(recorder.events.length, 0);
      assert.equal(
        (await handshakeResponse(gw.url, { 'Sec-WebSocket-Version': '8' })).status,
        101,
        'version 8 is still accepted',
      );
      await recorder.next('$connect');
    },
  );

  await t.test(
    'a refusal is a bare HTTP response: Connection: close, empty body, no handler text',
    async (t) => {
      const gw = await startGateway(t, {
        routes: { $connect: () => ({ statusCode: 401, body: 'secret detail' }) },
      });
      const response = await handshakeResponse(gw.url);
      assert.equal(response.status, 401);
      assert.equal(response.headers.connection, 'close');
      assert.equal(response.headers['content-length'], '0');
      assert.equal(response.body, '');
    },
  );

  await t.test('$connect decides: 2xx → 101, another status → that status, nothing registered', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: {
        $connect: recorder.handler((event) => ({
          statusCode: Number(event.queryStringParameters?.status ?? 200),
        })),
      },
    });
    assert.equal((await handshakeResponse(`${gw.url}?status=403`)).status, 403);
    assert.equal((await handshakeResponse(`${gw.url}?status=500`)).status, 500);
    assert.equal(gw.gateway.connectionCount, 0);
    await gw.connect('?status=204');
    assert.equal(gw.gateway.connectionCount, 1);
    assert.equal(recorder.of('$connect').length, 3);
  });

  await t.test('$connect failures: a throw and the integration timeout (29 s) give 502', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: {
        $connect: recorder.handler((event) => {
          if (event.queryStringParameters?.mode === 'throw') throw new Error('boom');
          return new Promise(() => {});
        }),
      },
    });
    assert.equal((await handshakeResponse(`${gw.url}?mode=throw`)).status, 502);
    const slow = handshakeResponse(`${gw.url}?mode=slow`);
    await recorder.next('$connect', 1);
    gw.clock.advance(29 * SECOND);
    assert.equal(
      (await slow).status,
      502,
      'refused at the integration timeout, while the handler still runs',
    );
  });

  await t.test('$connect is optional; a result without statusCode and callback handlers work', async (t) => {
    const open = await startGateway(t, { routes: { $default: () => undefined } });
    await open.connect();
    assert.equal(open.gateway.connectionCount, 1);

    const bare = await startGateway(t, { routes: { $connect: () => undefined } });
    await bare.connect();
    assert.equal(bare.gateway.connectionCount, 1);

    const callbackStyle = await startGateway(t, {
      routes: {
        $connect: ((_event: unknown, _context: unknown, callback: (e: unknown, r: unknown) => void) =>
          setImmediate(() => callback(null, { statusCode: 401 }))) as never,
      },
    });
    assert.equal((await handshakeResponse(callbackStyle.url)).status, 401);
  });

  await t.test('a subprotocol is echoed only when $connect returns Sec-WebSocket-Protocol', async (t) => {
    const gw = await startGateway(t, {
      routes: {
        $connect: (event: { queryStringParameters?: { pick?: string } }) => {
          const pick = event.queryStringParameters?.pick;
          return { statusCode: 200, ...(pick && { headers: { 'sec-websocket-protocol': pick } }) };
        },
      },
    });
    const chosen = await gw.connect('?pick=chat2', { protocols: ['chat1', 'chat2'] });
    assert.equal(chosen.protocol, 'chat2');
    assert.equal(chosen.extensions, '', 'permessage-deflate is not negotiated');

    const unanswered = new WebSocket(gw.url, ['chat1', 'chat2']);
    await assert.rejects(opened(unanswered), /Server sent no subprotocol/);
    unanswered.terminate();
  });

  await t.test('a missing or empty identity source gives 401 without invoking the authorizer', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      authorizer: {
        handler: recorder.handler((event) => policy('Allow', event.methodArn)),
        identitySources: ['route.request.querystring.token', 'route.request.header.Auth'],
      },
      routes: { $connect: recorder.handler() },
    });
    assert.equal((await handshakeResponse(`${gw.url}?token=abc`)).status, 401);
    assert.equal((await handshakeResponse(`${gw.url}?token=`)).status, 401);
    assert.equal((await handshakeResponse(gw.url, { auth: 'x' })).status, 401);
    assert.equal(recorder.events.length, 0, 'neither the authorizer nor $connect ran');
    // Header names are case-insensitive; querystring names are not.
    await gw.connect('?token=abc', { headers: { AUTH: 'x' } });
    assert.equal(recorder.of('authorizer').length, 1);
    assert.equal((await handshakeResponse(`${gw.url}?TOKEN=abc`)).status, 401);
  });

  await t.test('authorizer outcomes: Unauthorized → 401, deny → 403, other failures → 500', async (t) => {
    const recorder = new Recorder();
    const outcomes: Record<string, (event: { methodArn: string }) => unknown> = {
      thrown: () => {
        throw new Error('Unauthorized');
      },
      rejected: () => Promise.reject('Unauthorized'),
      deny: (event) => policy('Deny', event.methodArn),
      denyWins: (event) => ({
        ...policy('Allow', '*'),
        policyDocument: {
          Statement: [
            { Action: 'execute-api:*', Effect: 'Allow', Resource: '*' },
            { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: event.methodArn },
          ],
        },
      }),
      otherStage: (event) => policy('Allow', event.methodArn.replace('/dev/', '/prod/')),
      verbSegment: (event) => policy('Allow', event.methodArn.replace('/$connect', '/*/*')),
      otherAction: (event) => ({
        ...policy('Allow', event.methodArn),
        policyDocument: {
          Statement: { Action: 'execute-api:ManageConnections', Effect: 'Allow', Resource: '*' },
        },
      }),
      otherError: () => {
        throw new Error('database down');
      },
      noPrincipal: (event) => ({ ...policy('Allow', event.methodArn), principalId: undefined }),
      noPolicy: () => ({ principalId: 'user-1' }),
      objectContext: (event) => policy('Allow', event.methodArn, { context: { nested: { a: 1 } } }),
      cyclic: (event) => {
        const result: Record<string, unknown> = policy('Allow', event.methodArn);
        result.self = result;
        return result;
      },
      slow: () => new Promise(() => {}),
      wildcard: (event) => policy('Allow', `${event.methodArn.split('/')[0]}/*`),
      singleChar: (event) => policy('Allow', event.methodArn.replace('/dev/', '/de?/')),
    };
    const gw = await startGateway(t, {
      stage: 'dev',
      authorizer: {
        handler: recorder.handler((event) => outcomes[event.queryStringParameters.case]?.(event)),
      },
      routes: { $connect: recorder.handler() },
    });
    const callbackUnauthorized = await startGateway(t, {
      authorizer: {
        handler: ((_e: unknown, _c: unknown, callback: (error: unknown) => void) =>
          callback('Unauthorized')) as never,
      },
      routes: {},
    });
    const legacyFail = await startGateway(t, {
      authorizer: {
        handler: (_e: unknown, context: { fail(e: string): void }) => context.fail('Unauthorized'),
      },
      routes: {},
    });
    assert.equal((await handshakeResponse(callbackUnauthorized.url)).status, 401, 'callback("Unauthorized")');
    assert.equal((await handshakeResponse(legacyFail.url)).status, 401, 'context.fail("Unauthorized")');
    const expected: Record<string, number> = {
      thrown: 401,
      rejected: 401,
      deny: 403,
      denyWins: 403,
      otherStage: 403,
      verbSegment: 403,
      otherAction: 403,
      otherError: 500,
      noPrincipal: 500,
      noPolicy: 500,
      objectContext: 500,
      cyclic: 500,
    };
    for (const [name, status] of Object.entries(expected)) {
      assert.equal((await handshakeResponse(`${gw.url}?case=${name}`)).status, status, name);
    }
    const slow = handshakeResponse(`${gw.url}?case=slow`);
    await recorder.next('authorizer', Object.keys(expected).length);
    gw.clock.advance(29 * SECOND);
    assert.equal((await slow).status, 500, 'slow: the integration timeout');
    assert.equal(recorder.of('$connect').length, 0, '$connect never ran for a refused handshake');
    await gw.connect('?case=wildcard');
    await gw.connect('?case=singleChar');
    assert.equal(recorder.of('$connect').length, 2);
  });

  await t.test('new connections over the rate limit get 429 before the authorizer runs', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      connectionRateLimit: { perSecond: 10, burst: 2 },
      authorizer: { handler: recorder.handler((event) => policy('Allow', event.methodArn)) },
      routes: {},
    });
    await gw.connect();
    await gw.connect();
    assert.equal((await handshakeResponse(gw.url)).status, 429);
    assert.equal(recorder.of('authorizer').length, 2);
    gw.clock.advance(99);
    assert.equal((await handshakeResponse(gw.url)).status, 429, '0.99 tokens after 99 ms at 10 per second');
    gw.clock.advance(1);
    await gw.connect();
    assert.equal(gw.gateway.connectionCount, 3);
    assert.equal(recorder.of('authorizer').length, 3);
  });
});

// SPEC.md §10.2 (§3.1, §5.3): a plain GET on the stage URL is 426; the management API answers under
// `/{stage}/@connections/{id}`, also as `%40connections` and without the stage.
test('SPEC.md §10.2 plain HTTP: 426 on the stage, @connections paths, other paths', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler() },
    httpHandler: (req, res) => {
      if (req.url !== '/') return false;
      res.end('demo page');
      return true;
    },
  });
  const base = `http://127.0.0.1:${gw.port}`;
  const upgradeRequired = await fetch(`${base}/dev?x=1`);
  assert.equal(upgradeRequired.status, 426);
  assert.equal(upgradeRequired.headers.get('upgrade'), 'websocket');
  await upgradeRequired.body?.cancel();
  const notFound = await fetch(`${base}/elsewhere`);
  assert.equal(notFound.status, 404);
  await notFound.body?.cancel();
  assert.equal(await (await fetch(`${base}/`)).text(), 'demo page');

  await gw.connect();
  const encoded = encodeURIComponent((await recorder.next('$connect')).requestContext.connectionId);
  assert.match(encoded, /%3D$/, 'ids end in = and so need percent-encoding');
  for (const transport of TRANSPORTS) {
    for (const path of [
      `/dev/@connections/${encoded}`,
      `/dev/%40connections/${encoded}`,
      `/@connections/${encoded}`,
      `/dev//@connections/${encoded}`,
    ]) {
      const res = await rawManagement(gw, transport, 'GET', path);
      assert.equal(res.status, 200, `${transport} ${path}`);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(JSON.parse(res.body)), ['connectedAt', 'identity', 'lastActiveAt']);
    }
  }
});
