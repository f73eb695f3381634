import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { token } from '../client/support.ts';
import { TEST_SECRET } from '../support/chat.ts';

/**
 * `npm run smoke` (scripts/smoke.ts) as a user runs it: a process of its own against `npm start` in another
 * process, judged by its exit status and its output lines.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STEPS = [1, 2, 3, 4, 5, 6, 7, 8];

/** The environment of the shell the user types in, without the settings each test chooses itself. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['JWT_SECRET', 'JWT_JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'PRESENCE_ENABLED', 'PORT'])
    delete env[name];
  return env;
}

const children: ChildProcess[] = [];

after(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }),
  );
});

function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

/** `npm start` with PORT=0: resolves with the URL of its "ready on" line. */
async function startServer(env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawnTs('src/local/main.ts', [], { ...baseEnv(), HOST: '127.0.0.1', PORT: '0', ...env });
  let output = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready after 60 s:\n${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready on (ws:\/\/\S+)$/m.exec(output);
      if (!ready) return;
      clearTimeout(timer);
      resolve(ready[1] as string);
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code} before it was ready:\n${output}`));
    });
  });
}

interface SmokeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function smoke(args: string[], env: NodeJS.ProcessEnv = {}): Promise<SmokeRun> {
  const child = spawnTs('scripts/smoke.ts', args, { ...baseEnv(), ...env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The output, for assertion messages. */
function shown(run: SmokeRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
}

function assertLine(run: SmokeRun, status: 'PASS' | 'FAIL' | 'SKIP', step: number, rest = ''): void {
  assert.match(run.stdout, new RegExp(`^${status}  ${step}\\. .*${rest}`, 'm'), shown(run));
}

// Generous: two local stacks and a dozen tsx processes on a loaded 2-core machine.
describe('npm run smoke against npm start', { timeout: 240_000 }, () => {
  let url = '';

  before(async () => {
    url = await startServer({ JWT_SECRET: TEST_SECRET });
  });

  it('passes every step with the server secret in JWT_SECRET', async () => {
    const run = await smoke([url], { JWT_SECRET: TEST_SECRET });
    assert.equal(run.code, 0, shown(run));
    for (const step of STEPS) assertLine(run, 'PASS', step);
    assert.match(
      run.stdout,
      /^PASS {2}all 8 steps passed in .* \(room smoke-[0-9a-f]+ at ws:\/\/127\.0\.0\.1:/m,
    );
    assert.doesNotMatch(run.stderr, /development secret/);
  });

  it('fails the first step with the refused handshake under a wrong JWT_SECRET, and skips the rest', async () => {
    const run = await smoke([url], { JWT_SECRET: 'not-the-server-secret-0123456789abcdef' });
    assert.equal(run.code, 1, shown(run));
    assertLine(run, 'FAIL', 1, 'handshake refused 401: wrong secret');
    for (const step of STEPS.slice(1)) assertLine(run, 'SKIP', step, 'needs ');
    assert.match(run.stdout, /^FAIL {2}1 failed, 7 skipped, 0 passed/m, shown(run));
  });

  it('passes with two users’ tokens from --token, in the room their rooms claims allow, as JSON', async () => {
    const room = 'smoke-given-tokens';
    const [alice, bob] = await Promise.all([
      token('amy', { rooms: [room] }),
      token('ben', { rooms: [room] }),
    ]);
    // No JWT_SECRET: the run can only pass with the given tokens.
    const run = await smoke([url, '--token', alice, '--token', bob, '--room', room, '--json']);
    assert.equal(run.code, 0, shown(run));
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      room: string;
      users: { alice: string; bob: string };
      steps: Array<{ step: number; status: string }>;
    };
    assert.equal(report.ok, true);
    assert.equal(report.room, room);
    assert.deepEqual(report.users, { alice: 'amy', bob: 'ben' });
    assert.deepEqual(
      report.steps.map(({ step, status }) => [step, status]),
      STEPS.map((step) => [step, 'pass']),
    );
  });

  it('answers usage errors with exit 2 before connecting anywhere', async () => {
    const [amy, amyAgain, ben, limited] = await Promise.all([
      token('amy'),
      token('amy'),
      token('ben'),
      token('cy', { rooms: ['elsewhere'] }),
    ]);
    const cases: Array<{ args: string[]; env?: NodeJS.ProcessEnv; error: RegExp }> = [
      { args: [], error: /the WebSocket URL is missing/ },
      { args: ['http://127.0.0.1:8080/dev'], error: /must start with ws:\/\/ or wss:\/\// },
      { args: [`${url}?room_id=lobby`], error: /no query string/ },
      { args: [url, '--token', amy], error: /--token: pass it twice/ },
      { args: [url, '--token', amy, '--token', amyAgain], error: /both tokens are for user "amy"/ },
      { args: [url, '--token', 'not-a-jwt', '--token', ben], error: /--token #1 is not a JWT/ },
      { args: [url, '--token', amy, '--token', limited], error: /--token #2 \(cy\) may only join.*--room/ },
      { args: [url, '--timeout-ms', 'soon'], error: /--timeout-ms must be/ },
      { args: [url, '--room', 'no spaces'], error: /--room "no spaces"/ },
      { args: [url, '--verbose'], error: /--verbose/ },
      { args: ['wss://abc123.execute-api.eu-west-1.amazonaws.com/prod'], error: /JWT_SECRET is not set/ },
    ];
    const runs = await Promise.all(cases.map(({ args, env }) => smoke(args, env)));
    runs.forEach((run, i) => {
      assert.equal(run.code, 2, shown(run));
      assert.match(run.stderr, cases[i]?.error ?? /./, shown(run));
      assert.equal(run.stdout, '', shown(run));
    });

    const help = await smoke(['--help']);
    assert.equal(help.code, 0, shown(help));
    assert.match(help.stdout, /^usage: npm run smoke -- <ws-url>/);
  });
});

describe('npm run smoke against npm start with PRESENCE_ENABLED=false', { timeout: 240_000 }, () => {
  let url = '';

  before(async () => {
    // No JWT_SECRET either: npm start and the smoke test both use the development secret on loopback.
    url = await startServer({ PRESENCE_ENABLED: 'false' });
  });

  it('fails the presence checks with a hint at PRESENCE_ENABLED, and passes the rest', async () => {
    const run = await smoke([url, '--timeout-ms', '5000']);
    assert.equal(run.code, 1, shown(run));
    assert.match(run.stderr, /JWT_SECRET is not set: tokens signed with the development secret/);
    for (const step of [2, 8]) assertLine(run, 'FAIL', step, 'no presence .* PRESENCE_ENABLED may be false');
    for (const step of [1, 3, 4, 5, 6, 7]) assertLine(run, 'PASS', step);
  });

  it('passes with --no-presence', async () => {
    const run = await smoke([url, '--no-presence']);
    assert.equal(run.code, 0, shown(run));
    for (const step of STEPS) assertLine(run, 'PASS', step);
  });
});
