import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocket } from 'ws';
import { opened, Recorder, refusedStatus, startGateway, waitUntil } from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a non-2xx $connect result refuses the handshake with that status and registers nothing', async (t) => {
  const recorder = new Recorder();
  const gw = await startGateway(t, {
    routes: { $connect: recorder.handler(() => ({ statusCode: 403, body: 'secret detail' })) },
  });
  assert.equal(await refusedStatus(gw.url), 403);
  assert.equal(recorder.of('$connect').length, 1);
  assert.equal(gw.gateway.connectionCount, 0);
});

test('the refusal is a plain HTTP response without the handler body', async (t) => {
  const gw = await startGateway(t, {
    routes: { $connect: () => ({ statusCode: 401, body: 'secret detail' }) },
  });
  const response = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request(gw.url.replace('ws:', 'http:'), {
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version': '13',
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
  assert.equal(response.status, 401);
  assert.equal(response.headers.connection, 'close');
  assert.equal(response.headers['content-length'], '0');
  assert.equal(response.body, '');
});

test('a throwing $connect gives 502', async (t) => {
  const gw = await startGateway(t, {
    routes: {
      $connect: () => {
        throw new Error('boom');
      },
    },
  });
  assert.equal(await refusedStatus(gw.url), 502);
});

test('a $connect that outlives the integration timeout gives 502', async (t) => {
  const gw = await startGateway(t, {
    integrationTimeoutMs: 50,
    routes: { $connect: () => sleep(300).then(() => ({ statusCode: 200 })) },
  });
  assert.equal(await refusedStatus(gw.url), 502);
});

test('without a $connect route every handshake is accepted', async (t) => {
  const gw = await startGateway(t, { routes: { $default: () => undefined } });
  await gw.connect();
  assert.equal(gw.gateway.connectionCount, 1);
});

test('a $connect result without statusCode is taken as 200', async (t) => {
  const gw = await startGateway(t, { routes: { $connect: () => undefined } });
  await gw.connect();
  assert.equal(gw.gateway.connectionCount, 1);
});

test('callback-style handlers work', async (t) => {
  const gw = await startGateway(t, {
    routes: {
      $connect: ((_event: unknown, _context: unknown, callback: (e: unknown, r: unknown) => void) =>
        setImmediate(() => callback(null, { statusCode: 401 }))) as never,
    },
  });
  assert.equal(await refusedStatus(gw.url), 401);
});

test('a subprotocol is echoed only when $connect returns it', async (t) => {
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

  const unanswered = new WebSocket(gw.url, ['chat1', 'chat2']);
  await assert.rejects(opened(unanswered), /Server sent no subprotocol/);
  unanswered.terminate();
});

test('the connection does not exist while $connect runs: management calls get 410', async (t) => {
  let seen: unknown;
  const gw = await startGateway(t, {
    routes: {
      $connect: async (event: { requestContext: { connectionId: string } }) => {
        try {
          await gw.management.send(
            new PostToConnectionCommand({ ConnectionId: event.requestContext.connectionId, Data: 'early' }),
          );
        } catch (error) {
          seen = error;
        }
        return { statusCode: 200 };
      },
    },
  });
  await gw.connect();
  await waitUntil(() => seen !== undefined, 'the $connect handler');
  assert.ok(seen instanceof GoneException);
});

test('HTTP paths: 426 on the stage without Upgrade, 404 elsewhere, httpHandler for the rest', async (t) => {
  const gw = await startGateway(t, {
    routes: {},
    httpHandler: (req, res) => {
      if (req.url !== '/') return false;
      res.end('demo page');
      return true;
    },
  });
  const base = `http://127.0.0.1:${gw.port}`;
  const upgradeRequired = await fetch(`${base}/dev`);
  assert.equal(upgradeRequired.status, 426);
  await upgradeRequired.body?.cancel();
  const notFound = await fetch(`${base}/elsewhere`);
  assert.equal(notFound.status, 404);
  await notFound.body?.cancel();
  const page = await fetch(`${base}/`);
  assert.equal(await page.text(), 'demo page');
  assert.equal(await refusedStatus(`ws://127.0.0.1:${gw.port}/prod`), 404);
});
