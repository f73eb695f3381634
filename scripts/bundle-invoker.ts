import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { LocalStack } from '../src/local/stack.ts';
import { connectionsTable, messagesTable } from '../src/store/tables.ts';

/**
 * Runs a built Lambda bundle (scripts/bundle.ts) as the Lambda runtime would: imported in a fresh Node process,
 * its handler invoked once with an event, against a local stack. test/build checks what it does; bench/cold-start
 * times it.
 */
export interface BundleInvocation {
  /** What the handler returned. */
  result: unknown;
  stdout: string;
  /** Node's own start before the import, the import, and the first event, inside the process (ms). */
  bootMs: number;
  importMs: number;
  firstEventMs: number;
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
  memoryLimitInMB: '256', getRemainingTimeInMillis: () => 29000, callbackWaitsForEmptyEventLoop: true,
};
const result = await handler(JSON.parse(process.env.INVOKE_EVENT), context);
const t2 = performance.now();
console.log('INVOCATION ' + JSON.stringify({ bootMs: t0, importMs: t1 - t0, firstEventMs: t2 - t1, result: result ?? null }));
`;

/** Writes the invoker script into `dir` and returns a function that runs one bundle with it. */
export async function bundleInvoker(dir: string, stack: LocalStack): Promise<InvokeBundle> {
  const script = join(dir, 'invoke.mjs');
  await writeFile(script, INVOKER);
  return async (file, functionName, event, env = {}) => {
    const started = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, [script, pathToFileURL(file).href], {
      timeout: 30_000,
      env: { ...lambdaEnvironment(stack, functionName), ...env, INVOKE_EVENT: JSON.stringify(event) },
    });
    const processMs = performance.now() - started;
    const line = stdout.split('\n').find((l) => l.startsWith('INVOCATION '));
    if (!line) throw new Error(`${functionName}: no result in ${stdout.slice(0, 500)}`);
    return { ...JSON.parse(line.slice('INVOCATION '.length)), stdout, processMs };
  };
}

/** What Lambda and roomcast's Terraform give a function, pointed at the local stack. */
function lambdaEnvironment(stack: LocalStack, functionName: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: stack.config.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_LAMBDA_FUNCTION_NAME: `roomcast-${functionName}`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    [connectionsTable.envVar]: stack.config.tables.connections,
    [messagesTable.envVar]: stack.config.tables.messages,
    DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
    WEBSOCKET_MANAGEMENT_ENDPOINT: stack.managementEndpoint,
  };
}

/** The `requestContext` API Gateway sends with a WebSocket event. */
export function webSocketRequestContext(routeKey: string, connectionId: string, requestId: string) {
  const eventType =
    routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE';
  return {
    routeKey,
    eventType,
    connectionId,
    requestId,
    extendedRequestId: requestId,
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    stage: 'dev',
    apiId: 'abc123',
    connectedAt: Date.now(),
    requestTimeEpoch: Date.now(),
    messageDirection: 'IN',
    ...(routeKey === '$disconnect' && { disconnectStatusCode: 1001, disconnectReason: 'Going away' }),
  };
}
