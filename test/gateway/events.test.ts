import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATEWAY_ID, Recorder, startGateway } from './helpers.ts';

const CLF = /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;

test('CONNECT event: handshake headers as sent, API Gateway additions, query maps, AWS request context', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { stage: 'develop', routes: { $connect: recorder.handler() } });
  await gw.connect('?token=abc&x=1&x=2', { headers: { 'User-Agent': 'tester/1.0', 'X-Custom-Header': 'v' } });
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
  assert.equal(headers['X-Custom-Header'], 'v', 'client casing is kept');
  assert.equal(headers['User-Agent'], 'tester/1.0');
  assert.match(headers['Sec-WebSocket-Key'], /==$/);
  assert.equal(headers.Host, `127.0.0.1:${gw.port}`);
  const lowerNames = Object.keys(headers).map((name) => name.toLowerCase());
  assert.ok(
    !lowerNames.includes('connection') && !lowerNames.includes('upgrade'),
    'hop-by-hop headers removed',
  );
  assert.equal(headers['X-Forwarded-For'], '127.0.0.1');
  assert.equal(headers['X-Forwarded-Port'], String(gw.port));
  assert.equal(headers['X-Forwarded-Proto'], 'http');
  assert.match(headers['X-Amzn-Trace-Id'], /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  assert.deepEqual(Object.keys(multiValueHeaders), Object.keys(headers));
  for (const [name, value] of Object.entries(headers)) assert.deepEqual(multiValueHeaders[name], [value]);

  const rc = event.requestContext;
  assert.deepEqual(Object.keys(rc).sort(), [
    'apiId',
    'connectedAt',
    'connectionId',
    'domainName',
    'eventType',
    'extendedRequestId',
    'identity',
    'messageDirection',
    'requestId',
    'requestTime',
    'requestTimeEpoch',
    'routeKey',
    'stage',
  ]);
  assert.equal(rc.routeKey, '$connect');
  assert.equal(rc.eventType, 'CONNECT');
  assert.equal(rc.messageDirection, 'IN');
  assert.equal(rc.stage, 'develop');
  assert.match(rc.connectionId, GATEWAY_ID);
  assert.match(rc.requestId, GATEWAY_ID);
  assert.equal(rc.extendedRequestId, rc.requestId);
  assert.notEqual(rc.requestId, rc.connectionId);
  assert.match(rc.apiId, /^[a-z0-9]{10}$/);
  assert.equal(rc.domainName, `127.0.0.1:${gw.port}`);
  assert.match(rc.requestTime, CLF);
  assert.equal(typeof rc.connectedAt, 'number');
  assert.ok(rc.requestTimeEpoch >= rc.connectedAt);
  assert.deepEqual(rc.identity, { userAgent: 'tester/1.0', sourceIp: '127.0.0.1' });
  assert.equal(gw.url, `ws://127.0.0.1:${gw.port}/develop`);
  assert.equal(gw.managementEndpoint, `http://127.0.0.1:${gw.port}/develop`);
});

test('CONNECT event without query string or User-Agent omits those keys', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { apiId: 'abcde12345', routes: { $connect: recorder.handler() } });
  await gw.connect();
  const event = await recorder.next('$connect');
  assert.ok(!('queryStringParameters' in event));
  assert.ok(!('multiValueQueryStringParameters' in event));
  assert.deepEqual(event.requestContext.identity, { sourceIp: '127.0.0.1' });
  assert.equal(event.requestContext.apiId, 'abcde12345');
  assert.equal(event.requestContext.stage, 'dev');
});

test('MESSAGE event: body string, messageId, no headers or query', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(), sendmessage: recorder.handler(() => undefined) },
  });
  const client = await gw.connect('?token=abc', { headers: { 'User-Agent': 'tester/1.0' } });
  const connect = await recorder.next('$connect');
  client.send('{"action":"sendmessage","text":"hi"}');
  const event = await recorder.next('sendmessage');

  assert.deepEqual(Object.keys(event), ['requestContext', 'body', 'isBase64Encoded']);
  assert.equal(event.body, '{"action":"sendmessage","text":"hi"}');
  assert.equal(event.isBase64Encoded, false);
  const rc = event.requestContext;
  assert.equal(rc.routeKey, 'sendmessage');
  assert.equal(rc.eventType, 'MESSAGE');
  assert.match(rc.messageId, GATEWAY_ID);
  assert.match(rc.requestId, GATEWAY_ID);
  assert.equal(rc.extendedRequestId, rc.requestId);
  assert.notEqual(rc.messageId, rc.requestId);
  assert.notEqual(rc.requestId, connect.requestContext.requestId);
  assert.equal(rc.connectionId, connect.requestContext.connectionId);
  assert.equal(rc.connectedAt, connect.requestContext.connectedAt);
  assert.deepEqual(rc.identity, { userAgent: 'tester/1.0', sourceIp: '127.0.0.1' });
  assert.ok(!('disconnectStatusCode' in rc));
});

test('DISCONNECT event: fixed header quartet, close code and client reason', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(), $disconnect: recorder.handler() },
  });
  const client = await gw.connect('?token=abc');
  const connect = await recorder.next('$connect');
  client.close(1000, 'bye');
  const event = await recorder.next('$disconnect');

  const host = `127.0.0.1:${gw.port}`;
  assert.deepEqual(Object.keys(event), ['headers', 'multiValueHeaders', 'requestContext', 'isBase64Encoded']);
  assert.deepEqual(event.headers, { Host: host, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
  assert.deepEqual(event.multiValueHeaders, {
    Host: [host],
    'x-api-key': [''],
    'X-Forwarded-For': [''],
    'x-restapi': [''],
  });
  const rc = event.requestContext;
  assert.equal(rc.routeKey, '$disconnect');
  assert.equal(rc.eventType, 'DISCONNECT');
  assert.equal(rc.disconnectStatusCode, 1000);
  assert.equal(rc.disconnectReason, 'bye');
  assert.equal(rc.connectionId, connect.requestContext.connectionId);
  assert.equal(rc.connectedAt, connect.requestContext.connectedAt);
  assert.equal(rc.extendedRequestId, rc.requestId);
  assert.ok(!('messageId' in rc));
});

test('DISCONNECT without a close status reports 1005 and the AWS text', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { routes: { $disconnect: recorder.handler() } });
  const client = await gw.connect();
  client.close();
  const { requestContext } = await recorder.next('$disconnect');
  assert.equal(requestContext.disconnectStatusCode, 1005);
  assert.equal(requestContext.disconnectReason, 'Client-side close frame status not set');
});

test('DISCONNECT after a dropped TCP connection reports 1006', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, { routes: { $disconnect: recorder.handler() } });
  const client = await gw.connect();
  client.terminate();
  const { requestContext } = await recorder.next('$disconnect');
  assert.equal(requestContext.disconnectStatusCode, 1006);
  assert.equal(requestContext.disconnectReason, 'Connection closed abnormally');
});
