import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AuthError, createTokenVerifier, signDevToken } from '../../src/auth.ts';

const secret = 'k'.repeat(40);
const RULES = { maxLifetimeSeconds: 86_400 };
const hs = createTokenVerifier({ kind: 'secret', secret, algorithms: ['HS256'] }, RULES);
const now = () => Math.floor(Date.now() / 1000);

async function rejects(promise: Promise<unknown>, reason: string) {
  await assert.rejects(promise, (error: unknown) => error instanceof AuthError && error.reason === reason);
}

describe('HS256 verifier', () => {
  it('returns sub as the user and the rooms claim', async () => {
    const token = await signDevToken(secret, 'alice', { rooms: ['r1', 'r2'] });
    const { issuedAt: _i, expiresAt: _e, tokenId: _t, ...identity } = await hs(token);
    assert.deepEqual(identity, { userId: 'alice', rooms: ['r1', 'r2'] });
    const {
      issuedAt: _bi,
      expiresAt: _be,
      tokenId: _bt,
      ...bob
    } = await hs(await signDevToken(secret, 'bob'));
    assert.deepEqual(bob, { userId: 'bob' });
  });

  it('refuses missing, garbled, wrong-secret and expired tokens', async () => {
    await rejects(hs(undefined), 'missing');
    await rejects(hs(''), 'missing');
    await rejects(hs('not.a.jwt'), 'invalid');
    await rejects(hs(await signDevToken('x'.repeat(40), 'alice')), 'invalid');
    await rejects(hs(await signDevToken(secret, 'alice', { expiresInSeconds: -10 })), 'expired');
  });

  it('requires exp and sub', async () => {
    const key = new TextEncoder().encode(secret);
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setIssuedAt()
      .sign(key);
    const noIat = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setExpirationTime(now() + 60)
      .sign(key);
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime(now() + 60)
      .sign(key);
    await rejects(hs(noExp), 'invalid');
    await rejects(hs(noSub), 'invalid');
    await rejects(hs(noIat), 'invalid');
  });

  it('refuses a token that lives longer than the maximum, or is issued in the future', async () => {
    const fine = await signDevToken(secret, 'a', { expiresInSeconds: 86_400 });
    assert.equal((await hs(fine)).userId, 'a');
    await rejects(hs(await signDevToken(secret, 'a', { expiresInSeconds: 86_401 })), 'invalid');
    const ahead = await signDevToken(secret, 'a', { issuedAtMs: Date.now() + 3_600_000 });
    await rejects(hs(ahead), 'invalid');
    // Clock skew: a minute ahead is taken for now.
    assert.equal(
      (await hs(await signDevToken(secret, 'a', { issuedAtMs: Date.now() + 30_000 }))).userId,
      'a',
    );
  });

  it('gives iat, exp and jti to the identity', async () => {
    const issuedAtMs = Date.now() - 5_000;
    const identity = await hs(
      await signDevToken(secret, 'a', { tokenId: 't-1', issuedAtMs, expiresInSeconds: 60 }),
    );
    assert.equal(identity.issuedAt, Math.floor(issuedAtMs / 1000));
    assert.equal(identity.expiresAt, Math.floor(issuedAtMs / 1000) + 60);
    assert.equal(identity.tokenId, 't-1');
    const bad = await new SignJWT({ jti: 7 } as unknown as { jti: string })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setIssuedAt()
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(secret));
    await rejects(hs(bad), 'invalid');
  });

  it('refuses alg none and algorithms outside the allow-list', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'mallory', exp: now() + 60 })).toString('base64url');
    await rejects(hs(`${header}.${body}.`), 'invalid');
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('a')
      .setIssuedAt()
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(secret));
    await rejects(hs(hs512), 'invalid');
  });

  it('refuses a malformed rooms claim', async () => {
    const token = await new SignJWT({ rooms: 'r1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setIssuedAt()
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(secret));
    await rejects(hs(token), 'invalid');
  });

  it('checks issuer and audience when configured', async () => {
    const strict = createTokenVerifier(
      {
        kind: 'secret',
        secret,
        algorithms: ['HS256'],
        issuer: 'me',
        audience: 'chat',
      },
      RULES,
    );
    assert.equal(
      (await strict(await signDevToken(secret, 'a', { issuer: 'me', audience: 'chat' }))).userId,
      'a',
    );
    await rejects(strict(await signDevToken(secret, 'a', { issuer: 'other', audience: 'chat' })), 'invalid');
    await rejects(strict(await signDevToken(secret, 'a', { issuer: 'me' })), 'invalid');
  });
});

describe('JWKS verifier (RS256 and ES256 keys served over HTTP)', () => {
  let jwksUrl = '';
  const server = createServer();
  const keys: Record<string, Awaited<ReturnType<typeof generateKeyPair>>> = {};

  before(async () => {
    keys.RS256 = await generateKeyPair('RS256');
    keys.ES256 = await generateKeyPair('ES256');
    const jwks = {
      keys: await Promise.all(
        Object.entries(keys).map(async ([alg, pair]) => ({
          ...(await exportJWK(pair.publicKey)),
          kid: alg,
          alg,
        })),
      ),
    };
    server.on('request', (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(() => server.close());

  const sign = (alg: string, sub: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg, kid: alg })
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime(now() + 60)
      .sign((keys[alg] as Awaited<ReturnType<typeof generateKeyPair>>).privateKey);

  it('verifies tokens signed by keys of the set', async () => {
    const verify = createTokenVerifier({ kind: 'jwks', jwksUrl, algorithms: ['RS256', 'ES256'] }, RULES);
    assert.equal((await verify(await sign('RS256', 'carol'))).userId, 'carol');
    assert.equal((await verify(await sign('ES256', 'dave'))).userId, 'dave');
  });

  it('refuses an algorithm outside the allow-list and an HS256 token', async () => {
    const verify = createTokenVerifier({ kind: 'jwks', jwksUrl, algorithms: ['RS256'] }, RULES);
    await rejects(verify(await sign('ES256', 'dave')), 'invalid');
    await rejects(verify(await signDevToken(secret, 'eve')), 'invalid');
  });
});
