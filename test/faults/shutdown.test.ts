import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LocalStack } from '../../src/local/stack.ts';
import { ChatClient, type Frame, TEST_SECRET } from '../support/chat.ts';

/**
 * `npm start` as a separate process with a data directory: SIGTERM closes every client with 1001, runs each
 * `$disconnect` and exits 0; a restart on the same directory has the messages and no stale connection.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Server {
  child: ChildProcess;
  /** Where clients connect; ChatClient needs only this of a LocalStack. */
  stack: LocalStack;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/local/main.ts', '--data-dir', dataDir], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'WARN' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const wsUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 20 s:\n${output}`)), 20_000);
    const onData = () => {
      const ready = /ready on (ws:\/\/\S+)/.exec(output);
      if (!ready) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve(ready[1] as string);
    };
    child.stdout?.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${output}`));
    });
  });
  return { child, stack: { wsUrl } as LocalStack, output: () => output, exited };
}

describe('graceful shutdown and persistence (npm start in a child process)', () => {
  let dataDir = '';
  const running: Server[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'roomcast-shutdown-'));
  });
  after(async () => {
    for (const server of running) if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  const sent: Frame[] = [];

  it('on SIGTERM closes every client with 1001, runs $disconnect and exits 0', async () => {
    const server = await startServer(dataDir);
    running.push(server);
    const alice = await ChatClient.connect(server.stack, 'alice', 'lobby');
    const bob = await ChatClient.connect(server.stack, 'bob', 'lobby');
    const carol = await ChatClient.connect(server.stack, 'carol', 'side');
    for (const text of ['first', 'second', 'third']) {
      alice.send({ action: 'sendMessage', message: text, client_msg_id: text });
      sent.push(await alice.next());
      assert.equal((await bob.next()).message, text);
    }
    carol.send({ action: 'sendMessage', message: 'aside' });
    sent.push(await carol.next());

    const closes = [alice, bob, carol].map(
      (client) => new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code))),
    );
    server.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all(closes), [1001, 1001, 1001]);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.match(server.output(), /SIGTERM: closing connections…\s+stopped/);
  });

  it('restarts on the same data directory with the messages and without the old connections', async () => {
    const server = await startServer(dataDir);
    running.push(server);
    const dave = await ChatClient.connect(server.stack, 'dave', 'lobby');
    const erin = await ChatClient.connect(server.stack, 'erin', 'side');

    dave.send({ action: 'getHistory', after_seq: 0 });
    const lobby = await dave.next();
    assert.deepEqual(
      (lobby.messages as Frame[]).map((message) => [message.message_id, message.message]),
      sent.filter((frame) => frame.room_id === 'lobby').map((frame) => [frame.message_id, frame.message]),
    );
    erin.send({ action: 'getHistory' });
    assert.deepEqual(
      ((await erin.next()).messages as Frame[]).map((message) => message.message),
      ['aside'],
    );

    // Every `$disconnect` ran before the first process stopped: only the new connections are registered.
    dave.send({ action: 'listMembers' });
    assert.deepEqual((await dave.next()).users, [{ user_id: 'dave', connections: 1 }]);
    erin.send({ action: 'listMembers' });
    assert.deepEqual((await erin.next()).users, [{ user_id: 'erin', connections: 1 }]);

    // A retried send from before the restart is still recognised: idempotency markers persist too.
    const alice = await ChatClient.connect(server.stack, 'alice', 'lobby');
    alice.send({ action: 'sendMessage', message: 'second', client_msg_id: 'second' });
    assert.equal((await alice.next()).message_id, sent[1]?.message_id);

    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.equal(dave.closeCode ?? (await new Promise((r) => dave.socket.once('close', r))), 1001);
  });
});
