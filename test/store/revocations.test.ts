import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { RevocationStore } from '../../src/store/revocations.ts';
import { dynamoBackends, freshTableNames, type OpenTables, openTables } from '../support/dynamo-backends.ts';

const DAY = 86_400;

for (const backend of dynamoBackends()) {
  describe(`RevocationStore on ${backend.name}`, { skip: backend.skip }, () => {
    let doc: DynamoDBDocumentClient;
    let opened: OpenTables | undefined;
    const names = freshTableNames();
    const tableName = names.revocations;
    const at = (nowMs: number) => new RevocationStore(doc, { tableName, keepSeconds: DAY, now: () => nowMs });
    const unique = (prefix: string) => `${prefix}-${randomUUID()}`;
    const T0 = Date.UTC(2030, 0, 1, 12); // whole seconds
    const seconds = (ms: number) => Math.floor(ms / 1000);

    before(async () => {
      opened = await openTables(backend, names);
      doc = opened.doc;
    });

    after(() => opened?.close());

    test("a user's revocation refuses tokens issued before it, in its second too, and none after", async () => {
      const user = unique('u');
      const store = at(T0 + 500);
      const { acceptsIssuedFrom } = await store.revokeUser(user, T0 + 500);
      assert.equal(acceptsIssuedFrom, seconds(T0) + 1);
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) - 3600 }), 'user');
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) }), 'user', 'the same second');
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) + 1 }), undefined);
      assert.equal(await store.check({ userId: unique('other'), issuedAt: seconds(T0) - 3600 }), undefined);
      const item = (
        await doc.send(
          new GetCommand({ TableName: tableName, Key: { subject: `user#${user}` }, ConsistentRead: true }),
        )
      ).Item;
      assert.equal(item?.ttl, seconds(T0) + 1 + DAY, 'kept as long as a token may live');
    });

    test('a later revocation is not moved back by an earlier one; a later one moves it forward', async () => {
      const user = unique('u');
      const store = at(T0);
      assert.deepEqual(await store.revokeUser(user, T0), { acceptsIssuedFrom: seconds(T0) + 1 });
      // The earlier one reports the revocation in effect, not its own time.
      assert.deepEqual(await store.revokeUser(user, T0 - 60_000), { acceptsIssuedFrom: seconds(T0) + 1 });
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) - 30 }), 'user');
      assert.deepEqual(await store.revokeUser(user, T0 + 10_000), { acceptsIssuedFrom: seconds(T0) + 11 });
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) + 5 }), 'user');
    });

    test("a token's revocation refuses that jti whenever issued, and not the user's other tokens", async () => {
      const user = unique('u');
      const store = at(T0);
      await store.revokeToken('jti-1');
      assert.equal(
        await store.check({ userId: user, issuedAt: seconds(T0) + 100, tokenId: 'jti-1' }),
        'token',
      );
      assert.equal(
        await store.check({ userId: user, issuedAt: seconds(T0) - 100, tokenId: 'jti-2' }),
        undefined,
      );
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) }), undefined, 'no jti');
    });

    test('a revocation past its ttl refuses nothing, though TTL has not deleted it yet', async () => {
      const user = unique('u');
      await at(T0).revokeUser(user, T0);
      await at(T0).revokeToken('jti-old');
      const later = at(T0 + (DAY + 2) * 1000);
      assert.equal(await later.check({ userId: user, issuedAt: seconds(T0) - 1 }), undefined);
      assert.equal(await later.check({ userId: user, issuedAt: seconds(T0), tokenId: 'jti-old' }), undefined);
    });

    test('keys BatchGetItem leaves unprocessed are asked again', async () => {
      const user = unique('u');
      await at(T0).revokeUser(user, T0);
      let calls = 0;
      const throttling = {
        send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
          if (command.constructor.name !== 'BatchGetCommand') return doc.send(command as never);
          calls++;
          if (calls === 1) return { Responses: {}, UnprocessedKeys: command.input.RequestItems };
          return doc.send(command as never);
        },
      } as unknown as DynamoDBDocumentClient;
      const store = new RevocationStore(throttling, { tableName, keepSeconds: DAY, now: () => T0 });
      assert.equal(await store.check({ userId: user, issuedAt: seconds(T0) - 1 }), 'user');
      assert.equal(calls, 2);
    });
  });
}
