import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatClfTime, isWellFormedGatewayId, newApiId, newGatewayId } from '../src/events.js';
import { invokeLambda } from '../src/invoke.js';
import { createRouteSelector } from '../src/routing.js';
import { ManualClock, SECOND } from './helpers.js';

test('route selection: bare and template forms, stringified values, $default fallback', () => {
  const routes = ['sendmessage', '1', 'true', '[a, b]', 'chat/join', 'x$default', '$default', '$connect'];
  const bare = createRouteSelector('$request.body.action', routes);
  assert.equal(bare('{"action":"sendmessage"}'), 'sendmessage');
  assert.equal(bare('{"action":1}'), '1');
  assert.equal(bare('{"action":true}'), 'true');
  assert.equal(bare('{"action":["a","b"]}'), '[a, b]');
  assert.equal(bare('{"action":null}'), '$default');
  assert.equal(bare('{"other":"sendmessage"}'), '$default');
  assert.equal(bare('"sendmessage"'), '$default');
  assert.equal(bare('{"action":"$connect"}'), '$default');
  assert.equal(bare('{"action":"$default"}'), '$default');
  assert.equal(bare('nope'), '$default');
  assert.equal(bare(''), '$default');

  // biome-ignore lint/suspicious/noTemplateCurlyInString: API Gateway's template syntax
  const template = createRouteSelector('${request.body.service}/${request.body.op[1].name}', routes);
  assert.equal(template('{"service":"chat","op":[{},{"name":"join"}]}'), 'chat/join');
  assert.equal(createRouteSelector('x\\$default', routes)('{}'), 'x$default');
  assert.equal(createRouteSelector('$request.body.a.b', routes)('{"a":{"b":"sendmessage"}}'), 'sendmessage');

  const strict = createRouteSelector('$request.body.action', ['sendmessage']);
  assert.equal(strict('{"action":"other"}'), undefined);
  assert.equal(strict('not json'), undefined);
});

test('ids: 16 characters of base64url ending in =', () => {
  const ids = new Set(Array.from({ length: 1000 }, newGatewayId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.ok(isWellFormedGatewayId(id), id);
  assert.ok(!isWellFormedGatewayId('TXzPWdnOjoECGjA'));
  assert.ok(!isWellFormedGatewayId('TXzPWdnOjoEC+jA='));
  assert.match(newApiId(), /^[a-z0-9]{10}$/);
});

test('requestTime is CLF in UTC', () => {
  assert.equal(formatClfTime(Date.UTC(2024, 1, 9, 7, 1, 2)), '09/Feb/2024:07:01:02 +0000');
});

test('invokeLambda: promise, callback, context.succeed, throw and timeout; the context looks like Lambda', async () => {
  const clock = new ManualClock();
  const settings = {
    routeKey: '$connect',
    region: 'eu-west-1',
    accountId: '000000000000',
    timeoutMs: 50,
    clock,
  };
  assert.deepEqual(await invokeLambda(async () => 'a', {}, settings), { ok: true, result: 'a' });
  const callbackStyle = ((_e: unknown, _c: unknown, cb: (e: unknown, r: unknown) => void) =>
    cb(null, 'b')) as never;
  assert.deepEqual(await invokeLambda(callbackStyle, {}, settings), { ok: true, result: 'b' });
  const legacy = (_e: unknown, context: { succeed(r: unknown): void }) => {
    context.succeed('c');
  };
  assert.deepEqual(await invokeLambda(legacy, {}, settings), { ok: true, result: 'c' });
  const thrown = await invokeLambda(
    () => {
      throw new Error('x');
    },
    {},
    settings,
  );
  assert.equal(thrown.ok === false && thrown.reason, 'error');
  const hanging = invokeLambda(() => new Promise(() => {}), {}, settings);
  clock.advance(49);
  assert.equal(await Promise.race([hanging, 'pending']), 'pending', 'still running at 49 ms');
  clock.advance(1);
  assert.deepEqual(await hanging, { ok: false, reason: 'timeout' });

  let seen: Record<string, unknown> & { getRemainingTimeInMillis(): number } = {} as never;
  await invokeLambda(
    (_event, context) => (seen = context as never),
    {},
    { ...settings, timeoutMs: 29 * SECOND },
  );
  assert.equal(seen.functionName, 'connect');
  assert.equal(seen.invokedFunctionArn, 'arn:aws:lambda:eu-west-1:000000000000:function:connect');
  assert.match(String(seen.awsRequestId), /^[0-9a-f-]{36}$/);
  assert.equal(seen.getRemainingTimeInMillis(), 29 * SECOND);
  clock.advance(SECOND);
  assert.equal(seen.getRemainingTimeInMillis(), 28 * SECOND);
});
