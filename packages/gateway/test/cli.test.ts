import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import {
  cliManagementAuth,
  cliThrottling,
  injectLambdaEnvironment,
  parseCliArgs,
  parseRoutesFile,
  USAGE,
} from '../src/cli.js';
import { deferredHandler, invokeLambda } from '../src/invoke.js';
import { closeOf, handshakeResponse, ManualClock, nextMessage, opened, waitUntil } from './helpers.js';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
const REPO = path.join(PACKAGE, '../..');
/** The command as published: bin/ over the build in dist/ (npm test builds the packages first). */
const BIN = path.join(PACKAGE, 'bin/roomcast-gateway.js');

test('CLI arguments: defaults, numbers, stage variables, the rate limit, errors', () => {
  const defaults = parseCliArgs(['--routes', 'r.ts']);
  assert.deepEqual(defaults, {
    help: false,
    routesFile: 'r.ts',
    port: 8080,
    host: '127.0.0.1',
    verbose: false,
    managementAuth: 'sigv4',
    gateway: {},
  });
  assert.equal(parseCliArgs(['--routes', 'r', '--management-auth', 'none']).managementAuth, 'none');
  assert.equal(parseCliArgs(['--routes', 'r', '--management-auth=sigv4']).managementAuth, 'sigv4');
  assert.throws(
    () => parseCliArgs(['--routes', 'r', '--management-auth', 'iam']),
    /--management-auth must be sigv4 or none/,
  );
  const full = parseCliArgs([
    '--routes=r.ts',
    '--port=0',
    '--stage=prod',
    '--idle-timeout-ms=1000',
    '--max-frame-bytes=1024',
    '--connection-rate=5',
    '--connection-burst=10',
    '--stage-variable',
    'a=b=c',
    '--region=eu-west-1',
  ]);
  assert.equal(full.port, 0);
  assert.deepEqual(full.gateway, {
    stage: 'prod',
    region: 'eu-west-1',
    stageVariables: { a: 'b=c' },
    idleTimeoutMs: 1000,
    maxFrameBytes: 1024,
    connectionRateLimit: { perSecond: 5, burst: 10 },
  });
  assert.equal(parseCliArgs(['--help']).help, true);
  for (const [flag, value] of Object.entries({
    '--port <n>': '8080 (0 picks a free port)',
    '--account-id <12 digits>': '000000000000',
    '--idle-timeout-ms <ms>': '600000',
    '--max-connection-ms <ms>': '7200000',
    '--max-message-bytes <n>': '131072',
    '--max-frame-bytes <n>': '32768',
    '--integration-timeout-ms <ms>': '29000',
  })) {
    assert.ok(USAGE.includes(`${flag.padEnd(35)}default ${value}\n`), `the usage gives ${flag}'s default`);
  }
  assert.throws(() => parseCliArgs([]), /--routes/);
  assert.throws(() => parseCliArgs(['--routes', 'r', '--port', 'x']), /--port must be a number/);
  assert.throws(() => parseCliArgs(['--routes', 'r', '--port', '70000']), /--port/);
  assert.throws(() => parseCliArgs(['--routes', 'r', '--nope']), /Unknown option/);
  assert.throws(() => parseCliArgs(['--routes', 'r', '--connection-burst', '3']), /--connection-rate/);
  assert.throws(() => parseCliArgs(['--routes', 'r', '--stage-variable', 'x']), /name=value/);
});

// SPEC.md §7.7: the stage default from the flags, each route's own setting from the routes file.
test("CLI throttling: --throttle-rate with --throttle-burst, and a route's throttling in the routes file", () => {
  const args = parseCliArgs(['--routes', 'r.mjs', '--throttle-rate', '0.5', '--throttle-burst=20']);
  assert.deepEqual(args.gateway, { throttling: { rateLimit: 0.5, burstLimit: 20 } });
  assert.throws(
    () => parseCliArgs(['--routes', 'r', '--throttle-rate', '5']),
    /--throttle-rate and --throttle-burst go together/,
  );
  assert.throws(() => parseCliArgs(['--routes', 'r', '--throttle-burst', '5']), /go together/);
  assert.throws(
    () => parseCliArgs(['--routes', 'r', '--throttle-rate', 'fast', '--throttle-burst', '5']),
    /--throttle-rate must be a number/,
  );
  assert.match(
    USAGE,
    /^ {2}--throttle-rate <n> +messages per second per route, all clients together; default unlimited$/m,
  );
  assert.match(USAGE, /^ {2}--throttle-burst <n> +each route's bucket size, with --throttle-rate/m);

  const routesFile = parseRoutesFile(
    {
      send: { handler: './send.mjs', throttling: { rateLimit: 1, burstLimit: 2 } },
      ping: { handler: './ping.mjs', twoWay: true },
    },
    '/base',
  );
  assert.deepEqual(routesFile.routes.get('send')?.throttling, { rateLimit: 1, burstLimit: 2 });
  assert.equal('throttling' in (routesFile.routes.get('ping') ?? {}), false);
  assert.throws(
    () => parseRoutesFile({ send: { handler: './send.mjs', throttling: 5 } }, '/'),
    /route send: throttling must be \{ rateLimit, burstLimit \}/,
  );
  assert.deepEqual(cliThrottling(args.gateway.throttling, routesFile), {
    rateLimit: 0.5,
    burstLimit: 20,
    routes: { send: { rateLimit: 1, burstLimit: 2 } },
  });
  assert.deepEqual(cliThrottling(undefined, routesFile), {
    routes: { send: { rateLimit: 1, burstLimit: 2 } },
  });
  const unthrottled = parseRoutesFile({ ping: './ping.mjs' }, '/');
  assert.deepEqual(cliThrottling(args.gateway.throttling, unthrottled), { rateLimit: 0.5, burstLimit: 20 });
  assert.equal(cliThrottling(undefined, unthrottled), undefined);
});

test('routes file: paths, #exports, two-way routes and the authorizer key', () => {
  const parsed = parseRoutesFile(
    {
      $connect: './connect.ts',
      send: { handler: '../send.ts#send', twoWay: true },
      authorizer: { handler: '/abs/auth.js#authorize', identitySources: ['route.request.header.Auth'] },
    },
    '/base/dir',
  );
  assert.deepEqual(Object.fromEntries(parsed.routes), {
    $connect: {
      ref: { label: './connect.ts', file: '/base/dir/connect.ts', exportName: undefined },
      twoWay: false,
    },
    send: { ref: { label: '../send.ts#send', file: '/base/send.ts', exportName: 'send' }, twoWay: true },
  });
  assert.deepEqual(parsed.authorizer, {
    ref: { label: '/abs/auth.js#authorize', file: '/abs/auth.js', exportName: 'authorize' },
    identitySources: ['route.request.header.Auth'],
  });
  assert.throws(() => parseRoutesFile([], '/'), /default export/);
  assert.throws(() => parseRoutesFile({ a: 1 }, '/'), /route a/);
  assert.throws(() => parseRoutesFile({ a: './x.ts#' }, '/'), /Invalid handler/);
  assert.throws(() => parseRoutesFile({ authorizer: './a.ts' }, '/'), /authorizer must be/);
});

test('deferred handlers keep the callback and context.succeed styles', async () => {
  const settings = {
    routeKey: 'r',
    region: 'us-east-1',
    accountId: '000000000000',
    timeoutMs: 1000,
    clock: new ManualClock(),
  };
  const callbackStyle = (_e: unknown, _c: unknown, callback: (e: unknown, r: unknown) => void) =>
    setImmediate(() => callback(null, 'cb'));
  const legacy = (_e: unknown, context: { succeed(r: unknown): void }) => {
    context.succeed('legacy');
  };
  const failing = async () => {
    throw new Error('x');
  };
  assert.deepEqual(
    await invokeLambda(deferredHandler(Promise.resolve(callbackStyle as never)), {}, settings),
    {
      ok: true,
      result: 'cb',
    },
  );
  assert.deepEqual(await invokeLambda(deferredHandler(Promise.resolve(legacy as never)), {}, settings), {
    ok: true,
    result: 'legacy',
  });
  const failed = await invokeLambda(deferredHandler(Promise.resolve(failing)), {}, settings);
  assert.equal(failed.ok, false);
  const notLoaded = await invokeLambda(deferredHandler(Promise.reject(new Error('no module'))), {}, settings);
  assert.equal(
    notLoaded.ok === false && notLoaded.reason === 'error' && String(notLoaded.error),
    'Error: no module',
  );
});

test('Lambda environment: region and dummy credentials only when unset, the endpoint always', () => {
  const empty: NodeJS.ProcessEnv = {};
  injectLambdaEnvironment(empty, { region: 'eu-west-1', managementEndpoint: 'http://h:1/dev' });
  assert.equal(empty.AWS_REGION, 'eu-west-1');
  assert.equal(empty.AWS_DEFAULT_REGION, 'eu-west-1');
  assert.ok(empty.AWS_ACCESS_KEY_ID && empty.AWS_SECRET_ACCESS_KEY && empty.AWS_SESSION_TOKEN);
  assert.equal(empty.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, 'http://h:1/dev');

  const configured: NodeJS.ProcessEnv = {
    AWS_REGION: 'us-west-2',
    AWS_PROFILE: 'dev',
    AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: 'http://stale',
  };
  const set = injectLambdaEnvironment(configured, {
    region: 'us-west-2',
    managementEndpoint: 'http://h:2/dev',
  });
  assert.deepEqual(set, ['AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI']);
  assert.equal(configured.AWS_ACCESS_KEY_ID, undefined);
  assert.equal(configured.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, 'http://h:2/dev');
});

// SPEC.md §5.7, §8.3: the command checks signatures against the key pair its handlers sign with.
test('management auth of the command: the environment pair, else the local pair; a profile alone warns', () => {
  const local = { accessKeyId: 'ASIALOCALGATEWAY0000', secretAccessKey: 'local-gateway-dummy-secret' };
  assert.deepEqual(cliManagementAuth('sigv4', {}), { managementAuth: { credentials: [local] } });
  const injected: NodeJS.ProcessEnv = {};
  injectLambdaEnvironment(injected, { region: 'us-east-1', managementEndpoint: 'http://h:1/dev' });
  assert.deepEqual(
    { accessKeyId: injected.AWS_ACCESS_KEY_ID, secretAccessKey: injected.AWS_SECRET_ACCESS_KEY },
    local,
    'the pair handlers get is the pair verified',
  );

  const pair = { accessKeyId: 'AKIAOWN', secretAccessKey: 'own-secret' };
  const env = { AWS_ACCESS_KEY_ID: pair.accessKeyId, AWS_SECRET_ACCESS_KEY: pair.secretAccessKey };
  assert.deepEqual(cliManagementAuth('sigv4', env), { managementAuth: { credentials: [pair] } });
  assert.deepEqual(cliManagementAuth('sigv4', { ...env, AWS_PROFILE: 'dev' }), {
    managementAuth: { credentials: [pair] },
  });

  for (const unknowable of [{ AWS_PROFILE: 'dev' }, { AWS_ACCESS_KEY_ID: 'AKIAHALF' }]) {
    const { managementAuth, warning } = cliManagementAuth('sigv4', unknowable);
    assert.equal(managementAuth, 'none');
    assert.match(warning ?? '', /signatures are not checked/);
  }
  assert.deepEqual(cliManagementAuth('none', env), { managementAuth: 'none' });
  assert.deepEqual(cliManagementAuth('none', { AWS_PROFILE: 'dev' }), { managementAuth: 'none' });
});

/** The environment the command is started with: none of the test's AWS settings, no loader options. */
function commandEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'NODE_OPTIONS'),
  );
}

const FILES: Record<string, string> = {
  // A .ts file outside a "type": "module" package is CommonJS for Node; the CLI must load it anyway.
  'routes.ts': `export default {
  $connect: './connect.ts',
  $disconnect: './disconnect.mjs#onDisconnect',
  env: { handler: './env.ts#env', twoWay: true },
  post: './post.ts',
  authorizer: { handler: './auth.mjs#authorize', identitySources: ['route.request.querystring.token'] },
};
`,
  'connect.ts': `export const handler = async (event: { requestContext: { authorizer?: { principalId: string } } }) =>
  ({ statusCode: event.requestContext.authorizer?.principalId === 'user-abc' ? 200 : 403 });
`,
  'disconnect.mjs': `export const onDisconnect = async (event) => {
  console.log('disconnect ' + event.requestContext.disconnectStatusCode);
};
`,
  'env.ts': `export async function env() {
  const { AWS_REGION, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI } = process.env;
  return { statusCode: 200, body: JSON.stringify({ AWS_REGION, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI }) };
}
`,
  // Built at import time without an endpoint: it must already see AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI.
  'post.ts': `import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
const client = new ApiGatewayManagementApiClient({});
export const handler = async (event: { requestContext: { connectionId: string } }) => {
  await client.send(new PostToConnectionCommand({ ConnectionId: event.requestContext.connectionId, Data: 'posted' }));
};
`,
  'auth.mjs': `export const authorize = async (event) => ({
  principalId: 'user-' + event.queryStringParameters.token,
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
});
`,
};

// SPEC.md §10.9 (§5.6, §8.3, §8.4): handlers reach the management API and can sign requests without any setup.
test('SPEC.md §10.9 the roomcast-gateway CLI: plain node, TS routes, Lambda environment, Ctrl-C', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'roomcast-gateway-cli-'));
  let child: ChildProcess | undefined;
  t.after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  await symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const [name, text] of Object.entries(FILES)) await writeFile(path.join(dir, name), text);

  child = spawn(process.execPath, [BIN, '--routes', 'routes.ts', '--port', '0', '--stage', 'local'], {
    cwd: dir,
    env: commandEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
  await waitUntil(() => /^ready$/m.test(stdout) || child?.exitCode !== null, 'the ready line', 15_000);
  assert.match(stdout, /^ready$/m, stderr);
  const url = /WebSocket URL:\s+(\S+)/.exec(stdout)?.[1] ?? '';
  const endpoint = /Management endpoint:\s+(\S+)/.exec(stdout)?.[1] ?? '';
  assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/local$/);
  assert.equal(endpoint, url.replace('ws:', 'http:'));
  assert.match(stdout, /^ {2}Management auth: {5}SigV4, key ASIALOCALGATEWAY0000$/m);

  assert.equal((await handshakeResponse(url)).status, 401, 'identity source missing');
  const client = new WebSocket(`${url}?token=abc`);
  await opened(client);
  const envReply = nextMessage(client);
  client.send('{"action":"env"}');
  assert.deepEqual(JSON.parse((await envReply).text), {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'ASIALOCALGATEWAY0000',
    AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: endpoint,
  });
  const posted = nextMessage(client);
  client.send('{"action":"post"}');
  assert.equal((await posted).text, 'posted', 'the handler signs with the key pair the command verifies');
  const unsigned = await fetch(`${endpoint}/@connections/AAAAAAAAAAAAAAA%3D`, { method: 'POST', body: 'x' });
  assert.equal(unsigned.status, 403, 'the command checks signatures by default');
  assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');

  const closed = closeOf(client);
  child.kill('SIGINT');
  assert.deepEqual(await closed, { code: 1001, reason: 'Going away' });
  assert.equal(await exited, 0);
  assert.match(stdout, /^disconnect 1001$/m);
});

// SPEC.md §10.13 (§7.7): the flags and the routes file's throttling reach the gateway the command runs.
test('the command throttles: --throttle-rate/--throttle-burst for every route, a route’s own from the routes file', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'roomcast-gateway-throttle-'));
  let child: ChildProcess | undefined;
  t.after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(
    path.join(dir, 'routes.mjs'),
    `export default {
  echo: { handler: './echo.mjs', twoWay: true },
  strict: { handler: './echo.mjs', twoWay: true, throttling: { rateLimit: 0, burstLimit: 2 } },
};
`,
  );
  await writeFile(
    path.join(dir, 'echo.mjs'),
    "export const handler = async (event) => ({ statusCode: 200, body: 'echo ' + JSON.parse(event.body).action });\n",
  );
  // The command keeps real time: with a rate of 0 no bucket refills, so the counts below are exact.
  const argv = ['--routes', 'routes.mjs', '--port', '0', '--throttle-rate', '0', '--throttle-burst', '1'];
  child = spawn(process.execPath, [BIN, ...argv], {
    cwd: dir,
    env: commandEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
  await waitUntil(() => /^ready$/m.test(stdout) || child?.exitCode !== null, 'the ready line', 15_000);
  assert.match(stdout, /^ready$/m, stderr);
  assert.match(stdout, /^ {2}Throttling: {10}0 messages\/s, burst 1 per message route$/m);
  assert.match(stdout, /^ {4}echo \(two-way\) → \.\/echo\.mjs$/m);
  assert.match(stdout, /^ {4}strict \(two-way, throttled: 0 messages\/s, burst 2\) → \.\/echo\.mjs$/m);

  const client = new WebSocket(/WebSocket URL:\s+(\S+)/.exec(stdout)?.[1] ?? '');
  await opened(client);
  const answer = async (action: string) => {
    const reply = nextMessage(client);
    client.send(JSON.stringify({ action }));
    return (await reply).text;
  };
  const tooManyRequests = /^\{"message": "Too Many Requests", "connectionId":/;
  assert.equal(await answer('echo'), 'echo echo');
  assert.match(await answer('echo'), tooManyRequests, 'the stage default from the flags: a bucket of 1');
  assert.equal(await answer('strict'), 'echo strict');
  assert.equal(await answer('strict'), 'echo strict');
  assert.match(await answer('strict'), tooManyRequests, 'the route’s own bucket of 2, from the routes file');

  const closed = closeOf(client);
  child.kill('SIGINT');
  await closed;
  assert.equal(await exited, 0);
});
