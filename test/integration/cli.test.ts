import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { signDevToken } from '../../src/auth.ts';
import {
  claimLocalState,
  findLocalStatePath,
  type LocalStackState,
  readLocalState,
} from '../../src/local/state-file.ts';
import { ChatClient, handshakeStatus, TEST_SECRET } from '../support/chat.ts';

const run = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `roomcast …` as a user runs it, with its exit status (0 included) and both streams: `npx roomcast` in the
 * repository, or (`npx: false`, a fraction of the time) the bin npx runs, from any directory.
 */
function cli(
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; npx?: boolean },
): Promise<Outcome> {
  const [command, prefix] =
    options.npx === false
      ? [process.execPath, [join(repo, 'bin', 'roomcast.mjs')]]
      : ['npx', ['--no-install', 'roomcast']];
  return run(command, [...prefix, ...args], { cwd: options.cwd ?? repo, env: options.env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: Outcome) => error,
  );
}

/** `npm start` in its own process group, once it says it is ready: its process and what it printed. */
async function startStack(env: NodeJS.ProcessEnv): Promise<{ server: ChildProcess; output: string }> {
  const server = spawn('npm', ['start', '--silent'], {
    cwd: repo,
    env: { ...env, PORT: '0', JWT_SECRET: TEST_SECRET, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
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
  return { server, output };
}

/** Stops a stack of startStack (SIGTERM to its group, as Ctrl-C would), once it has exited. */
async function stopStack(server: ChildProcess | undefined): Promise<void> {
  if (server?.pid === undefined || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  process.kill(-server.pid, 'SIGTERM');
  await exited;
}

/**
 * The `roomcast` commands as a user runs them: `npm start` in one process, `npx roomcast …` in others, found
 * through the state file the stack writes, against real WebSocket clients.
 */
describe('roomcast CLI against npm start', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let wsUrl: string;
  let stackPid: number;
  // The file where `npm start` in `dir` would write it, so that the CLI also finds it from below `dir`.
  const statePath = () => join(dir, '.roomcast', 'local-stack.json');
  const env = (): NodeJS.ProcessEnv => {
    const { ROOMCAST_ADMIN_FUNCTION: _, ...rest } = process.env;
    return { ...rest, ROOMCAST_LOCAL_STATE: statePath() };
  };
  const roomcast = (...args: string[]) => cli(args, { env: env() });
  // For the many cases of one test.
  const quickly = (...args: string[]) => cli(args, { env: env(), npx: false });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roomcast-cli-'));
    ({ server } = await startStack(env()));
    const state = await readLocalState(statePath());
    assert.ok(state, 'npm start wrote its state file');
    wsUrl = state.wsUrl;
    stackPid = state.pid;
  });

  after(async () => {
    await stopStack(server);
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
    const nowhere = await cli(['publish', '--room', 'r', 'x'], {
      env: { ...env(), ROOMCAST_LOCAL_STATE: join(dir, 'missing.json') },
    });
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /no local stack running/);
  });

  it('refuses a usage mistake with status 2 and one line, before any call', async () => {
    // Each would reach the running stack if it got past the checks (and answer 0 or 1).
    const cases: [string[], RegExp][] = [
      [['stats', '--foo'], /^roomcast: unknown option --foo \(see roomcast --help\)\n$/],
      [['stats', '-x'], /^roomcast: unknown option -x \(see roomcast --help\)\n$/],
      [['publish', 'text', '--room'], /^roomcast: Option '--room <value>' argument missing/],
      [['stats', '--json=false'], /^roomcast: Option '--json' does not take an argument/],
      [['revoke', '--user', 'u', '--before', '-1'], /^roomcast: Option '--before' argument is ambiguous\. /],
      [['stats', '--endpoint', 'not-a-url'], /^roomcast: --endpoint: not a URL: not-a-url /],
      [['stats', '--endpoint', 'localhost:9001'], /^roomcast: --endpoint: not a URL: localhost:9001 /],
      [['frobnicate'], /^roomcast: unknown command: frobnicate /],
      [
        ['publish', '--room', 'r', '--before', '2020-01-01T00:00:00Z', 'x'],
        /^roomcast: publish does not take --before\n$/,
      ],
      [['stats', '--room', 'r', '--user', 'u'], /^roomcast: stats does not take --room, --user\n$/],
      [['revoke', '--user', 'u', '--sender', 's'], /^roomcast: revoke does not take --sender\n$/],
      [['publish', '--room', 'a', '--room', 'b', 'x'], /^roomcast: --room given twice\n$/],
      [['stats', '--json', '--json'], /^roomcast: --json given twice\n$/],
    ];
    const outcomes = await Promise.all(cases.map(([args]) => quickly(...args)));
    cases.forEach(([args, message], index) => {
      const outcome = outcomes[index] as Outcome;
      assert.equal(outcome.code, 2, `${args.join(' ')}: ${outcome.stderr}`);
      assert.match(outcome.stderr, message, args.join(' '));
      assert.equal(outcome.stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line`);
      assert.equal(outcome.stdout, '');
    });
  });

  it('prints the usage: to stderr with status 2 when no command is given, to stdout for --help', async () => {
    const [bare, help, commandHelp] = await Promise.all([
      roomcast(),
      roomcast('--help'),
      roomcast('stats', '-h'),
    ]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /^usage: roomcast <command>/);
    assert.match(bare.stderr, /in this directory or a parent/);
    for (const outcome of [help, commandHelp]) {
      assert.equal(outcome.code, 0);
      assert.match(outcome.stdout, /^usage: roomcast <command>/);
      assert.equal(outcome.stderr, '');
    }
  });

  it('revoke --before reaches the function as given, which takes its format only and refuses the rest', async () => {
    // Not read by the CLI (no Date.parse, no time zone): the function's one rule (an ISO 8601 time with seconds
    // and Z or an offset, on a day that exists) decides, and refuses with status 1.
    const refused = [
      '0',
      '12',
      'Nov 30 2026',
      '2026-11-30',
      '2026-11-30T12:00:00', // no offset: whose local time?
      '2026-11-30T12:00Z', // no seconds
      '2026-11-30 12:00:00Z',
      '2026-11-30T12:00:00+0100',
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-04-31T00:00:00+02:00',
    ];
    // An offset reaches the server as given, whatever the CLI's time zone: an hour ago in India. (Each revoke
    // that runs takes the function's 2 s second sweep: all at once.)
    const beforeMs = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const inIndia = `${new Date(beforeMs + 5.5 * 3_600_000).toISOString().slice(0, 19)}+05:30`;
    const [revoked, leapDay, ...outcomes] = await Promise.all([
      cli(['revoke', '--user', 'offset-user', '--before', inIndia, '--json'], {
        env: { ...env(), TZ: 'America/Los_Angeles' },
        npx: false,
      }),
      quickly('revoke', '--user', 'leap-user', '--before', '2024-02-29T23:59:59.5-01:00'),
      ...refused.map((time) => quickly('revoke', '--user', 'never-revoked', '--before', time)),
    ]);
    refused.forEach((time, index) => {
      const outcome = outcomes[index] as Outcome;
      assert.equal(outcome.code, 1, `${time}: ${outcome.stderr}`);
      assert.equal(outcome.stderr, 'roomcast: refused: before: Invalid ISO datetime\n', time);
    });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(JSON.parse(revoked.stdout).accepts_issued_from, new Date(beforeMs + 1000).toISOString());
    assert.equal(leapDay.code, 0, leapDay.stderr);
  });

  it('finds the state file of npm start from a directory below it', async () => {
    const below = join(dir, 'a', 'b');
    await mkdir(below, { recursive: true });
    const { ROOMCAST_LOCAL_STATE: _, ...inherited } = env();
    const stats = await cli(['stats', '--json'], { cwd: below, env: inherited, npx: false });
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout).op, 'stats');
  });

  it("a second npm start in the same place leaves the first one's state file alone", async () => {
    const second = await startStack(env());
    try {
      assert.ok(
        second.output.includes(
          `another local stack (pid ${stackPid}) owns ${statePath()}: npx roomcast keeps talking to that one`,
        ),
        second.output,
      );
      assert.equal((await readLocalState(statePath()))?.pid, stackPid);
    } finally {
      await stopStack(second.server);
    }
    // Stopped, it removed nothing: the CLI still reaches the first.
    assert.equal((await readLocalState(statePath()))?.pid, stackPid);
    assert.equal((await roomcast('stats')).code, 0);
  });
});

describe('roomcast CLI without a stack', () => {
  let dir: string;
  let noAws: NodeJS.ProcessEnv;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roomcast-cli-'));
    // Nothing for the SDK to find: no AWS_* variables, no config files, no instance metadata.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')),
    );
    noAws = {
      ...inherited,
      AWS_CONFIG_FILE: join(dir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says what is missing when the AWS SDK finds no region or no credentials; other errors by name', async () => {
    const port = await closedPort();
    const [region, credentials, unreachable] = await Promise.all([
      cli(['stats', '--function', 'roomcast-admin'], { env: noAws, npx: false }),
      cli(['stats', '--function', 'roomcast-admin', '--region', 'eu-west-1'], { env: noAws, npx: false }),
      cli(['stats', '--function', 'f', '--region', 'eu-west-1', '--endpoint', `http://127.0.0.1:${port}`], {
        env: { ...noAws, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' },
        npx: false,
      }),
    ]);
    assert.deepEqual(
      { code: region.code, stderr: region.stderr },
      { code: 1, stderr: 'roomcast: no AWS region: give --region or set AWS_REGION\n' },
    );
    assert.deepEqual(
      { code: credentials.code, stderr: credentials.stderr },
      {
        code: 1,
        stderr:
          "roomcast: no AWS credentials found (the AWS CLI's chain: environment, profile, SSO, instance role)\n",
      },
    );
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^roomcast: Error: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
  });
});

describe('the state file', () => {
  let dir: string;
  const state = (pid: number): LocalStackState => ({
    lambdaEndpoint: 'http://127.0.0.1:1',
    region: 'us-east-1',
    adminFunction: 'admin',
    wsUrl: 'ws://127.0.0.1:1',
    pid,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roomcast-state-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is found in the directory or the nearest parent that has one, unless ROOMCAST_LOCAL_STATE names it', async () => {
    const outer = join(dir, 'project', '.roomcast', 'local-stack.json');
    const inner = join(dir, 'project', 'packages', 'x', '.roomcast', 'local-stack.json');
    await mkdir(join(dir, 'project', 'packages', 'x', 'src'), { recursive: true });
    await mkdir(join(outer, '..'), { recursive: true });
    await writeFile(outer, '{}');
    assert.equal(await findLocalStatePath({}, join(dir, 'project')), outer);
    assert.equal(await findLocalStatePath({}, join(dir, 'project', 'packages', 'x', 'src')), outer);
    await mkdir(join(inner, '..'), { recursive: true });
    await writeFile(inner, '{}');
    assert.equal(await findLocalStatePath({}, join(dir, 'project', 'packages', 'x', 'src')), inner);
    assert.equal(
      await findLocalStatePath({ ROOMCAST_LOCAL_STATE: '/elsewhere.json' }, join(dir, 'project')),
      '/elsewhere.json',
    );
  });

  it('is claimed from a stack that has stopped, never from one that runs', async () => {
    const path = join(dir, 'claimed', 'local-stack.json');
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    assert.equal(await claimLocalState(path, state(gone.pid as number)), undefined);
    assert.equal(await readLocalState(path), undefined, 'its process is gone');
    assert.equal(
      await claimLocalState(path, state(process.pid)),
      undefined,
      'a stopped stack’s file is replaced',
    );
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);
    const other = await claimLocalState(path, state(gone.pid as number));
    assert.equal(other?.pid, process.pid, 'a running stack’s file is left alone');
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);
  });
});

/** A port nothing listens on (one the system just gave out and took back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
