/**
 * The `roomcast-gateway` command (SPEC.md §8.3, §8.4): its arguments, the routes file that names the handler modules,
 * and the environment Lambda would give those handlers. bin/roomcast-gateway.js runs `main` from the build.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ACCOUNT_THROTTLE_BURST_LIMIT,
  ACCOUNT_THROTTLE_RATE_LIMIT,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_CLI_PORT,
  DEFAULT_HOST,
  DEFAULT_REGION,
  DEFAULT_ROUTE_SELECTION_EXPRESSION,
  DEFAULT_STAGE,
  IDLE_TIMEOUT_MS,
  INTEGRATION_TIMEOUT_MS,
  LOCAL_CREDENTIALS,
  MAX_CONNECTION_MS,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  SEND_BUFFER_LIMIT_BYTES,
} from './constants.js';
import { createGateway, type Gateway } from './gateway.js';
import { deferredHandler } from './invoke.js';
import type {
  GatewayLogger,
  GatewayOptions,
  ManagementAuth,
  ManagementCredentials,
  RouteDefinition,
  StageThrottling,
  ThrottleSettings,
  WebSocketLambda,
} from './options.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const NAME = 'roomcast-gateway';

/**
 * `roomcast-gateway --routes <file> …`: listens, points the handlers' environment at itself (dummy credentials,
 * region, `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`), then imports the handler modules, so that SDK clients they
 * build at import time already see that environment. The management API accepts only requests signed with the
 * handlers' key pair, unless `--management-auth none`. Prints the URLs and `ready`. SIGINT/SIGTERM close every
 * client with 1001, wait for their `$disconnect`, and exit; a second signal exits at once.
 */
export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<void> {
  const fail = (message: string, code: number) => {
    io.stderr.write(`${NAME}: ${message}\n`);
    process.exitCode = code;
  };
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    fail(`${messageOf(error)}\n\n${USAGE}`, 2);
    return;
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return;
  }

  let routesFile: RoutesFile;
  try {
    routesFile = await readRoutesFile(args.routesFile);
  } catch (error) {
    fail(`cannot read ${args.routesFile}: ${messageOf(error)}`, 1);
    return;
  }

  // Handler modules are imported only once the environment points at this gateway.
  let startLoading = () => {};
  const environmentReady = new Promise<void>((resolve) => (startLoading = resolve));
  const loads: Promise<WebSocketLambda>[] = [];
  const handlerFor = (ref: HandlerRef) => {
    const load = environmentReady.then(() => loadHandler(ref));
    loads.push(load);
    return deferredHandler(load);
  };
  const routes: Record<string, RouteDefinition> = {};
  for (const [key, { ref, twoWay }] of routesFile.routes) routes[key] = { handler: handlerFor(ref), twoWay };
  const region = args.gateway.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
  const logger = cliLogger(io, args.verbose);
  const auth = cliManagementAuth(args.managementAuth, io.env);
  if (auth.warning) logger.warn(auth.warning);
  const throttling = cliThrottling(args.gateway.throttling, routesFile);

  let gateway: Gateway;
  try {
    gateway = createGateway({
      ...args.gateway,
      region,
      managementAuth: auth.managementAuth,
      ...(throttling && { throttling }),
      routes,
      ...(routesFile.authorizer && {
        authorizer: {
          handler: handlerFor(routesFile.authorizer.ref),
          identitySources: routesFile.authorizer.identitySources,
        },
      }),
      logger,
    });
  } catch (error) {
    fail(messageOf(error), 1);
    return;
  }

  try {
    const { url, managementEndpoint } = await gateway.listen(args.port, args.host);
    injectLambdaEnvironment(io.env, { region, managementEndpoint });
    startLoading();
    await Promise.all(loads);
    io.stdout.write(describe(routesFile, url, managementEndpoint, auth.managementAuth, throttling));
  } catch (error) {
    await gateway.close();
    fail(messageOf(error), 1);
    return;
  }
  stopOnSignals(gateway, io);
  io.stdout.write('ready\n');
}

function describe(
  routesFile: RoutesFile,
  url: string,
  managementEndpoint: string,
  managementAuth: ManagementAuth,
  throttling: StageThrottling | undefined,
): string {
  const routes = [...routesFile.routes].map(([key, route]) => {
    const notes = [
      route.twoWay && 'two-way',
      route.throttling && `throttled: ${describeThrottle(route.throttling)}`,
    ].filter(Boolean);
    return `    ${key}${notes.length > 0 ? ` (${notes.join(', ')})` : ''} → ${route.ref.label}\n`;
  });
  const { authorizer } = routesFile;
  const authorizerLine = authorizer
    ? `  Authorizer:          ${authorizer.ref.label} (identity sources: ${authorizer.identitySources.join(', ') || 'none'})\n`
    : '';
  const { rateLimit, burstLimit } = throttling ?? {};
  const throttlingLine =
    rateLimit !== undefined && burstLimit !== undefined
      ? `  Throttling:          ${describeThrottle({ rateLimit, burstLimit })} per message route\n`
      : '';
  return [
    `${NAME}\n`,
    `  WebSocket URL:       ${url}\n`,
    `  Management endpoint: ${managementEndpoint}\n`,
    `  Management auth:     ${managementAuth === 'none' ? 'none' : `SigV4, key ${managementAuth.credentials[0]?.accessKeyId}`}\n`,
    authorizerLine,
    throttlingLine,
    '  Routes:\n',
    ...routes,
  ].join('');
}

function describeThrottle({ rateLimit, burstLimit }: ThrottleSettings): string {
  return `${rateLimit} messages/s, burst ${burstLimit}`;
}

function stopOnSignals(gateway: Gateway, io: CliIo): void {
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    io.stdout.write('closing connections (1001 Going away)\n');
    gateway.close().then(
      () => {
        io.stdout.write('stopped\n');
        process.exit(0);
      },
      (error: unknown) => {
        io.stderr.write(`${NAME}: ${messageOf(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function cliLogger(io: CliIo, verbose: boolean): GatewayLogger {
  const line = (stream: NodeJS.WritableStream, level: string, msg: string, extra?: object) =>
    stream.write(`[${level}] ${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}\n`);
  return {
    info: (msg, extra) => verbose && line(io.stdout, 'info', msg, extra),
    warn: (msg, extra) => line(io.stderr, 'warn', msg, extra),
    error: (msg, extra) => line(io.stderr, 'error', msg, extra),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Arguments -------------------------------------------------------------------------------------------------

export const USAGE = `Usage: roomcast-gateway --routes <file> [options]

Runs WebSocket Lambda handlers behind a local API Gateway WebSocket API.

  --routes <file>                    JS/TS module whose default export maps route keys to handler paths
  --port <n>                         default ${DEFAULT_CLI_PORT} (0 picks a free port)
  --host <host>                      default ${DEFAULT_HOST}
  --stage <name>                     default ${DEFAULT_STAGE}
  --route-selection-expression <e>   default ${DEFAULT_ROUTE_SELECTION_EXPRESSION}
  --api-id <id>                      default: random
  --region <region>                  default: AWS_REGION, else AWS_DEFAULT_REGION, else ${DEFAULT_REGION}
  --account-id <12 digits>           default ${DEFAULT_ACCOUNT_ID}
  --stage-variable <name=value>      repeatable
  --idle-timeout-ms <ms>             default ${IDLE_TIMEOUT_MS}
  --max-connection-ms <ms>           default ${MAX_CONNECTION_MS}
  --max-message-bytes <n>            default ${MAX_MESSAGE_BYTES}
  --max-frame-bytes <n>              default ${MAX_FRAME_BYTES}
  --integration-timeout-ms <ms>      default ${INTEGRATION_TIMEOUT_MS}
  --connection-rate <n>              new connections per second (token bucket); default unlimited
  --connection-burst <n>             bucket size; default the rate
  --throttle-rate <n>                messages per second per route, all clients together; default unlimited
  --throttle-burst <n>               each route's bucket size, with --throttle-rate (AWS account: ${ACCOUNT_THROTTLE_RATE_LIMIT}/s, ${ACCOUNT_THROTTLE_BURST_LIMIT})
  --send-buffer-limit-bytes <n>      above this, 429 for posts, gateway frames dropped; default ${SEND_BUFFER_LIMIT_BYTES}
  --management-auth <sigv4|none>     sigv4: signed by the handlers' key pair, or none; default sigv4
  --verbose                          log connections and refusals
  --help
`;

/**
 * Gateway options the command line sets; routes and the authorizer come from the routes file, `managementAuth` from
 * `--management-auth` and the environment.
 */
export type CliGatewayOptions = Omit<
  GatewayOptions,
  'routes' | 'authorizer' | 'logger' | 'httpHandler' | 'clock' | 'managementAuth'
>;

export interface CliArgs {
  help: boolean;
  routesFile: string;
  port: number;
  host: string;
  verbose: boolean;
  /** `sigv4`: verify management requests against the handlers' key pair (SPEC.md §5.7); `none`: do not. */
  managementAuth: 'sigv4' | 'none';
  gateway: CliGatewayOptions;
}

const NUMBER_OPTIONS = {
  'idle-timeout-ms': 'idleTimeoutMs',
  'max-connection-ms': 'maxConnectionMs',
  'max-message-bytes': 'maxMessageBytes',
  'max-frame-bytes': 'maxFrameBytes',
  'integration-timeout-ms': 'integrationTimeoutMs',
  'send-buffer-limit-bytes': 'sendBufferLimitBytes',
} as const;

/** Throws an Error whose message is meant for the user on invalid arguments. */
export function parseCliArgs(argv: string[]): CliArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      routes: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      stage: { type: 'string' },
      'route-selection-expression': { type: 'string' },
      'api-id': { type: 'string' },
      region: { type: 'string' },
      'account-id': { type: 'string' },
      'stage-variable': { type: 'string', multiple: true },
      'connection-rate': { type: 'string' },
      'connection-burst': { type: 'string' },
      'throttle-rate': { type: 'string' },
      'throttle-burst': { type: 'string' },
      'management-auth': { type: 'string' },
      ...Object.fromEntries(Object.keys(NUMBER_OPTIONS).map((name) => [name, { type: 'string' as const }])),
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const help = values.help === true;
  const routesFile = typeof values.routes === 'string' ? values.routes : '';
  if (!help && !routesFile) throw new Error('--routes <file> is required');

  const gateway: CliGatewayOptions = {};
  if (values.stage !== undefined) gateway.stage = String(values.stage);
  if (values['route-selection-expression'] !== undefined) {
    gateway.routeSelectionExpression = String(values['route-selection-expression']);
  }
  if (values['api-id'] !== undefined) gateway.apiId = String(values['api-id']);
  if (values.region !== undefined) gateway.region = String(values.region);
  if (values['account-id'] !== undefined) gateway.accountId = String(values['account-id']);
  const stageVariables = values['stage-variable'];
  if (Array.isArray(stageVariables)) gateway.stageVariables = parseStageVariables(stageVariables);
  for (const [flag, option] of Object.entries(NUMBER_OPTIONS)) {
    const value = values[flag as keyof typeof values];
    if (value !== undefined) gateway[option] = number(flag, value);
  }
  if (values['connection-rate'] !== undefined) {
    const perSecond = number('connection-rate', values['connection-rate']);
    const burst = values['connection-burst'];
    gateway.connectionRateLimit = {
      perSecond,
      ...(burst !== undefined && { burst: number('connection-burst', burst) }),
    };
  } else if (values['connection-burst'] !== undefined) {
    throw new Error('--connection-burst needs --connection-rate');
  }
  // The stage default of message throttling (SPEC.md §7.7); AWS has no default for either, so both are needed.
  const throttleRate = values['throttle-rate'];
  const throttleBurst = values['throttle-burst'];
  if ((throttleRate === undefined) !== (throttleBurst === undefined)) {
    throw new Error('--throttle-rate and --throttle-burst go together');
  }
  if (throttleRate !== undefined) {
    gateway.throttling = {
      rateLimit: number('throttle-rate', throttleRate),
      burstLimit: number('throttle-burst', throttleBurst),
    };
  }

  const managementAuth = values['management-auth'] ?? 'sigv4';
  if (managementAuth !== 'sigv4' && managementAuth !== 'none') {
    throw new Error(`--management-auth must be sigv4 or none, got ${managementAuth}`);
  }

  const port = values.port === undefined ? DEFAULT_CLI_PORT : number('port', values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0 to 65535');
  return {
    help,
    routesFile,
    port,
    host: values.host === undefined ? DEFAULT_HOST : String(values.host),
    verbose: values.verbose === true,
    managementAuth,
    gateway,
  };
}

function number(flag: string, value: unknown): number {
  const parsed = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(parsed)) {
    throw new Error(`--${flag} must be a number`);
  }
  return parsed;
}

function parseStageVariables(pairs: string[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new Error(`--stage-variable must be name=value, got ${pair}`);
    variables[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return variables;
}

// The routes file -------------------------------------------------------------------------------------------

/** `./handlers/send.ts#send`: a module path (relative to the routes file) and an optional export name. */
export interface HandlerRef {
  /** As written in the routes file. */
  label: string;
  file: string;
  /** Undefined: the `handler` export, else the default export. */
  exportName: string | undefined;
}

export interface RouteEntry {
  ref: HandlerRef;
  twoWay: boolean;
  /** The route's own throttling (SPEC.md §7.7); createGateway checks the numbers. */
  throttling?: ThrottleSettings;
}

export interface RoutesFile {
  routes: Map<string, RouteEntry>;
  authorizer: { ref: HandlerRef; identitySources: string[] } | undefined;
}

/**
 * Reads a routes file: its default export maps route keys to handler paths or `{ handler, twoWay?, throttling? }`,
 * and the key `authorizer` (which therefore cannot be a route key here) holds `{ handler, identitySources? }`.
 */
async function readRoutesFile(file: string): Promise<RoutesFile> {
  const absolute = path.resolve(file);
  const module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  return parseRoutesFile(exportsOf(module).default, path.dirname(absolute), file);
}

export function parseRoutesFile(value: unknown, baseDir: string, label = 'the routes file'): RoutesFile {
  if (!isRecord(value)) throw new Error(`${label}: the default export must be an object of routes`);
  const routes = new Map<string, RouteEntry>();
  let authorizer: RoutesFile['authorizer'];
  for (const [key, entry] of Object.entries(value)) {
    if (key === 'authorizer') {
      if (!isRecord(entry) || typeof entry.handler !== 'string') {
        throw new Error(`${label}: authorizer must be { handler: 'path#export', identitySources?: [...] }`);
      }
      const sources = entry.identitySources ?? [];
      if (!Array.isArray(sources) || !sources.every((s) => typeof s === 'string')) {
        throw new Error(`${label}: authorizer.identitySources must be an array of strings`);
      }
      authorizer = { ref: handlerRef(entry.handler, baseDir), identitySources: sources };
    } else if (typeof entry === 'string') {
      routes.set(key, { ref: handlerRef(entry, baseDir), twoWay: false });
    } else if (isRecord(entry) && typeof entry.handler === 'string') {
      const { throttling } = entry;
      if (throttling !== undefined && !isRecord(throttling)) {
        throw new Error(`${label}: route ${key}: throttling must be { rateLimit, burstLimit }`);
      }
      routes.set(key, {
        ref: handlerRef(entry.handler, baseDir),
        twoWay: entry.twoWay === true,
        ...(throttling && { throttling: throttling as unknown as ThrottleSettings }),
      });
    } else {
      throw new Error(
        `${label}: route ${key} must be 'path#export' or { handler: 'path#export', twoWay?, throttling? }`,
      );
    }
  }
  return { routes, authorizer };
}

/**
 * The gateway's `throttling` (SPEC.md §7.7): the stage default from `--throttle-rate`/`--throttle-burst`, and the
 * routes file's `throttling` of each route that has one. Undefined when neither throttles anything.
 */
export function cliThrottling(
  stageDefault: StageThrottling | undefined,
  routesFile: RoutesFile,
): StageThrottling | undefined {
  const routes: Record<string, ThrottleSettings> = {};
  for (const [key, { throttling }] of routesFile.routes) if (throttling) routes[key] = throttling;
  if (Object.keys(routes).length === 0) return stageDefault;
  return { ...stageDefault, routes };
}

function handlerRef(label: string, baseDir: string): HandlerRef {
  const hash = label.lastIndexOf('#');
  const modulePath = hash === -1 ? label : label.slice(0, hash);
  const exportName = hash === -1 ? undefined : label.slice(hash + 1);
  if (!modulePath || exportName === '') throw new Error(`Invalid handler: ${label}`);
  return { label, file: path.resolve(baseDir, modulePath), exportName };
}

/** Imports the handler's module and picks its function (CommonJS modules expose theirs under `default`). */
async function loadHandler(ref: HandlerRef): Promise<WebSocketLambda> {
  const module = exportsOf((await import(pathToFileURL(ref.file).href)) as Record<string, unknown>);
  const names = ref.exportName === undefined ? ['handler', 'default'] : [ref.exportName];
  for (const name of names) {
    const candidate = module[name];
    if (typeof candidate === 'function') return candidate as WebSocketLambda;
  }
  throw new Error(`${ref.label}: no function exported as ${names.join(' or ')}`);
}

/**
 * The module's exports as its author wrote them. A CommonJS module (a `.ts` file outside a `"type": "module"`
 * package is one) arrives as `{ default: module.exports }`; when compiled from ESM syntax, `module.exports` is
 * marked `__esModule` and holds the named exports and `default` itself.
 */
function exportsOf(module: Record<string, unknown>): Record<string, unknown> {
  const commonJs = module.default;
  if (isRecord(commonJs) && commonJs.__esModule === true) return commonJs;
  if (isRecord(commonJs)) return { ...commonJs, ...module };
  return module;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The Lambda environment (SPEC.md §8.3) ---------------------------------------------------------------------

/**
 * What Lambda gives every function and local handlers need too (SPEC.md §8.3, §5.6): a region, credentials so
 * SDK v3 can sign, and the management endpoint for clients built without an explicit `endpoint`.
 * Credentials are only invented when none are configured (no key and no profile). Returns the names it set.
 */
export function injectLambdaEnvironment(
  env: NodeJS.ProcessEnv,
  { region, managementEndpoint }: { region: string; managementEndpoint: string },
): string[] {
  const set: string[] = [];
  const assign = (name: string, value: string) => {
    env[name] = value;
    set.push(name);
  };
  if (!env.AWS_REGION) assign('AWS_REGION', region);
  if (!env.AWS_DEFAULT_REGION) assign('AWS_DEFAULT_REGION', region);
  if (configuresNoCredentials(env)) {
    assign('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
    assign('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
    assign('AWS_SESSION_TOKEN', LOCAL_CREDENTIALS.sessionToken);
  }
  // Always: this gateway is where @connections calls must go.
  assign('AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI', managementEndpoint);
  return set;
}

function configuresNoCredentials(env: NodeJS.ProcessEnv): boolean {
  return !env.AWS_ACCESS_KEY_ID && !env.AWS_SECRET_ACCESS_KEY && !env.AWS_PROFILE;
}

/**
 * What the command verifies management requests against (SPEC.md §5.7, §8.3): the key pair its handlers sign with.
 * That is the environment's own pair when it sets one, else the local pair `injectLambdaEnvironment` gives them.
 * When the environment names only a profile (or half a pair) the command cannot know that key: it verifies nothing
 * and says so once.
 */
export function cliManagementAuth(
  mode: CliArgs['managementAuth'],
  env: NodeJS.ProcessEnv,
): { managementAuth: ManagementAuth; warning?: string } {
  if (mode === 'none') return { managementAuth: 'none' };
  let credentials: ManagementCredentials | undefined;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
  } else if (configuresNoCredentials(env)) {
    const { accessKeyId, secretAccessKey } = LOCAL_CREDENTIALS;
    credentials = { accessKeyId, secretAccessKey };
  }
  if (credentials) return { managementAuth: { credentials: [credentials] } };
  return {
    managementAuth: 'none',
    warning:
      'management API signatures are not checked: the environment sets AWS_PROFILE (or half a key pair) but not ' +
      'both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, so the key handlers sign with is unknown ' +
      '(--management-auth none silences this)',
  };
}
