import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { LocalStack } from '../../src/local/stack.ts';
import { METRIC } from '../../src/metrics.ts';
import { scanRegistry } from '../faults/support.ts';
import {
  eventually,
  type HandshakeOptions,
  handshakeStatus,
  recordingMetrics,
  startTestStack,
  TEST_SECRET,
} from '../support/chat.ts';
import { hmacJwt, nowSeconds, rawJwt, serveJson } from './support.ts';

/**
 * Token attacks on `$connect`, through the real gateway: each row is a handshake and the HTTP status it must get
 * (docs/protocol.md: 401 token, 400 room, 403 user or room not allowed), and a refused one must leave no record.
 */

const ISSUER = 'https://issuer.roomcast.test/';
const AUDIENCE = 'roomcast-chat';

interface Row {
  name: string;
  status: number;
  /** The token; the query is `token=<token>&room_id=<room>` unless `query` says otherwise. */
  token?: () => string | Promise<string>;
  query?: (room: string, token: string) => string;
  options?: (token: string) => HandshakeOptions;
}

/** Runs each row as its own test, in its own room, and checks that a refused handshake stored nothing. */
function handshakeRows(rows: Row[], context: () => { stack: LocalStack; validToken: () => Promise<string> }) {
  rows.forEach((row, i) => {
    it(`${row.status === 0 ? 'accepts' : `${row.status} for`} ${row.name}`, async () => {
      const { stack, validToken } = context();
      const room = `tok-${i}`;
      const token = row.token ? await row.token() : await validToken();
      const query = row.query ? row.query(room, token) : `token=${token}&room_id=${room}`;
      const status = await handshakeStatus(`${stack.wsUrl}?${query}`, row.options?.(token) ?? {});
      assert.equal(status, row.status);
      if (row.status === 0) {
        // Accepted, then closed by the client: `$disconnect` removes the record.
        await eventually(
          () => stack.deps.connections.roomMembers(room),
          (members) => members.length === 0,
        );
      } else {
        assert.deepEqual(
          await stack.deps.connections.roomMembers(room),
          [],
          'a refused handshake stored a record',
        );
      }
    });
  });
}

describe('HS256 tokens (JWT_SECRET, issuer and audience configured)', () => {
  let stack: LocalStack;
  const metrics = recordingMetrics();
  const claims = (extra: Record<string, unknown> = {}) => ({
    sub: 'alice',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    exp: nowSeconds() + 600,
    ...extra,
  });
  const signed = (extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    hmacJwt(TEST_SECRET, claims(extra), header);
  /** A signed token whose claims are then removed: `requiredClaims` must catch what a signer left out. */
  const signedWithout = (claim: string) => {
    const payload: Record<string, unknown> = claims();
    delete payload[claim];
    return hmacJwt(TEST_SECRET, payload);
  };
  const header = (alg: string) => ({ alg, typ: 'JWT' });

  before(async () => {
    stack = await startTestStack({
      env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
      depsOverrides: { metrics },
    });
  });
  after(async () => {
    await stack.close();
  });

  const rows: Row[] = [
    { name: 'a valid token (control)', status: 0 },
    {
      name: 'the same token with user_id = sub (control)',
      status: 0,
      query: (r, t) => `token=${t}&room_id=${r}&user_id=alice`,
    },
    { name: 'no token', status: 401, query: (room) => `room_id=${room}` },
    { name: 'an empty token', status: 401, query: (room) => `token=&room_id=${room}` },
    { name: 'garbage', status: 401, token: () => 'not.a.jwt' },
    { name: 'alg "none", unsigned', status: 401, token: () => rawJwt(header('none'), claims()) },
    { name: 'alg "None" / "NONE" / "nOnE"', status: 401, token: () => rawJwt(header('nOnE'), claims()) },
    {
      name: 'alg "none" keeping a valid signature',
      status: 401,
      token: () => {
        const [, payload, signature] = signed().split('.');
        return `${Buffer.from(JSON.stringify(header('none'))).toString('base64url')}.${payload}.${signature}`;
      },
    },
    {
      name: 'the signature stripped',
      status: 401,
      token: () => `${signed().split('.').slice(0, 2).join('.')}.`,
    },
    {
      name: 'a payload changed after signing (sub → admin)',
      status: 401,
      token: () => {
        const [head, , signature] = signed().split('.');
        const forged = Buffer.from(JSON.stringify(claims({ sub: 'admin' }))).toString('base64url');
        return `${head}.${forged}.${signature}`;
      },
    },
    {
      name: 'a wrong secret',
      status: 401,
      token: () => hmacJwt('another-secret-that-is-long-enough-42', claims()),
    },
    {
      name: 'HS512 with the right secret (not allow-listed)',
      status: 401,
      token: () => signed({}, { alg: 'HS512' }),
    },
    { name: 'an expired token', status: 401, token: () => signed({ exp: nowSeconds() - 30 }) },
    { name: 'nbf in the future', status: 401, token: () => signed({ nbf: nowSeconds() + 300 }) },
    { name: 'a wrong issuer', status: 401, token: () => signed({ iss: 'https://evil.example/' }) },
    { name: 'no issuer', status: 401, token: () => signedWithout('iss') },
    { name: 'a wrong audience', status: 401, token: () => signed({ aud: 'some-other-api' }) },
    { name: 'no audience', status: 401, token: () => signedWithout('aud') },
    { name: 'no sub', status: 401, token: () => signedWithout('sub') },
    { name: 'an empty sub', status: 401, token: () => signed({ sub: '' }) },
    { name: 'a sub that is not a string', status: 401, token: () => signed({ sub: 42 }) },
    { name: 'a sub over 128 characters', status: 401, token: () => signed({ sub: 'u'.repeat(129) }) },
    { name: 'no exp', status: 401, token: () => signedWithout('exp') },
    { name: 'an exp that is not a number', status: 401, token: () => signed({ exp: 'tomorrow' }) },
    {
      name: 'an unknown critical header extension',
      status: 401,
      token: () => signed({}, { crit: ['x-roomcast'], 'x-roomcast': true }),
    },
    { name: 'a rooms claim that is not an array', status: 401, token: () => signed({ rooms: 'lobby' }) },
    { name: 'a rooms claim that excludes the room', status: 403, token: () => signed({ rooms: ['lobby'] }) },
    { name: 'a rooms pattern that excludes the room', status: 403, token: () => signed({ rooms: ['lob*'] }) },
    {
      name: 'a rooms claim with a * inside an entry',
      status: 401,
      token: () => signed({ rooms: ['te*am'] }),
    },
    { name: 'a rooms claim with a malformed entry', status: 401, token: () => signed({ rooms: ['a b'] }) },
    {
      name: 'user_id other than sub',
      status: 403,
      query: (r, t) => `token=${t}&room_id=${r}&user_id=mallory`,
    },
    {
      name: 'the token in an Authorization header instead of the query',
      status: 401,
      query: (room) => `room_id=${room}`,
      options: (token) => ({ headers: { Authorization: `Bearer ${token}` } }),
    },
    {
      name: 'the token as a subprotocol instead of the query',
      status: 401,
      query: (room) => `room_id=${room}`,
      options: (token) => ({ protocols: [token] }),
    },
    {
      name: 'the token in a cookie instead of the query',
      status: 401,
      query: (room) => `room_id=${room}`,
      options: (token) => ({ headers: { Cookie: `token=${token}` } }),
    },
    {
      name: 'the token under another parameter name',
      status: 401,
      query: (r, t) => `access_token=${t}&Token=${t}&room_id=${r}`,
    },
    {
      name: 'a 6 000-character garbage token',
      status: 401,
      token: () => `${'e'.repeat(3000)}.${'e'.repeat(2998)}.`,
    },
    {
      name: 'a valid token and a malformed room_id',
      status: 400,
      query: (_room, token) => `token=${token}&room_id=a%2Fb`,
    },
  ];
  handshakeRows(rows, () => ({ stack, validToken: async () => signed() }));

  it('refuses a 64 KB query before $connect runs (API Gateway allows 4096 URL characters)', async () => {
    const refusedBefore = metrics.totals.get(METRIC.connectionsRefused) ?? 0;
    const token = signed({ padding: 'p'.repeat(64 * 1024) });
    const status = await handshakeStatus(`${stack.wsUrl}?token=${token}&room_id=huge`);
    // Node's 16 KB header limit answers 431; a gateway enforcing API Gateway's URL limit would answer 414.
    assert.ok(status === 431 || status === 414, `status ${status}`);
    assert.equal(metrics.totals.get(METRIC.connectionsRefused) ?? 0, refusedBefore, '$connect never ran');
    assert.deepEqual(await stack.deps.connections.roomMembers('huge'), []);
    // The server is unharmed.
    assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${signed()}&room_id=after-huge`), 0);
  });

  it('counted every refusal, and the registry is empty', async () => {
    const refusals = rows.filter((row) => row.status !== 0).length;
    assert.equal(metrics.totals.get(METRIC.connectionsRefused), refusals);
    await eventually(
      () => scanRegistry(stack),
      (records) => records.length === 0,
    );
  });
});

describe('JWKS tokens (RS256 and ES256 keys served on 127.0.0.1)', () => {
  let stack: LocalStack;
  let jwks: Awaited<ReturnType<typeof serveJson>>;
  let attackerJwks: Awaited<ReturnType<typeof serveJson>>;
  type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
  const keys = {} as Record<'rsa' | 'ec' | 'attacker', KeyPair>;
  let rsaPublicJwk: JWK;
  let rsaPublicPem = '';

  const claims = (extra: Record<string, unknown> = {}) => ({
    sub: 'carol',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    exp: nowSeconds() + 600,
    ...extra,
  });
  const sign = (
    key: KeyPair['privateKey'] | KeyObject,
    header: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => new SignJWT(claims(extra)).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', ...header }).sign(key);

  before(async () => {
    keys.rsa = await generateKeyPair('RS256', { extractable: true });
    keys.ec = await generateKeyPair('ES256', { extractable: true });
    keys.attacker = await generateKeyPair('RS256', { extractable: true });
    rsaPublicJwk = await exportJWK(keys.rsa.publicKey);
    rsaPublicPem = await exportSPKI(keys.rsa.publicKey);
    jwks = await serveJson('/.well-known/jwks.json', {
      keys: [
        { ...rsaPublicJwk, kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(keys.ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    });
    attackerJwks = await serveJson('/jwks.json', {
      keys: [{ ...(await exportJWK(keys.attacker.publicKey)), kid: 'rsa-1', alg: 'RS256' }],
    });
    stack = await startTestStack({
      env: { JWT_SECRET: undefined, JWT_JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
    });
  });
  after(async () => {
    await stack?.close();
    await jwks?.close();
    await attackerJwks?.close();
  });

  const rows: Row[] = [
    { name: 'an RS256 token from the key set (control)', status: 0 },
    {
      name: 'an ES256 token from the key set (control)',
      status: 0,
      token: () => sign(keys.ec.privateKey, { alg: 'ES256', kid: 'ec-1' }),
    },
    {
      name: 'HS256 signed with the RSA public key PEM as the secret (algorithm confusion)',
      status: 401,
      token: () => hmacJwt(rsaPublicPem, claims(), { kid: 'rsa-1' }),
    },
    {
      name: 'HS256 signed with the public JWK as the secret (algorithm confusion)',
      status: 401,
      token: () => hmacJwt(JSON.stringify(rsaPublicJwk), claims(), { kid: 'rsa-1' }),
    },
    {
      name: 'HS256 signed with the modulus as the secret (algorithm confusion)',
      status: 401,
      token: () => hmacJwt(Buffer.from(String(rsaPublicJwk.n), 'base64url'), claims(), { kid: 'rsa-1' }),
    },
    { name: 'alg "none"', status: 401, token: () => rawJwt({ alg: 'none', kid: 'rsa-1' }, claims()) },
    {
      name: 'a key outside the set under a known kid',
      status: 401,
      token: () => sign(keys.attacker.privateKey, {}),
    },
    {
      name: 'an unknown kid',
      status: 401,
      token: () => sign(keys.attacker.privateKey, { kid: 'attacker-1' }),
    },
    {
      name: "the attacker's own key embedded in the header (jwk)",
      status: 401,
      token: async () =>
        sign(keys.attacker.privateKey, { kid: undefined, jwk: await exportJWK(keys.attacker.publicKey) }),
    },
    {
      name: "a jku header pointing at the attacker's key set",
      status: 401,
      token: () => sign(keys.attacker.privateKey, { jku: attackerJwks.url }),
    },
    {
      name: 'RS384 from a key of the set (not allow-listed)',
      status: 401,
      // WebCrypto keys are bound to one hash; a KeyObject of the same key signs RS384.
      token: () => sign(KeyObject.from(keys.rsa.privateKey), { alg: 'RS384' }),
    },
    {
      name: 'an expired token',
      status: 401,
      token: () => sign(keys.rsa.privateKey, {}, { exp: nowSeconds() - 30 }),
    },
    { name: 'a wrong audience', status: 401, token: () => sign(keys.rsa.privateKey, {}, { aud: 'other' }) },
    {
      name: 'a rooms claim that excludes the room',
      status: 403,
      token: () => sign(keys.rsa.privateKey, {}, { rooms: ['lobby'] }),
    },
  ];
  handshakeRows(rows, () => ({ stack, validToken: () => sign(keys.rsa.privateKey, {}) }));

  it('never fetched a key set named by a token', () => {
    assert.equal(attackerJwks.requests, 0);
    assert.ok(jwks.requests >= 1);
  });

  it('cannot be configured to accept HS256 or none next to a key set', async () => {
    for (const algorithms of ['HS256', 'RS256,HS256', 'none']) {
      await assert.rejects(
        startTestStack({
          env: { JWT_SECRET: undefined, JWT_JWKS_URL: jwks.url, JWT_ALGORITHMS: algorithms },
        }),
        /JWT_ALGORITHMS/,
        algorithms,
      );
    }
    await assert.rejects(
      startTestStack({ env: { JWT_SECRET: 'short', JWT_ALGORITHMS: 'none' } }),
      /JWT_SECRET must be at least 32 characters/,
    );
  });
});
