import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

const secret = 's'.repeat(32);

describe('loadConfig', () => {
  it('has production defaults', () => {
    const config = loadConfig({});
    assert.equal(config.tables.connections, 'chat_connections');
    assert.equal(config.connectionTtlSeconds, 7200 + 600);
    assert.equal(config.maxMessageChars, 4000);
    assert.equal(config.auth, undefined);
    assert.equal(config.dynamodbEndpoint, undefined);
  });

  it('reads table names, limits and the TTL parts', () => {
    const config = loadConfig({
      DYNAMO_TABLE_NAME_CHAT_CONNECTIONS: 'conns',
      CONNECTION_MAX_SECONDS: '3600',
      CONNECTION_TTL_MARGIN_SECONDS: '60',
      MAX_MESSAGE_CHARS: '100',
      WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://ws.example.com/prod/',
    });
    assert.equal(config.tables.connections, 'conns');
    assert.equal(config.connectionTtlSeconds, 3660);
    assert.equal(config.maxMessageChars, 100);
    assert.equal(config.managementEndpoint, 'https://ws.example.com/prod');
  });

  it('builds HS256 auth from JWT_SECRET with issuer and audience', () => {
    const config = loadConfig({ JWT_SECRET: secret, JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' });
    assert.deepEqual(config.auth, {
      kind: 'secret',
      secret,
      algorithms: ['HS256'],
      issuer: 'iss',
      audience: 'aud',
    });
  });

  it('takes a JWKS URL over plain http only from a loopback address (a test key server)', () => {
    for (const url of [
      'http://127.0.0.1:9999/jwks.json',
      'http://localhost:9999/jwks',
      'http://[::1]:9999/jwks',
    ])
      assert.equal(loadConfig({ JWT_JWKS_URL: url }).auth?.kind, 'jwks', url);
  });

  it('builds JWKS auth with asymmetric algorithms only', () => {
    const config = loadConfig({ JWT_JWKS_URL: 'https://issuer.example.com/.well-known/jwks.json' });
    assert.equal(config.auth?.kind, 'jwks');
    assert.deepEqual(config.auth?.algorithms, ['RS256', 'ES256']);
    assert.throws(
      () => loadConfig({ JWT_JWKS_URL: 'https://x.example.com/jwks', JWT_ALGORITHMS: 'HS256' }),
      ConfigError,
    );
  });

  for (const [name, env] of [
    ['a short secret', { JWT_SECRET: 'short' }],
    ['both secret and JWKS', { JWT_SECRET: secret, JWT_JWKS_URL: 'https://x.example.com/jwks' }],
    ['alg none', { JWT_SECRET: secret, JWT_ALGORITHMS: 'none' }],
    ['a JWKS URL that is not a URL', { JWT_JWKS_URL: 'not a url' }],
    // Set but empty is not "unset": the local stack would fall back to its public development secret.
    ['an empty secret', { JWT_SECRET: '' }],
    ['a blank secret', { JWT_SECRET: '   ' }],
    ['an empty JWKS URL', { JWT_JWKS_URL: '' }],
    ['a JWKS URL over plain http', { JWT_JWKS_URL: 'http://issuer.example.com/jwks.json' }],
    ['a JWKS URL on the file system', { JWT_JWKS_URL: 'file:///etc/roomcast/jwks.json' }],
    ['a JWKS URL over ftp', { JWT_JWKS_URL: 'ftp://issuer.example.com/jwks.json' }],
    ['a non-numeric limit', { MAX_MESSAGE_CHARS: 'lots' }],
    ['messages too long for a 32 KB frame', { MAX_MESSAGE_CHARS: '5001' }],
    ['a negative TTL', { CONNECTION_MAX_SECONDS: '-5' }],
    ['an unknown log level', { LOG_LEVEL: 'LOUD' }],
  ] as const) {
    it(`refuses ${name} with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && /[A-Z_]{4,}/.test(error.message),
      );
    });
  }
});
