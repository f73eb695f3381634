import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type AsyncInvocationLimits,
  createGateway,
  type FunctionDefinition,
  type Gateway,
  type GatewayLogger,
  type StageThrottling,
  type WebSocketLambda,
} from '@roomcast/gateway';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { Context } from 'aws-lambda';
import { DEV_JWT_SECRET } from '../auth.ts';
import { type Config, loadConfig } from '../config.ts';
import { createManagementClient } from '../delivery.ts';
import { lambdaInvoker } from '../fan-out.ts';
import { ROUTE_SELECTION_EXPRESSION, ROUTES } from '../handlers/routes.ts';
import type { WebSocketEvent, WebSocketHandler } from '../invocation.ts';
import { createDeps, type HandlerDeps } from '../route.ts';
import { demoPageHandler } from './demo-page.ts';
import { clearConnections, ensureTables, startEmbeddedDynamo } from './dynamo.ts';
import { handlerFactories, workerFactories } from './handlers.ts';

export interface LocalStackOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  stage?: string;
  /** Environment the functions see, as Lambda would give it; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Keep the embedded store's data in this directory across restarts (one process at a time). */
  dataDir?: string;
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  /** Replace parts of the handlers' dependencies (tests: clocks, loggers). */
  depsOverrides?: Partial<HandlerDeps>;
  /**
   * How handlers reach the management API: `in-process` (default) hands the SDK's requests straight to the
   * gateway; `http` goes over loopback like an external caller. Both run the same gateway code.
   */
  managementTransport?: 'in-process' | 'http';
  /** Where the gateway's own lines go (failed invocations, refused handshakes); default: errors to stderr. */
  gatewayLogger?: GatewayLogger;
  /**
   * `sigv4` (default): the HTTP management API refuses a request not signed with the key pair the functions
   * have, as AWS refuses one without IAM credentials. `none` accepts anyone, for tools that cannot sign. The
   * handlers' in-process transport is never checked (nothing reaches it from outside).
   */
  managementAuth?: 'sigv4' | 'none';
  /** API Gateway's stage and route throttling for messages (none by default, as on a new stage). */
  throttling?: StageThrottling;
  /**
   * Lambda's asynchronous-invocation settings for the fan-out workers (Lambda's defaults: two retries, one and
   * two minutes apart), and their on-failure destination (default: a line on the gateway's logger).
   */
  fanOutWorker?: Omit<FunctionDefinition, 'handler'>;
  /** How many asynchronous invocations (fan-out workers) run at once, and how many may wait (the emulator's bounds). */
  asyncInvocation?: AsyncInvocationLimits;
}

export interface LocalStack {
  wsUrl: string;
  httpUrl: string;
  managementEndpoint: string;
  /**
   * Lambda's Invoke API for the stack's functions (the SDK's `endpoint`), signed like the management API: the
   * `roomcast` CLI calls the admin function through it.
   */
  lambdaEndpoint: string;
  /** The admin function's name here. */
  adminFunction: string;
  dynamodbEndpoint: string;
  embeddedStore: boolean;
  usingDevSecret: boolean;
  /** Connection records a previous process left in the embedded store, removed at start. */
  staleConnectionsRemoved: number;
  /** The access key the HTTP management API requires signatures with; undefined when it checks none. */
  managementKeyId: string | undefined;
  /**
   * The key pair to sign management calls with (`npm start` prints it): the developer's own from the environment,
   * or one made up at start. Undefined with only AWS_PROFILE set.
   */
  managementCredentials: AwsCredentialIdentity | undefined;
  config: Config;
  deps: HandlerDeps;
  /** The functions invoked asynchronously (the fan-out workers), as Lambda runs them: stats, `whenIdle()`. */
  functions: Gateway['functions'];
  /** Closes the gateway (every client gets 1001), then the embedded store; safe to call more than once. */
  close(): Promise<void>;
}

/** The whole backend on one machine: embedded store + local API Gateway + the Lambda handlers, unchanged. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = { ...(options.env ?? process.env) };
  // Lambda gives every function credentials; locally the clients get static ones (no store checks them), unless
  // the developer brought their own (say, to use a real DynamoDB table through DYNAMODB_ENDPOINT).
  const credentials = env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE ? undefined : LOCAL_CREDENTIALS;
  // What the functions sign management calls with, and the HTTP management API accepts: the developer's own key
  // pair, or one made up for this process. Never the published `local`/`local`: anyone could sign with that.
  const managementCredentials = ownKeyPair(env) ?? (env.AWS_PROFILE ? undefined : processKeyPair());

  const embedded = env.DYNAMODB_ENDPOINT ? undefined : await startEmbeddedDynamo({ path: options.dataDir });
  if (embedded) env.DYNAMODB_ENDPOINT = embedded.endpoint;
  // EMF metric lines are for CloudWatch; locally they are opt-in (POWERTOOLS_METRICS_DISABLED=false).
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // Only when neither is set at all: a set but empty JWT_SECRET is refused by loadConfig, not replaced.
  const usingDevSecret = env.JWT_SECRET === undefined && env.JWT_JWKS_URL === undefined;
  if (usingDevSecret) env.JWT_SECRET = DEV_JWT_SECRET;
  // The fan-out tier runs locally too, through the emulator's asynchronous invocation; FANOUT_WORKER_FUNCTION=""
  // turns it off.
  env.FANOUT_WORKER_FUNCTION ??= FAN_OUT_WORKER;

  // Routes are bound before the handlers exist (the management endpoint is known only once the port is): a
  // client that connects meanwhile, say while reconnecting to a restarting server, waits for them.
  let handlersReady: (handlers: Partial<Record<string, WebSocketHandler>>) => void = () => {};
  let handlersFailed: (error: unknown) => void = () => {};
  const handlers = new Promise<Partial<Record<string, WebSocketHandler>>>((resolve, reject) => {
    handlersReady = resolve;
    handlersFailed = reject;
  });
  handlers.catch(() => {});
  const routes: Record<string, WebSocketLambda> = {};
  for (const { routeKey } of ROUTES) {
    routes[routeKey] = async (event: WebSocketEvent, context: Context) => {
      const handler = (await handlers)[routeKey];
      if (!handler) throw new Error(`route ${routeKey} has no handler`);
      return handler(event, context);
    };
  }
  const stage = options.stage ?? 'dev';
  const managementKey = options.managementAuth === 'none' ? undefined : managementCredentials;
  const gateway = createGateway({
    routes,
    stage,
    httpHandler: demoPageHandler({ stage, ...(usingDevSecret && { devSecret: DEV_JWT_SECRET }) }),
    routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    ...(options.idleTimeoutMs !== undefined && { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.maxConnectionMs !== undefined && { maxConnectionMs: options.maxConnectionMs }),
    ...(options.gatewayLogger && { logger: options.gatewayLogger }),
    region: env.AWS_REGION || 'us-east-1',
    managementAuth: managementKey
      ? {
          credentials: [
            { accessKeyId: managementKey.accessKeyId, secretAccessKey: managementKey.secretAccessKey },
          ],
        }
      : 'none',
    ...(options.throttling && { throttling: options.throttling }),
    ...(options.asyncInvocation && { asyncInvocation: options.asyncInvocation }),
  });

  try {
    const listening = await gateway.listen(options.port ?? 8080, options.host ?? '127.0.0.1');
    env.WEBSOCKET_MANAGEMENT_ENDPOINT ??= listening.managementEndpoint;
    const config = loadConfig(env);
    const ghosts = await prepareTables(config, credentials, { clearConnections: embedded !== undefined });
    const deps = createDeps(
      config,
      {
        ...(config.fanOutTier && {
          workerInvoker: lambdaInvoker({
            region: config.region,
            credentials: LOCAL_CREDENTIALS,
            requestHandler: gateway.functions.requestHandler(),
          }),
        }),
        ...(options.managementTransport !== 'http' && {
          managementClient: inProcessClient(
            config.managementEndpoint ?? listening.managementEndpoint,
            config.region,
            gateway.managementRequestHandler(),
            managementCredentials,
          ),
        }),
        ...options.depsOverrides,
      },
      { ...(credentials && { credentials }), ...(managementCredentials && { managementCredentials }) },
    );
    handlersReady(
      Object.fromEntries(
        ROUTES.map(({ routeKey, functionName }) => [routeKey, handlerFactories[functionName](deps)]),
      ),
    );
    // The operators' function, which `roomcast publish` and `roomcast revoke` invoke over the Lambda API.
    gateway.functions.register(ADMIN_FUNCTION, {
      handler: workerFactories.admin(deps),
      timeoutMs: ADMIN_TIMEOUT_MS,
    });
    if (config.fanOutTier) {
      const logger = options.gatewayLogger;
      gateway.functions.register(config.fanOutTier.workerFunction, {
        handler: workerFactories[FAN_OUT_WORKER](deps),
        timeoutMs: FAN_OUT_WORKER_TIMEOUT_MS,
        onFailure: (record) =>
          (logger?.error ?? console.error)('fan-out shard given up on', {
            condition: record.requestContext.condition,
            attempts: record.requestContext.approximateInvokeCount,
          }),
        ...options.fanOutWorker,
      });
    }
    let closed: Promise<void> | undefined;
    return {
      wsUrl: listening.url,
      httpUrl: listening.url.replace(/^ws/, 'http').replace(/\/[^/]*$/, '/'),
      managementEndpoint: listening.managementEndpoint,
      lambdaEndpoint: listening.lambdaEndpoint,
      adminFunction: ADMIN_FUNCTION,
      dynamodbEndpoint: config.dynamodbEndpoint ?? '',
      embeddedStore: embedded !== undefined,
      usingDevSecret,
      staleConnectionsRemoved: ghosts,
      managementKeyId: managementKey?.accessKeyId,
      managementCredentials,
      config,
      deps,
      functions: gateway.functions,
      // Once: a second call gets the first one's promise (the store's worker answers only one close).
      close: () => {
        closed ??= gateway.close().then(() => embedded?.close());
        return closed;
      },
    };
  } catch (error) {
    handlersFailed(error);
    await gateway.close().catch(() => {});
    await embedded?.close();
    throw error;
  }
}

/**
 * One management client for every handler, configured as the Lambdas' (retries, no retry of timeouts, the direct
 * path past the SDK's middleware) but without
 * the TCP round trip, and unsigned: nothing on one machine can verify a SigV4 signature, and signing took a third
 * of the CPU of each post (bench/micro/post-to-connection.ts). The bundles, tested against the HTTP endpoint in
 * test/build, still sign.
 */
function inProcessClient(
  endpoint: string,
  region: string,
  transport: ReturnType<Gateway['managementRequestHandler']>,
  credentials: AwsCredentialIdentity | undefined,
): HandlerDeps['managementClient'] {
  const client = createManagementClient(endpoint, {
    region,
    transport,
    unsigned: true,
    ...(credentials && { credentials }),
  });
  return () => client;
}

/**
 * Creates the tables where missing; in a store this process owns, also removes the connection records a previous
 * process left (they cannot be live). A store behind DYNAMODB_ENDPOINT may serve another stack's live connections,
 * so its records stay: broadcasts prune them on 410 Gone and direct messages check them (docs/server.md).
 */
async function prepareTables(
  config: Config,
  credentials: AwsCredentialIdentity | undefined,
  options: { clearConnections: boolean },
): Promise<number> {
  const client = new DynamoDBClient({
    region: config.region,
    ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }),
    ...(credentials && { credentials }),
  });
  try {
    await ensureTables(client, config.tables);
    return options.clearConnections ? await clearConnections(client, config.tables) : 0;
  } finally {
    client.destroy();
  }
}

/** The key pair in the environment (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`), if both are there. */
function ownKeyPair(env: Record<string, string | undefined>): AwsCredentialIdentity | undefined {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN } = env;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(AWS_SESSION_TOKEN && { sessionToken: AWS_SESSION_TOKEN }) };
}

/** A key pair made up for this process: known to its functions and to whoever reads `managementCredentials`. */
function processKeyPair(): AwsCredentialIdentity {
  return { accessKeyId: 'local', secretAccessKey: randomBytes(24).toString('base64url') };
}

/** The admin function's name locally, as Terraform names the function's key. */
const ADMIN_FUNCTION = 'admin';
/** As Terraform's: a revoke waits for its second sweep, a publish may post to a room of the threshold. */
const ADMIN_TIMEOUT_MS = 30_000;

/** The worker's function name locally, as Terraform names the function's key. */
const FAN_OUT_WORKER = 'fan-out-worker';
/** As Terraform's default for the worker: a shard of 500 posts takes well under a second. */
const FAN_OUT_WORKER_TIMEOUT_MS = 60_000;

/**
 * What the local clients sign with: dynalite and DynamoDB Local accept any key pair (DynamoDB Local keeps one
 * database per key and region, so every client of one store must use the same pair).
 */
export const LOCAL_CREDENTIALS: AwsCredentialIdentity = { accessKeyId: 'local', secretAccessKey: 'local' };
