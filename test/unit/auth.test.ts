import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AuthError, createTokenVerifier, signDevToken } from '../../src/auth.ts';

const secret = 'k'.repeat(40);
const hs = createTokenVerifier({ kind: 'secret', secret, algorithms: ['HS256'] });
const now = () => Math.floor(Date.now() / 1000);

async function rejects(promise: Promise<unknown>, reason: string) {
  await assert.rejects(promise, (error: unknown) => error instanceof AuthError && error.reason === reason);
}

describe('HS256 verifier', () => {
  it('returns sub as the user and the rooms claim', async () => {
    const token = await signDevToken(secret, 'alice', { rooms: ['r1', 'r2'] });
    assert.deepEqual(await hs(token), { userId: 'alice', rooms: ['r1', 'r2'] });
    assert.deepEqual(await hs(await signDevToken(secret, 'bob')), { userId: 'bob' });
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
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').sign(key);
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() + 60)
      .sign(key);
    await rejects(hs(noExp), 'invalid');
    await rejects(hs(noSub), 'invalid');
  });

  it('refuses alg none and algorithms outside the allow-list', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'mallory', exp: now() + 60 })).toString('base64url');
    await rejects(hs(`${header}.${body}.`), 'invalid');
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('a')
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(secret));
    await rejects(hs(hs512), 'invalid');
  });

  it('refuses a malformed rooms claim', async () => {
    const token = await new SignJWT({ rooms: 'r1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(secret));
    await rejects(hs(token), 'invalid');
  });

  it('checks issuer and audience when configured', async () => {
    const strict = createTokenVerifier({
      kind: 'secret',
      secret,
      algorithms: ['HS256'],
      issuer: 'me',
      audience: 'chat',
    });
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
      .setExpirationTime(now() + 60)
      .sign((keys[alg] as Awaited<ReturnType<typeof generateKeyPair>>).privateKey);

  it('verifies tokens signed by keys of the set', async () => {
    const verify = createTokenVerifier({ kind: 'jwks', jwksUrl, algorithms: ['RS256', 'ES256'] });
    assert.equal((await verify(await sign('RS256', 'carol'))).userId, 'carol');
    assert.equal((await verify(await sign('ES256', 'dave'))).userId, 'dave');
  });

  it('refuses an algorithm outside the allow-list and an HS256 token', async () => {
    const verify = createTokenVerifier({ kind: 'jwks', jwksUrl, algorithms: ['RS256'] });
    await rejects(verify(await sign('ES256', 'dave')), 'invalid');
    await rejects(verify(await signDevToken(secret, 'eve')), 'invalid');
  });
});
