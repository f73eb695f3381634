import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTables } from '../../src/local/dynamo.ts';
import { ConnectionStore, type ConnectionStoreOptions } from '../../src/store/connections.ts';
import {
  connectionsTable,
  createDocumentClient,
  createTableInput,
  keyAttributes,
} from '../../src/store/tables.ts';
import {
  type DynamoBackend,
  dynamoBackends,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localDynamoClient,
} from '../support/dynamo-backends.ts';

const TTL_SECONDS = 7_800;

for (const backend of dynamoBackends()) {
  describe(`ConnectionStore on ${backend.name}`, { skip: backend.skip }, () => {
    let server: DynamoBackend;
    let client: DynamoDBClient;
    let doc: DynamoDBDocumentClient;
    const tableName = `chat_connections_${randomUUID().slice(0, 8)}`;
    const storeAt = (nowMs: number, extra: Partial<ConnectionStoreOptions> = {}) =>
      new ConnectionStore(doc, { tableName, ttlSeconds: TTL_SECONDS, now: () => nowMs, ...extra });
    let store: ConnectionStore;
    const unique = (prefix: string) => `${prefix}-${randomUUID()}`;

    before(async () => {
      server = await backend.start();
      client = localDynamoClient(server.endpoint);
      doc = createDocumentClient({
        endpoint: server.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      await ensureTables(client, { connections: tableName, messages: `${tableName}-messages` });
      store = new ConnectionStore(doc, { tableName, ttlSeconds: TTL_SECONDS });
    });

    after(async () => {
      client?.destroy();
      doc?.destroy();
      await server?.close();
    });

    test('the table is created from its definition, with key-only AttributeDefinitions', async () => {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      assert.equal(Table?.TableStatus, 'ACTIVE');
      assert.deepEqual(
        Table?.AttributeDefinitions?.map((a) => a.AttributeName).sort(),
        keyAttributes(connectionsTable)
          .map((key) => key.name)
          .sort(),
      );
      const indexes = Object.values(connectionsTable.indexes);
      assert.deepEqual(
        Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort(),
        indexes.map((i) => i.name).sort(),
      );
    });

    test('ensureTables is idempotent and enables TTL where the store has it', async () => {
      await ensureTables(client, { connections: tableName, messages: `${tableName}-messages` });
      const { TimeToLiveDescription } = await client.send(
        new DescribeTimeToLiveCommand({ TableName: tableName }),
      );
      if (backend.name === 'dynamodb-local') {
        assert.equal(TimeToLiveDescription?.TimeToLiveStatus, 'ENABLED');
        assert.equal(TimeToLiveDescription?.AttributeName, connectionsTable.ttlAttribute);
      } else {
        assert.equal(TimeToLiveDescription?.TimeToLiveStatus, 'DISABLED'); // dynalite: no TTL at all
      }
    });

    test('an unused non-key AttributeDefinition (the textbook `ttl`) is rejected as on AWS', async () => {
      const input = createTableInput(connectionsTable, `${tableName}_textbook`);
      input.AttributeDefinitions = [
        ...(input.AttributeDefinitions ?? []),
        { AttributeName: connectionsTable.ttlAttribute, AttributeType: 'N' },
      ];
      const create = client.send(new CreateTableCommand(input));
      if (backend.name === 'dynamodb-local') {
        await assert.rejects(create, { name: 'ValidationException' });
      } else {
        await create; // dynalite's known gap: it accepts a table real DynamoDB refuses
        // A table still CREATING cannot be deleted (ResourceInUseException), and on a loaded machine it may be.
        await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: input.TableName });
        await client.send(new DeleteTableCommand({ TableName: input.TableName }));
      }
    });

    test('put, get and remove a connection', async () => {
      const connectionId = unique('c');
      const now = Date.UTC(2030, 0, 1, 12);
      const record = await storeAt(now).put({ connectionId, roomId: 'lobby', userId: 'alice' });
      assert.deepEqual(record, {
        connection_id: connectionId,
        room_id: 'lobby',
        user_id: 'alice',
        ttl: now / 1000 + TTL_SECONDS,
        created_at: '2030-01-01T12:00:00.000Z',
      });
      assert.deepEqual(await store.get(connectionId), record);
      assert.deepEqual(await store.remove(connectionId), record);
      assert.equal(await store.get(connectionId), undefined);
      assert.equal(await store.remove(connectionId), undefined);
    });

    test('removeGone keeps a record younger than the grace period and removes an older one', async () => {
      const now = Date.now();
      const young = unique('young');
      const old = unique('old');
      await storeAt(now - 5_000).put({ connectionId: young, roomId: 'grace', userId: 'u' });
      await storeAt(now - 60_000).put({ connectionId: old, roomId: 'grace', userId: 'u' });
      assert.equal(await storeAt(now).removeGone(young, 30), false);
      assert.equal(await storeAt(now).removeGone(old, 30), true);
      assert.ok(await storeAt(now).get(young));
      assert.equal(await storeAt(now).get(old), undefined);
      assert.equal(await storeAt(now).removeGone(unique('never-existed'), 30), false);
    });

    test('empty ids are rejected before reaching DynamoDB', async () => {
      const connectionId = unique('c');
      await assert.rejects(
        store.put({ connectionId, roomId: '', userId: 'alice' }),
        /roomId must be a non-empty/,
      );
      await assert.rejects(
        store.put({ connectionId, roomId: 'r', userId: '' }),
        /userId must be a non-empty/,
      );
      await assert.rejects(store.put({ connectionId: '', roomId: 'r', userId: 'alice' }), /connectionId/);
      assert.equal(await store.get(connectionId), undefined);
    });

    test('why: an empty GSI key is refused by DynamoDB Local but stored by dynalite', async () => {
      const item = { connection_id: unique('c'), room_id: '', user_id: 'alice', ttl: 1 };
      const put = doc.send(new PutCommand({ TableName: tableName, Item: item }));
      if (backend.name === 'dynamodb-local') await assert.rejects(put, { name: 'ValidationException' });
      else await put;
    });

    test('expired records are invisible to every read', async () => {
      const room = unique('room');
      const user = unique('user');
      const now = Date.now();
      const live = await store.put({ connectionId: unique('live'), roomId: room, userId: user });
      const stale = storeAt(now - (TTL_SECONDS + 60) * 1000);
      const expired = await stale.put({ connectionId: unique('expired'), roomId: room, userId: user });
      assert.ok(expired.ttl < now / 1000);

      assert.equal(await store.get(expired.connection_id), undefined);
      assert.deepEqual(await collect(store.roomConnectionIds(room)), [live.connection_id]);
      assert.deepEqual(await store.userConnectionIds(user), [live.connection_id]);
      assert.deepEqual(await store.roomMembers(room), [{ user_id: user, connection_id: live.connection_id }]);
    });

    test('a record is expired at the second its ttl names, though still stored', async () => {
      const record = await store.put({
        connectionId: unique('c'),
        roomId: unique('room'),
        userId: unique('u'),
      });
      const atTtl = storeAt(record.ttl * 1000);
      assert.equal(await atTtl.get(record.connection_id), undefined);
      assert.deepEqual(await collect(atTtl.roomConnectionIds(record.room_id)), []);
      assert.deepEqual(await atTtl.userConnectionIds(record.user_id), []);
      assert.deepEqual(await storeAt(record.ttl * 1000 - 1000).get(record.connection_id), record);
      const raw = await doc.send(
        new GetCommand({ TableName: tableName, Key: { connection_id: record.connection_id } }),
      );
      assert.ok(raw.Item, 'filtered by the read, not deleted');
    });

    test('pages emptied by the ttl filter are skipped, not ended on', async () => {
      const room = unique('room');
      // Expired for the reader only, whose clock runs ahead: DynamoDB Local deletes truly expired items within
      // seconds, which would empty the room before the query.
      const now = Date.now();
      const readerNow = now + (TTL_SECONDS + 60) * 1000;
      const stale = storeAt(now);
      const fresh = storeAt(readerNow);
      const liveIds: string[] = [];
      // Both emulators order a GSI partition by table key, so the expired records fill the first pages.
      for (let i = 0; i < 6; i++)
        await stale.put({ connectionId: unique('a-expired'), roomId: room, userId: 'u' });
      for (let i = 0; i < 3; i++) {
        liveIds.push(
          (await fresh.put({ connectionId: unique('z-live'), roomId: room, userId: 'u' })).connection_id,
        );
      }
      const counts: number[] = [];
      const spied = localDynamoClient(server.endpoint);
      spied.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          counts.push((result.output as { Count?: number }).Count ?? -1);
          return result;
        },
        { step: 'initialize' },
      );
      const paged = new ConnectionStore(DynamoDBDocumentClient.from(spied), {
        tableName,
        ttlSeconds: TTL_SECONDS,
        queryPageSize: 2,
        now: () => readerNow,
      });
      const pages = await collectPages(paged.roomConnectionIds(room));
      spied.destroy();
      assert.ok(counts.includes(0), `some page should hold only expired records: ${counts}`);
      assert.ok(pages.every((page) => page.length > 0));
      assert.deepEqual(pages.flat().sort(), liveIds.sort());
      assert.equal((await storeAt(readerNow, { queryPageSize: 2 }).roomMembers(room)).length, 3);
    });

    test('a room over 1 MB of index data comes back whole, across pages', async () => {
      // The GSIs project only ttl and user_id/room_id, so padding must sit in projected attributes to grow the
      // index: ~2 KB each of room_id, connection_id and user_id, ~6 KB per index entry, ~1.5 MB in all.
      const room = `big-${randomUUID()}-`.padEnd(2000, 'r');
      const userId = 'u'.padEnd(2000, 'u');
      const ttl = Math.floor(Date.now() / 1000) + 600;
      const ids = Array.from({ length: 250 }, (_, i) => `c${i}-${randomUUID()}-`.padEnd(2000, 'c'));
      for (let i = 0; i < ids.length; i += 25) {
        await Promise.all(
          ids.slice(i, i + 25).map((id) =>
            doc.send(
              new PutCommand({
                TableName: tableName,
                Item: { connection_id: id, room_id: room, user_id: userId, ttl, created_at: 'x' },
              }),
            ),
          ),
        );
      }

      const pages = await collectPages(store.roomConnectionIds(room));
      assert.ok(pages.length > 1, `expected more than one 1 MB page, got ${pages.length}`);
      assert.deepEqual(pages.flat().sort(), [...ids].sort());
      assert.equal((await store.roomMembers(room)).length, ids.length);
      assert.equal((await store.userConnectionIds(userId)).length, ids.length);
    });

    test("two members whose ids share dynalite's 24-bit index digest both come back", async () => {
      // Unpatched dynalite keys an index entry by the index key plus 6 hex digits of an MD5 of the table key, so
      // these two ids overwrote each other in room_id-index; patches/dynalite+4.0.0.patch adds the table key.
      const [first, second] = ['collide-2213', 'collide-2911'];
      const digest = (id: string) =>
        createHash('md5').update('Outliers').update(id).digest('hex').slice(0, 6);
      assert.equal(digest(first), digest(second), 'the ids still collide in the unpatched scheme');

      const roomId = unique('collide');
      for (const connectionId of [first, second]) {
        await store.put({ connectionId, roomId, userId: unique('u') });
      }
      try {
        assert.deepEqual((await collect(store.roomConnectionIds(roomId))).sort(), [first, second]);
        await store.remove(first);
        assert.deepEqual(await collect(store.roomConnectionIds(roomId)), [second]);
      } finally {
        await store.remove(first);
        await store.remove(second);
      }
    });

    test('roomMembers and userConnectionIds', async () => {
      const [roomA, roomB, alice, bob] = [unique('a'), unique('b'), unique('alice'), unique('bob')];
      const put = (roomId: string, userId: string) =>
        store.put({ connectionId: unique('c'), roomId, userId });
      const a1 = await put(roomA, alice);
      const a2 = await put(roomA, alice);
      const a3 = await put(roomB, alice);
      const b1 = await put(roomA, bob);

      const byConnection = (x: { connection_id: string }, y: { connection_id: string }) =>
        x.connection_id.localeCompare(y.connection_id);
      assert.deepEqual(
        (await store.roomMembers(roomA)).sort(byConnection),
        [a1, a2, b1].map(({ user_id, connection_id }) => ({ user_id, connection_id })).sort(byConnection),
      );
      assert.deepEqual(
        (await store.userConnectionIds(alice)).sort(),
        [a1, a2, a3].map((r) => r.connection_id).sort(),
      );
      assert.deepEqual(await store.userConnectionIds(unique('nobody')), []);
      assert.deepEqual(await store.roomMembers(unique('empty')), []);
    });
  });
}

async function collectPages(pages: AsyncIterable<string[]>): Promise<string[][]> {
  const all: string[][] = [];
  for await (const page of pages) all.push(page);
  return all;
}

async function collect(pages: AsyncIterable<string[]>): Promise<string[]> {
  return (await collectPages(pages)).flat();
}
