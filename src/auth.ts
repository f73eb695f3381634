import { randomUUID, webcrypto } from 'node:crypto';
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import type { AuthConfig } from './config.ts';
import { isRoomClaimEntry } from './protocol.ts';

/**
 * Connect tokens: the one place identity comes from. `$connect` verifies a token (HS* with a shared secret, or a
 * JWKS) and gets an Identity; `signDevToken` and the public DEV_JWT_SECRET serve the local stack, `npm run token`
 * and tests, never AWS.
 */

/** Who a verified connect token says the caller is. Nothing else in roomcast decides identity. */
interface Identity {
  userId: string;
  /** Rooms the token may join (exact ids and `prefix*` patterns, see roomAllowed); undefined means any room. */
  rooms?: string[];
  /** `iat` and `exp`, seconds since the epoch: a revocation refuses tokens issued before its time. */
  issuedAt: number;
  expiresAt: number;
  /** `jti`, which a revocation of one token names. */
  tokenId?: string;
}

/** How long a token may live (exp - iat), and how far its `iat` may lie ahead of this clock. */
export interface TokenRules {
  maxLifetimeSeconds: number;
  now?: () => number;
}

/** A token issued this far ahead of the verifier's clock is still taken for one issued now (clock skew). */
const MAX_ISSUED_AHEAD_SECONDS = 60;
const MAX_TOKEN_ID_CHARS = 256;

export type AuthFailure = 'missing' | 'invalid' | 'expired';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly reason: AuthFailure,
    detail: string,
  ) {
    super(detail);
  }
}

export type TokenVerifier = (token: string | undefined) => Promise<Identity>;

/** Builds the connect-token verifier once per cold start (the JWKS is fetched lazily and cached by jose). */
export function createTokenVerifier(config: AuthConfig, rules: TokenRules): TokenVerifier {
  const getKey: JWTVerifyGetKey =
    config.kind === 'secret' ? hmacKeys(config.secret) : createRemoteJWKSet(new URL(config.jwksUrl));
  const options = {
    algorithms: config.algorithms,
    // `iat` is what a user's revocation compares: a token without it could not be told apart from a new one.
    requiredClaims: ['exp', 'iat', 'sub'],
    ...(config.issuer && { issuer: config.issuer }),
    ...(config.audience && { audience: config.audience }),
  };

  return async (token) => {
    if (!token) throw new AuthError('missing', 'no token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        ...options,
        ...(rules.now && { currentDate: new Date(rules.now()) }),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthError('expired', 'token expired');
      throw new AuthError(
        'invalid',
        error instanceof Error ? `${error.name}: ${error.message}` : 'invalid token',
      );
    }
    const identity = identityFrom(payload);
    const nowSeconds = Math.floor((rules.now?.() ?? Date.now()) / 1000);
    if (identity.issuedAt > nowSeconds + MAX_ISSUED_AHEAD_SECONDS) {
      throw new AuthError('invalid', 'iat is in the future');
    }
    if (identity.expiresAt - identity.issuedAt > rules.maxLifetimeSeconds) {
      throw new AuthError(
        'invalid',
        `token lives longer than TOKEN_MAX_LIFETIME_SECONDS (${rules.maxLifetimeSeconds} s from iat to exp)`,
      );
    }
    return identity;
  };
}

/**
 * The shared secret as a WebCrypto key per HS algorithm, imported once: handing jose the raw bytes makes it import
 * them again on every verify, which doubled the CPU of a verify. jose has already held `alg` to the allow-list.
 */
function hmacKeys(secret: string): JWTVerifyGetKey {
  const bytes = new TextEncoder().encode(secret);
  const keys = new Map<string, Promise<webcrypto.CryptoKey>>();
  return ({ alg }) => {
    let key = keys.get(alg);
    if (!key) {
      const hash = `SHA-${alg.slice(2)}`;
      key = webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash }, false, ['verify']);
      keys.set(alg, key);
    }
    return key;
  };
}

function identityFrom(payload: JWTPayload): Identity {
  const { sub, rooms, iat, exp, jti } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) {
    throw new AuthError('invalid', 'sub must be a non-empty string of at most 128 characters');
  }
  // jose has checked that iat and exp are numbers.
  const times = { issuedAt: Math.floor(iat as number), expiresAt: Math.floor(exp as number) };
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_TOKEN_ID_CHARS)) {
    throw new AuthError(
      'invalid',
      `jti must be a non-empty string of at most ${MAX_TOKEN_ID_CHARS} characters`,
    );
  }
  const claims = { userId: sub, ...times, ...(jti !== undefined && { tokenId: jti }) };
  if (rooms === undefined) return claims;
  if (!Array.isArray(rooms) || !rooms.every((room) => typeof room === 'string')) {
    throw new AuthError('invalid', 'rooms must be an array of strings');
  }
  const malformed = rooms.find((room) => !isRoomClaimEntry(room));
  if (malformed !== undefined) {
    throw new AuthError('invalid', 'rooms entries must be room ids or prefix patterns ending in *');
  }
  return { ...claims, rooms };
}

export interface DevTokenOptions {
  rooms?: string[];
  /** Lifetime in seconds; default 12 hours. */
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
  /** `jti`; default a random UUID, so that one token can be revoked. */
  tokenId?: string;
  /** `iat`, milliseconds since the epoch; default now. */
  issuedAtMs?: number;
}

/** Signs an HS256 connect token, for `npm run token`, the local stack and tests. Not used on AWS. */
export async function signDevToken(
  secret: string,
  userId: string,
  options: DevTokenOptions = {},
): Promise<string> {
  const jwt = new SignJWT(options.rooms ? { rooms: options.rooms } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setJti(options.tokenId ?? randomUUID())
    .setIssuedAt(Math.floor((options.issuedAtMs ?? Date.now()) / 1000))
    .setExpirationTime(
      Math.floor((options.issuedAtMs ?? Date.now()) / 1000) + (options.expiresInSeconds ?? 12 * 3600),
    );
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/**
 * The HS256 secret `npm start` and `npm run token` use when JWT_SECRET is unset. It is public (it is in this
 * file), so a server using it must never face the internet.
 */
export const DEV_JWT_SECRET = 'roomcast-local-development-secret-do-not-deploy';
