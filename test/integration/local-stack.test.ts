import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createTokenVerifier, DEV_JWT_SECRET } from '../../src/auth.ts';
import { startEmbeddedDynamo } from '../../src/local/dynamo.ts';
import { startLocalStack } from '../../src/local/stack.ts';
import { ChatClient, eventually, putOldRecord, startTestStack } from '../support/chat.ts';
import { localDynamoClient } from '../support/dynamo-backends.ts';

describe('local stack', () => {
  it('serves the demo page, and dev tokens only while the development secret is in use', async () => {
    const dev = await startLocalStack({ port: 0, env: { LOG_LEVEL: 'SILENT' } });
    try {
      assert.equal(dev.usingDevSecret, true);
      const page = await fetch(dev.httpUrl);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>roomcast/);
      const minted = await fetch(`${dev.httpUrl}_local/token?user=alice`);
      const { token } = (await minted.json()) as { token: string };
      const verify = createTokenVerifier(
        { kind: 'secret', secret: DEV_JWT_SECRET, algorithms: ['HS256'] },
        {
          maxLifetimeSeconds: 86_400,
        },
      );
      assert.equal((await verify(token)).userId, 'alice');
      assert.equal((await fetch(`${dev.httpUrl}_local/token?user=a%20b`)).status, 400);
    } finally {
      await dev.close();
    }

    const configured = await startTestStack();
    try {
      assert.equal(configured.usingDevSecret, false);
      assert.equal((await fetch(`${configured.httpUrl}_local/token?user=alice`)).status, 404);
    } finally {
      await configured.close();
    }
  });

  it('keeps the store across restarts with a data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-data-'));
    try {
      const first = await startTestStack({ dataDir });
      const writer = await ChatClient.connect(first, 'u1', 'kept');
      writer.send({ action: 'sendMessage', message: 'still here', client_msg_id: 'kept-1' });
      await writer.next((frame) => frame.client_msg_id === 'kept-1');
      // A record as a crashed process leaves it (no $disconnect).
      await first.deps.connections.put({ connectionId: 'KeptAcrossRuns0=', roomId: 'kept', userId: 'u1' });
      await first.close();

      const second = await startTestStack({ dataDir });
      try {
        const page = await second.deps.messages.roomHistory('kept', { afterSeq: 0, limit: 10 });
        assert.deepEqual(
          page.messages.map((message) => message.message),
          ['still here'],
        );
        // Connections do not outlive their process: the records it left are removed at start.
        assert.equal(second.staleConnectionsRemoved, 1);
        assert.equal(await second.deps.connections.get('KeptAcrossRuns0='), undefined);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a data directory whose messages table an older version made, saying what to do', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-old-'));
    const store = await startEmbeddedDynamo({ path: dataDir });
    const client = localDynamoClient(store.endpoint);
    let stored = true;
    try {
      // The messages table as versions before seqs made it.
      await client.send(
        new CreateTableCommand({
          TableName: 'chat_messages',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'room_id', AttributeType: 'S' },
            { AttributeName: 'message_id', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'room_id', KeyType: 'HASH' },
            { AttributeName: 'message_id', KeyType: 'RANGE' },
          ],
        }),
      );
      client.destroy();
      await store.close();
      stored = false;
      await assert.rejects(startTestStack({ dataDir }), (error: Error) => {
        assert.match(
          error.message,
          /chat_messages has the keys room_id \(S, HASH\), message_id \(S, RANGE\)/,
        );
        assert.match(error.message, /needs stream \(S, HASH\), seq \(N, RANGE\)/);
        assert.match(error.message, /new --data-dir/);
        return true;
      });
    } finally {
      client.destroy();
      if (stored) await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('closes every connection with 1001 and runs its $disconnect before the store stops', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roomcast-data-'));
    try {
      const stack = await startTestStack({ dataDir });
      const client = await ChatClient.connect(stack, 'ivy', 'closing');
      assert.equal((await stack.deps.connections.roomMembers('closing')).length, 1);
      const closed = new Promise<number>((resolve) => client.socket.once('close', resolve));
      await stack.close();
      assert.equal(await closed, 1001);
      // A second close (a test's cleanup after a restart, a signal after an error) returns, as the first did.
      await stack.close();

      const after = await startTestStack({ dataDir });
      try {
        assert.deepEqual(await after.deps.connections.roomMembers('closing'), []);
      } finally {
        await after.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('management transport', () => {
  for (const transport of ['in-process', 'http'] as const) {
    it(`delivers and prunes through the ${transport} transport`, async () => {
      const stack = await startTestStack({ managementTransport: transport });
      try {
        const a = await ChatClient.connect(stack, 'a', 'transport');
        const b = await ChatClient.connect(stack, 'b', 'transport');
        await putOldRecord(stack, { connectionId: 'TransportGhost0=', roomId: 'transport', userId: 'ghost' });
        a.send({ action: 'sendMessage', message: `via ${transport}` });
        assert.equal((await b.next((f) => f.action === 'message')).message, `via ${transport}`);
        await eventually(
          () => stack.deps.connections.get('TransportGhost0='),
          (record) => record === undefined,
        );
        await Promise.all([a.close(), b.close()]);
      } finally {
        await stack.close();
      }
    });
  }
});
