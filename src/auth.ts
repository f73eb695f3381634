import { webcrypto } from 'node:crypto';
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
}

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
export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const getKey: JWTVerifyGetKey =
    config.kind === 'secret' ? hmacKeys(config.secret) : createRemoteJWKSet(new URL(config.jwksUrl));
  const options = {
    algorithms: config.algorithms,
    requiredClaims: ['exp', 'sub'],
    ...(config.issuer && { issuer: config.issuer }),
    ...(config.audience && { audience: config.audience }),
  };

  return async (token) => {
    if (!token) throw new AuthError('missing', 'no token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, options));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthError('expired', 'token expired');
      throw new AuthError(
        'invalid',
        error instanceof Error ? `${error.name}: ${error.message}` : 'invalid token',
      );
    }
    return identityFrom(payload);
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
  const { sub, rooms } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) {
    throw new AuthError('invalid', 'sub must be a non-empty string of at most 128 characters');
  }
  if (rooms === undefined) return { userId: sub };
  if (!Array.isArray(rooms) || !rooms.every((room) => typeof room === 'string')) {
    throw new AuthError('invalid', 'rooms must be an array of strings');
  }
  const malformed = rooms.find((room) => !isRoomClaimEntry(room));
  if (malformed !== undefined) {
    throw new AuthError('invalid', 'rooms entries must be room ids or prefix patterns ending in *');
  }
  return { userId: sub, rooms };
}

export interface DevTokenOptions {
  rooms?: string[];
  /** Lifetime in seconds; default 12 hours. */
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
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
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 12 * 3600));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/**
 * The HS256 secret `npm start` and `npm run token` use when JWT_SECRET is unset. It is public (it is in this
 * file), so a server using it must never face the internet.
 */
export const DEV_JWT_SECRET = 'roomcast-local-development-secret-do-not-deploy';
