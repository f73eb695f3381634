import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { ensureTables } from '../../src/local/dynamo.ts';
import { type DirectMessage, MessageStore, type RoomMessage } from '../../src/store/messages.ts';
import { createDocumentClient, keyAttributes, messagesTable } from '../../src/store/tables.ts';
import {
  type DynamoBackend,
  dynamoBackends,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localDynamoClient,
} from '../support/dynamo-backends.ts';
import { dynamoOperation, FORWARD, RESET, startFaultProxy } from '../support/fault-proxy.ts';

const DAY = 86_400;

for (const backend of dynamoBackends()) {
  describe(`MessageStore on ${backend.name}`, { skip: backend.skip }, () => {
    let server: DynamoBackend;
    let client: DynamoDBClient;
    let doc: DynamoDBDocumentClient;
    const suffix = randomUUID().slice(0, 8);
    const tableName = `chat_messages_${suffix}`;
    const nextId = monotonicFactory();
    let store: MessageStore;

    const roomMessage = (room: string, text: string, extra: Partial<RoomMessage> = {}): RoomMessage => ({
      kind: 'room',
      room_id: room,
      user_id: 'alice',
      message: text,
      message_id: nextId(),
      timestamp: new Date().toISOString(),
      ...extra,
    });

    before(async () => {
      server = await backend.start();
      client = localDynamoClient(server.endpoint);
      doc = createDocumentClient({
        endpoint: server.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      await ensureTables(client, { connections: `chat_connections_${suffix}`, messages: tableName });
      store = new MessageStore(doc, { tableName, retentionSeconds: 7 * DAY });
    });

    after(async () => {
      client?.destroy();
      doc?.destroy();
      await server?.close();
    });

    test('the table has room_id + message_id keys and no other attribute definitions', async () => {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      assert.deepEqual(
        Table?.AttributeDefinitions?.map((a) => a.AttributeName).sort(),
        keyAttributes(messagesTable).sort(),
      );
      assert.deepEqual(
        Table?.KeySchema?.map((k) => `${k.AttributeName}:${k.KeyType}`),
        ['room_id:HASH', 'message_id:RANGE'],
      );
    });

    test('pages newest first with before, and catches up oldest first with after', async () => {
      const room = `paging-${suffix}`;
      const sent: RoomMessage[] = [];
      for (let i = 0; i < 7; i++) {
        const { message, created } = await store.saveRoomMessage(roomMessage(room, `m${i}`));
        assert.equal(created, true);
        sent.push(message);
      }
      const ids = (messages: { message_id: string }[]) => messages.map((m) => m.message_id);

      const newest = await store.roomHistory(room, { limit: 3 });
      assert.deepEqual(ids(newest.messages), ids(sent.slice(4).reverse()));
      assert.equal(newest.hasMore, true);
      const older = await store.roomHistory(room, { before: sent[4]?.message_id, limit: 3 });
      assert.deepEqual(ids(older.messages), ids(sent.slice(1, 4).reverse()));
      const oldest = await store.roomHistory(room, { before: sent[1]?.message_id, limit: 3 });
      assert.deepEqual(ids(oldest.messages), [sent[0]?.message_id]);
      assert.equal(oldest.hasMore, false);

      const caughtUp = await store.roomHistory(room, { after: sent[2]?.message_id, limit: 100 });
      assert.deepEqual(ids(caughtUp.messages), ids(sent.slice(3)));
      assert.equal(caughtUp.hasMore, false);
      const between = await store.roomHistory(room, {
        after: sent[1]?.message_id,
        before: sent[5]?.message_id,
        limit: 2,
      });
      assert.deepEqual(ids(between.messages), ids(sent.slice(2, 4)));
      assert.equal(between.hasMore, true);

      assert.deepEqual(caughtUp.messages[0], { ...sent[3] });
      assert.equal((await store.roomHistory(`other-${suffix}`, { limit: 10 })).messages.length, 0);
    });

    test('a retried client_msg_id is stored once and returns the first message, also when sent concurrently', async () => {
      const room = `idem-${suffix}`;
      const first = await store.saveRoomMessage(roomMessage(room, 'once', { client_msg_id: 'c-1' }));
      const retry = await store.saveRoomMessage(roomMessage(room, 'once', { client_msg_id: 'c-1' }));
      assert.equal(first.created, true);
      assert.equal(retry.created, false);
      assert.equal(retry.message.message_id, first.message.message_id);

      const racing = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.saveRoomMessage(roomMessage(room, 'race', { client_msg_id: 'c-2' })),
        ),
      );
      assert.equal(racing.filter((r) => r.created).length, 1);
      assert.equal(new Set(racing.map((r) => r.message.message_id)).size, 1);

      // The same client_msg_id in another room, or from another user, is another message.
      assert.equal(
        (await store.saveRoomMessage(roomMessage(`${room}-b`, 'x', { client_msg_id: 'c-1' }))).created,
        true,
      );
      assert.equal(
        (await store.saveRoomMessage(roomMessage(room, 'x', { client_msg_id: 'c-1', user_id: 'bob' })))
          .created,
        true,
      );
      const history = await store.roomHistory(room, { limit: 100 });
      assert.deepEqual(history.messages.map((m) => m.message).sort(), ['once', 'race', 'x']);
    });

    test('direct messages land in both inboxes', async () => {
      const dm: DirectMessage = {
        kind: 'direct',
        from_user_id: `ann-${suffix}`,
        to_user_id: `ben-${suffix}`,
        message: 'psst',
        message_id: nextId(),
        timestamp: new Date().toISOString(),
      };
      assert.equal((await store.saveDirectMessage(dm)).created, true);
      assert.deepEqual((await store.directHistory(`ben-${suffix}`, { limit: 10 })).messages, [dm]);
      assert.deepEqual((await store.directHistory(`ann-${suffix}`, { limit: 10 })).messages, [dm]);
      assert.deepEqual((await store.directHistory(`cat-${suffix}`, { limit: 10 })).messages, []);
    });

    test('a direct message whose second inbox write failed is completed by the retry: one copy in each inbox', async () => {
      // The store talks to the backend through a proxy that resets the connection of the second inbox's write
      // once; with one attempt per call, that write's failure fails the send, as throttling beyond the retries
      // would on AWS.
      const proxy = await startFaultProxy(server.endpoint);
      const proxied = createDocumentClient({
        endpoint: proxy.url,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      const faulty = new MessageStore(proxied, { tableName, retentionSeconds: 7 * DAY });
      const [sender, recipient] = [`dan-${suffix}`, `eve-${suffix}`];
      let failed = 0;
      proxy.decide = (request) => {
        const senderInboxPut =
          dynamoOperation(request) === 'PutItem' && request.body.includes(`"inbox#${sender}"`);
        return senderInboxPut && failed++ === 0 ? RESET : FORWARD;
      };
      try {
        const dm = (): DirectMessage => ({
          kind: 'direct',
          from_user_id: sender,
          to_user_id: recipient,
          message: 'twice?',
          message_id: nextId(),
          timestamp: new Date().toISOString(),
          client_msg_id: 'dm-retry',
        });
        await assert.rejects(faulty.saveDirectMessage(dm()));
        assert.equal(failed, 1, 'the second inbox write was the one that failed');
        const retry = await faulty.saveDirectMessage(dm());
        assert.equal(retry.created, false, 'the first attempt had stored it in the recipient inbox');
        for (const user of [recipient, sender]) {
          const { messages } = await store.directHistory(user, { limit: 10 });
          assert.deepEqual(
            messages.map((m) => m.message_id),
            [retry.message.message_id],
            `exactly one copy in ${user}'s inbox`,
          );
        }
        // Later retries change nothing.
        assert.equal((await faulty.saveDirectMessage(dm())).created, false);
        assert.equal((await store.directHistory(sender, { limit: 10 })).messages.length, 1);
      } finally {
        proxied.destroy();
        await proxy.close();
      }
    });

    test('expired messages are not read back', async () => {
      const room = `expiry-${suffix}`;
      const past = new MessageStore(doc, { tableName, retentionSeconds: 1, now: () => Date.now() - 60_000 });
      await past.saveRoomMessage(roomMessage(room, 'old'));
      await store.saveRoomMessage(roomMessage(room, 'new'));
      const page = await store.roomHistory(room, { limit: 10 });
      assert.deepEqual(
        page.messages.map((m) => m.message),
        ['new'],
      );
    });
  });
}
