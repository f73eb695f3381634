import { SignJWT } from 'jose';

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
