import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { ensureTables } from '../../src/local/dynamo.ts';
import { ConnectionStore, type ConnectionStoreOptions } from '../../src/store/connections.ts';
import {
  connectionsTable,
  createTableInput,
  keyAttributes,
  subscriptionsTable,
  type TableDefinition,
} from '../../src/store/tables.ts';
import {
  type DynamoBackend,
  dynamoBackends,
  freshTableNames,
  localDynamoClient,
  type OpenTables,
  openTables,
} from '../support/dynamo-backends.ts';

const TTL_SECONDS = 7_800;

for (const backend of dynamoBackends()) {
  describe(`ConnectionStore on ${backend.name}`, { skip: backend.skip }, () => {
    let server: DynamoBackend;
    let client: DynamoDBClient;
    let doc: DynamoDBDocumentClient;
    let opened: OpenTables | undefined;
    const names = freshTableNames();
    const { connections: tableName, subscriptions: subscriptionsTableName } = names;
    const storeAt = (nowMs: number, extra: Partial<ConnectionStoreOptions> = {}) =>
      new ConnectionStore(doc, {
        tableName,
        subscriptionsTableName,
        ttlSeconds: TTL_SECONDS,
        now: () => nowMs,
        ...extra,
      });
    let store: ConnectionStore;
    const unique = (prefix: string) => `${prefix}-${randomUUID()}`;
    const subscription = async (roomId: string, connectionId: string) =>
      (
        await doc.send(
          new GetCommand({
            TableName: subscriptionsTableName,
            Key: { room_id: roomId, connection_id: connectionId },
            ConsistentRead: true,
          }),
        )
      ).Item;
    const rawRecord = async (connectionId: string) =>
      (
        await doc.send(
          new GetCommand({
            TableName: tableName,
            Key: { connection_id: connectionId },
            ConsistentRead: true,
          }),
        )
      ).Item;
    const subscriptionsOf = async (connectionId: string) => {
      const { Items = [] } = await doc.send(
        new ScanCommand({
          TableName: subscriptionsTableName,
          FilterExpression: 'connection_id = :c',
          ExpressionAttributeValues: { ':c': connectionId },
          ConsistentRead: true,
        }),
      );
      return Items.map((item) => item.room_id as string).sort();
    };

    before(async () => {
      opened = await openTables(backend, names);
      ({ server, client, doc } = opened);
      store = new ConnectionStore(doc, { tableName, subscriptionsTableName, ttlSeconds: TTL_SECONDS });
    });

    after(() => opened?.close());

    test('the tables are created from their definitions, with key-only AttributeDefinitions', async () => {
      for (const [name, def] of [
        [tableName, connectionsTable],
        [subscriptionsTableName, subscriptionsTable],
      ] as [string, TableDefinition][]) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
        assert.equal(Table?.TableStatus, 'ACTIVE');
        assert.deepEqual(
          Table?.AttributeDefinitions?.map((a) => a.AttributeName).sort(),
          keyAttributes(def)
            .map((key) => key.name)
            .sort(),
        );
        assert.deepEqual(
          (Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName).sort(),
          Object.values(def.indexes)
            .map((i) => i.name)
            .sort(),
        );
      }
    });

    test('ensureTables is idempotent and enables TTL where the store has it', async () => {
      await ensureTables(client, names);
      for (const name of [tableName, subscriptionsTableName]) {
        const { TimeToLiveDescription } = await client.send(
          new DescribeTimeToLiveCommand({ TableName: name }),
        );
        if (backend.name === 'dynamodb-local') {
          assert.equal(TimeToLiveDescription?.TimeToLiveStatus, 'ENABLED');
          assert.equal(TimeToLiveDescription?.AttributeName, 'ttl');
        } else {
          assert.equal(TimeToLiveDescription?.TimeToLiveStatus, 'DISABLED'); // dynalite: no TTL at all
        }
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

    test('put with a room, get and remove: the record, its room set and its subscription item', async () => {
      const connectionId = unique('c');
      const now = Date.UTC(2030, 0, 1, 12);
      const record = await storeAt(now).put({
        connectionId,
        roomId: 'lobby',
        userId: 'alice',
        allowedRooms: ['lobby', 'team-1:*'],
        joined: { room: 4, direct: 2 },
      });
      assert.deepEqual(record, {
        connection_id: connectionId,
        user_id: 'alice',
        ttl: now / 1000 + TTL_SECONDS,
        created_at: '2030-01-01T12:00:00.000Z',
        rooms: new Set(['lobby']),
        connect_room_id: 'lobby',
        allowed_rooms: ['lobby', 'team-1:*'],
        joined_seq: 4,
        joined_direct_seq: 2,
      });
      assert.deepEqual(await storeAt(now).get(connectionId), record);
      assert.deepEqual(await subscription('lobby', connectionId), {
        room_id: 'lobby',
        connection_id: connectionId,
        user_id: 'alice',
        ttl: record.ttl,
        created_at: record.created_at,
      });
      assert.deepEqual(await storeAt(now).remove(connectionId), record);
      assert.equal(await storeAt(now).get(connectionId), undefined);
      assert.equal(await subscription('lobby', connectionId), undefined);
      assert.equal(await store.remove(connectionId), undefined);
    });

    test('put with a room writes record and item in one call, and sends again what comes back unprocessed', async () => {
      const connectionId = unique('c');
      const calls: string[][] = [];
      // DynamoDB answers a throttled part of a BatchWriteItem as UnprocessedItems: here the item, once.
      const withheld = new Set([subscriptionsTableName]);
      const throttling = {
        send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
          if (command.constructor.name !== 'BatchWriteCommand') return doc.send(command as never);
          const requestItems = command.input.RequestItems as Record<string, unknown[]>;
          calls.push(Object.keys(requestItems).sort());
          const processed = Object.fromEntries(
            Object.entries(requestItems).filter(([t]) => !withheld.has(t)),
          );
          const unprocessed = Object.fromEntries(
            Object.entries(requestItems).filter(([t]) => withheld.has(t)),
          );
          withheld.clear();
          if (Object.keys(processed).length > 0)
            await doc.send(new BatchWriteCommand({ RequestItems: processed } as never));
          return { UnprocessedItems: unprocessed };
        },
      } as unknown as DynamoDBDocumentClient;
      const record = await new ConnectionStore(throttling, {
        tableName,
        subscriptionsTableName,
        ttlSeconds: TTL_SECONDS,
      }).put({ connectionId, roomId: 'lobby', userId: 'alice' });
      assert.deepEqual(calls, [[subscriptionsTableName, tableName].sort(), [subscriptionsTableName]]);
      assert.deepEqual(await store.get(connectionId), record);
      assert.equal((await subscription('lobby', connectionId))?.user_id, 'alice');
      await store.remove(connectionId);
    });

    test('put with a room fails when its writes stay unprocessed', async () => {
      const never = {
        send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) =>
          command.constructor.name === 'BatchWriteCommand'
            ? { UnprocessedItems: command.input.RequestItems }
            : doc.send(command as never),
      } as unknown as DynamoDBDocumentClient;
      const failing = new ConnectionStore(never, {
        tableName,
        subscriptionsTableName,
        ttlSeconds: TTL_SECONDS,
      });
      await assert.rejects(
        failing.put({ connectionId: unique('c'), roomId: 'lobby', userId: 'alice' }),
        /requests left unprocessed/,
      );
    });

    test('put without a room: a connection that holds none', async () => {
      const record = await store.put({ connectionId: unique('c'), userId: 'alice', joined: { direct: 0 } });
      assert.equal(record.rooms, undefined);
      assert.equal((await rawRecord(record.connection_id))?.rooms, undefined);
      assert.deepEqual(await subscriptionsOf(record.connection_id), []);
    });

    test('subscribe adds, holds and counts new items once; unsubscribe removes both sides', async () => {
      const record = await store.put({ connectionId: unique('c'), userId: 'alice' });
      const [a, b] = [unique('a'), unique('b')];
      assert.deepEqual(await store.subscribe(record, a, 100), { result: 'added', created: true });
      assert.deepEqual(await store.subscribe(record, b, 100), { result: 'added', created: true });
      assert.deepEqual(await store.subscribe(record, a, 100), { result: 'held', created: false });
      assert.deepEqual((await store.get(record.connection_id))?.rooms, new Set([a, b]));
      assert.deepEqual(await collect(store.roomConnectionIds(a)), [record.connection_id]);
      assert.deepEqual(await subscriptionsOf(record.connection_id), [a, b].sort());

      assert.equal(await store.unsubscribe(record.connection_id, a), true);
      assert.equal(await store.unsubscribe(record.connection_id, a), false);
      assert.deepEqual(await collect(store.roomConnectionIds(a)), []);
      assert.deepEqual((await store.get(record.connection_id))?.rooms, new Set([b]));
      assert.equal(await store.unsubscribe(record.connection_id, b), true);
      // DynamoDB removes a set that becomes empty: the attribute is gone, not an empty set.
      assert.equal((await rawRecord(record.connection_id))?.rooms, undefined);
      assert.deepEqual(await subscriptionsOf(record.connection_id), []);
      // A connection that holds none can subscribe again.
      assert.deepEqual(await store.subscribe(record, a, 1), { result: 'added', created: true });
    });

    test('a subscribe whose item write failed completes when repeated', async () => {
      const record = await store.put({ connectionId: unique('c'), userId: 'alice' });
      const room = unique('r');
      const failing = new ConnectionStore(failPutsTo(doc, subscriptionsTableName), {
        tableName,
        subscriptionsTableName,
        ttlSeconds: TTL_SECONDS,
      });
      await assert.rejects(failing.subscribe(record, room, 10), /injected/);
      assert.deepEqual((await store.get(record.connection_id))?.rooms, new Set([room]), 'the claim is there');
      assert.deepEqual(await collect(store.roomConnectionIds(room)), [], 'the item is not');
      assert.deepEqual(await store.subscribe(record, room, 10), { result: 'held', created: true });
      assert.deepEqual(await collect(store.roomConnectionIds(room)), [record.connection_id]);
    });

    test('the room cap: refused past it, a held room still passes, concurrent subscribes cannot exceed it', async () => {
      const record = await store.put({ connectionId: unique('c'), userId: 'alice' });
      const rooms = Array.from({ length: 3 }, (_, i) => unique(`cap${i}`));
      for (const room of rooms) assert.equal((await store.subscribe(record, room, 3)).result, 'added');
      assert.deepEqual(await store.subscribe(record, unique('over'), 3), { result: 'full', created: false });
      assert.equal((await store.subscribe(record, rooms[0] as string, 3)).result, 'held');
      assert.equal((await store.get(record.connection_id))?.rooms?.size, 3);

      const racer = await store.put({ connectionId: unique('race'), userId: 'bob' });
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.subscribe(racer, unique(`race${i}`), 5)),
      );
      assert.equal(results.filter((r) => r.result === 'added').length, 5);
      assert.equal(results.filter((r) => r.result === 'full').length, 7);
      assert.equal((await store.get(racer.connection_id))?.rooms?.size, 5);
      assert.equal((await subscriptionsOf(racer.connection_id)).length, 5, 'no item past the cap');
    });

    test('a subscribe and an unsubscribe of one room that race leave no item the record does not claim', async () => {
      const record = await store.put({ connectionId: unique('race'), userId: 'racer' });
      const room = unique('crossed');
      const claimed = async () => (await store.get(record.connection_id))?.rooms?.has(room) ?? false;
      const item = async () => (await collect(store.roomConnectionIds(room))).includes(record.connection_id);
      for (let i = 0; i < 40; i++) {
        await Promise.all([store.subscribe(record, room, 10), store.unsubscribe(record.connection_id, room)]);
        if (await item())
          assert.ok(await claimed(), `round ${i}: an item only where the record claims the room`);
        await store.unsubscribe(record.connection_id, room);
      }
      // A stale record that says the room is held (no claim update) is checked the same way.
      const stale = { ...record, rooms: new Set([room]) };
      for (let i = 0; i < 20; i++) {
        await store.subscribe(record, room, 10);
        await Promise.all([store.subscribe(stale, room, 10), store.unsubscribe(record.connection_id, room)]);
        if (await item()) assert.ok(await claimed(), `stale round ${i}`);
        // A claim left without its item (the unsubscribe's delete came last) is repaired by subscribing again.
        if (await claimed()) {
          await store.subscribe(record, room, 10);
          assert.ok(await item(), `stale round ${i}: repaired`);
        }
      }
    });

    test('a subscribe that races the end of its connection leaves no item behind', async () => {
      for (let i = 0; i < 20; i++) {
        const record = await store.put({ connectionId: unique('ending'), userId: 'u' });
        const room = unique('ending-room');
        const [subscribed] = await Promise.all([
          store.subscribe(record, room, 10),
          store.remove(record.connection_id),
        ]);
        assert.ok(['added', 'gone'].includes(subscribed.result), subscribed.result);
        assert.deepEqual(await subscriptionsOf(record.connection_id), [], `round ${i}`);
      }
    });

    test('subscribe for a connection without a record is `gone` and writes nothing', async () => {
      const ghost = { connection_id: unique('ghost'), user_id: 'u', ttl: 2e9, created_at: 'x' };
      const room = unique('r');
      assert.deepEqual(await store.subscribe(ghost, room, 10), { result: 'gone', created: false });
      assert.equal(await rawRecord(ghost.connection_id), undefined);
      assert.deepEqual(await collect(store.roomConnectionIds(room)), []);
    });

    test('remove deletes every subscription, past one batch of 25', async () => {
      const record = await store.put({ connectionId: unique('c'), roomId: unique('first'), userId: 'alice' });
      const rooms = Array.from({ length: 30 }, (_, i) => unique(`many${i}`));
      for (const room of rooms) await store.subscribe(record, room, 100);
      assert.equal((await subscriptionsOf(record.connection_id)).length, 31);
      const removed = await store.remove(record.connection_id);
      assert.equal(removed?.rooms?.size, 31);
      assert.deepEqual(await subscriptionsOf(record.connection_id), []);
    });

    test('removeGone keeps what is younger than the grace period and prunes the rest, items included', async () => {
      const now = Date.now();
      const room = unique('grace');
      const young = unique('young');
      const old = unique('old');
      await storeAt(now - 5_000).put({ connectionId: young, roomId: room, userId: 'u' });
      const oldRecord = await storeAt(now - 60_000).put({ connectionId: old, roomId: room, userId: 'u' });
      const other = unique('other');
      await storeAt(now - 60_000).subscribe(oldRecord, other, 10);
      assert.equal(await storeAt(now).removeGone(young, 30, room), false);
      assert.equal(await storeAt(now).removeGone(old, 30, room), true);
      assert.ok(await storeAt(now).get(young));
      assert.ok(await subscription(room, young));
      assert.equal(await storeAt(now).get(old), undefined);
      assert.deepEqual(
        await subscriptionsOf(old),
        [],
        'every room of the gone connection, not only this one',
      );
      assert.equal(await storeAt(now).removeGone(unique('never-existed'), 30), false);
      assert.equal(await storeAt(now).removeGone(unique('never-existed'), 30, room), false);
    });

    test('removeGone prunes an item whose record is gone already, unless the item is young', async () => {
      const now = Date.now();
      const room = unique('orphan');
      const [oldOrphan, youngOrphan] = [unique('old'), unique('young')];
      for (const [connectionId, age] of [
        [oldOrphan, 60_000],
        [youngOrphan, 5_000],
      ] as const) {
        await doc.send(
          new PutCommand({
            TableName: subscriptionsTableName,
            Item: {
              room_id: room,
              connection_id: connectionId,
              user_id: 'u',
              ttl: Math.floor(now / 1000) + 600,
              created_at: new Date(now - age).toISOString(),
            },
          }),
        );
      }
      assert.equal(await storeAt(now).removeGone(oldOrphan, 30, room), true);
      assert.equal(await storeAt(now).removeGone(youngOrphan, 30, room), false);
      assert.deepEqual(await collect(storeAt(now).roomConnectionIds(room)), [youngOrphan]);
    });

    test('a record of the previous version (one room_id, no rooms) is moved over on its first read', async () => {
      const connectionId = unique('legacy');
      const room = unique('legacy-room');
      const ttl = Math.floor(Date.now() / 1000) + 600;
      const legacy = {
        connection_id: connectionId,
        room_id: room,
        user_id: 'old',
        ttl,
        created_at: 'x',
        joined_seq: 3,
      };
      await doc.send(new PutCommand({ TableName: tableName, Item: legacy }));
      assert.deepEqual(await collect(store.roomConnectionIds(room)), [], 'not in the room before');

      const record = await store.get(connectionId);
      assert.deepEqual(record, {
        connection_id: connectionId,
        user_id: 'old',
        ttl,
        created_at: 'x',
        joined_seq: 3,
        rooms: new Set([room]),
        connect_room_id: room,
        allowed_rooms: [room],
      });
      assert.deepEqual(await rawRecord(connectionId), record, 'stored in the new shape');
      assert.deepEqual(await collect(store.roomConnectionIds(room)), [connectionId]);
      assert.equal(
        (await subscription(room, connectionId))?.ttl,
        ttl,
        'the item expires with the connection',
      );
      assert.deepEqual(await store.get(connectionId), record, 'a second read changes nothing');
      await store.remove(connectionId);
      assert.deepEqual(await subscriptionsOf(connectionId), []);
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
      const record = await store.put({ connectionId, userId: 'alice' });
      await assert.rejects(store.subscribe(record, '', 10), /roomId must be a non-empty/);
    });

    test('why: an empty GSI key is refused by DynamoDB Local but stored by dynalite', async () => {
      const item = { connection_id: unique('c'), user_id: '', ttl: 1 };
      const put = doc.send(new PutCommand({ TableName: tableName, Item: item }));
      if (backend.name === 'dynamodb-local') await assert.rejects(put, { name: 'ValidationException' });
      else await put;
    });

    test('expired records and subscriptions are invisible to every read', async () => {
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

    test('a record and its subscriptions expire at the second their ttl names, though still stored', async () => {
      const room = unique('room');
      const record = await store.put({ connectionId: unique('c'), roomId: room, userId: unique('u') });
      await store.subscribe(record, unique('second'), 10);
      const atTtl = storeAt(record.ttl * 1000);
      assert.equal(await atTtl.get(record.connection_id), undefined);
      assert.deepEqual(await collect(atTtl.roomConnectionIds(room)), []);
      assert.deepEqual(await atTtl.userConnectionIds(record.user_id), []);
      assert.ok(await storeAt(record.ttl * 1000 - 1000).get(record.connection_id));
      assert.deepEqual(await collect(storeAt(record.ttl * 1000 - 1000).roomConnectionIds(room)), [
        record.connection_id,
      ]);
      assert.ok(await rawRecord(record.connection_id), 'filtered by the read, not deleted');
    });

    test('nothing is left after TTL: the store deletes expired records and subscriptions', {
      skip: backend.name === 'dynalite' ? 'dynalite has no TTL; reads filter (the test above)' : false,
    }, async () => {
      // DynamoDB Local runs TTL deletion itself, within seconds; AWS within days (reads filter meanwhile).
      const past = Date.now() - (TTL_SECONDS + 60) * 1000;
      const record = await storeAt(past).put({
        connectionId: unique('ttl'),
        roomId: unique('r'),
        userId: 'u',
      });
      await storeAt(past).subscribe(record, unique('r2'), 10);
      const deadline = Date.now() + 60_000;
      while (
        ((await rawRecord(record.connection_id)) ||
          (await subscriptionsOf(record.connection_id)).length > 0) &&
        Date.now() < deadline
      )
        await sleep(250);
      assert.equal(await rawRecord(record.connection_id), undefined);
      assert.deepEqual(await subscriptionsOf(record.connection_id), []);
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
      // A room's items are ordered by connection id, so the expired ones ("a-…") fill the first pages.
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
        subscriptionsTableName,
        ttlSeconds: TTL_SECONDS,
        queryPageSize: 2,
        now: () => readerNow,
      });
      const pages = await collectPages(paged.roomConnectionIds(room));
      spied.destroy();
      assert.ok(counts.includes(0), `some page should hold only expired items: ${counts}`);
      assert.ok(pages.every((page) => page.length > 0));
      assert.deepEqual(pages.flat().sort(), liveIds.sort());
      assert.equal((await storeAt(readerNow, { queryPageSize: 2 }).roomMembers(room)).length, 3);
    });

    test('a room over 1 MB of subscriptions comes back whole, across pages', async () => {
      // connection_id is a sort key (at most 1 KB), so the padding is mostly user_id: ~4 KB per item, ~1.2 MB.
      const room = unique('big');
      const userId = 'u'.padEnd(3000, 'u');
      const ttl = Math.floor(Date.now() / 1000) + 600;
      const ids = Array.from({ length: 300 }, (_, i) => `c${i}-${randomUUID()}-`.padEnd(1000, 'c'));
      for (let i = 0; i < ids.length; i += 25) {
        await Promise.all(
          ids.slice(i, i + 25).map((id) =>
            doc.send(
              new PutCommand({
                TableName: subscriptionsTableName,
                Item: { room_id: room, connection_id: id, user_id: userId, ttl, created_at: 'x' },
              }),
            ),
          ),
        );
      }
      const pages = await collectPages(store.roomConnectionIds(room));
      assert.ok(pages.length > 1, `expected more than one 1 MB page, got ${pages.length}`);
      assert.deepEqual(pages.flat().sort(), [...ids].sort());
      assert.equal((await store.roomMembers(room)).length, ids.length);
      assert.equal(await store.roomMembersUpTo(room, 10), undefined, 'a big room is found big cheaply');
    });

    test("two connections whose ids share dynalite's 24-bit index digest both come back", async () => {
      // Unpatched dynalite keys an index entry by the index key plus 6 hex digits of an MD5 of the table key, so
      // these two ids overwrote each other in user_id-index; patches/dynalite+4.0.0.patch adds the table key.
      const [first, second] = ['collide-2213', 'collide-2911'];
      const digest = (id: string) =>
        createHash('md5').update('Outliers').update(id).digest('hex').slice(0, 6);
      assert.equal(digest(first), digest(second), 'the ids still collide in the unpatched scheme');

      const userId = unique('collide');
      for (const connectionId of [first, second]) await store.put({ connectionId, userId });
      try {
        assert.deepEqual((await store.userConnectionIds(userId)).sort(), [first, second]);
        await store.remove(first);
        assert.deepEqual(await store.userConnectionIds(userId), [second]);
      } finally {
        await store.remove(first);
        await store.remove(second);
      }
    });

    test('roomMembers and userConnectionIds across rooms and connections', async () => {
      const [roomA, roomB, alice, bob] = [unique('a'), unique('b'), unique('alice'), unique('bob')];
      const put = (roomId: string, userId: string) =>
        store.put({ connectionId: unique('c'), roomId, userId });
      const a1 = await put(roomA, alice);
      const a2 = await put(roomA, alice);
      const a3 = await put(roomB, alice);
      const b1 = await put(roomA, bob);
      await store.subscribe(a3, roomA, 10);

      const byConnection = (x: { connection_id: string }, y: { connection_id: string }) =>
        x.connection_id.localeCompare(y.connection_id);
      assert.deepEqual(
        (await store.roomMembers(roomA)).sort(byConnection),
        [a1, a2, a3, b1].map(({ user_id, connection_id }) => ({ user_id, connection_id })).sort(byConnection),
      );
      assert.deepEqual(
        (await store.userConnectionIds(alice)).sort(),
        [a1, a2, a3].map((r) => r.connection_id).sort(),
        'each connection once, whatever rooms it holds',
      );
      assert.deepEqual(await store.userConnectionIds(unique('nobody')), []);
      assert.deepEqual(await store.roomMembers(unique('empty')), []);
    });
  });
}

/** A DocumentClient whose puts to `table` fail, as a lost write would. */
function failPutsTo(doc: DynamoDBDocumentClient, table: string): DynamoDBDocumentClient {
  return {
    send: (command: { constructor: { name: string }; input: { TableName?: string } }) =>
      command.constructor.name === 'PutCommand' && command.input.TableName === table
        ? Promise.reject(new Error('injected: put failed'))
        : doc.send(command as never),
  } as unknown as DynamoDBDocumentClient;
}

async function collectPages(pages: AsyncIterable<string[]>): Promise<string[][]> {
  const all: string[][] = [];
  for await (const page of pages) all.push(page);
  return all;
}

async function collect(pages: AsyncIterable<string[]>): Promise<string[]> {
  return (await collectPages(pages)).flat();
}
