import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import {
  type DirectMessage,
  MessageStore,
  type NewMessage,
  type RoomMessage,
  SEQ_TIMING,
  type StoredMessage,
} from '../../src/store/messages.ts';
import { createDocumentClient, keyAttributes, messagesTable } from '../../src/store/tables.ts';
import {
  type DynamoBackend,
  dynamoBackends,
  freshTableNames,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type OpenTables,
  openTables,
} from '../support/dynamo-backends.ts';
import {
  dynamoOperation,
  type FaultProxy,
  FORWARD,
  LOSE,
  type ProxyDecision,
  RESET,
  startFaultProxy,
} from '../support/fault-proxy.ts';

const DAY = 86_400;
const THROTTLED: ProxyDecision = {
  kind: 'respond',
  status: 400,
  body: JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'injected throttling',
  }),
};

for (const backend of dynamoBackends()) {
  describe(`MessageStore on ${backend.name}`, { skip: backend.skip }, () => {
    let server: DynamoBackend;
    let client: DynamoDBClient;
    let doc: DynamoDBDocumentClient;
    let opened: OpenTables | undefined;
    const names = freshTableNames();
    const tableName = names.messages;
    /** Makes the ids of this run's rooms and users its own. */
    const suffix = randomUUID().slice(0, 8);
    const nextId = monotonicFactory();
    let store: MessageStore;

    const roomMessage = (
      room: string,
      text: string,
      extra: Partial<RoomMessage> = {},
    ): NewMessage<RoomMessage> => ({
      kind: 'room',
      room_id: room,
      user_id: 'alice',
      message: text,
      message_id: nextId(),
      timestamp: new Date().toISOString(),
      ...extra,
    });
    const storeAt = (now: () => number, target = doc) =>
      new MessageStore(target, { tableName, retentionSeconds: 7 * DAY, now });
    /** Moves a stream's counter to `last`, as writers that took those seqs and never wrote would have. */
    const takeUnwritten = (stream: string, last: number) =>
      doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { stream: `seq#${stream}`, seq: 0 },
          UpdateExpression: 'SET #last = :n, #at = :at',
          ExpressionAttributeNames: { '#last': 'last', '#at': 'at' },
          ExpressionAttributeValues: { ':n': last, ':at': Date.now() },
        }),
      );
    /** Every item of a stream, voids included: what is stored at each seq. */
    const streamItems = async (stream: string) => {
      const { Items = [] } = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#s = :s',
          ExpressionAttributeNames: { '#s': messagesTable.hashKey },
          ExpressionAttributeValues: { ':s': stream },
          ConsistentRead: true,
        }),
      );
      return Items.map((item) => ({
        seq: item.seq as number,
        kind: item.kind as string,
        text: item.message,
      }));
    };
    const proxied = async (decide: FaultProxy['decide']) => {
      const proxy = await startFaultProxy(server.endpoint);
      proxy.decide = decide;
      const through = createDocumentClient({
        endpoint: proxy.url,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      return {
        proxy,
        doc: through,
        close: async () => {
          through.destroy();
          await proxy.close();
        },
      };
    };
    const seqs = (messages: readonly StoredMessage[]) => messages.map((m) => m.seq);

    before(async () => {
      opened = await openTables(backend, names);
      ({ server, client, doc } = opened);
      store = new MessageStore(doc, { tableName, retentionSeconds: 7 * DAY });
    });

    after(() => opened?.close());

    test('the table has stream + seq keys, seq a number, and no other attribute definitions', async () => {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      assert.deepEqual(
        Table?.AttributeDefinitions?.map((a) => `${a.AttributeName}:${a.AttributeType}`).sort(),
        keyAttributes(messagesTable)
          .map((key) => `${key.name}:${key.type}`)
          .sort(),
      );
      assert.deepEqual(
        Table?.KeySchema?.map((k) => `${k.AttributeName}:${k.KeyType}`),
        ['stream:HASH', 'seq:RANGE'],
      );
    });

    test('numbers a room 1, 2, 3, … and reads it forward after a seq and backward before one', async () => {
      const room = `paging-${suffix}`;
      const sent: RoomMessage[] = [];
      for (let i = 0; i < 7; i++) {
        const { message, created } = await store.saveRoomMessage(roomMessage(room, `m${i}`));
        assert.equal(created, true);
        sent.push(message);
      }
      assert.deepEqual(seqs(sent), [1, 2, 3, 4, 5, 6, 7]);

      const all = await store.roomHistory(room, { afterSeq: 0, limit: 100 });
      assert.deepEqual(all.messages, sent);
      assert.deepEqual([all.throughSeq, all.latestSeq, all.hasMore], [7, 7, false]);
      const part = await store.roomHistory(room, { afterSeq: 2, limit: 2 });
      assert.deepEqual(seqs(part.messages), [3, 4]);
      assert.deepEqual([part.throughSeq, part.hasMore], [4, true]);
      const none = await store.roomHistory(room, { afterSeq: 7, limit: 2 });
      assert.deepEqual([none.messages, none.throughSeq, none.hasMore], [[], 7, false]);

      const newest = await store.roomHistory(room, { limit: 3 });
      assert.deepEqual(seqs(newest.messages), [7, 6, 5]);
      assert.deepEqual([newest.throughSeq, newest.latestSeq, newest.hasMore], [undefined, 7, true]);
      const older = await store.roomHistory(room, { beforeSeq: 5, limit: 3 });
      assert.deepEqual(seqs(older.messages), [4, 3, 2]);
      const oldest = await store.roomHistory(room, { beforeSeq: 2, limit: 3 });
      assert.deepEqual([seqs(oldest.messages), oldest.hasMore], [[1], false]);

      // Another room counts on its own; a room never written to is at 0.
      assert.equal((await store.saveRoomMessage(roomMessage(`${room}-b`, 'x'))).message.seq, 1);
      const empty = await store.roomHistory(`never-${suffix}`, { afterSeq: 0, limit: 10 });
      assert.deepEqual([empty.messages, empty.throughSeq, empty.latestSeq], [[], 0, 0]);
      assert.equal(await store.roomLatestSeq(room), 7);
    });

    test('concurrent senders get exactly the seqs 1…N, and history reads them in seq order', async () => {
      const room = `concurrent-${suffix}`;
      const saved = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.saveRoomMessage(roomMessage(room, `c${i}`))),
      );
      assert.deepEqual(
        saved.map((copy) => copy.message.seq).sort((a, b) => a - b),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      const page = await store.roomHistory(room, { afterSeq: 0, limit: 100 });
      assert.deepEqual(
        page.messages,
        saved.map((copy) => copy.message).sort((a, b) => a.seq - b.seq),
      );
      assert.equal(page.throughSeq, 40);
    });

    test('a retried client_msg_id is stored once and returns the first message, also when sent concurrently', async () => {
      const room = `idem-${suffix}`;
      const first = await store.saveRoomMessage(roomMessage(room, 'once', { client_msg_id: 'c-1' }));
      const retry = await store.saveRoomMessage(roomMessage(room, 'once', { client_msg_id: 'c-1' }));
      assert.equal(first.created, true);
      assert.equal(retry.created, false);
      assert.deepEqual(retry.message, first.message);
      // A retry takes no seq: an empty seq would hold ordered readers back until they read it as settled.
      assert.equal(await store.roomLatestSeq(room), 1);

      const racing = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.saveRoomMessage(roomMessage(room, 'race', { client_msg_id: 'c-2' })),
        ),
      );
      assert.equal(racing.filter((r) => r.created).length, 1);
      assert.equal(new Set(racing.map((r) => `${r.message.message_id}@${r.message.seq}`)).size, 1);

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
      // The seqs the losing sends took are voided at once: a reader is not kept waiting for them.
      const page = await store.roomHistory(room, { afterSeq: 0, limit: 100 });
      assert.deepEqual(
        page.messages.map((m) => m.message),
        ['once', 'race', 'x'],
      );
      assert.equal(page.throughSeq, page.latestSeq);
    });

    test('direct messages land in both inboxes, each copy numbered in its own inbox', async () => {
      const [ann, ben, cat] = [`ann-${suffix}`, `ben-${suffix}`, `cat-${suffix}`];
      const dm = (from: string, to: string, text: string): NewMessage<DirectMessage> => ({
        kind: 'direct',
        from_user_id: from,
        to_user_id: to,
        message: text,
        message_id: nextId(),
        timestamp: new Date().toISOString(),
      });
      const first = await store.saveDirectMessage(dm(ann, ben, 'psst'));
      assert.deepEqual([first.recipient.created, first.sender.created], [true, true]);
      assert.deepEqual([first.recipient.message.seq, first.sender.message.seq], [1, 1]);
      await store.saveDirectMessage(dm(cat, ann, 'hi ann'));
      const reply = await store.saveDirectMessage(dm(ben, ann, 'what?'));
      assert.deepEqual([reply.recipient.message.seq, reply.sender.message.seq], [3, 2]);
      const self = await store.saveDirectMessage(dm(cat, cat, 'note to self'));
      assert.equal(self.recipient, self.sender, 'one copy when users message themselves');

      const inbox = async (user: string) =>
        (await store.directHistory(user, { afterSeq: 0, limit: 10 })).messages.map(
          (m) => `${m.seq}:${m.message}`,
        );
      assert.deepEqual(await inbox(ann), ['1:psst', '2:hi ann', '3:what?']);
      assert.deepEqual(await inbox(ben), ['1:psst', '2:what?']);
      assert.deepEqual(await inbox(cat), ['1:hi ann', '2:note to self']);
      assert.deepEqual(await inbox(`dan-${suffix}`), []);
      assert.deepEqual(await store.latestSeqs([`never-${suffix}`], ann), {
        rooms: { [`never-${suffix}`]: 0 },
        direct: 3,
      });
    });

    test('a direct message whose second inbox write failed is completed by the retry: one copy in each inbox', async () => {
      // The second inbox's write is reset once; with one attempt per call that fails the send, as throttling
      // beyond the SDK's retries would on AWS.
      const [sender, recipient] = [`dan-${suffix}`, `eve-${suffix}`];
      let failed = 0;
      const faulty = await proxied((request) => {
        const senderInboxPut =
          dynamoOperation(request) === 'PutItem' &&
          request.body.includes(`"inbox#${sender}"`) &&
          request.body.includes('"message_id"');
        return senderInboxPut && failed++ === 0 ? RESET : FORWARD;
      });
      try {
        const faultyStore = storeAt(Date.now, faulty.doc);
        const dm = (): NewMessage<DirectMessage> => ({
          kind: 'direct',
          from_user_id: sender,
          to_user_id: recipient,
          message: 'twice?',
          message_id: nextId(),
          timestamp: new Date().toISOString(),
          client_msg_id: 'dm-retry',
        });
        await assert.rejects(faultyStore.saveDirectMessage(dm()));
        assert.equal(failed, 1, 'the second inbox write was the one that failed');
        const retry = await faultyStore.saveDirectMessage(dm());
        assert.equal(
          retry.recipient.created,
          false,
          'the first attempt had stored it in the recipient inbox',
        );
        assert.equal(retry.sender.created, true, 'the retry wrote the missing copy');
        for (const user of [recipient, sender]) {
          const page = await store.directHistory(user, { afterSeq: 0, limit: 10 });
          assert.deepEqual(
            page.messages.map((m) => m.message_id),
            [retry.recipient.message.message_id],
            `exactly one copy in ${user}'s inbox`,
          );
          assert.equal(page.throughSeq, page.latestSeq, `no unsettled seq in ${user}'s inbox`);
        }
        // Later retries change nothing.
        const again = await faultyStore.saveDirectMessage(dm());
        assert.deepEqual([again.recipient.created, again.sender.created], [false, false]);
        assert.equal(again.sender.message.seq, retry.sender.message.seq);
        assert.equal((await store.directHistory(sender, { limit: 10 })).messages.length, 1);
        assert.equal(await store.hasDirectMessage(sender, recipient, 'dm-retry'), true);
        assert.equal(await store.hasDirectMessage(sender, recipient, 'other'), false);
      } finally {
        await faulty.close();
      }
    });

    test('a put whose answer was lost is retried by the SDK and still delivered by the send that made it', async () => {
      // The first put into `lost` (a marker's or a message's, depending on the room) is carried out, and its
      // answer never arrives: the SDK sends it again and is refused, as the item is there.
      const lost = new Map<string, number>();
      const lossy = await proxied((request) => {
        const key = [
          'idem#',
          `"stream":{"S":"lost-item-${suffix}"}`,
          `"stream":{"S":"inbox#gus-${suffix}"}`,
        ].find((part) => request.body.includes(part));
        if (dynamoOperation(request) !== 'PutItem' || !key) return FORWARD;
        lost.set(key, (lost.get(key) ?? 0) + 1);
        return lost.get(key) === 1 ? LOSE : FORWARD;
      });
      const retrying = createDocumentClient({
        endpoint: lossy.proxy.url,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 3,
      });
      try {
        const writer = storeAt(Date.now, retrying);
        for (const room of [`lost-marker-${suffix}`, `lost-item-${suffix}`]) {
          const saved = await writer.saveRoomMessage(
            roomMessage(room, 'answer lost', { client_msg_id: 'lost-1' }),
          );
          assert.deepEqual([saved.message.seq, saved.created], [1, true], room);
          assert.equal(await store.roomLatestSeq(room), 1, `${room}: no seq wasted`);
        }
        const direct = await writer.saveDirectMessage({
          kind: 'direct',
          from_user_id: `fay-${suffix}`,
          to_user_id: `gus-${suffix}`,
          message: 'also lost',
          message_id: nextId(),
          timestamp: new Date().toISOString(),
        });
        assert.deepEqual([direct.recipient.created, direct.sender.created], [true, true]);
        assert.deepEqual(
          [...lost.values()].map((puts) => puts >= 2),
          [true, true, true],
          'each lost put was sent again',
        );
      } finally {
        retrying.destroy();
        await lossy.close();
      }
    });

    test('a direct message whose seq in one inbox could not be taken voids the other at once', async () => {
      const [from, to] = [`hal-${suffix}`, `ivy-${suffix}`];
      let failed = 0;
      const faulty = await proxied((request) =>
        dynamoOperation(request) === 'UpdateItem' &&
        request.body.includes(`seq#inbox#${from}`) &&
        failed++ === 0
          ? THROTTLED
          : FORWARD,
      );
      try {
        await assert.rejects(
          storeAt(Date.now, faulty.doc).saveDirectMessage({
            kind: 'direct',
            from_user_id: from,
            to_user_id: to,
            message: 'half',
            message_id: nextId(),
            timestamp: new Date().toISOString(),
          }),
        );
        // Without waiting for the hole to age: it is settled already.
        const inbox = await store.directHistory(to, { afterSeq: 0, limit: 10 });
        assert.deepEqual([inbox.messages, inbox.throughSeq, inbox.latestSeq], [[], 1, 1]);
      } finally {
        await faulty.close();
      }
    });

    test('a seq whose write failed is waited for, then voided: readers skip it, never past a message', async () => {
      const room = `hole-${suffix}`;
      // Every write into the room fails while `failing`: the message and the writer's own void alike, as when
      // DynamoDB throttles the partition.
      let failing = false;
      const faulty = await proxied((request) =>
        failing && dynamoOperation(request) === 'PutItem' && request.body.includes(`"${room}"`)
          ? RESET
          : FORWARD,
      );
      try {
        const writer = storeAt(Date.now, faulty.doc);
        await writer.saveRoomMessage(roomMessage(room, 'one'));
        failing = true;
        await assert.rejects(writer.saveRoomMessage(roomMessage(room, 'lost')));
        failing = false;
        await writer.saveRoomMessage(roomMessage(room, 'three'));

        let clock = Date.now();
        const reader = storeAt(() => clock);
        const waiting = await reader.roomHistory(room, { afterSeq: 0, limit: 10 });
        assert.deepEqual(seqs(waiting.messages), [1]);
        assert.deepEqual([waiting.throughSeq, waiting.latestSeq, waiting.hasMore], [1, 3, false]);
        assert.deepEqual(seqs((await reader.roomHistory(room, { limit: 10 })).messages), [3, 1]);

        clock += SEQ_TIMING.holePendingMs;
        const settled = await reader.roomHistory(room, { afterSeq: 1, limit: 10 });
        assert.deepEqual([seqs(settled.messages), settled.throughSeq, settled.hasMore], [[3], 3, false]);
        assert.deepEqual(
          (await streamItems(room)).map((item) => `${item.seq}:${item.kind}`),
          ['1:room', '2:void', '3:room'],
        );

        // A hole at the tail is bounded by the counter's time.
        failing = true;
        await assert.rejects(writer.saveRoomMessage(roomMessage(room, 'lost too')));
        failing = false;
        clock = Date.now();
        const tail = await reader.roomHistory(room, { afterSeq: 3, limit: 10 });
        assert.deepEqual([tail.messages, tail.throughSeq, tail.latestSeq, tail.hasMore], [[], 3, 4, false]);
        clock += SEQ_TIMING.holePendingMs;
        const tailSettled = await reader.roomHistory(room, { afterSeq: 3, limit: 10 });
        assert.deepEqual([tailSettled.messages, tailSettled.throughSeq], [[], 4]);
      } finally {
        await faulty.close();
      }
    });

    test('a writer that finds its seq voided takes a new one: a late write never lands behind a reader', async () => {
      const room = `late-${suffix}`;
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let holding: () => void = () => {};
      const reached = new Promise<void>((resolve) => {
        holding = resolve;
      });
      let first = true;
      const slow = await proxied((request) => {
        if (dynamoOperation(request) !== 'PutItem' || !request.body.includes('"message_id"') || !first)
          return FORWARD;
        first = false;
        holding();
        return { kind: 'hold', until: held };
      });
      try {
        const writing = storeAt(Date.now, slow.doc).saveRoomMessage(roomMessage(room, 'slow'));
        await reached;
        // The writer has taken seq 1 and its put is on the way; a reader who waited long enough voids seq 1.
        const reader = storeAt(() => Date.now() + SEQ_TIMING.holePendingMs);
        const skipped = await reader.roomHistory(room, { afterSeq: 0, limit: 10 });
        assert.deepEqual([skipped.messages, skipped.throughSeq], [[], 1]);
        release();
        const { message, created } = await writing;
        assert.deepEqual([message.seq, created], [2, true]);
        const next = await reader.roomHistory(room, { afterSeq: 1, limit: 10 });
        assert.deepEqual(seqs(next.messages), [2]);
      } finally {
        release();
        await slow.close();
      }
    });

    test('a writer past its write deadline voids its own seq and writes at a new one', async () => {
      const room = `deadline-${suffix}`;
      const start = Date.now();
      let calls = 0;
      // The first reading of the clock is the allocation; every later one is past the deadline.
      const late = storeAt(() => start + Math.min(calls++, 1) * (SEQ_TIMING.writeDeadlineMs + 1));
      const { message } = await late.saveRoomMessage(roomMessage(room, 'late'));
      assert.equal(message.seq, 2);
      assert.deepEqual(
        (await streamItems(room)).map((item) => `${item.seq}:${item.kind}`),
        ['1:void', '2:room'],
      );
    });

    test('long-missing seqs: a read voids at most its budget, and none past the void window', async () => {
      const room = `budget-${suffix}`;
      // 150 seqs taken by writers that never wrote (a counter bumped by hand), then one message.
      await takeUnwritten(room, 150);
      await store.saveRoomMessage(roomMessage(room, 'after the gap'));
      const reader = storeAt(() => Date.now() + SEQ_TIMING.holePendingMs);
      const first = await reader.roomHistory(room, { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        [first.messages, first.throughSeq, first.hasMore],
        [[], SEQ_TIMING.maxVoidsPerRead, true],
      );
      const second = await reader.roomHistory(room, { afterSeq: first.throughSeq ?? 0, limit: 10 });
      assert.deepEqual([seqs(second.messages), second.throughSeq, second.hasMore], [[151], 151, false]);

      const old = `old-${suffix}`;
      await takeUnwritten(old, 150);
      await store.saveRoomMessage(roomMessage(old, 'long after'));
      const much = storeAt(() => Date.now() + SEQ_TIMING.holeVoidWindowMs);
      const page = await much.roomHistory(old, { afterSeq: 0, limit: 10 });
      assert.deepEqual([seqs(page.messages), page.throughSeq], [[151], 151]);
      assert.deepEqual(await streamItems(old), [{ seq: 151, kind: 'room', text: 'long after' }]);
    });

    test('reads past many voids in few Queries, and pages back past them', async () => {
      const room = `voids-${suffix}`;
      await store.saveRoomMessage(roomMessage(room, 'before the voids'));
      const empty = 1_050;
      await takeUnwritten(room, 1 + empty);
      const reader = storeAt(() => Date.now() + SEQ_TIMING.holePendingMs);
      for (let page = await reader.roomHistory(room, { afterSeq: 1, limit: 1 }); page.hasMore; ) {
        page = await reader.roomHistory(room, { afterSeq: page.throughSeq ?? 1, limit: 1 });
      }
      await store.saveRoomMessage(roomMessage(room, 'after the voids'));
      const counting = await proxied(() => FORWARD);
      try {
        const counted = storeAt(Date.now, counting.doc);
        const queries = () => counting.proxy.requests.filter((r) => dynamoOperation(r) === 'Query').length;
        const forward = await counted.roomHistory(room, { afterSeq: 1, limit: 1 });
        assert.deepEqual(seqs(forward.messages), [], 'the budget of items ran out before the next message');
        assert.equal(forward.hasMore, true);
        assert.ok(queries() <= 11, `${queries()} Queries for one page of limit 1`);
        // Paging back from the newest: the read stops in the voids, and says where to go on.
        let back = await counted.roomHistory(room, { limit: 1 });
        const found = [...back.messages];
        while (back.hasMore && found.length < 2) {
          back = await counted.roomHistory(room, { beforeSeq: back.nextBeforeSeq, limit: 1 });
          found.push(...back.messages);
        }
        assert.deepEqual(
          found.map((m) => m.message),
          ['after the voids', 'before the voids'],
        );
      } finally {
        await counting.close();
      }
    });

    test('under injected throttling, every seq ends up a message or a void, and each send is stored once', async () => {
      const room = `throttled-${suffix}`;
      let seed = 7;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const faulty = await proxied((request) => {
        const write = ['PutItem', 'UpdateItem'].includes(dynamoOperation(request));
        return write && random() < 0.25 ? THROTTLED : FORWARD;
      });
      try {
        const writer = storeAt(Date.now, faulty.doc);
        const senders = Array.from({ length: 30 }, (_, i) => `t${i}`);
        let failures = 0;
        await Promise.all(
          senders.map(async (id) => {
            // What the SDK does: resend with the same client_msg_id until the server has it.
            for (let attempt = 0; ; attempt++) {
              try {
                return await writer.saveRoomMessage(roomMessage(room, id, { client_msg_id: id }));
              } catch (error) {
                failures++;
                if (attempt > 50) throw error;
              }
            }
          }),
        );
        assert.ok(failures > 0, 'the throttling failed some sends');
        const reader = storeAt(() => Date.now() + SEQ_TIMING.holePendingMs);
        const messages: StoredMessage[] = [];
        let page = await reader.roomHistory(room, { afterSeq: 0, limit: 100 });
        messages.push(...page.messages);
        while (page.hasMore) {
          page = await reader.roomHistory(room, { afterSeq: page.throughSeq ?? 0, limit: 100 });
          messages.push(...page.messages);
        }
        assert.equal(page.throughSeq, page.latestSeq, 'every seq is settled');
        assert.deepEqual(messages.map((m) => m.message).sort(), [...senders].sort(), 'each send once');
        const items = await streamItems(room);
        assert.deepEqual(
          items.map((item) => item.seq),
          Array.from({ length: page.latestSeq }, (_, i) => i + 1),
          'messages and voids are exactly 1…latest',
        );
      } finally {
        await faulty.close();
      }
    });

    test('expired messages are not read back', async () => {
      const room = `expiry-${suffix}`;
      const past = new MessageStore(doc, { tableName, retentionSeconds: 1, now: () => Date.now() - 60_000 });
      await past.saveRoomMessage(roomMessage(room, 'old'));
      await store.saveRoomMessage(roomMessage(room, 'new'));
      const backward = await store.roomHistory(room, { limit: 10 });
      assert.deepEqual(
        backward.messages.map((m) => m.message),
        ['new'],
      );
      const forward = await store.roomHistory(room, { afterSeq: 0, limit: 10 });
      assert.deepEqual([seqs(forward.messages), forward.throughSeq], [[2], 2]);
    });
  });
}
