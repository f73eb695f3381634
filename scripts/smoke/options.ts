import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { isRoomId, roomAllowed } from '@roomcast/client/protocol';
import { decodeJwt, type JWTPayload } from 'jose';
// Not part of the SDK's public surface, but the very decoding its token check applies.
import { DEV_JWT_SECRET, signDevToken } from '../../src/auth.ts';

export const USAGE = `usage: npm run smoke -- <ws-url> [options]

Checks a roomcast deployment end to end with two users in a fresh room "smoke-<random>": connecting, presence,
messages, history, direct messages, members, leaving. Exit status: 0 every step passed, 1 a step failed,
2 usage error.

  <ws-url>             the WebSocket API with its stage, no query string:
                       wss://{api}.execute-api.{region}.amazonaws.com/{stage}, a custom domain, or
                       ws://127.0.0.1:8080/dev (npm start)
  --token <jwt>        twice: connect tokens of two different users (deployments verifying tokens with
                       JWT_JWKS_URL); their sub claims are the user ids. Without them, tokens are signed with
                       JWT_SECRET from the environment (and JWT_ISSUER / JWT_AUDIENCE when set)
  --room <room>        use this room instead of a fresh one (needed when the tokens' rooms claims limit them)
  --timeout-ms <ms>    deadline of each step (default 10000)
  --no-presence        skip the presence checks (deployments with PRESENCE_ENABLED=false)
  --json               print the results as one JSON object instead of lines
  -h, --help           print this text

With a loopback URL and no JWT_SECRET, tokens are signed with the local development secret (as npm run token).
For a deployment from infra/terraform:
  JWT_SECRET="$(aws ssm get-parameter --name /roomcast/jwt-secret --with-decryption \\
    --query Parameter.Value --output text)" npm run smoke -- "$(terraform -chdir=infra/terraform output -raw websocket_url)"`;

const DEFAULT_TIMEOUT_MS = 10_000;
const STEP_COUNT = 8;

/** Bad arguments or environment: exit status 2, nothing was tried. */
export class UsageError extends Error {}

export interface Identity {
  userId: string;
  token: string;
}

/** Where the tokens came from, for the hint of a refused handshake. */
export type TokenSource = 'JWT_SECRET' | 'development secret' | '--token';

interface Identities {
  alice: Identity;
  bob: Identity;
  tokenSource: TokenSource;
}

export interface SmokeOptions extends Identities {
  url: string;
  room: string;
  /** Whether the room is one this run made up, so that nobody else is in it. */
  freshRoom: boolean;
  timeoutMs: number;
  presence: boolean;
  json: boolean;
}

export type CommandLine = { help: true } | { help: false; options: SmokeOptions };

/** Checks everything before any connection: a run either starts with all it needs or does not start. */
export async function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): Promise<CommandLine> {
  let parsed: ReturnType<typeof parseSmokeArgs>;
  try {
    parsed = parseSmokeArgs(argv);
  } catch (error) {
    // parseArgs names the unknown option or the missing value well enough.
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };

  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0
        ? 'the WebSocket URL is missing'
        : `one URL expected, got ${positionals.join(' ')}`,
    );
  const url = positionals[0] as string;
  const { hostname } = parseUrl(url);

  const timeoutMs = values['timeout-ms'] === undefined ? DEFAULT_TIMEOUT_MS : Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000)
    throw new UsageError('--timeout-ms must be a whole number of milliseconds from 1 to 600000');

  if (values.room !== undefined && !isRoomId(values.room))
    throw new UsageError(`--room "${values.room}": use 1-64 characters of [A-Za-z0-9_.:-]`);
  const suffix = randomBytes(5).toString('hex');
  const room = values.room ?? `smoke-${suffix}`;

  const tokens = values.token ?? [];
  let identities: Identities;
  if (tokens.length === 0) identities = await signTokens(hostname, room, suffix, timeoutMs, env);
  else if (tokens.length === 2)
    identities = givenTokens(tokens as [string, string], room, values.room !== undefined);
  else
    throw new UsageError(`--token: pass it twice (two users) or not at all, got it ${tokens.length} times`);

  return {
    help: false,
    options: {
      url,
      room,
      freshRoom: values.room === undefined,
      timeoutMs,
      presence: !values['no-presence'],
      json: values.json ?? false,
      ...identities,
    },
  };
}

function parseSmokeArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      token: { type: 'string', multiple: true },
      room: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'no-presence': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `"${text}" is not a URL; expected wss://{api}.execute-api.{region}.amazonaws.com/{stage}`,
    );
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new UsageError(`the URL must start with ws:// or wss://, got ${url.protocol}//`);
  // The SDK adds the token itself (rooms go in subscribe frames); anything else in the query would reach the
  // server unnoticed.
  if (text.includes('?') || text.includes('#'))
    throw new UsageError('the URL must have no query string or fragment: the smoke test adds the token');
  if (url.username || url.password) throw new UsageError('the URL must not carry credentials');
  return url;
}

/** Signs a token per user as `npm run token` does, limited to the room and to about the length of this run. */
async function signTokens(
  hostname: string,
  room: string,
  suffix: string,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<Identities> {
  let secret = env.JWT_SECRET;
  if (!secret) {
    if (!isLoopback(hostname))
      throw new UsageError(
        `JWT_SECRET is not set. Set it to the deployment's HS256 secret, e.g.
  JWT_SECRET="$(aws ssm get-parameter --name /roomcast/jwt-secret --with-decryption --query Parameter.Value --output text)"
or, for a deployment verifying tokens with JWT_JWKS_URL, pass two users' tokens: --token <jwt> --token <jwt>`,
      );
    secret = DEV_JWT_SECRET;
    console.error('(JWT_SECRET is not set: tokens signed with the development secret)');
  }
  const claims = {
    rooms: [room],
    expiresInSeconds: 300 + Math.ceil((STEP_COUNT * timeoutMs) / 1000),
    ...(env.JWT_ISSUER && { issuer: env.JWT_ISSUER }),
    ...(env.JWT_AUDIENCE && { audience: env.JWT_AUDIENCE }),
  };
  // Users of their own, so that the direct message and the presence frames reach nobody real.
  const sign = async (name: string): Promise<Identity> => {
    const userId = `smoke-${name}-${suffix}`;
    return { userId, token: await signDevToken(secret, userId, claims) };
  };
  const tokenSource = env.JWT_SECRET ? 'JWT_SECRET' : 'development secret';
  return { alice: await sign('alice'), bob: await sign('bob'), tokenSource };
}

/** Two users' tokens from elsewhere (an identity provider): checked as far as can be without the key. */
function givenTokens(tokens: [string, string], room: string, roomChosen: boolean): Identities {
  const [alice, bob] = tokens.map((token, index) => {
    const which = `--token #${index + 1}`;
    const claims = unverifiedClaims(token);
    if (!claims) throw new UsageError(`${which} is not a JWT (header.payload.signature, base64url)`);
    if (typeof claims.sub !== 'string' || claims.sub === '')
      throw new UsageError(`${which} has no sub claim`);
    if (typeof claims.exp !== 'number') throw new UsageError(`${which} (${claims.sub}) has no exp claim`);
    if (claims.exp * 1000 <= Date.now())
      throw new UsageError(
        `${which} (${claims.sub}) expired at ${new Date(claims.exp * 1000).toISOString()}`,
      );
    const rooms = claims.rooms;
    if (Array.isArray(rooms) && !roomAllowed(rooms.map(String), room)) {
      const allowed = rooms.map(String).join(', ') || 'none';
      throw new UsageError(
        roomChosen
          ? `${which} (${claims.sub}) may not join room "${room}" (its rooms claim: ${allowed})`
          : `${which} (${claims.sub}) may only join rooms ${allowed}: pick one with --room <room>`,
      );
    }
    return { userId: claims.sub, token };
  }) as [Identity, Identity];
  if (alice.userId === bob.userId)
    throw new UsageError(`both tokens are for user "${alice.userId}": pass tokens of two different users`);
  return { alice, bob, tokenSource: '--token' };
}

/** Where the public development secret may be used: only a server on this machine can be using it. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** A token's claims, read without its key (only the server can verify it); undefined if it is not a JWT. */
function unverifiedClaims(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}
