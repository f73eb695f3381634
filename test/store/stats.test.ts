import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConnectionStore } from '../../src/store/connections.ts';
import { dynamoBackends, freshTableNames, type OpenTables, openTables } from '../support/dynamo-backends.ts';

const TTL_SECONDS = 7_800;

/** Who is connected (`roomcast stats`, the gauge): counted from the tables, expired records left out. */
for (const backend of dynamoBackends()) {
  describe(`connection stats on ${backend.name}`, { skip: backend.skip }, () => {
    let doc: DynamoDBDocumentClient;
    let opened: OpenTables | undefined;
    const names = freshTableNames();
    const NOW = Date.UTC(2030, 0, 1, 12);
    const storeAt = (nowMs: number) =>
      new ConnectionStore(doc, {
        tableName: names.connections,
        subscriptionsTableName: names.subscriptions,
        ttlSeconds: TTL_SECONDS,
        now: () => nowMs,
      });

    before(async () => {
      opened = await openTables(backend, names);
      doc = opened.doc;
      const live = storeAt(NOW);
      // big: 3 connections; mid: 2 (one of them also in big); small: 1; and one connection that holds no room.
      await live.put({ connectionId: 'c1', userId: 'u1', roomId: 'big' });
      await live.put({ connectionId: 'c2', userId: 'u2', roomId: 'big' });
      const c3 = await live.put({ connectionId: 'c3', userId: 'u3', roomId: 'big' });
      await live.subscribe(c3, 'mid', 10);
      await live.put({ connectionId: 'c4', userId: 'u1', roomId: 'mid' });
      await live.put({ connectionId: 'c5', userId: 'u4', roomId: 'small' });
      await live.put({ connectionId: 'c6', userId: 'u5' });
      // Expired (TTL not yet run): counted nowhere.
      await storeAt(NOW - (TTL_SECONDS + 60) * 1000).put({
        connectionId: 'old',
        userId: 'u9',
        roomId: 'big',
      });
    });

    after(() => opened?.close());

    test('live connections, expired records left out', async () => {
      assert.equal(await storeAt(NOW).countLive(), 6);
    });

    test('rooms by size, biggest first (ties by id), with the totals', async () => {
      assert.deepEqual(await storeAt(NOW).roomSizes(10, 1000), {
        rooms: 3,
        subscriptions: 6,
        biggest: [
          { room_id: 'big', connections: 3 },
          { room_id: 'mid', connections: 2 },
          { room_id: 'small', connections: 1 },
        ],
        partial: false,
      });
      assert.deepEqual((await storeAt(NOW).roomSizes(1, 1000)).biggest, [{ room_id: 'big', connections: 3 }]);
    });

    test('past the rooms one count tracks, the totals stay exact and the result says it is partial', async () => {
      const result = await storeAt(NOW).roomSizes(10, 2);
      assert.equal(result.subscriptions, 6);
      assert.equal(result.rooms, 2);
      assert.equal(result.partial, true);
    });

    test('after the TTL of every record, nobody', async () => {
      const later = storeAt(NOW + (TTL_SECONDS + 1) * 1000);
      assert.equal(await later.countLive(), 0);
      assert.deepEqual(await later.roomSizes(10, 1000), {
        rooms: 0,
        subscriptions: 0,
        biggest: [],
        partial: false,
      });
    });
  });
}
