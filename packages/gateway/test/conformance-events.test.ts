import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Context } from 'aws-lambda';
import { WebSocket } from 'ws';
import {
  type AnyEvent,
  CLOCK_START,
  GATEWAY_ID,
  opened,
  policy,
  Recorder,
  SECOND,
  startGateway,
} from './helpers.js';

// SPEC.md §10.3 (§1.5): 16-character ids, requestId === extendedRequestId, messageId only on MESSAGE.
test('SPEC.md §10.3 ids: 16-character base64url + "=", requestId === extendedRequestId, messageId on MESSAGE only', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(), $default: recorder.handler(), $disconnect: recorder.handler() },
  });
  const client = await gw.connect();
  client.send('one');
  client.send('two');
  await recorder.next('$default', 1);
  client.close();
  await recorder.next('$disconnect');

  const [connect, first, second, disconnect] = recorder.events;
  for (const { requestContext: rc } of recorder.events) {
    assert.match(rc.connectionId, GATEWAY_ID);
    assert.match(rc.requestId, GATEWAY_ID);
    assert.equal(rc.extendedRequestId, rc.requestId);
    assert.equal(rc.connectionId, connect.requestContext.connectionId);
    assert.equal('messageId' in rc, rc.eventType === 'MESSAGE', rc.eventType);
  }
  assert.match(first.requestContext.messageId, GATEWAY_ID);
  const ids = [connect, first, second, disconnect].flatMap(({ requestContext: rc }) =>
    [rc.requestId, rc.messageId].filter(Boolean),
  );
  assert.equal(new Set([...ids, connect.requestContext.connectionId]).size, ids.length + 1, 'all distinct');
});

// SPEC.md §10.4 (§1, §3.6, §3.8, §4.3): the exact event shapes.
test('SPEC.md §10.4 event shapes (§1), with the authorizer context on every event after it allowed', async (t) => {
  await t.test(
    'CONNECT: raw header casing, X-Forwarded-*, multi-value maps, query maps, context',
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, { stage: 'develop', routes: { $connect: recorder.handler() } });
      await gw.connect('?token=abc&x=1&x=2', {
        // Node sends an array value as two header lines; ws types headers as strings only.
        headers: { 'User-Agent': 'tester/1.0', 'X-Custom-Header': ['v', 'w'] as unknown as string },
      });
      const event = await recorder.next('$connect');

      assert.deepEqual(Object.keys(event), [
        'headers',
        'multiValueHeaders',
        'queryStringParameters',
        'multiValueQueryStringParameters',
        'requestContext',
        'isBase64Encoded',
      ]);
      assert.equal(event.isBase64Encoded, false);
      assert.deepEqual(event.queryStringParameters, { token: 'abc', x: '2' });
      assert.deepEqual(event.multiValueQueryStringParameters, { token: ['abc'], x: ['1', '2'] });

      const { headers, multiValueHeaders } = event;
      assert.equal(headers['User-Agent'], 'tester/1.0', 'client casing is kept');
      assert.match(headers['Sec-WebSocket-Key'], /==$/);
      assert.equal(headers.Host, `127.0.0.1:${gw.port}`);
      const lowerNames = Object.keys(headers).map((name) => name.toLowerCase());
      assert.ok(!lowerNames.includes('connection') && !lowerNames.includes('upgrade'), 'hop-by-hop removed');
      assert.equal(headers['X-Forwarded-For'], '127.0.0.1');
      assert.equal(headers['X-Forwarded-Port'], String(gw.port));
      assert.equal(headers['X-Forwarded-Proto'], 'http');
      // The trace id's first part is the epoch second of the request, in hex.
      assert.match(headers['X-Amzn-Trace-Id'], /^Root=1-65d2ff2e-[0-9a-f]{24}$/);
      assert.deepEqual(
        lowerNames,
        [...lowerNames].sort(),
        'sorted case-insensitively, as in the AWS captures',
      );
      assert.deepEqual(Object.keys(multiValueHeaders), Object.keys(headers));
      // A repeated header keeps its first spelling; the single-value map keeps the last value.
      assert.equal(headers['X-Custom-Header'], 'w');
      assert.deepEqual(multiValueHeaders['X-Custom-Header'], ['v', 'w']);
      assert.deepEqual(multiValueHeaders.Host, [headers.Host]);

      const rc = event.requestContext;
      assert.deepEqual(Object.keys(rc), [
        'routeKey',
        'eventType',
        'extendedRequestId',
        'requestTime',
        'messageDirection',
        'stage',
        'connectedAt',
        'requestTimeEpoch',
        'identity',
        'requestId',
        'domainName',
        'connectionId',
        'apiId',
      ]);
      assert.equal(rc.routeKey, '$connect');
      assert.equal(rc.eventType, 'CONNECT');
      assert.equal(rc.messageDirection, 'IN');
      assert.equal(rc.stage, 'develop');
      assert.match(rc.apiId, /^[a-z0-9]{10}$/);
      assert.equal(rc.domainName, `127.0.0.1:${gw.port}`);
      assert.equal(rc.requestTime, '19/Feb/2024:07:11:42 +0000');
      assert.equal(rc.requestTimeEpoch, CLOCK_START);
      assert.equal(rc.connectedAt, CLOCK_START);
      assert.deepEqual(rc.identity, { userAgent: 'tester/1.0', sourceIp: '127.0.0.1' });
    },
  );

  await t.test('CONNECT without query string or User-Agent omits those keys', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, { apiId: 'abcde12345', routes: { $connect: recorder.handler() } });
    await gw.connect();
    const event = await recorder.next('$connect');
    assert.ok(!('queryStringParameters' in event));
    assert.ok(!('multiValueQueryStringParameters' in event));
    assert.ok(!('stageVariables' in event));
    assert.deepEqual(event.requestContext.identity, { sourceIp: '127.0.0.1' });
    assert.equal(event.requestContext.apiId, 'abcde12345');
  });

  await t.test(
    "CONNECT keeps a client's X-Amzn-Trace-Id and appends the peer to its X-Forwarded-For",
    async (t) => {
      const recorder = new Recorder();
      const gw = await startGateway(t, { routes: { $connect: recorder.handler() } });
      const trace = 'Root=1-65d2ff2e-0123456789abcdef01234567';
      await gw.connect('', { headers: { 'x-forwarded-for': '203.0.113.9', 'x-amzn-trace-id': trace } });
      const { headers } = await recorder.next('$connect');
      assert.equal(headers['X-Forwarded-For'], '203.0.113.9, 127.0.0.1');
      assert.equal(headers['X-Amzn-Trace-Id'], trace);
      const names = Object.keys(headers).map((name) => name.toLowerCase());
      assert.equal(names.filter((name) => name === 'x-forwarded-for').length, 1);
    },
  );

  await t.test('MESSAGE: body string, messageId, no headers, no query maps', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $connect: recorder.handler(), sendmessage: recorder.handler() },
    });
    const client = await gw.connect('?token=abc', { headers: { 'User-Agent': 'tester/1.0' } });
    const connect = await recorder.next('$connect');
    gw.clock.advance(1.5 * SECOND);
    client.send('{"action":"sendmessage","text":"hi"}');
    const event = await recorder.next('sendmessage');

    assert.deepEqual(Object.keys(event), ['requestContext', 'body', 'isBase64Encoded']);
    assert.equal(event.body, '{"action":"sendmessage","text":"hi"}');
    const rc = event.requestContext;
    assert.deepEqual(Object.keys(rc), [
      'routeKey',
      'messageId',
      'eventType',
      'extendedRequestId',
      'requestTime',
      'messageDirection',
      'stage',
      'connectedAt',
      'requestTimeEpoch',
      'identity',
      'requestId',
      'domainName',
      'connectionId',
      'apiId',
    ]);
    assert.equal(rc.eventType, 'MESSAGE');
    assert.equal(rc.connectedAt, connect.requestContext.connectedAt);
    assert.equal(rc.requestTimeEpoch, CLOCK_START + 1.5 * SECOND);
    assert.equal(rc.requestTime, '19/Feb/2024:07:11:43 +0000');
    assert.deepEqual(rc.identity, { userAgent: 'tester/1.0', sourceIp: '127.0.0.1' });
  });

  await t.test('DISCONNECT: the fixed header quartet, the close code and the client reason', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
    });
    const client = await gw.connect('?token=abc', { headers: { 'User-Agent': 'tester/1.0' } });
    const connect = await recorder.next('$connect');
    client.close(1000, 'bye');
    const event = await recorder.next('$disconnect');

    const host = `127.0.0.1:${gw.port}`;
    assert.deepEqual(Object.keys(event), [
      'headers',
      'multiValueHeaders',
      'requestContext',
      'isBase64Encoded',
    ]);
    assert.deepEqual(event.headers, { Host: host, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
    assert.deepEqual(event.multiValueHeaders, {
      Host: [host],
      'x-api-key': [''],
      'X-Forwarded-For': [''],
      'x-restapi': [''],
    });
    const rc = event.requestContext;
    assert.deepEqual(Object.keys(rc).slice(0, 3), ['routeKey', 'disconnectStatusCode', 'eventType']);
    assert.equal(rc.eventType, 'DISCONNECT');
    assert.equal(rc.disconnectStatusCode, 1000);
    assert.equal(rc.disconnectReason, 'bye');
    assert.equal(rc.connectedAt, connect.requestContext.connectedAt);
    assert.deepEqual(rc.identity, { userAgent: 'tester/1.0', sourceIp: '127.0.0.1' });
  });

  await t.test('DISCONNECT codes: 1005 without a status, 1006 for a dropped TCP connection', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, { routes: { $disconnect: recorder.handler() } });
    (await gw.connect()).close();
    const noStatus = (await recorder.next('$disconnect', 0)).requestContext;
    assert.equal(noStatus.disconnectStatusCode, 1005);
    assert.equal(noStatus.disconnectReason, 'Client-side close frame status not set');
    (await gw.connect()).terminate();
    const dropped = (await recorder.next('$disconnect', 1)).requestContext;
    assert.equal(dropped.disconnectStatusCode, 1006);
    assert.equal(dropped.disconnectReason, 'Connection closed abnormally');
  });

  await t.test('the REQUEST authorizer event (SPEC.md §3.6)', async (t) => {
    const authorizerEvents: AnyEvent[] = [];
    const contexts: Context[] = [];
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      region: 'eu-west-1',
      accountId: '123456789012',
      apiId: 'abcdef1234',
      stage: 'default',
      stageVariables: { tier: 'gold' },
      authorizer: {
        handler: async (event: AnyEvent, context: Context) => {
          authorizerEvents.push(event);
          contexts.push(context);
          return policy('Allow', event.methodArn);
        },
        identitySources: [
          'route.request.header.HeaderAuth1',
          'stageVariables.tier',
          'context.identity.sourceIp',
        ],
      },
      routes: { $connect: recorder.handler() },
    });
    await gw.connect('?QueryString1=queryValue1', { headers: { HeaderAuth1: 'headerValue1' } });
    const connect = await recorder.next('$connect');
    const [event] = authorizerEvents;
    assert.deepEqual(Object.keys(event), [
      'type',
      'methodArn',
      'headers',
      'multiValueHeaders',
      'queryStringParameters',
      'multiValueQueryStringParameters',
      'stageVariables',
      'requestContext',
    ]);
    assert.equal(event.type, 'REQUEST');
    assert.equal(event.methodArn, 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/default/$connect');
    const headers = event.headers;
    assert.equal(headers.Connection, 'Upgrade');
    assert.equal(headers.Upgrade, 'websocket');
    assert.equal(headers['content-length'], '0');
    assert.equal(headers.HeaderAuth1, 'headerValue1');
    assert.equal(headers['X-Forwarded-Proto'], 'http');
    assert.equal(headers['X-Amzn-Trace-Id'], connect.headers['X-Amzn-Trace-Id'], 'one request, one trace id');
    assert.deepEqual(event.multiValueHeaders.HeaderAuth1, ['headerValue1']);
    assert.deepEqual(event.queryStringParameters, { QueryString1: 'queryValue1' });
    assert.deepEqual(event.multiValueQueryStringParameters, { QueryString1: ['queryValue1'] });
    assert.deepEqual(event.stageVariables, { tier: 'gold' });
    const { authorizer, ...connectContext } = connect.requestContext;
    assert.deepEqual(event.requestContext, connectContext, 'the $connect context, without authorizer');
    assert.equal(event.requestContext.routeKey, '$connect');
    assert.equal(event.requestContext.eventType, 'CONNECT');
    assert.deepEqual(authorizer, { principalId: 'user-1' });
    assert.deepEqual(connect.stageVariables, { tier: 'gold' });
    // The authorizer is a Lambda function of its own (SPEC.md §8.2).
    const [context] = contexts;
    assert.equal(context?.functionName, 'authorizer');
    assert.equal(context?.invokedFunctionArn, 'arn:aws:lambda:eu-west-1:123456789012:function:authorizer');
    assert.equal(context?.logGroupName, '/aws/lambda/authorizer');
    assert.match(context?.logStreamName ?? '', /^2024\/02\/19\/\[\$LATEST\][0-9a-f]{32}$/);
  });

  await t.test('without a query string the authorizer still gets empty query maps', async (t) => {
    let seen: Record<string, unknown> = {};
    const gw = await startGateway(t, {
      authorizer: {
        handler: (event: { methodArn: string }) => {
          seen = event;
          return policy('Allow', event.methodArn);
        },
      },
      routes: {},
    });
    await gw.connect();
    assert.deepEqual(seen.queryStringParameters, {});
    assert.deepEqual(seen.multiValueQueryStringParameters, {});
    assert.deepEqual(seen.stageVariables, {});
  });

  await t.test('principalId and stringified context reach CONNECT, MESSAGE and DISCONNECT', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      authorizer: {
        handler: async (event: { methodArn: string }) =>
          policy('Allow', event.methodArn, {
            principalId: 'alice',
            context: { stringKey: 'v', numberKey: 123, booleanKey: true, nullKey: null },
          }),
      },
      routes: { $connect: recorder.handler(), $default: recorder.handler(), $disconnect: recorder.handler() },
    });
    const client = new WebSocket(gw.url);
    await opened(client);
    client.send('hello');
    await recorder.next('$default');
    client.close(1000);
    await recorder.next('$disconnect');
    const expected = { principalId: 'alice', stringKey: 'v', numberKey: '123', booleanKey: 'true' };
    for (const event of recorder.events) {
      assert.deepEqual(event.requestContext.authorizer, expected, event.requestContext.eventType);
      assert.deepEqual(Object.keys(event.requestContext).slice(0, 2), ['routeKey', 'authorizer']);
    }
  });

  await t.test('stage variables appear on every event when the stage defines them', async (t) => {
    const recorder = new Recorder();
    const gw = await startGateway(t, {
      stageVariables: { table: 'chat-dev' },
      routes: { $connect: recorder.handler(), $default: recorder.handler(), $disconnect: recorder.handler() },
    });
    const client = await gw.connect();
    client.send('x');
    await recorder.next('$default');
    client.close();
    await recorder.next('$disconnect');
    for (const event of recorder.events) assert.deepEqual(event.stageVariables, { table: 'chat-dev' });
  });
});
