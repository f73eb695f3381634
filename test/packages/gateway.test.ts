/**
 * @roomcast/gateway as users get it: `npm pack` of a clean copy of the package (its `prepack` builds), installed
 * from the tarball into a fresh project without network, then its `roomcast-gateway` command run from
 * node_modules/.bin with a plain JavaScript routes file, its library imported from plain Node, and its .d.ts
 * type-checked by a strict TypeScript consumer.
 *
 * Network-free install: `npm install <tarball> --offline` fails here with ENOTCACHED. npm 11 resolves each
 * dependency (`ws@8.23.0`, …) against its package's full registry document, and the npm cache holds only the
 * abbreviated documents of the repo's install. The cache does hold their tarballs, under their registry URLs, and
 * npm installs a tarball URL without any registry document. So the test passes the registry tarball URLs of the
 * dependencies its packed package.json declares (and of theirs), at the versions of the repo's lockfile, next to
 * the gateway's tarball, all with `--offline`. A dependency missing from the packed package.json is not installed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';

import {
  assertPublishable,
  CHILD_ENV,
  installPacked,
  once,
  pack,
  packagesImportedBy,
  publicDeclarations,
  REPO,
  run,
  STRICT_NODE_CONSUMER_TSCONFIG,
  TEST_TIMEOUT_MS,
  TSC,
  text,
} from '../support/packed-package.ts';

const PACKAGE = join(REPO, 'packages', 'gateway');
/** What the tarball may hold: the manifest, docs, the command and the build. */
const PACKED =
  /^(package\.json|README\.md|SPEC\.md|LICENSE|bin\/roomcast-gateway\.js|dist\/[\w-]+\.(js|d\.ts))$/;
const TSX_MISSING = 'roomcast-gateway: TypeScript routes need tsx: npm install --save-dev tsx\n';

let work: string;
const children = new Set<ChildProcess>();
const sockets = new Set<WebSocket>();
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'roomcast-gateway-package-'));
});
after(async () => {
  for (const socket of sockets) socket.terminate();
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await rm(work, { recursive: true, force: true });
});

const packed = once(() => pack(PACKAGE, work));

describe('@roomcast/gateway as published', { timeout: TEST_TIMEOUT_MS }, () => {
  it('packs only dist/ and bin/, depending on exactly what it imports at runtime or in its public .d.ts', async (t) => {
    const published = await packed();
    const { tarball, files, manifest } = published;
    t.diagnostic(`tarball: ${(await stat(tarball)).size} bytes, ${files.size} files`);
    const paths = [...files.keys()].sort();
    assertPublishable(published, '@roomcast/gateway', PACKED);
    assert.deepEqual(Object.keys((manifest.bin ?? {}) as Record<string, string>), ['roomcast-gateway']);
    assert.match(text(files, 'bin/roomcast-gateway.js'), /^#!\/usr\/bin\/env node\n/);

    // What the code needs, read from the packed files.
    const dependencies = (manifest.dependencies ?? {}) as Record<string, string>;
    const library = packagesImportedBy(
      paths.filter((path) => /^dist\/.*\.js$/.test(path)).map((p) => text(files, p)),
    );
    const command = packagesImportedBy([text(files, 'bin/roomcast-gateway.js')]);
    const declarations = packagesImportedBy(publicDeclarations(files).map((path) => text(files, path)));
    t.diagnostic(`imports: dist/ ${[...library]}; bin/ ${[...command]}; public .d.ts ${[...declarations]}`);
    // A package imported by a .d.ts is needed as itself when it is a dependency (it has its own types), else as
    // its DefinitelyTyped package.
    const typesOf = (name: string) =>
      name in dependencies ? name : `@types/${name.replace(/^@/, '').replace('/', '__')}`;
    assert.deepEqual(
      Object.keys(dependencies).sort(),
      [...new Set([...library, ...[...declarations].map(typesOf)])].sort(),
      'dependencies: what dist/ imports, and what the public .d.ts import',
    );
    // tsx, only for TypeScript routes files, is the command's optional peer.
    assert.deepEqual([...command], ['tsx']);
    assert.equal(dependencies.tsx, undefined);
    assert.ok(
      (manifest.peerDependencies as Record<string, string> | undefined)?.tsx,
      'tsx is a peer dependency',
    );
    assert.deepEqual((manifest.peerDependenciesMeta as Record<string, object> | undefined)?.tsx, {
      optional: true,
    });
  });

  it('roomcast-gateway runs a plain JavaScript routes file: ready, a ws client gets its echo, SIGINT stops it', async () => {
    const project = await installedProject();
    const gateway = command(project, ['--routes', 'routes.mjs', '--port', '0', '--host', '127.0.0.1']);
    const ready = await gateway.waitFor(/^ready$/m);
    const url = ready.stdout.match(/WebSocket URL:\s+(ws:\/\/127\.0\.0\.1:\d+\/dev)$/m)?.[1];
    assert.ok(url, ready.stdout);
    assert.match(ready.stdout, /^ {4}echo \(two-way\) → \.\/handlers\.mjs#echo$/m);

    // $connect runs: without the token it refuses the handshake.
    const refused = track(new WebSocket(url));
    const error = await new Promise<Error>((resolve) => refused.once('error', resolve));
    assert.match(error.message, /Unexpected server response: 401/);

    const client = track(new WebSocket(`${url}?token=letmein`));
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    const reply = new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data))));
    client.send(JSON.stringify({ action: 'echo', text: 'hi' }));
    assert.deepEqual(JSON.parse(await reply), { echo: 'hi', routeKey: 'echo' });

    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    gateway.child.kill('SIGINT');
    assert.equal(await closed, 1001, 'clients are closed with 1001 Going away');
    const { code, signal, stdout, stderr } = await gateway.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    assert.match(stdout, /^stopped$/m);
    assert.equal(stderr, '');
  });

  it('a TypeScript routes file without tsx installed fails with the command’s message, exit code 2', async () => {
    const project = await installedProject();
    const bin = join(project, 'node_modules', '@roomcast', 'gateway', 'bin', 'roomcast-gateway.js');
    assert.throws(() => createRequire(bin).resolve('tsx'), /Cannot find module/, 'tsx is not installed');

    const gateway = command(project, ['--routes', 'routes.ts', '--port', '0']);
    const { code, signal, stdout, stderr } = await gateway.exited;
    assert.deepEqual(
      { code, signal, stdout, stderr },
      { code: 2, signal: null, stdout: '', stderr: TSX_MISSING },
    );
  });

  it('imports from plain Node: createGateway listens and closes, simulatedConnection builds events, LocalLambda invokes asynchronously', async () => {
    const project = await installedProject();
    const { stdout } = await run(process.execPath, ['library.mjs'], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), {
      exports: ['LambdaServiceException', 'LocalLambda', 'createGateway', 'simulatedConnection'],
      asyncRan: [1],
      plainGet: 426,
      unknownConnection: 410,
      connect: { routeKey: '$connect', eventType: 'CONNECT', query: { token: 't' } },
      message: { routeKey: 'ping', body: '{"action":"ping"}' },
    });
  });

  it('type-checks a strict TypeScript consumer (NodeNext, skipLibCheck false) against the shipped .d.ts', async () => {
    const project = await installedProject();
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The consumer project
// ---------------------------------------------------------------------------------------------------------------

const PROJECT_FILES: Record<string, string> = {
  // The command's routes file and its handlers, plain JavaScript.
  'routes.mjs': `export default {
  $connect: './handlers.mjs#connect',
  echo: { handler: './handlers.mjs#echo', twoWay: true },
};
`,
  'handlers.mjs': `export async function connect(event) {
  return { statusCode: event.queryStringParameters?.token === 'letmein' ? 200 : 401 };
}

export async function echo(event) {
  const { text } = JSON.parse(event.body);
  return { statusCode: 200, body: JSON.stringify({ echo: text, routeKey: event.requestContext.routeKey }) };
}
`,
  // Needs tsx, which the project does not have.
  'routes.ts': `export default { $connect: './connect.ts' };
`,
  'connect.ts': `export const handler = async () => ({ statusCode: 200 });
`,
  'library.mjs': `const gateway = await import('@roomcast/gateway');
const { createGateway, simulatedConnection } = gateway;

const server = createGateway({
  routes: { ping: { handler: async () => ({ statusCode: 200, body: 'pong' }), twoWay: true } },
  logger: { info() {}, warn() {}, error() {} },
});
const { url, managementEndpoint } = await server.listen(0, '127.0.0.1');
const plainGet = (await fetch(url.replace(/^ws:/, 'http:'))).status;
const unknownConnection = (await fetch(managementEndpoint + '/@connections/L0SM9cOFvHcCIhw=')).status;
await server.close();

const connection = simulatedConnection({
  apiId: 'abc123defg',
  stage: 'prod',
  domainName: 'abc123defg.execute-api.us-east-1.amazonaws.com',
  connectionId: 'L0SM9cOFvHcCIhw=',
  handshake: { rawHeaders: ['Host', 'abc123defg.execute-api.us-east-1.amazonaws.com'], remoteAddress: '198.51.100.23', localPort: 443, secure: true },
});
const connect = connection.connect({ token: 't' });
const message = connection.message('ping', '{"action":"ping"}');

// Asynchronous invocation, as Lambda's Event type: 202 at once, the handler after.
const asyncRan = [];
const lambda = new gateway.LocalLambda({ functions: { worker: async (event) => { asyncRan.push(event.n); } } });
const accepted = lambda.invoke('worker', { n: 1 });
if (accepted.StatusCode !== 202 || asyncRan.length !== 0) throw new Error('not asynchronous');
await lambda.whenIdle();
await lambda.close();
console.log(JSON.stringify({
  exports: Object.keys(gateway).sort(),
  asyncRan,
  plainGet,
  unknownConnection,
  connect: { routeKey: connect.requestContext.routeKey, eventType: connect.requestContext.eventType, query: connect.queryStringParameters },
  message: { routeKey: message.requestContext.routeKey, body: message.body },
}));
`,
  'consumer.mts': `import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthorizerEvent,
  type ConnectEvent,
  createGateway,
  type DisconnectEvent,
  type Gateway,
  type GatewayOptions,
  type ListenInfo,
  type ManagementRequestHandler,
  type MessageEvent,
  type SimulatedConnection,
  simulatedConnection,
  type WebSocketLambda,
} from '@roomcast/gateway';

const echo: WebSocketLambda = async (event: MessageEvent, context) => ({
  statusCode: 200,
  body: \`\${context.functionName}: \${event.body ?? ''}\`,
});
const options: GatewayOptions = {
  stage: 'dev',
  authorizer: {
    handler: async (event: AuthorizerEvent) => ({
      principalId: event.queryStringParameters?.token ?? 'anonymous',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
      },
    }),
    identitySources: ['route.request.querystring.token'],
  },
  routes: {
    $connect: async (event: ConnectEvent) => ({ statusCode: event.requestContext.authorizer ? 200 : 403 }),
    $disconnect: async (event: DisconnectEvent) => {
      console.log(event.requestContext.disconnectStatusCode);
    },
    echo: { handler: echo, twoWay: true },
  },
  connectionRateLimit: { perSecond: 10, burst: 20 },
  httpHandler: (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/health') return false;
    res.end('ok');
    return true;
  },
};
const gateway: Gateway = createGateway(options);
const info: ListenInfo = await gateway.listen(0, '127.0.0.1');
const requestHandler: ManagementRequestHandler = gateway.managementRequestHandler();
console.log(info.url, info.managementEndpoint, requestHandler.metadata.handlerProtocol, gateway.connectionCount);
await gateway.close();

const connection: SimulatedConnection = simulatedConnection({
  apiId: 'abc123defg',
  stage: 'prod',
  domainName: 'abc123defg.execute-api.us-east-1.amazonaws.com',
  connectionId: 'L0SM9cOFvHcCIhw=',
  handshake: { rawHeaders: ['Host', 'abc123defg.execute-api.us-east-1.amazonaws.com'], remoteAddress: '198.51.100.23', localPort: 443, secure: true },
});
const connectEvent: ConnectEvent = connection.connect({ token: 't' });
console.log(connectEvent.requestContext.connectionId, connection.disconnect({ code: 1000 }).requestContext.eventType);
// @ts-expect-error: the types are real, not any: routes are required
createGateway({ stage: 'dev' });
`,
  'tsconfig.json': STRICT_NODE_CONSUMER_TSCONFIG,
};

// ---------------------------------------------------------------------------------------------------------------
// Packing and installing
// ---------------------------------------------------------------------------------------------------------------

/** The gateway and its declared dependencies; @types/node for the TypeScript consumer. No tsx. */
const installedProject = once(async () =>
  installPacked(work, await packed(), 'packages/gateway', PROJECT_FILES),
);

// ---------------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------------

interface Output {
  stdout: string;
  stderr: string;
}

/**
 * Starts the installed command the way `npx roomcast-gateway` does: node_modules/.bin/roomcast-gateway, run through
 * its `#!/usr/bin/env node` line, with this Node first on the PATH.
 */
function command(project: string, args: string[]) {
  const child = spawn(join(project, 'node_modules', '.bin', 'roomcast-gateway'), args, {
    cwd: project,
    env: { ...CHILD_ENV, PATH: [dirname(process.execPath), CHILD_ENV.PATH].join(delimiter) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const output: Output = { stdout: '', stderr: '' };
  let changed = () => {};
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    changed();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  const exited = new Promise<Output & { code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ ...output, code, signal }));
    },
  );
  /** Resolves once stdout matches; rejects if the command ends first. */
  const waitFor = (pattern: RegExp) =>
    new Promise<Output>((resolve, reject) => {
      changed = () => {
        if (pattern.test(output.stdout)) resolve(output);
      };
      changed();
      exited.then(
        (end) =>
          reject(
            new Error(
              `roomcast-gateway exited (${end.code ?? end.signal}) before ${pattern}:\n${end.stdout}${end.stderr}`,
            ),
          ),
        reject,
      );
    });
  return { child, exited, waitFor };
}

function track(socket: WebSocket): WebSocket {
  sockets.add(socket);
  return socket;
}
