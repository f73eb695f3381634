import { parseArgs } from 'node:util';
import type { GatewayOptions } from './options.js';

export const USAGE = `Usage: roomcast-gateway --routes <file> [options]

Runs WebSocket Lambda handlers behind a local API Gateway WebSocket API.

  --routes <file>                    JS/TS module whose default export maps route keys to handler paths
  --port <n>                         default 8080 (0 picks a free port)
  --host <host>                      default 127.0.0.1
  --stage <name>                     default dev
  --route-selection-expression <e>   default $request.body.action
  --api-id <id>                      default: random
  --region <region>                  default: AWS_REGION, else us-east-1
  --account-id <12 digits>           default 000000000000
  --stage-variable <name=value>      repeatable
  --idle-timeout-ms <ms>             default 600000
  --max-connection-ms <ms>           default 7200000
  --max-message-bytes <n>            default 131072
  --max-frame-bytes <n>              default 32768
  --integration-timeout-ms <ms>      default 29000
  --connection-rate <n>              new connections per second (token bucket); default unlimited
  --connection-burst <n>             bucket size; default the rate
  --send-buffer-limit-bytes <n>      PostToConnection gets 429 above this; default 1048576
  --verbose                          log connections and refusals
  --help
`;

/** Gateway options the command line sets; routes and the authorizer come from the routes file. */
export type CliGatewayOptions = Omit<GatewayOptions, 'routes' | 'authorizer' | 'logger' | 'httpHandler'>;

export interface CliArgs {
  help: boolean;
  routesFile: string;
  port: number;
  host: string;
  verbose: boolean;
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

  const port = values.port === undefined ? 8080 : number('port', values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0 to 65535');
  return {
    help,
    routesFile,
    port,
    host: values.host === undefined ? '127.0.0.1' : String(values.host),
    verbose: values.verbose === true,
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
