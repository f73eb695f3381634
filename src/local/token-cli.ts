import { parseArgs } from 'node:util';
import { DEV_JWT_SECRET, signDevToken } from '../auth.ts';
import { DEFAULT_TOKEN_MAX_LIFETIME_SECONDS } from '../config.ts';
import { isRoomClaimEntry } from '../protocol.ts';

/**
 * `npm run token -- <user> [--room <room or prefix*>]… [--ttl <seconds>]`: prints an HS256 connect token; each
 * `--room` goes into its `rooms` claim.
 */
const usage = 'usage: npm run token -- <user> [--room <room or prefix*>]... [--ttl <seconds>]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      room: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [user, ...extra] = positionals;
  if (values.help || !user || extra.length > 0) throw new UsageError(usage);
  const rooms = values.room;
  const badRoom = rooms?.find((room) => !isRoomClaimEntry(room));
  if (badRoom !== undefined)
    throw new UsageError(`--room "${badRoom}": a room id (1-64 of [A-Za-z0-9_.:-]) or a prefix ending in *`);
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0))
    throw new UsageError('--ttl must be a positive integer');
  const maxLifetime = Number(process.env.TOKEN_MAX_LIFETIME_SECONDS || DEFAULT_TOKEN_MAX_LIFETIME_SECONDS);
  if (ttl !== undefined && ttl > maxLifetime)
    throw new UsageError(
      `--ttl: at most TOKEN_MAX_LIFETIME_SECONDS (${maxLifetime}); $connect refuses longer tokens`,
    );

  const configured = process.env.JWT_SECRET;
  if (configured !== undefined && configured.trim().length < 32)
    throw new UsageError('JWT_SECRET is set but shorter than 32 characters; set a real secret or unset it');
  const secret = configured ?? DEV_JWT_SECRET;
  if (configured === undefined) console.error('(JWT_SECRET is not set: signed with the development secret)');
  const token = await signDevToken(secret, user, {
    ...(rooms && { rooms }),
    ...(ttl !== undefined && { expiresInSeconds: ttl }),
    ...(process.env.JWT_ISSUER && { issuer: process.env.JWT_ISSUER }),
    ...(process.env.JWT_AUDIENCE && { audience: process.env.JWT_AUDIENCE }),
  });
  console.log(token);
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? error.message : `token: ${(error as Error).message}`);
  process.exit(2);
});
