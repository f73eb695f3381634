import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AdminClient, AdminError, createAdminClient } from '@roomcast/admin';
import { signDevToken } from '../../src/auth.ts';
import type { LocalStack } from '../../src/local/stack.ts';
import {
  adminClientFor,
  ChatClient,
  type Frame,
  handshakeStatus,
  startTestStack,
  TEST_SECRET,
} from '../support/chat.ts';

/**
 * What operators do from outside the chat (src/admin.ts), through the admin function as `roomcast` calls it: the
 * AWS SDK's Lambda Invoke over HTTP, signed with the key pair the local stack checks, against real WebSocket
 * clients.
 */
describe('operations: publish and revoke through the admin function', () => {
  let stack: LocalStack;
  let admin: AdminClient;
  const open: ChatClient[] = [];
  const connect = async (...args: Parameters<typeof ChatClient.connect>) => {
    const client = await ChatClient.connect(...args);
    open.push(client);
    return client;
  };

  before(async () => {
    // The revoke's second sweep (2 s later) without the wait: the tests look at the first.
    stack = await startTestStack({ depsOverrides: { sleep: async () => {} } });
    admin = adminClientFor(stack);
  });

  after(async () => {
    await Promise.all(open.map((client) => client.close()));
    admin?.destroy();
    await stack?.close();
  });

  describe('publish', () => {
    it('stores a room message from the system and delivers it to every member, marked as such', async () => {
      const alice = await connect(stack, 'alice', 'ops-room');
      const bob = await connect(stack, 'bob', 'ops-room');
      const result = await admin.publish({ room_id: 'ops-room', message: 'maintenance at 22:00' });
      assert.equal(result.ok, true);
      assert.equal(result.retried, false);
      assert.equal(result.connections, 2);
      for (const client of [alice, bob]) {
        const frame = await client.next((f) => f.action === 'message');
        assert.deepEqual(
          { ...frame, timestamp: undefined, client_msg_id: undefined },
          {
            action: 'message',
            room_id: 'ops-room',
            user_id: 'system',
            system: true,
            message: 'maintenance at 22:00',
            message_id: result.message_id,
            seq: result.seq,
            timestamp: undefined,
            client_msg_id: undefined,
          },
        );
      }
      const page = await alice.request({ action: 'getHistory', room_id: 'ops-room', limit: 10 });
      const stored = (page.messages as Frame[]).find((m) => m.message_id === result.message_id);
      assert.equal(stored?.system, true, 'history keeps the mark');
    });

    it('a client cannot forge it: a sendMessage that claims to be the system is stored as its sender', async () => {
      const alice = await connect(stack, 'alice', 'forge-room');
      const mallory = await connect(stack, 'mallory', 'forge-room');
      mallory.send({ action: 'sendMessage', message: 'obey', system: true, user_id: 'system' });
      const frame = await alice.next((f) => f.action === 'message' || f.action === 'error');
      if (frame.action === 'message') {
        assert.equal(frame.user_id, 'mallory');
        assert.equal(frame.system, undefined);
      }
      // Either refused or stored as mallory's: in neither case marked.
      const page = await alice.request({ action: 'getHistory', room_id: 'forge-room', limit: 10 });
      assert.ok((page.messages as Frame[]).every((m) => m.system === undefined && m.user_id !== 'system'));
    });

    it('to one user: every connection of theirs gets it, it is in their inbox only, and nobody else hears it', async () => {
      const carol1 = await connect(stack, 'carol', null);
      const carol2 = await connect(stack, 'carol', null);
      const dave = await connect(stack, 'dave', null);
      // A user whose id is the sender's name gets no copy: a system message has no sender's inbox.
      const system = await connect(stack, 'system', null);
      const result = await admin.publish({
        to_user_id: 'carol',
        message: 'your plan renews',
        sender: 'billing',
      });
      assert.equal(result.connections, 2);
      for (const client of [carol1, carol2]) {
        const frame = await client.next((f) => f.action === 'direct');
        assert.equal(frame.from_user_id, 'billing');
        assert.equal(frame.to_user_id, 'carol');
        assert.equal(frame.system, true);
        assert.equal(frame.seq, result.seq);
      }
      await dave.expectOnlyPong();
      await system.expectOnlyPong();
      const inbox = await system.request({ action: 'getHistory', direct: true, limit: 10 });
      assert.deepEqual(inbox.messages, [], 'no copy in the inbox of a user named like the sender');
      const carolInbox = await carol1.request({ action: 'getHistory', direct: true, limit: 10 });
      assert.deepEqual(
        (carolInbox.messages as Frame[]).map((m) => [m.message_id, m.system]),
        [[result.message_id, true]],
      );
    });

    it('a user who is not connected still gets it in their inbox', async () => {
      const result = await admin.publish({ to_user_id: 'erin', message: 'welcome' });
      assert.equal(result.connections, 0);
      const erin = await connect(stack, 'erin', null);
      const inbox = await erin.request({ action: 'getHistory', direct: true, limit: 10 });
      assert.deepEqual(
        (inbox.messages as Frame[]).map((m) => m.message_id),
        [result.message_id],
      );
    });

    it('a publish repeated with its client_msg_id stores and delivers nothing twice', async () => {
      const frank = await connect(stack, 'frank', 'retry-room');
      const first = await admin.publish({ room_id: 'retry-room', message: 'once', client_msg_id: 'job-42' });
      const again = await admin.publish({ room_id: 'retry-room', message: 'once', client_msg_id: 'job-42' });
      assert.equal(again.retried, true);
      assert.equal(again.seq, first.seq);
      assert.equal(again.message_id, first.message_id);
      await frank.next((f) => f.action === 'message');
      await frank.expectOnlyPong();
    });

    it('a client_msg_id given as undefined still gets one made up: a retried call stores once', async () => {
      const hugo = await connect(stack, 'hugo', 'undefined-id-room');
      const maybeId: string | undefined = undefined;
      await admin.publish({ room_id: 'undefined-id-room', message: 'with an id', client_msg_id: maybeId });
      const frame = await hugo.next((f) => f.action === 'message');
      assert.match(String(frame.client_msg_id), /^[0-9a-f-]{36}$/);
    });

    it('publish always publishes: an `op` among the fields of a request built from other data is overridden', async () => {
      const iris = await connect(stack, 'iris', 'op-room');
      const fromElsewhere = { op: 'revoke' as const, user_id: 'iris', room_id: 'op-room', message: 'hi' };
      // A request built from a body: the SDK's types cannot see the `op` or `user_id` in it.
      const result = await admin
        .publish(fromElsewhere as Parameters<AdminClient['publish']>[0])
        .catch((error: unknown) => error);
      // Published it would have been, but user_id is no field of a publish: refused whole, and iris not revoked.
      assert.ok(result instanceof AdminError && result.code === 'BAD_REQUEST', String(result));
      assert.match(result.message, /user_id/);
      await iris.expectOnlyPong();
      // Without the stray field: published, whatever `op` the data said.
      const published = await admin.publish({ ...fromElsewhere, user_id: undefined } as never);
      assert.equal(published.op, 'publish');
      assert.equal((await iris.next((f) => f.action === 'message')).message, 'hi');
    });

    it('refuses what is not a valid publish with BAD_REQUEST, and stores nothing', async () => {
      const grace = await connect(stack, 'grace', 'strict-room');
      const refusals: Array<Parameters<AdminClient['publish']>[0]> = [
        { room_id: 'strict-room', to_user_id: 'grace', message: 'both' },
        { message: 'neither' },
        { room_id: 'no spaces allowed', message: 'bad room' },
        { room_id: 'strict-room', message: '' },
        { room_id: 'strict-room', message: 'x'.repeat(stack.config.maxMessageChars + 1) },
        { room_id: 'strict-room', message: 'long sender', sender: 's'.repeat(129) },
        // Not a field of the contract (a misspelt `sender`): refused, not dropped.
        { room_id: 'strict-room', message: 'typo', senderName: 'ops' } as Parameters<
          AdminClient['publish']
        >[0],
      ];
      for (const request of refusals) {
        await assert.rejects(
          admin.publish(request),
          (error: unknown) => error instanceof AdminError && error.code === 'BAD_REQUEST',
          JSON.stringify(request).slice(0, 80),
        );
      }
      await grace.expectOnlyPong();
    });
  });

  describe('revoke', () => {
    it("closes the user's live connections, refuses the old token, and takes a new one", async () => {
      const issuedAtMs = Date.now() - 10_000;
      const old = await signDevToken(TEST_SECRET, 'henry', { issuedAtMs });
      const henry1 = await connect(stack, 'henry', 'rev-room', '', { token: old });
      const henry2 = await connect(stack, 'henry', null, '', { token: old });
      const ivy = await connect(stack, 'ivy', 'rev-room');

      const result = await admin.revoke({ user_id: 'henry' });
      assert.equal(result.closed, 2);
      assert.ok(result.accepts_issued_from);
      for (const client of [henry1, henry2]) {
        await assert.rejects(
          client.next(() => false, 5000),
          /socket closed/,
        );
      }
      await ivy.expectOnlyPong();

      assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${old}`), 401);
      const fresh = await signDevToken(TEST_SECRET, 'henry', {
        issuedAtMs: Date.parse(result.accepts_issued_from as string),
      });
      const again = await connect(stack, 'henry', 'rev-room', '', { token: fresh });
      await again.expectOnlyPong();
    });

    it('one token (jti): its connections close and it is refused; the same user’s other token is not', async () => {
      const first = await signDevToken(TEST_SECRET, 'judy', { tokenId: 'judy-laptop' });
      const second = await signDevToken(TEST_SECRET, 'judy', { tokenId: 'judy-phone' });
      const laptop = await connect(stack, 'judy', null, '', { token: first });
      const phone = await connect(stack, 'judy', null, '', { token: second });

      const result = await admin.revoke({ token_id: 'judy-laptop', user_id: 'judy' });
      assert.equal(result.closed, 1);
      assert.equal(result.accepts_issued_from, undefined, 'the user is not revoked');
      await assert.rejects(
        laptop.next(() => false, 5000),
        /socket closed/,
      );
      await phone.expectOnlyPong();
      assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${first}`), 401);
      const again = await connect(stack, 'judy', null, '', { token: second });
      await again.expectOnlyPong();

      // Without its owner named, a token is refused from now on, but its connections stay open.
      const alone = await admin.revoke({ token_id: 'judy-phone' });
      assert.equal(alone.closed, 0);
      await again.expectOnlyPong();
      assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${second}`), 401);
    });

    it('before a time: tokens issued before it are refused, later ones keep their connections', async () => {
      const nowMs = Date.now();
      const older = await signDevToken(TEST_SECRET, 'kim', { issuedAtMs: nowMs - 60_000 });
      const newer = await signDevToken(TEST_SECRET, 'kim', { issuedAtMs: nowMs - 5_000 });
      const oldSocket = await connect(stack, 'kim', null, '', { token: older });
      const newSocket = await connect(stack, 'kim', null, '', { token: newer });

      const result = await admin.revoke({ user_id: 'kim', before: new Date(nowMs - 30_000).toISOString() });
      assert.equal(result.closed, 1);
      await assert.rejects(
        oldSocket.next(() => false, 5000),
        /socket closed/,
      );
      await newSocket.expectOnlyPong();
      assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${older}`), 401);
      const again = await connect(stack, 'kim', null, '', { token: newer });
      await again.expectOnlyPong();
    });

    it('a later revocation is never moved back by an earlier one', async () => {
      const token = await signDevToken(TEST_SECRET, 'leo', { issuedAtMs: Date.now() - 20_000 });
      const first = await admin.revoke({ user_id: 'leo' });
      const earlier = await admin.revoke({
        user_id: 'leo',
        before: new Date(Date.now() - 60_000).toISOString(),
      });
      assert.equal(await handshakeStatus(`${stack.wsUrl}?token=${token}`), 401);
      // What it answers is the revocation in effect, not the time it asked for.
      assert.equal(earlier.accepts_issued_from, first.accepts_issued_from);
    });

    it('refuses a time in the future, a time without a user, and a request naming nobody', async () => {
      const refusals: Array<Parameters<AdminClient['revoke']>[0]> = [
        { user_id: 'mia', before: new Date(Date.now() + 3_600_000).toISOString() },
        { token_id: 'x', before: new Date().toISOString() },
        {},
        { user_id: 'mia', before: 'yesterday' },
        // Not a field of the contract (a typo of an optional one, say): refused, not dropped.
        { user_id: 'mia', reason: 'spam' } as Parameters<AdminClient['revoke']>[0],
      ];
      for (const request of refusals) {
        await assert.rejects(
          admin.revoke(request),
          (error: unknown) => error instanceof AdminError && error.code === 'BAD_REQUEST',
          JSON.stringify(request),
        );
      }
      const mia = await connect(stack, 'mia', null);
      await mia.expectOnlyPong();
    });
  });

  it('the admin function refuses a caller without the key pair, as Lambda refuses one without IAM credentials', async () => {
    const stranger = createAdminClient({
      functionName: stack.adminFunction,
      endpoint: stack.lambdaEndpoint,
      region: stack.config.region,
      credentials: { accessKeyId: 'someone', secretAccessKey: 'else' },
    });
    try {
      await assert.rejects(
        stranger.publish({ room_id: 'ops-room', message: 'let me in' }),
        (error: unknown) => {
          const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          return status === 403;
        },
      );
    } finally {
      stranger.destroy();
    }
  });
});

describe('a connection lives no longer than its token', () => {
  let stack: LocalStack;
  // The handlers' clock, moved forward; tokens are verified against the real one, at connect.
  let offsetMs = 0;

  before(async () => {
    stack = await startTestStack({ depsOverrides: { now: () => new Date(Date.now() + offsetMs) } });
  });
  after(() => stack?.close());

  it('its first frame after exp is answered TOKEN_EXPIRED and the connection is closed', async () => {
    const token = await signDevToken(TEST_SECRET, 'nina', { expiresInSeconds: 120 });
    const nina = await ChatClient.connect(stack, 'nina', 'exp-room', '', { token });
    const olga = await ChatClient.connect(stack, 'olga', 'exp-room');
    try {
      await nina.expectOnlyPong();
      offsetMs = 121_000;
      nina.send({ action: 'ping', ref: 'late' });
      const answer = await nina.next((f) => f.ref === 'late');
      assert.equal(answer.action, 'error');
      assert.equal(answer.code, 'TOKEN_EXPIRED');
      await assert.rejects(
        nina.next(() => false, 5000),
        /socket closed/,
      );
      // A sendMessage is refused the same way, and stores nothing.
      const late = await ChatClient.connect(stack, 'nina', 'exp-room', '', {
        token: await signDevToken(TEST_SECRET, 'nina', { expiresInSeconds: 60 }),
      });
      late.send({ action: 'sendMessage', message: 'too late', client_msg_id: 'm' });
      assert.equal((await late.next((f) => f.client_msg_id === 'm')).code, 'TOKEN_EXPIRED');
      await olga.expectOnlyPong();
      const page = await olga.request({ action: 'getHistory', room_id: 'exp-room', limit: 10 });
      assert.deepEqual(page.messages, []);
    } finally {
      offsetMs = 0;
      await olga.close();
    }
  });
});
