import { type CommandLine, parseCommandLine, type SmokeOptions, USAGE, UsageError } from './smoke/options.ts';
import { runSteps, type Status, type StepResult } from './smoke/steps.ts';

/**
 * `npm run smoke -- <wss-url>`: two users in a fresh room go through what every chat does (connect, presence,
 * messages, history, direct messages, members, leave) against a deployment or `npm start`, with the client SDK
 * as applications use it. One PASS/FAIL/SKIP line per step, then a summary; exit 0 only if every step passed.
 */

const NAME_WIDTH = 36;

function formatLine(result: StepResult): string {
  const time = result.ms === undefined ? '' : `${result.ms} ms`;
  return `${result.status}  ${result.step}. ${result.name.padEnd(NAME_WIDTH)} ${time.padStart(8)}  ${result.detail}`.trimEnd();
}

function summarize(results: StepResult[], options: SmokeOptions, ms: number) {
  const count = (status: Status) => results.filter((result) => result.status === status).length;
  const counts = { passed: count('PASS'), failed: count('FAIL'), skipped: count('SKIP') };
  const ok = counts.passed === results.length;
  const took = ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
  const where = `room ${options.room} at ${options.url}`;
  const line = ok
    ? `PASS  all ${results.length} steps passed in ${took} (${where})`
    : `FAIL  ${counts.failed} failed, ${counts.skipped} skipped, ${counts.passed} passed in ${took} (${where})`;
  return { ok, counts, line };
}

async function main(): Promise<number> {
  let commandLine: CommandLine;
  try {
    commandLine = await parseCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`smoke: ${error.message}\n(npm run smoke -- --help for usage)`);
    return 2;
  }
  if (commandLine.help) {
    console.log(USAGE);
    return 0;
  }
  const { options } = commandLine;
  const started = performance.now();
  // Lines as the steps finish, so that a slow step shows where the run is.
  const results = await runSteps(options, (result) => {
    if (!options.json) console.log(formatLine(result));
  });
  const ms = Math.round(performance.now() - started);
  const summary = summarize(results, options, ms);
  if (!options.json) {
    console.log(summary.line);
  } else {
    console.log(
      JSON.stringify({
        ok: summary.ok,
        url: options.url,
        room: options.room,
        users: { alice: options.alice.userId, bob: options.bob.userId },
        presence: options.presence,
        timeout_ms: options.timeoutMs,
        duration_ms: ms,
        ...summary.counts,
        steps: results.map(({ step, name, status, ms, detail }) => ({
          step,
          name,
          status: status.toLowerCase(),
          ...(ms !== undefined && { ms }),
          detail,
        })),
      }),
    );
  }
  return summary.ok ? 0 : 1;
}

// `npm run smoke | head` closes the pipe early: that ends the output, not the run with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

main().then(
  (code) => {
    process.exitCode = code;
    // Every socket is closed by now; should anything else still hold the event loop, it does not hold the exit.
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (error: unknown) => {
    console.error(`smoke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
