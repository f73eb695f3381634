import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { signDevToken } from '../../src/auth.ts';
import { readLocalState } from '../../src/local/state-file.ts';
import { ChatClient, handshakeStatus, TEST_SECRET } from '../support/chat.ts';

const run = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;

/**
 * The `roomcast` commands as a user runs them: `npm start` in one process, `npx roomcast …` in others, found
 * through the state file the stack writes, against real WebSocket clients.
 */
describe('roomcast CLI against npm start', () => {
  let dir: string;
  let server: ChildProcess;
  let wsUrl: string;
  const env = () => ({ ...process.env, ROOMCAST_LOCAL_STATE: join(dir, 'local-stack.json') });
  const roomcast = (...args: string[]) =>
    run('npx', ['--no-install', 'roomcast', ...args], { cwd: repo, env: env() }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roomcast-cli-'));
    server = spawn('npm', ['start', '--silent'], {
      cwd: repo,
      env: { ...env(), PORT: '0', JWT_SECRET: TEST_SECRET, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on('data', (chunk: Buffer) => {
        output += chunk;
        if (/ready on /.test(output)) resolve();
      });
      server.once('exit', (code) => reject(new Error(`npm start exited (${code}): ${output}`)));
    });
    const state = await readLocalState(env().ROOMCAST_LOCAL_STATE);
    assert.ok(state, 'npm start wrote its state file');
    wsUrl = state.wsUrl;
  });

  after(async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('stats counts who is connected, biggest rooms first (before any other test connects)', async () => {
    const clients = [
      await ChatClient.connect({ wsUrl }, 'carol', 'big-room'),
      await ChatClient.connect({ wsUrl }, 'dave', 'big-room'),
      await ChatClient.connect({ wsUrl }, 'erin', 'small-room'),
    ];
    try {
      const { code, stdout } = await roomcast('stats');
      assert.equal(code, 0);
      assert.match(stdout, /^3 live connection\(s\), 2 room\(s\) with any \(3 subscription\(s\)\)/);
      assert.match(stdout, /biggest rooms:\n {2}big-room {4}2\n {2}small-room {2}1/);
      const json = JSON.parse((await roomcast('stats', '--json')).stdout);
      assert.deepEqual(json.biggest_rooms, [
        { room_id: 'big-room', connections: 2 },
        { room_id: 'small-room', connections: 1 },
      ]);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('publish --room delivers a system message and says where it went', async () => {
    const client = await ChatClient.connect({ wsUrl }, 'alice', 'cli-room');
    try {
      const { code, stdout } = await roomcast('publish', '--room', 'cli-room', 'deploy', 'at', 'noon');
      assert.equal(code, 0);
      assert.match(stdout, /^published to room cli-room as seq \d+ .*delivered: 1 connection/);
      const frame = await client.next((f) => f.action === 'message');
      assert.equal(frame.message, 'deploy at noon');
      assert.equal(frame.system, true);
      const json = await roomcast('publish', '--user', 'alice', '--sender', 'ops', '--json', 'hi');
      assert.equal(json.code, 0);
      assert.equal(JSON.parse(json.stdout).to_user_id, 'alice');
      assert.equal((await client.next((f) => f.action === 'direct')).from_user_id, 'ops');
    } finally {
      await client.close();
    }
  });

  it('revoke --user closes the connection; the old token is refused and a new one works', async () => {
    const token = await signDevToken(TEST_SECRET, 'bob', { issuedAtMs: Date.now() - 10_000 });
    const client = await ChatClient.connect({ wsUrl }, 'bob', null, '', { token });
    const { code, stdout } = await roomcast('revoke', '--user', 'bob');
    assert.equal(code, 0);
    assert.match(stdout, /^revoked bob's tokens issued before .*; 1 connection\(s\) closed/);
    await assert.rejects(
      client.next(() => false, 5000),
      /socket closed/,
    );
    assert.equal(await handshakeStatus(`${wsUrl}?token=${token}`), 401);
    const fresh = await signDevToken(TEST_SECRET, 'bob', { issuedAtMs: Date.now() + 1_000 });
    const again = await ChatClient.connect({ wsUrl }, 'bob', null, '', { token: fresh });
    await again.expectOnlyPong();
    await again.close();
  });

  it('answers mistakes with a message and a status: 2 for usage, 1 for a refusal', async () => {
    const usage = await roomcast('publish', '--room', 'r', '--user', 'u', 'both');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /one of the two/);
    const refused = await roomcast('publish', '--room', 'not a room', 'x');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused: room_id/);
    const future = await roomcast('revoke', '--user', 'u', '--before', '2999-01-01T00:00:00Z');
    assert.equal(future.code, 1);
    assert.match(future.stderr, /not in the future/);
    const nowhere = await run('npx', ['--no-install', 'roomcast', 'publish', '--room', 'r', 'x'], {
      cwd: repo,
      env: { ...process.env, ROOMCAST_LOCAL_STATE: join(dir, 'missing.json') },
    }).catch((error: { code: number; stderr: string }) => error);
    assert.equal((nowhere as { code: number }).code, 2);
    assert.match((nowhere as { stderr: string }).stderr, /no local stack running/);
  });
});
