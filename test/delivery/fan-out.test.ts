import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  createManagementClient,
  type FanOutLogger,
  fanOut,
  type ManagementClientOptions,
  managementClientFor,
} from '../../src/delivery.ts';
import {
  type ConnectionsApiStub,
  FORBIDDEN,
  GONE,
  HANGS,
  INTERNAL,
  OK,
  startConnectionsApiStub,
  THROTTLED,
} from '../support/connections-api-stub.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

function recordingLogger() {
  const entries: Array<{ level: 'warn' | 'error'; message: string; attributes: Record<string, unknown> }> =
    [];
  const logger: FanOutLogger = {
    warn: (message, attributes) => entries.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => entries.push({ level: 'error', message, attributes }),
  };
  return { logger, entries };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('fanOut through the @connections API', () => {
  let stub: ConnectionsApiStub;
  let client: ApiGatewayManagementApiClient;

  before(async () => {
    stub = await startConnectionsApiStub({ latencyMs: 5 });
    client = createManagementClient(stub.endpoint, { region: 'us-east-1', credentials, maxAttempts: 3 });
  });
  beforeEach(() => {
    stub.script.clear();
    stub.posts.length = 0;
  });
  after(async () => {
    client.destroy();
    await stub.close();
  });

  /** A client of its own for one test, destroyed after it. */
  async function withClient(
    options: ManagementClientOptions,
    use: (client: ApiGatewayManagementApiClient) => Promise<void>,
  ): Promise<void> {
    const own = createManagementClient(stub.endpoint, { region: 'us-east-1', credentials, ...options });
    try {
      await use(own);
    } finally {
      own.destroy();
    }
  }

  test('delivers, prunes only Gone, retries throttling, keeps other failures', async () => {
    stub.script.set('throttled', [THROTTLED, OK]);
    stub.script.set('broken', [INTERNAL]);
    stub.script.set('forbidden', [FORBIDDEN]);
    stub.script.set('gone', [GONE]);
    const gone: string[] = [];
    const { logger, entries } = recordingLogger();

    const summary = await fanOut(['ok1', 'throttled', 'broken', 'forbidden', 'gone', 'ok2'], 'héllo', {
      client,
      onGone: async (id) => gone.push(id),
      logger,
    });

    assert.deepEqual(
      { ...summary, durationMs: 0 },
      { attempted: 6, delivered: 3, gone: 1, failed: 2, timedOut: 0, durationMs: 0 },
    );
    assert.deepEqual(gone, ['gone']);
    const postsTo = (id: string) => stub.posts.filter((p) => p.connectionId === id).length;
    assert.equal(postsTo('throttled'), 2, 'a throttled post is retried by the SDK');
    assert.equal(postsTo('broken'), 3, '5xx is retried up to maxAttempts, then counted');
    assert.equal(postsTo('forbidden'), 1, '403 is not retried');
    assert.equal(postsTo('gone'), 1);
    for (const post of stub.posts) assert.equal(post.body.toString('utf8'), 'héllo');

    const failures = entries.filter((e) => e.level === 'warn').map((e) => e.attributes);
    assert.deepEqual(failures.map((a) => [a.connection_id, a.status]).sort(), [
      ['broken', 500],
      ['forbidden', 403],
    ]);
    assert.equal(failures.find((a) => a.connection_id === 'forbidden')?.error_name, 'ForbiddenException');
    assert.equal(entries.filter((e) => e.level === 'error').length, 0);
  });

  test('a post that times out is counted, logged and not sent again: it may have been delivered', async () => {
    await withClient({ maxAttempts: 3, requestTimeoutMs: 1000 }, async (impatient) => {
      stub.script.set('slow', [HANGS]);
      const { logger, entries } = recordingLogger();
      const summary = await fanOut(['slow', 'ok'], 'x', {
        client: impatient,
        onGone: async () => {},
        logger,
      });

      assert.deepEqual(
        { ...summary, durationMs: 0 },
        { attempted: 2, delivered: 1, gone: 0, failed: 1, timedOut: 1, durationMs: 0 },
      );
      assert.equal(stub.posts.filter((p) => p.connectionId === 'slow').length, 1, 'one attempt only');
      assert.deepEqual(
        entries.map((e) => [e.level, e.message, e.attributes.connection_id, e.attributes.error_name]),
        [['warn', 'post to connection timed out', 'slow', 'TimeoutError']],
      );
    });
  });

  test('timeouts do not use up the retry budget that throttled posts need', async () => {
    // 1 s: long enough for 60 connections to open on a loaded machine (a post whose connection did not open in time
    // was never sent, so it is retried, not counted as timed out).
    await withClient({ maxAttempts: 3, requestTimeoutMs: 1000 }, async (impatient) => {
      // The SDK's standard budget is 500 tokens and a retried timeout costs at least 10: 60 would empty it.
      const slow = ids('slow', 60);
      for (const id of slow) stub.script.set(id, [HANGS]);
      stub.script.set('throttled-later', [THROTTLED, OK]);
      const first = await fanOut(slow, 'x', {
        client: impatient,
        concurrency: 60,
        onGone: async () => {},
        logger: recordingLogger().logger,
      });
      assert.equal(first.timedOut, 60);
      assert.equal(stub.posts.length, 60);

      const second = await fanOut(['throttled-later'], 'x', { client: impatient, onGone: async () => {} });
      assert.equal(second.delivered, 1);
      assert.equal(stub.posts.filter((p) => p.connectionId === 'throttled-later').length, 2);
    });
  });

  test('posts are signed with SigV4 unless the client is built unsigned (for a local gateway only)', async () => {
    await withClient({ unsigned: true }, async (unsigned) => {
      await fanOut(['signed'], 'x', { client, onGone: async () => {} });
      await fanOut(['unsigned'], 'x', { client: unsigned, onGone: async () => {} });
      const authorization = (id: string) => stub.posts.find((p) => p.connectionId === id)?.authorization;
      assert.match(
        authorization('signed') ?? '',
        /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/execute-api\//,
      );
      assert.equal(authorization('unsigned'), undefined);
    });
  });

  test('a failing onGone is logged, not thrown', async () => {
    stub.script.set('gone', [GONE]);
    const { logger, entries } = recordingLogger();
    const summary = await fanOut(['gone', 'ok'], 'x', {
      client,
      onGone: async () => {
        throw new Error('table unavailable');
      },
      logger,
    });
    assert.equal(summary.gone, 1);
    assert.equal(summary.delivered, 1);
    assert.deepEqual(
      entries.map((e) => [e.level, e.attributes.connection_id, e.attributes.error_message]),
      [['error', 'gone', 'table unavailable']],
    );
  });

  test('never more posts in flight than the concurrency', async () => {
    for (const concurrency of [1, 5]) {
      const local = await startConnectionsApiStub({ latencyMs: 10 });
      const localClient = createManagementClient(local.endpoint, { region: 'us-east-1', credentials });
      try {
        const summary = await fanOut(ids('c', 40), 'x', {
          client: localClient,
          concurrency,
          onGone: async () => {},
        });
        assert.equal(summary.delivered, 40);
        assert.equal(local.maxInFlight, concurrency);
      } finally {
        localClient.destroy();
        await local.close();
      }
    }
  });

  test('the default concurrency is 32', async () => {
    const local = await startConnectionsApiStub({ latencyMs: 20 });
    const localClient = createManagementClient(local.endpoint, { region: 'us-east-1', credentials });
    try {
      const summary = await fanOut(ids('c', 100), 'x', { client: localClient, onGone: async () => {} });
      assert.equal(summary.delivered, 100);
      assert.equal(local.maxInFlight, 32);
    } finally {
      localClient.destroy();
      await local.close();
    }
  });

  test('async pages are consumed lazily, as posts complete', async () => {
    const concurrency = 4;
    const pageSize = 10;
    const respondedAtPull: number[] = [];
    async function* pages(): AsyncGenerator<string[] | string> {
      for (let page = 0; page < 10; page++) {
        respondedAtPull.push(stub.responded);
        yield ids(`p${page}-`, pageSize);
      }
      yield 'single';
    }
    const before = stub.responded;
    const summary = await fanOut(pages(), new TextEncoder().encode('bytes'), {
      client,
      concurrency,
      onGone: async () => {},
    });

    assert.equal(summary.delivered, 101);
    assert.equal(new Set(stub.posts.map((p) => p.connectionId)).size, 101);
    respondedAtPull.forEach((responded, page) => {
      // Page n is pulled only once all but (concurrency - 1) of the earlier ids are answered.
      assert.ok(responded - before >= page * pageSize - (concurrency - 1), `page ${page} pulled too early`);
    });
  });

  test('a failing id source rejects after in-flight posts settle', async () => {
    async function* pages(): AsyncGenerator<string[]> {
      yield ['a', 'b'];
      throw new Error('query failed');
    }
    await assert.rejects(fanOut(pages(), 'x', { client, onGone: async () => {} }), /query failed/);
    assert.equal(stub.posts.length, 2);
  });

  test('empty input posts nothing', async () => {
    const summary = await fanOut(new Set<string>(), 'x', { client, onGone: async () => {} });
    assert.deepEqual(
      { ...summary, durationMs: 0 },
      { attempted: 0, delivered: 0, gone: 0, failed: 0, timedOut: 0, durationMs: 0 },
    );
  });

  test('rejects a concurrency below 1', async () => {
    await assert.rejects(fanOut(['a'], 'x', { client, concurrency: 0, onGone: async () => {} }), RangeError);
  });

  test("Powertools' Logger is a FanOutLogger", () => {
    const logger: FanOutLogger = new Logger({ logLevel: 'SILENT' });
    assert.ok(logger);
  });
});

describe('managementClientFor', () => {
  test('one client per endpoint for the life of the process', () => {
    const a = managementClientFor('https://example.invalid/a', { region: 'us-east-1', credentials });
    assert.equal(managementClientFor('https://example.invalid/a'), a);
    assert.notEqual(
      managementClientFor('https://example.invalid/b', { region: 'us-east-1', credentials }),
      a,
    );
  });
});
