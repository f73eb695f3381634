import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type SimulatedConnection, simulatedConnection } from '@roomcast/gateway';
import type { LocalStack } from '../src/local/stack.ts';
import { tables } from '../src/store/tables.ts';

/**
 * Runs a built Lambda bundle (scripts/bundle.ts) as the Lambda runtime would: imported in a fresh Node process,
 * its handler invoked once with an event, against a local stack. test/build checks what it does; bench/cold-start
 * times it. The events (deployedConnection) come from the local API Gateway's own builders, as a deployed stage
 * would send them.
 */
export interface BundleInvocation {
  /** What the handler returned. */
  result: unknown;
  stdout: string;
  /** Powertools writes WARN and ERROR lines here (console.warn / console.error). */
  stderr: string;
  /** Node's own start before the import, the import, and the first event, inside the process (ms). */
  bootMs: number;
  importMs: number;
  firstEventMs: number;
  /**
   * CPU time (user + system, all threads) of the process until the handler returned (ms): steadier than wall
   * times when other processes share the cores.
   */
  cpuMs: number;
  /** From spawn to exit, as seen from outside (ms). */
  processMs: number;
}

export type InvokeBundle = (
  file: string,
  functionName: string,
  event: object,
  env?: Record<string, string>,
) => Promise<BundleInvocation>;

// performance.now() counts from the process start, so t0 is Node's own boot.
const INVOKER = `
const t0 = performance.now();
const { handler } = await import(process.argv[2]);
const t1 = performance.now();
const context = {
  awsRequestId: 'bundle-invocation', functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST',
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, getRemainingTimeInMillis: () => 29000,
  callbackWaitsForEmptyEventLoop: true,
};
const result = await handler(JSON.parse(process.env.INVOKE_EVENT), context);
const t2 = performance.now();
const cpu = process.cpuUsage();
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log('INVOCATION ' + JSON.stringify({ bootMs: t0, importMs: t1 - t0, firstEventMs: t2 - t1, cpuMs, result: result ?? null }));
`;

/** Writes the invoker script into `dir` and returns a function that runs one bundle with it. */
export async function bundleInvoker(dir: string, stack: LocalStack): Promise<InvokeBundle> {
  const script = join(dir, 'invoke.mjs');
  await writeFile(script, INVOKER);
  return async (file, functionName, event, env = {}) => {
    const started = performance.now();
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [script, pathToFileURL(file).href],
      {
        timeout: 30_000,
        env: { ...lambdaEnvironment(stack, functionName), ...env, INVOKE_EVENT: JSON.stringify(event) },
      },
    );
    const processMs = performance.now() - started;
    const line = stdout.split('\n').find((l) => l.startsWith('INVOCATION '));
    if (!line) throw new Error(`${functionName}: no result in ${stdout.slice(0, 500)}`);
    return { ...JSON.parse(line.slice('INVOCATION '.length)), stdout, stderr, processMs };
  };
}

/**
 * What infra/terraform gives each function (name, memory, environment), as `terraform` evaluates it for
 * `-var region=us-east-1` and the READMEs' token source; test/infra keeps this file equal to that evaluation.
 */
export const TERRAFORM_FUNCTIONS_FILE = join(import.meta.dirname, 'lambda-environment.json');

export interface TerraformFunction {
  function_name: string;
  memory_size: number;
  timeout: number;
  environment: Record<string, string>;
}

const terraformFunctions = (
  JSON.parse(readFileSync(TERRAFORM_FUNCTIONS_FILE, 'utf8')) as {
    functions: Record<string, TerraformFunction>;
  }
).functions;

/**
 * What Lambda's Node.js 22 runtime and roomcast's Terraform give a function, with the tables and the management
 * API pointed at the local stack instead of AWS.
 */
function lambdaEnvironment(stack: LocalStack, functionName: string): Record<string, string> {
  const deployed = terraformFunctions[functionName];
  if (!deployed) throw new Error(`${functionName} is not in ${TERRAFORM_FUNCTIONS_FILE}`);
  const env = deployed.environment;
  return {
    PATH: process.env.PATH ?? '',
    TZ: ':UTC',
    AWS_REGION: stack.config.region,
    AWS_DEFAULT_REGION: stack.config.region,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: deployed.function_name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memory_size),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    // The key pair the local management API accepts (dynalite takes any): the role's, so to speak.
    AWS_ACCESS_KEY_ID: stack.managementCredentials?.accessKeyId ?? 'local',
    AWS_SECRET_ACCESS_KEY: stack.managementCredentials?.secretAccessKey ?? 'local',
    AWS_SESSION_TOKEN: 'local',
    // Lambda runs Node.js 22; this process is the local Node 20, whose SDK notice is noise.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...env,
    ...Object.fromEntries(
      Object.entries(tables)
        .filter(([, def]) => def.envVar in env)
        .map(([key, def]) => [def.envVar, stack.config.tables[key as keyof typeof tables]]),
    ),
    ...('WEBSOCKET_MANAGEMENT_ENDPOINT' in env && {
      WEBSOCKET_MANAGEMENT_ENDPOINT: stack.managementEndpoint,
    }),
    DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
  };
}

/**
 * The stage the events come from: the one Terraform deploys (its management endpoint is the stage's execute-api
 * URL). The functions reach the local stack through WEBSOCKET_MANAGEMENT_ENDPOINT, so these names are never dialled.
 */
export const DEPLOYED_STAGE = deployedStage();

function deployedStage(): { apiId: string; stage: string; domainName: string } {
  const endpoint = Object.values(terraformFunctions)[0]?.environment.WEBSOCKET_MANAGEMENT_ENDPOINT;
  if (!endpoint) throw new Error(`no WEBSOCKET_MANAGEMENT_ENDPOINT in ${TERRAFORM_FUNCTIONS_FILE}`);
  const url = new URL(endpoint);
  return { apiId: url.hostname.split('.')[0] ?? '', stage: url.pathname.slice(1), domainName: url.hostname };
}

/** A browser on a documentation address (TEST-NET-2), over TLS to port 443 of the deployed stage. */
const BROWSER_HANDSHAKE = {
  remoteAddress: '198.51.100.23',
  localPort: 443,
  secure: true,
} as const;
const BROWSER_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

/**
 * A browser's connection to the deployed stage, whose events (`connect(query)`, `message(route, body)`,
 * `disconnect()`) the local API Gateway's own builders make, as a deployed stage would send them.
 */
export function deployedConnection(connectionId: string, connectedAt = Date.now()): SimulatedConnection {
  return simulatedConnection({
    ...DEPLOYED_STAGE,
    connectionId,
    connectedAt,
    handshake: {
      ...BROWSER_HANDSHAKE,
      rawHeaders: [
        ['Host', DEPLOYED_STAGE.domainName],
        ['User-Agent', BROWSER_USER_AGENT],
        ['Sec-WebSocket-Version', '13'],
        ['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits'],
        ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
      ].flat(),
    },
  });
}
