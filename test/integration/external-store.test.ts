import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, eventually, putOldRecord, startTestStack } from '../support/chat.ts';
import { type DynamoBackend, dynamoBackends } from '../support/dynamo-backends.ts';

const ddbLocal = dynamoBackends().find((backend) => backend.name === 'dynamodb-local');

describe('local stack on DynamoDB Local through DYNAMODB_ENDPOINT', {
  skip: ddbLocal?.skip ?? !ddbLocal,
}, () => {
  let backend: DynamoBackend;
  let stack: LocalStack;

  before(async () => {
    backend = await (ddbLocal as NonNullable<typeof ddbLocal>).start();
    stack = await startTestStack({ env: { DYNAMODB_ENDPOINT: backend.endpoint } });
  });
  after(async () => {
    await stack?.close();
    await backend?.close();
  });

  it('creates the tables there and serves chat end to end', async () => {
    assert.equal(stack.embeddedStore, false);
    assert.equal(stack.dynamodbEndpoint, backend.endpoint);
    const alice = await ChatClient.connect(stack, 'alice', 'lobby');
    const bob = await ChatClient.connect(stack, 'bob', 'lobby');
    await putOldRecord(stack, { connectionId: 'GhostOnDdbLocal=', roomId: 'lobby', userId: 'ghost' });

    alice.send({ action: 'sendMessage', message: 'on DynamoDB Local' });
    assert.equal((await bob.next((frame) => frame.action === 'message')).user_id, 'alice');
    await eventually(
      () => stack.deps.connections.get('GhostOnDdbLocal='),
      (record) => record === undefined,
    );

    await alice.close();
    await bob.close();
    await eventually(
      () => stack.deps.connections.roomMembers('lobby'),
      (members) => members.length === 0,
    );
  });
});
