/**
 * @roomcast/admin as users get it: `npm pack` of a clean copy of the package (its `prepack` builds), installed
 * from the tarball into a fresh project without network, then run from plain Node against a running local stack
 * (a system message published to a room a real WebSocket client holds, the stats, a refused request), and
 * type-checked by a strict TypeScript consumer (NodeNext) against the shipped .d.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, startTestStack } from '../support/chat.ts';
import {
  assertPublishable,
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

const PACKAGE = join(REPO, 'packages', 'admin');
/** What the tarball may hold: the manifest, docs and the build. */
const PACKED = /^(package\.json|README\.md|LICENSE|dist\/[\w-]+\.(js|d\.ts))$/;

let work: string;
let stack: LocalStack | undefined;
const clients: ChatClient[] = [];
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'roomcast-admin-package-'));
});
after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack?.close();
  await rm(work, { recursive: true, force: true });
});

const packed = once(() => pack(PACKAGE, work));

describe('@roomcast/admin as published', { timeout: TEST_TIMEOUT_MS }, () => {
  it('packs only dist/, depending on exactly the Lambda client it imports', async (t) => {
    const published = await packed();
    const { tarball, files, manifest } = published;
    t.diagnostic(`tarball: ${(await stat(tarball)).size} bytes, ${files.size} files`);
    const paths = [...files.keys()].sort();
    assertPublishable(published, '@roomcast/admin', PACKED);
    assert.equal(manifest.type, 'module');

    const dependencies = (manifest.dependencies ?? {}) as Record<string, string>;
    const library = packagesImportedBy(
      paths.filter((path) => /^dist\/.*\.js$/.test(path)).map((path) => text(files, path)),
    );
    const declarations = packagesImportedBy(publicDeclarations(files).map((path) => text(files, path)));
    t.diagnostic(`imports: dist/ ${[...library]}; public .d.ts ${[...declarations]}`);
    assert.deepEqual(Object.keys(dependencies), ['@aws-sdk/client-lambda']);
    assert.deepEqual([...new Set([...library, ...declarations])], ['@aws-sdk/client-lambda']);
  });

  it('from plain Node: publishes a system message that a connected client receives, counts, refuses a bad request', async () => {
    const [project, running] = await Promise.all([installedProject(), startStack()]);
    const listener = await ChatClient.connect(running, 'rita', 'packed-lobby');
    clients.push(listener);
    const target = {
      functionName: running.adminFunction,
      endpoint: running.lambdaEndpoint,
      region: running.config.region,
      credentials: running.managementCredentials ?? { accessKeyId: 'local', secretAccessKey: 'local' },
      room: 'packed-lobby',
    };
    const { stdout, stderr } = await run(process.execPath, ['operate.mjs', JSON.stringify(target)], {
      cwd: project,
    });
    const result = JSON.parse(stdout) as {
      exports: string[];
      published: { ok: boolean; seq: number; message_id: string; retried: boolean; connections: number };
      stats: { ok: boolean; connections: number };
      refused: { name: string; code: string; isAdminError: boolean; message: string };
    };
    // On Node 20 the AWS SDK prints its notice that it will need Node 22; nothing else.
    assert.doesNotMatch(stderr, /error/i);
    assert.deepEqual(result.exports, ['AdminError', 'createAdminClient']);
    assert.equal(result.published.ok, true);
    assert.equal(result.published.connections, 1);
    assert.equal(result.published.retried, false);
    const frame = await listener.next((f) => f.action === 'message');
    assert.deepEqual(
      [frame.system, frame.user_id, frame.message, frame.seq, frame.message_id],
      [true, 'ops', 'from a packed install', result.published.seq, result.published.message_id],
    );
    assert.ok(result.stats.ok && result.stats.connections >= 1);
    assert.deepEqual(
      { ...result.refused, message: undefined },
      { name: 'AdminError', code: 'BAD_REQUEST', isAdminError: true, message: undefined },
    );
    assert.match(result.refused.message, /message/);
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
  // What an operator's backend does, in plain JavaScript; where the stack is comes as an argument.
  'operate.mjs': `import { AdminError, createAdminClient } from '@roomcast/admin';

const { functionName, endpoint, region, credentials, room } = JSON.parse(process.argv[2]);
const admin = createAdminClient({ functionName, endpoint, region, credentials });
const published = await admin.publish({ room_id: room, message: 'from a packed install', sender: 'ops' });
const stats = await admin.stats();
let refused;
try {
  await admin.publish({ room_id: room, message: '' });
} catch (error) {
  refused = { name: error.name, code: error.code, isAdminError: error instanceof AdminError, message: error.message };
}
admin.destroy();
console.log(JSON.stringify({
  exports: Object.keys(await import('@roomcast/admin')).sort(),
  published,
  stats,
  refused,
}));
`,
  'consumer.mts': `import {
  type AdminClient,
  AdminError,
  createAdminClient,
  type PublishRequest,
  type PublishResult,
  type RevokeRequest,
  type RevokeResult,
  type RoomSize,
  type StatsResult,
} from '@roomcast/admin';

const admin: AdminClient = createAdminClient({ functionName: 'roomcast-prod-admin', region: 'eu-west-1' });
const announcement: Omit<PublishRequest, 'op'> = { room_id: 'lobby', message: 'Maintenance at 22:00 UTC' };
const published: PublishResult = await admin.publish(announcement);
const seq: number = published.seq;
const revocation: Omit<RevokeRequest, 'op'> = { user_id: 'mallory', before: new Date().toISOString() };
const revoked: RevokeResult = await admin.revoke(revocation);
const stats: StatsResult = await admin.stats();
const biggest: RoomSize[] = stats.biggest_rooms;
console.log(seq, revoked.closed, biggest.length, new AdminError('BAD_REQUEST', 'no').code);
// @ts-expect-error: the types are real, not any: a publish needs its message
await admin.publish({ room_id: 'lobby' });
admin.destroy();
`,
  'tsconfig.json': STRICT_NODE_CONSUMER_TSCONFIG,
};

// ---------------------------------------------------------------------------------------------------------------
// Packing, installing, the stack
// ---------------------------------------------------------------------------------------------------------------

/** The package and its declared dependencies; @types/node for the TypeScript consumer. */
const installedProject = once(async () =>
  installPacked(work, await packed(), 'packages/admin', PROJECT_FILES),
);

const startStack = once(async () => {
  stack = await startTestStack();
  return stack;
});
