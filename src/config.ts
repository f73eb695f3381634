import type { FrameLimits } from './frame-limiter.ts';
import { MAX_CLIENT_FRAME_BYTES } from './protocol.ts';
import { connectionsTable, messagesTable, revocationsTable, subscriptionsTable } from './store/tables.ts';
import * as z from './zod.ts';

/**
 * Environment → typed config, validated once per cold start. Every variable a function reads is named here, so
 * infra tests can hold each Lambda's environment to it.
 */
const optionalText = z.optional(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((value) => value || undefined),
  ),
);
const optionalUrl = z.pipe(optionalText, z.optional(z.url()));
const positiveInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
const flag = (fallback: boolean) =>
  z.pipe(
    z._default(z.enum(['true', 'false', '1', '0']), fallback ? 'true' : 'false'),
    z.transform((value) => value === 'true' || value === '1'),
  );
const list = z.pipe(
  optionalText,
  z.transform((value) =>
    value
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
);

/**
 * Where token keys may come from: https only, since whoever can change the keys in transit can sign any token;
 * plain http only to a loopback address (a test's key server).
 */
function isTrustedKeyUrl(value: string): boolean {
  if (!URL.canParse(value)) return true; // z.url() reports it
  const url = new URL(value);
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/**
 * PostToConnection calls one fan-out keeps in flight. API Gateway's 10,000 requests/s account throttle is shared by
 * every API in the account and region, so much more lets one broadcast throttle everything else (bench/README.md).
 */
export const DEFAULT_FAN_OUT_CONCURRENCY = 32;

/**
 * Room size (connections) above which a message is handed to fan-out workers, when they are configured: about where
 * two workers start to win over the sender (512 MB in Terraform), which posts about 2,100 a second at a 15 ms round
 * trip (bench/README.md, "Big rooms with AWS-like latency").
 */
export const DEFAULT_FAN_OUT_THRESHOLD = 500;
/** Connections one fan-out worker invocation posts to. */
const DEFAULT_FAN_OUT_SHARD_SIZE = 500;
/**
 * Posts in flight across all the workers of one message: at a 15 ms round trip, 16,000 posts a second asked of API
 * Gateway's default account throttle on @connections calls (10,000 a second and a burst of 5,000), which lets a
 * room of up to about 13,000 through without a 429. Past it, posts are answered 429 and retried.
 */
export const DEFAULT_FAN_OUT_TIER_CONCURRENCY = 240;

/** The longest a connect token may live by default (TOKEN_MAX_LIFETIME_SECONDS): a day. */
export const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 86_400;

/**
 * `roomcast stats` and the per-minute gauge (src/admin.ts): the rooms one count tracks one by one (its memory:
 * about 100 bytes each), the biggest rooms it reports, and those that also get a metric of their own (a
 * CloudWatch metric per room id that ever ranks among them, each billed as a custom metric).
 */
export const STATS_MAX_TRACKED_ROOMS = 100_000;
export const STATS_BIGGEST_ROOMS = 10;
export const STATS_ROOM_METRICS = 5;

const envSchema = z.object({
  AWS_REGION: z._default(z.string(), 'us-east-1'),
  [connectionsTable.envVar]: z._default(z.string().check(z.minLength(3)), connectionsTable.defaultName),
  [subscriptionsTable.envVar]: z._default(z.string().check(z.minLength(3)), subscriptionsTable.defaultName),
  [messagesTable.envVar]: z._default(z.string().check(z.minLength(3)), messagesTable.defaultName),
  [revocationsTable.envVar]: z._default(z.string().check(z.minLength(3)), revocationsTable.defaultName),
  MESSAGE_RETENTION_DAYS: z.pipe(positiveInt(7), z.number().check(z.maximum(3650))),
  PRESENCE_ENABLED: flag(true),
  PRESENCE_MAX_ROOM_SIZE: z.pipe(positiveInt(100), z.number().check(z.maximum(10_000))),
  DYNAMODB_ENDPOINT: optionalUrl,
  WEBSOCKET_MANAGEMENT_ENDPOINT: optionalUrl,
  // Set means used: an empty or blank secret is refused, never taken for "not set" (which would let the local
  // stack fall back to its public development secret).
  JWT_SECRET: z.optional(
    z
      .string()
      .check(
        z.trim(),
        z.minLength(32, 'JWT_SECRET must be at least 32 characters (it is set, so it is used)'),
      ),
  ),
  JWT_JWKS_URL: z.optional(
    z.pipe(
      z.string().check(z.trim(), z.minLength(1, 'JWT_JWKS_URL is set but empty')),
      z
        .url()
        .check(
          z.refine(isTrustedKeyUrl, 'JWT_JWKS_URL must be an https: URL (http: only for loopback, in tests)'),
        ),
    ),
  ),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_ALGORITHMS: list,
  // The longest a connect token may live (exp - iat): a revocation is kept this long, so no token it refuses can
  // outlive it, and a token that would live longer is refused.
  TOKEN_MAX_LIFETIME_SECONDS: z.pipe(
    positiveInt(DEFAULT_TOKEN_MAX_LIFETIME_SECONDS),
    z.number().check(z.maximum(30 * 86_400)),
  ),
  CONNECTION_MAX_SECONDS: positiveInt(7200),
  CONNECTION_TTL_MARGIN_SECONDS: positiveInt(600),
  // A sendMessage frame must fit API Gateway's 32 KB frame: 5,000 characters at up to 6 bytes each, JSON-escaped.
  MAX_MESSAGE_CHARS: z.pipe(positiveInt(4000), z.number().check(z.maximum(5000))),
  FANOUT_CONCURRENCY: z.pipe(positiveInt(DEFAULT_FAN_OUT_CONCURRENCY), z.number().check(z.maximum(1000))),
  // The fan-out tier (src/fan-out.ts): off unless the worker function is named. A shard's ids travel in the
  // invocation's payload, so a shard of 2,000 ids of API Gateway's 16 characters stays near 40 KB.
  FANOUT_WORKER_FUNCTION: optionalText,
  // The sender reads up to this many ids before it posts the room itself, in one invocation.
  FANOUT_THRESHOLD: z.pipe(positiveInt(DEFAULT_FAN_OUT_THRESHOLD), z.number().check(z.maximum(50_000))),
  FANOUT_SHARD_SIZE: z.pipe(positiveInt(DEFAULT_FAN_OUT_SHARD_SIZE), z.number().check(z.maximum(2000))),
  FANOUT_TIER_CONCURRENCY: z.pipe(
    positiveInt(DEFAULT_FAN_OUT_TIER_CONCURRENCY),
    z.number().check(z.maximum(100_000)),
  ),
  // What one connection may send (src/frame-limiter.ts). The SDK sends one message at a time and a catch-up reads
  // page after page, so the defaults leave ordinary clients far below them.
  CONNECTION_FRAMES_PER_SECOND: z.pipe(positiveInt(50), z.number().check(z.maximum(100_000))),
  CONNECTION_FRAME_BURST: z.pipe(positiveInt(50), z.number().check(z.maximum(100_000))),
  CONNECTION_BYTES_PER_SECOND: z.pipe(positiveInt(256 * 1024), z.number().check(z.maximum(2 ** 30))),
  // At least one frame of API Gateway's largest (32 KB), or such a frame could never pass.
  CONNECTION_BYTE_BURST: z.pipe(
    positiveInt(1024 * 1024),
    z.number().check(z.minimum(MAX_CLIENT_FRAME_BYTES), z.maximum(2 ** 30)),
  ),
  CONNECTION_CLOSE_AFTER_REFUSALS: z.pipe(positiveInt(100), z.number().check(z.maximum(1_000_000))),
  MAX_CONNECTIONS_PER_USER: z.pipe(positiveInt(20), z.number().check(z.maximum(10_000))),
  // Each room a connection holds is a set member on its record (which every write to the record pays for) and a
  // counter a ping reads; 100 rooms of 64-character ids make a 7 KB record.
  MAX_ROOMS_PER_CONNECTION: z.pipe(positiveInt(100), z.number().check(z.maximum(1000))),
  LOG_LEVEL: z._default(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT', 'CRITICAL']), 'INFO'),
  POWERTOOLS_SERVICE_NAME: z._default(z.string().check(z.minLength(1)), 'roomcast'),
  POWERTOOLS_METRICS_NAMESPACE: z._default(z.string().check(z.minLength(1), z.maxLength(255)), 'roomcast'),
  POWERTOOLS_METRICS_DISABLED: flag(false),
});

/** The environment variables roomcast reads. */
export const CONFIG_ENV_VARS = Object.keys(envSchema.shape) as (keyof typeof envSchema.shape)[];

export type AuthConfig =
  | { kind: 'secret'; secret: string; algorithms: string[]; issuer?: string; audience?: string }
  | { kind: 'jwks'; jwksUrl: string; algorithms: string[]; issuer?: string; audience?: string };

export interface Config {
  region: string;
  tables: { connections: string; subscriptions: string; messages: string; revocations: string };
  /** The longest a connect token may live, and how long a revocation is kept. */
  tokenMaxLifetimeSeconds: number;
  /** How long messages stay readable in history. */
  messageRetentionSeconds: number;
  /** Join/leave frames to the room; switch off for very large rooms (each one is a fan-out). */
  presenceEnabled: boolean;
  /**
   * Rooms with more connections than this get no join/leave frames: each one is a post to every member, so a
   * room filling up would cost O(N²) posts (a client sees `listMembers` instead).
   */
  presenceMaxRoomSize: number;
  dynamodbEndpoint?: string;
  managementEndpoint?: string;
  /** Undefined when neither JWT_SECRET nor JWT_JWKS_URL is set; only `$connect` needs it. */
  auth?: AuthConfig;
  /** TTL of a connection record: API Gateway's maximum connection duration plus a margin. */
  connectionTtlSeconds: number;
  maxMessageChars: number;
  fanOutConcurrency: number;
  /**
   * The fan-out tier: rooms with more than `threshold` connections are delivered by invocations of
   * `workerFunction`, `shardSize` connections each, with `concurrency` posts in flight across them all (each at
   * most `fanOutConcurrency`). Undefined: every room is delivered by its sender.
   */
  fanOutTier?: { workerFunction: string; threshold: number; shardSize: number; concurrency: number };
  /** What one connection may send before its frames are refused with RATE_LIMITED. */
  frameLimits: FrameLimits;
  /** `$connect` refuses a user's connection past this many (429). */
  maxConnectionsPerUser: number;
  /** `subscribe` refuses a connection's room past this many (TOO_MANY_ROOMS). */
  maxRoomsPerConnection: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  serviceName: string;
  /** CloudWatch metrics in Embedded Metric Format, written to the log stream. */
  metrics: { enabled: boolean; namespace: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ALLOWED_ALGORITHMS = {
  secret: ['HS256', 'HS384', 'HS512'],
  jwks: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
};

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return {
    region: e.AWS_REGION,
    tables: {
      connections: e[connectionsTable.envVar],
      subscriptions: e[subscriptionsTable.envVar],
      messages: e[messagesTable.envVar],
      revocations: e[revocationsTable.envVar],
    },
    tokenMaxLifetimeSeconds: e.TOKEN_MAX_LIFETIME_SECONDS,
    messageRetentionSeconds: e.MESSAGE_RETENTION_DAYS * 86_400,
    presenceEnabled: e.PRESENCE_ENABLED,
    presenceMaxRoomSize: e.PRESENCE_MAX_ROOM_SIZE,
    ...(e.DYNAMODB_ENDPOINT && { dynamodbEndpoint: e.DYNAMODB_ENDPOINT }),
    ...(e.WEBSOCKET_MANAGEMENT_ENDPOINT && {
      managementEndpoint: e.WEBSOCKET_MANAGEMENT_ENDPOINT.replace(/\/+$/, ''),
    }),
    ...authConfig(e),
    connectionTtlSeconds: e.CONNECTION_MAX_SECONDS + e.CONNECTION_TTL_MARGIN_SECONDS,
    maxMessageChars: e.MAX_MESSAGE_CHARS,
    fanOutConcurrency: e.FANOUT_CONCURRENCY,
    ...(e.FANOUT_WORKER_FUNCTION && {
      fanOutTier: {
        workerFunction: e.FANOUT_WORKER_FUNCTION,
        threshold: e.FANOUT_THRESHOLD,
        shardSize: e.FANOUT_SHARD_SIZE,
        concurrency: e.FANOUT_TIER_CONCURRENCY,
      },
    }),
    frameLimits: {
      framesPerSecond: e.CONNECTION_FRAMES_PER_SECOND,
      frameBurst: e.CONNECTION_FRAME_BURST,
      bytesPerSecond: e.CONNECTION_BYTES_PER_SECOND,
      byteBurst: e.CONNECTION_BYTE_BURST,
      closeAfterRefusals: e.CONNECTION_CLOSE_AFTER_REFUSALS,
    },
    maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
    maxRoomsPerConnection: e.MAX_ROOMS_PER_CONNECTION,
    logLevel: e.LOG_LEVEL,
    serviceName: e.POWERTOOLS_SERVICE_NAME,
    metrics: { enabled: !e.POWERTOOLS_METRICS_DISABLED, namespace: e.POWERTOOLS_METRICS_NAMESPACE },
  };
}

function authConfig(e: z.infer<typeof envSchema>): { auth?: AuthConfig } {
  if (e.JWT_SECRET && e.JWT_JWKS_URL) throw new ConfigError('set JWT_SECRET or JWT_JWKS_URL, not both');
  const kind = e.JWT_SECRET ? 'secret' : e.JWT_JWKS_URL ? 'jwks' : undefined;
  if (!kind) return {};
  const allowed = ALLOWED_ALGORITHMS[kind];
  const algorithms = e.JWT_ALGORITHMS ?? (kind === 'secret' ? ['HS256'] : ['RS256', 'ES256']);
  const refused = algorithms.filter((alg) => !allowed.includes(alg));
  if (refused.length > 0) {
    throw new ConfigError(
      `JWT_ALGORITHMS: ${refused.join(', ')} not allowed with ${kind === 'secret' ? 'JWT_SECRET' : 'JWT_JWKS_URL'} (allowed: ${allowed.join(', ')})`,
    );
  }
  const claims = {
    ...(e.JWT_ISSUER && { issuer: e.JWT_ISSUER }),
    ...(e.JWT_AUDIENCE && { audience: e.JWT_AUDIENCE }),
  };
  return kind === 'secret'
    ? { auth: { kind, secret: e.JWT_SECRET as string, algorithms, ...claims } }
    : { auth: { kind, jwksUrl: e.JWT_JWKS_URL as string, algorithms, ...claims } };
}
