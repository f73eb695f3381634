/**
 * @roomcast/client as users get it: `npm pack` of a clean copy of the package (its `prepack` builds), installed
 * from the tarball into fresh projects without network, then run from plain Node (ESM and CommonJS), type-checked
 * by TypeScript consumers against the shipped .d.ts, and bundled for browsers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import {
  assertPublishable,
  installOffline,
  lockedTarballs,
  newProject,
  once,
  pack,
  REPO,
  run,
  TEST_TIMEOUT_MS,
  TSC,
  text,
} from '../support/packed-package.ts';

const PACKAGE = join(REPO, 'packages', 'client');
/** What the tarball may hold: the manifest, docs, and the two builds. */
const PACKED =
  /^(package\.json|README\.md|LICENSE|dist\/(esm|cjs)\/[\w-]+\.(js|d\.ts)|dist\/cjs\/package\.json)$/;

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'roomcast-client-package-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const packed = once(() => pack(PACKAGE, work));

describe('@roomcast/client as published', { timeout: TEST_TIMEOUT_MS }, () => {
  it('packs only the build, with no dependencies and no install scripts', async (t) => {
    const published = await packed();
    const { tarball, files, manifest } = published;
    t.diagnostic(`tarball: ${(await stat(tarball)).size} bytes, ${files.size} files`);
    const paths = [...files.keys()].sort();

    assertPublishable(published, '@roomcast/client', PACKED);
    const esmDeclarations = paths.filter((path) => /^dist\/esm\/.*\.d\.ts$/.test(path));
    const cjsDeclarations = paths.filter((path) => /^dist\/cjs\/.*\.d\.ts$/.test(path));
    assert.deepEqual(
      cjsDeclarations.map((path) => path.replace('/cjs/', '/esm/')),
      esmDeclarations,
      'dist/cjs has the same .d.ts as dist/esm',
    );
    assert.deepEqual(JSON.parse(text(files, 'dist/cjs/package.json')), { type: 'commonjs' });

    assert.equal(manifest.type, 'module');
    assert.equal(manifest.sideEffects, false, 'bundlers may drop what an app does not import');
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) {
      assert.equal(manifest[field], undefined, `no ${field}`);
    }
  });

  it('installs offline and works from plain Node: ESM import and CommonJS require', async () => {
    const project = await plainProject();
    const installed = (await readdir(join(project, 'node_modules'))).filter((name) => !name.startsWith('.'));
    assert.deepEqual(installed, ['@roomcast'], 'nothing but the client');
    const expected = {
      refusals: [
        'url must be a ws: or wss: URL, got "http://127.0.0.1:9/dev"',
        'room must be 1-64 characters of [A-Za-z0-9_.:-]',
        'pass either token or getToken',
      ],
      // No room in the URL: the client subscribes to its rooms on the open connection.
      url: `ws://127.0.0.1:9/dev?token=${FAKE_TOKEN}`,
      states: ['connecting', 'open', 'closed'],
      stored: { message: 'hi', user_id: 'alice' },
      received: ['hi'],
      userId: 'alice',
      afterClose: 'CLOSED',
      errorCodes: [
        'BAD_REQUEST',
        'FORBIDDEN',
        'TOO_LARGE',
        'UNKNOWN_ACTION',
        'NOT_CONNECTED',
        'RATE_LIMITED',
        'TOO_MANY_ROOMS',
        'TOKEN_EXPIRED',
        'INTERNAL',
      ],
      roomIds: [true, false],
    };
    for (const app of ['app.mjs', 'app.cjs']) {
      const { stdout } = await run(process.execPath, [app], { cwd: project });
      assert.deepEqual(JSON.parse(stdout), expected, app);
    }
  });

  it('type-checks the README examples: NodeNext (.mts, .cts) and bundler, with and without DOM', async () => {
    const project = await typescriptProject();
    // Each config in its own tsc: they differ in module resolution and libs.
    await Promise.all(
      Object.keys(TS_CONFIGS).map((config) => run(process.execPath, [TSC, '-p', config], { cwd: project })),
    );
  });

  it('bundles for browsers: the ESM build only, no Node built-ins, no require, no zod, small', async (t) => {
    const project = await plainProject();
    const result = await build({
      absWorkingDir: project,
      entryPoints: ['browser.mjs'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser', // a Node built-in (`node:…`, `events`, …) would fail to resolve
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).filter((input) => input !== 'browser.mjs');
    assert.deepEqual(
      inputs.filter((input) => !input.startsWith('node_modules/@roomcast/client/dist/esm/')),
      [],
      'only the ESM build',
    );
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const bundle = new TextDecoder().decode(code);
    assert.doesNotMatch(bundle, /zod|ZodError/);
    assert.doesNotMatch(bundle, /\bnode:|require\(/);
    assert.doesNotMatch(bundle, /\bprocess\.|\bBuffer\b/, 'no Node globals');
    const gzipped = gzipSync(code).length;
    t.diagnostic(`browser bundle: ${code.length} bytes minified, ${gzipped} gzipped`);
    // 7 KB until rooms on one connection (client.room(), subscribe and catch-up per room) added 1.7 KB.
    // 10.5 KB since the handover (token refresh and the 2-hour cap without a drop) added about 1.7 KB.
    assert.ok(gzipped < 10.5 * 1024, `the SDK stays small (${gzipped} bytes gzipped)`);

    // All of @roomcast/client/protocol, without the SDK.
    const protocol = await build({
      absWorkingDir: project,
      stdin: { contents: "export * from '@roomcast/client/protocol';", resolveDir: project },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const protocolCode = protocol.outputFiles[0]?.contents ?? new Uint8Array();
    assert.doesNotMatch(new TextDecoder().decode(protocolCode), /RoomcastError|WebSocket/);
    const protocolGzipped = gzipSync(protocolCode).length;
    t.diagnostic(
      `@roomcast/client/protocol alone: ${protocolCode.length} bytes minified, ${protocolGzipped} gzipped`,
    );
    assert.ok(protocolGzipped < 1024, `the protocol stays tiny (${protocolGzipped} bytes gzipped)`);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The consumers
// ---------------------------------------------------------------------------------------------------------------

/** An unsigned JWT: the SDK reads `sub`, `exp` and `rooms` before connecting, and never verifies it. */
const FAKE_TOKEN = `e30.${Buffer.from(JSON.stringify({ sub: 'alice', exp: 4102444800, rooms: ['lobby'] })).toString('base64url')}.sig`;

/** The same program as an ES module and as CommonJS: a fake server behind a WebSocket class. */
const NODE_APP = `
/** Opens at once, subscribes every room asked for and stores every sendMessage, as the server would answer them. */
class FakeWebSocket {
  static urls = [];
  onopen = null;
  onclose = null;
  onmessage = null;
  onerror = null;
  constructor(url) {
    FakeWebSocket.urls.push(url);
    setTimeout(() => this.onopen?.({}));
  }
  send(text) {
    const frame = JSON.parse(text);
    if (frame.action === 'subscribe') {
      const subscribed = { action: 'subscribed', room_id: frame.room_id, latest_seq: 0, ref: frame.ref };
      setTimeout(() => this.onmessage?.({ data: JSON.stringify(subscribed) }));
    }
    if (frame.action !== 'sendMessage') return;
    const stored = { action: 'message', room_id: 'lobby', user_id: 'alice', message: frame.message,
      message_id: '01JDQ2V3ZC3GQ6W8YB5T0K1M2N', timestamp: new Date().toISOString(), client_msg_id: frame.client_msg_id };
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(stored) }));
  }
  close(code = 1000, reason = '') {
    setTimeout(() => this.onclose?.({ code, reason }));
  }
}

async function main() {
  const token = '${FAKE_TOKEN}';
  const refusals = [];
  for (const bad of [
    { url: 'http://127.0.0.1:9/dev', room: 'lobby', token },
    { url: 'ws://127.0.0.1:9/dev', room: 'not a room', token },
    { url: 'ws://127.0.0.1:9/dev', room: 'lobby' },
  ]) {
    try {
      connect({ ...bad, WebSocket: FakeWebSocket });
      refusals.push('accepted');
    } catch (error) {
      refusals.push(error instanceof TypeError ? error.message : 'not a TypeError: ' + error);
    }
  }
  const chat = connect({ url: 'ws://127.0.0.1:9/dev', room: 'lobby', token, WebSocket: FakeWebSocket, catchUp: false });
  const states = [];
  const received = [];
  chat.on('state', (change) => states.push(change.state));
  chat.on('message', (message) => received.push(message.message));
  const stored = await chat.send('hi');
  const userId = chat.userId;
  chat.close();
  const afterClose = await chat.send('late').then(
    () => 'sent',
    (error) => (error instanceof RoomcastError ? error.code : 'not a RoomcastError: ' + error),
  );
  console.log(JSON.stringify({
    refusals, url: FakeWebSocket.urls[0], states: [...new Set(states)],
    stored: { message: stored.message, user_id: stored.user_id }, received, userId, afterClose,
    errorCodes: ERROR_CODES, roomIds: [isRoomId('lobby'), isRoomId('not a room')],
  }));
}
`;

const PLAIN_FILES: Record<string, string> = {
  'app.mjs': `import { connect, RoomcastError } from '@roomcast/client';
import { ERROR_CODES, isRoomId } from '@roomcast/client/protocol';
${NODE_APP}
await main();
`,
  'app.cjs': `const { connect, RoomcastError } = require('@roomcast/client');
const { ERROR_CODES, isRoomId } = require('@roomcast/client/protocol');
${NODE_APP}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`,
  // A browser app like the README's.
  'browser.mjs': `import { connect, RoomcastError } from '@roomcast/client';
import { isRoomId } from '@roomcast/client/protocol';

const room = new URLSearchParams(location.search).get('room') ?? 'lobby';
if (!isRoomId(room)) throw new Error('not a room id: ' + room);
const chat = connect({
  url: 'wss://abc123.execute-api.eu-west-1.amazonaws.com/prod',
  room,
  getToken: () => fetch('/api/chat-token').then((res) => res.text()),
});
chat.on('message', (m) => document.body.append(m.user_id + ': ' + m.message));
chat.on('state', (s) => (document.title = s.state));
chat.send('hello').catch((error) => {
  if (error instanceof RoomcastError) console.warn(error.code);
});
`,
};

/** Like the README's Node example, with more of the API: `ws`, a token from the environment, error narrowing. */
const NODE_EXAMPLE_ESM = `import WebSocket from 'ws';
import { connect, type MessageFrame, RoomcastError, type StateChange } from '@roomcast/client';
import { ERROR_CODES, type ErrorCode, isRoomId } from '@roomcast/client/protocol';

const room = process.argv[2] ?? 'lobby';
if (!isRoomId(room)) throw new Error('not a room id');
const chat = connect({ url: 'ws://127.0.0.1:8080/dev', room, token: process.env.TOKEN, WebSocket });
chat.on('message', (m: MessageFrame) => console.log(\`\${m.user_id}: \${m.message}\`));
chat.on('direct', (d) => console.log(\`\${d.from_user_id} → \${d.to_user_id}: \${d.message}\`));
chat.on('state', (s: StateChange) => console.log(s.state === 'closed' ? s.reason : s.state));
try {
  const stored = await chat.send('hi', { clientMsgId: 'first' });
  console.log(stored.message_id, chat.lastSeq);
  await chat.sendDirect('bob', 'hi');
} catch (error) {
  if (error instanceof RoomcastError && error.code === 'NOT_CONNECTED') console.log('bob is offline');
  else if (error instanceof RoomcastError) console.log(error.code, error.frame?.request_id);
}
const { users } = await chat.members();
const { messages, has_more } = await chat.history({ limit: 20 });
console.log(users.length, messages.length, has_more);
const known: readonly ErrorCode[] = ERROR_CODES;
console.log(known);
// @ts-expect-error: the types are real, not any
chat.on('no-such-event', () => {});
// @ts-expect-error: url is required
connect({ room: 'lobby', token: 't' });
const side = chat.room('side', { afterSeq: chat.lastSeq, initial: 10 });
side.on('message', (m: MessageFrame) => console.log(side.id, m.seq, side.lastSeq, side.subscribed));
await side.ready;
await side.send('hi', { clientMsgId: 'side-1' });
await side.leave();
// @ts-expect-error: a room has no direct messages
side.on('direct', () => {});
chat.close();
`;

const TS_FILES: Record<string, string> = {
  'node.mts': NODE_EXAMPLE_ESM,
  // The same, as CommonJS: \`import = require\` reads dist/cjs and its .d.ts, typed as CommonJS there.
  'node.cts': `import WebSocket = require('ws');
import roomcast = require('@roomcast/client');
import protocol = require('@roomcast/client/protocol');

async function main(): Promise<void> {
  const chat = roomcast.connect({ url: 'ws://127.0.0.1:8080/dev', room: 'lobby', token: process.env.TOKEN, WebSocket });
  chat.on('message', (m) => console.log(\`\${m.user_id}: \${m.message}\`));
  try {
    await chat.send('hi');
  } catch (error) {
    if (error instanceof roomcast.RoomcastError && error.code === 'TIMEOUT') console.log('maybe stored');
  }
  const code: protocol.ErrorCode = protocol.ERROR_CODES[0];
  console.log(code, protocol.isRoomId('lobby'));
  // @ts-expect-error: the types are real, not any
  chat.on('no-such-event', () => {});
  chat.close();
}
void main();
`,
  'bundler/node.ts': NODE_EXAMPLE_ESM,
  // Like the README's browser example, with no Node types at all: the shipped .d.ts must not need them.
  'bundler/browser.ts': `import { connect, RoomcastError, type StateChange } from '@roomcast/client';

const chat = connect({
  url: 'wss://abc123.execute-api.eu-west-1.amazonaws.com/prod',
  room: 'lobby',
  getToken: () => fetch('/api/chat-token').then((res) => res.text()),
  WebSocket, // the DOM's class fits the option
});
chat.on('message', (m) => document.body.append(\`\${m.user_id}: \${m.message}\`));
chat.on('state', (s: StateChange) => (document.title = s.state));
try {
  const stored = await chat.send('hello');
  console.log(stored.message_id);
} catch (error) {
  if (error instanceof RoomcastError) console.warn(error.code);
}
`,
};

const STRICT = { strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true };
const NODE_NEXT = { ...STRICT, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext' };
const BUNDLER = { ...STRICT, target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler' };
/** The README's own examples (written by `typescriptProject` from the packed README) are checked as well. */
const TS_CONFIGS: Record<string, { compilerOptions: object; files: string[] }> = {
  'tsconfig.nodenext.json': {
    compilerOptions: { ...NODE_NEXT, lib: ['ES2022'], types: ['node'] },
    files: ['node.mts', 'node.cts', 'readme/node.mts'],
  },
  'tsconfig.nodenext-dom.json': {
    compilerOptions: { ...NODE_NEXT, lib: ['ES2022', 'DOM'], types: ['node'] },
    files: ['node.mts', 'node.cts', 'readme/node.mts'],
  },
  'tsconfig.bundler.json': {
    compilerOptions: { ...BUNDLER, lib: ['ES2022'], types: ['node'] },
    files: ['bundler/node.ts', 'readme/node.ts'],
  },
  'tsconfig.bundler-dom.json': {
    compilerOptions: { ...BUNDLER, lib: ['ES2022', 'DOM'], types: [] },
    files: ['bundler/browser.ts', 'readme/browser.ts'],
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Packing and installing
// ---------------------------------------------------------------------------------------------------------------

/** The client alone, exactly as a user installs it. */
const plainProject = once(async () => {
  const { tarball } = await packed();
  const project = await newProject(work, 'plain', PLAIN_FILES);
  await installOffline(project, [tarball]);
  return project;
});

/** The client with what the README's Node example uses, `ws` and its types. */
const typescriptProject = once(async () => {
  const { tarball, files } = await packed();
  const readme = text(files, 'README.md');
  const project = await newProject(work, 'typescript', {
    ...TS_FILES,
    'readme/node.mts': readmeExample(readme, 'Node'),
    'readme/node.ts': readmeExample(readme, 'Node'),
    'readme/browser.ts': readmeExample(readme, 'Browser'),
  });
  for (const [name, config] of Object.entries(TS_CONFIGS)) {
    await writeFile(join(project, name), `${JSON.stringify(config, null, 2)}\n`);
  }
  const dependencies = await lockedTarballs(['ws', '@types/ws', '@types/node']);
  await installOffline(project, [tarball, ...dependencies]);
  return project;
});

/**
 * Registry tarball URLs of `names` (as `from` in the repo's lockfile requires them) and all they depend on, at the
 * versions the lockfile holds. npm installs a URL without the registry document of its package.
 */

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/**
 * The environment of every child: none of the `npm_*` variables an enclosing `npm test` sets (its prefix, its
 * workspace) except where the cache and registry are, and no NODE_OPTIONS.
 */

/** Runs a command to completion; rejects with its output when it fails. */

/** The regular files of a .tgz as npm packs it (ustar; paths under `package/`). */

/** The first ```ts block of a README section. */
function readmeExample(readme: string, heading: string): string {
  const section = readme.split(/^## /m).find((part) => part.startsWith(`${heading}\n`));
  const example = section?.match(/^```ts\n(.*?)^```$/ms)?.[1];
  assert.ok(example, `the README has a TypeScript example under "## ${heading}"`);
  return example;
}

/** The file paths an `exports` map points to, through every condition. */
