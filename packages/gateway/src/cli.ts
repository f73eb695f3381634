import { type CliArgs, parseCliArgs, USAGE } from './cli-args.js';
import { deferredHandler } from './deferred-handler.js';
import { createGateway, type Gateway } from './gateway.js';
import { injectLambdaEnvironment } from './lambda-environment.js';
import type { GatewayLogger, RouteDefinition, WebSocketLambda } from './options.js';
import { type HandlerRef, loadHandler, type RoutesFile, readRoutesFile } from './routes-file.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const NAME = 'roomcast-gateway';

/**
 * `roomcast-gateway --routes <file> …`: listens, points the handlers' environment at itself (dummy credentials,
 * region, `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`), then imports the handler modules, so that SDK clients they
 * build at import time already see that environment. Prints the URLs and `ready`. SIGINT/SIGTERM close every
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
  const region = args.gateway.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? 'us-east-1';

  let gateway: Gateway;
  try {
    gateway = createGateway({
      ...args.gateway,
      region,
      routes,
      ...(routesFile.authorizer && {
        authorizer: {
          handler: handlerFor(routesFile.authorizer.ref),
          identitySources: routesFile.authorizer.identitySources,
        },
      }),
      logger: cliLogger(io, args.verbose),
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
    io.stdout.write(describe(routesFile, url, managementEndpoint));
  } catch (error) {
    await gateway.close();
    fail(messageOf(error), 1);
    return;
  }
  stopOnSignals(gateway, io);
  io.stdout.write('ready\n');
}

function describe(routesFile: RoutesFile, url: string, managementEndpoint: string): string {
  const routes = [...routesFile.routes].map(([key, { ref, twoWay }]) => {
    return `    ${key}${twoWay ? ' (two-way)' : ''} → ${ref.label}\n`;
  });
  const { authorizer } = routesFile;
  const authorizerLine = authorizer
    ? `  Authorizer:          ${authorizer.ref.label} (identity sources: ${authorizer.identitySources.join(', ') || 'none'})\n`
    : '';
  return [
    `${NAME}\n`,
    `  WebSocket URL:       ${url}\n`,
    `  Management endpoint: ${managementEndpoint}\n`,
    authorizerLine,
    '  Routes:\n',
    ...routes,
  ].join('');
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
