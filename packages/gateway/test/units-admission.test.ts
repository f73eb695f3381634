import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  judgeAuthorizer,
  missingIdentitySource,
  policyAllows,
  statementsOf,
  wildcardMatch,
} from '../src/authorizer.js';
import { parseIdentitySources } from '../src/options.js';
import { TokenBucket } from '../src/token-bucket.js';
import { ManualClock } from './helpers.js';

const ARN = 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect';

test('IAM wildcards: * spans slashes, ? is one character, everything else is literal', () => {
  assert.ok(wildcardMatch('arn:aws:execute-api:*', ARN));
  assert.ok(wildcardMatch('arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*', ARN));
  assert.ok(wildcardMatch('arn:aws:execute-api:us-east-1:123456789012:abcdef1234/pro?/$connect', ARN));
  assert.ok(!wildcardMatch('arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*', ARN));
  assert.ok(!wildcardMatch('arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connec', ARN));
  assert.ok(!wildcardMatch('arn:aws:execute-api:us-east-1:123456789012:abcdef1234.prod/$connect', ARN));
  assert.ok(wildcardMatch('EXECUTE-API:invoke', 'execute-api:Invoke', { ignoreCase: true }));
  assert.ok(!wildcardMatch('EXECUTE-API:invoke', 'execute-api:Invoke'));
});

test('policies: an explicit Deny wins, no matching Allow denies, Statement may be one object', () => {
  const allow = { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: ARN };
  const deny = { Effect: 'Deny', Action: ['execute-api:*'], Resource: ['*'] };
  assert.ok(policyAllows(statementsOf({ Statement: allow }) ?? [], ARN));
  assert.ok(!policyAllows(statementsOf({ Statement: [allow, deny] }) ?? [], ARN));
  assert.ok(!policyAllows(statementsOf({ Statement: [] }) ?? [], ARN));
  assert.ok(!policyAllows(statementsOf({ Statement: [{ ...allow, Action: 's3:GetObject' }] }) ?? [], ARN));
  assert.ok(
    !policyAllows(
      statementsOf({ Statement: [{ Effect: 'Allow', NotAction: 'x', Resource: '*' }] }) ?? [],
      ARN,
    ),
  );
  assert.equal(statementsOf(undefined), undefined);
  assert.equal(statementsOf({ Statement: ['nope'] }), undefined);
});

test('authorizer verdicts map to 401, 403 and 500 (SPEC.md §3.7)', () => {
  const allow = {
    principalId: 'u',
    policyDocument: { Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: ARN }] },
  };
  const verdict = (outcome: Parameters<typeof judgeAuthorizer>[0]) => {
    const v = judgeAuthorizer(outcome, ARN);
    return v.allow ? v.authorizer : v.status;
  };
  assert.deepEqual(
    verdict({ ok: true, result: { ...allow, context: { n: 1, b: false, s: 's', z: null } } }),
    {
      principalId: 'u',
      n: '1',
      b: 'false',
      s: 's',
    },
  );
  assert.deepEqual(verdict({ ok: true, result: { ...allow, context: { principalId: 'spoof' } } }), {
    principalId: 'u',
  });
  assert.equal(verdict({ ok: false, reason: 'error', error: 'Unauthorized' }), 401);
  assert.equal(verdict({ ok: false, reason: 'error', error: new Error('Unauthorized') }), 401);
  assert.equal(verdict({ ok: false, reason: 'error', error: new Error('unauthorized') }), 500);
  assert.equal(verdict({ ok: false, reason: 'error', error: { message: 'Unauthorized' } }), 500);
  assert.equal(verdict({ ok: false, reason: 'timeout' }), 500);
  assert.equal(verdict({ ok: true, result: 'Allow' }), 500);
  assert.equal(verdict({ ok: true, result: { ...allow, principalId: 7 } }), 500);
  assert.equal(verdict({ ok: true, result: { ...allow, context: { list: [1] } } }), 500);
  assert.equal(verdict({ ok: true, result: { ...allow, context: { big: 'x'.repeat(8_192) } } }), 500);
  assert.equal(verdict({ ok: true, result: { ...allow, context: { n: 1n } } }), 500, 'not JSON: a BigInt');
  assert.equal(verdict({ ok: true, result: { ...allow, policyDocument: { Statement: [] } } }), 403);
});

test('identity sources: WebSocket syntax, every source present and non-empty', () => {
  const sources = parseIdentitySources([
    'route.request.header.Auth',
    'route.request.querystring.token',
    'stageVariables.tier',
    'context.identity.sourceIp',
  ]);
  assert.deepEqual(
    sources.map((s) => s.from),
    ['header', 'querystring', 'stageVariables', 'context'],
  );
  const inputs = {
    headers: { auth: 'a' },
    queryStringParameters: { token: 't' },
    stageVariables: { tier: 'gold' },
    requestContext: { identity: { sourceIp: '127.0.0.1' } },
  };
  assert.equal(missingIdentitySource(sources, inputs), undefined);
  assert.equal(
    missingIdentitySource(sources, { ...inputs, headers: { auth: '' } })?.expression,
    'route.request.header.Auth',
  );
  assert.equal(
    missingIdentitySource(sources, { ...inputs, queryStringParameters: { Token: 't' } })?.expression,
    'route.request.querystring.token',
  );
  assert.equal(
    missingIdentitySource(sources, { ...inputs, stageVariables: {} })?.expression,
    'stageVariables.tier',
  );
  assert.equal(
    missingIdentitySource(sources, { ...inputs, requestContext: {} })?.expression,
    'context.identity.sourceIp',
  );
  assert.equal(
    missingIdentitySource(parseIdentitySources(['route.request.header.__proto__']), inputs)?.from,
    'header',
  );
  for (const bad of [
    '$request.header.Auth',
    'route.request.body.x',
    'header.Auth',
    'route.request.header.',
  ]) {
    assert.throws(() => parseIdentitySources([bad]), /Invalid identity source/, bad);
  }
});

test('token bucket: burst, then refill at the rate', () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(10, 2, clock);
  assert.ok(bucket.tryTake());
  assert.ok(bucket.tryTake());
  assert.ok(!bucket.tryTake());
  clock.advance(50);
  assert.ok(!bucket.tryTake());
  clock.advance(50);
  assert.ok(bucket.tryTake());
  assert.ok(!bucket.tryTake());
  clock.advance(10_000);
  assert.ok(bucket.tryTake());
  assert.ok(bucket.tryTake());
  assert.ok(!bucket.tryTake(), 'never more than the burst');
});
