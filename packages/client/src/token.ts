export type TokenCheck =
  | { ok: true; userId: string | undefined }
  | { ok: false; reason: 'unauthorized' | 'forbidden'; detail: string };

/**
 * Checks a connect token's claims without verifying it (only the server can): an expired token, or one whose
 * `rooms` claim excludes the room, would be refused with 401/403, which a browser cannot see. Checking first keeps
 * the client from retrying a handshake that cannot succeed.
 */
export function checkToken(token: string, room: string, nowMs: number): TokenCheck {
  const claims = decodeJwtPayload(token);
  if (!claims) return { ok: false, reason: 'unauthorized', detail: 'the token is not a JWT' };
  if (typeof claims.exp !== 'number')
    return { ok: false, reason: 'unauthorized', detail: 'the token has no exp' };
  if (claims.exp * 1000 <= nowMs)
    return { ok: false, reason: 'unauthorized', detail: 'the token has expired' };
  if (Array.isArray(claims.rooms) && !claims.rooms.includes(room)) {
    return { ok: false, reason: 'forbidden', detail: `the token does not allow room "${room}"` };
  }
  return { ok: true, userId: typeof claims.sub === 'string' ? claims.sub : undefined };
}

export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const json: unknown = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
