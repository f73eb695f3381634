import { parseArgs } from 'node:util';
import {
  type AdminClient,
  type AdminClientOptions,
  AdminError,
  createAdminClient,
  type PublishResult,
  type RevokeResult,
  type StatsResult,
} from '@roomcast/admin';
import { findLocalStatePath, readLocalState } from './state-file.ts';

/**
 * `roomcast`: the operators' command line. Each command invokes the admin function (src/admin.ts) through
 * @roomcast/admin: on AWS with the caller's IAM credentials, or against the local stack that `npm start`
 * runs in this directory or a parent.
 */

const usage = `usage: roomcast <command> [options]

commands
  publish --room <room> <text>      store a message from the system in a room and deliver it
  publish --user <user> <text>      a system message to one user's inbox (delivered to every connection)
      [--sender <name>]             the sender's name the message shows (default: system)
      [--id <client_msg_id>]        publishing again with the same id stores nothing twice
  revoke --user <user> [--before <time>]
                                    refuse the user's tokens issued before <time> (default now) and close
                                    the connections they opened; <time> with seconds and Z or an offset:
                                    2026-11-30T12:00:00Z, 2026-11-30T13:00:00+01:00
  revoke --token <jti> [--user <user>]
                                    refuse one token (its jti); with --user, close its connections
  stats                             live connections, rooms, and the biggest rooms, counted now

where
  --function <name>                 the admin function (or ROOMCAST_ADMIN_FUNCTION; Terraform output
                                    admin_function_name); credentials as the AWS CLI finds them
  --region <region>, --endpoint <url>
  without a function name           the local stack of \`npm start\` in this directory or a parent
                                    (.roomcast/local-stack.json, or ROOMCAST_LOCAL_STATE)
  --json                            print the result as JSON

A command takes its own options and these, each once; a text that starts with - goes after --.
exit status: 0 done, 1 refused or failed, 2 usage`;

class UsageError extends Error {}

const options = {
  room: { type: 'string' },
  user: { type: 'string' },
  token: { type: 'string' },
  sender: { type: 'string' },
  id: { type: 'string' },
  before: { type: 'string' },
  function: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Option = keyof typeof options;

/** The options each command takes, besides those every command takes. */
const commandOptions = {
  publish: ['room', 'user', 'sender', 'id'],
  revoke: ['user', 'token', 'before'],
  stats: [],
} as const satisfies Record<string, readonly Option[]>;

const commonOptions: readonly Option[] = ['function', 'region', 'endpoint', 'json', 'help'];

type Command = keyof typeof commandOptions;

async function main(argv: string[]): Promise<number> {
  const { values, positionals, tokens } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (command === undefined) {
    console.error(usage);
    return 2;
  }
  if (!isCommand(command)) throw new UsageError(`unknown command: ${command} (see roomcast --help)`);
  const given = tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : []));
  const twice = given.find((name, index) => given.indexOf(name) !== index);
  if (twice !== undefined) throw new UsageError(`--${twice} given twice`);
  const takes = new Set<string>([...commonOptions, ...commandOptions[command]]);
  const foreign = given.filter((name) => !takes.has(name));
  if (foreign.length > 0)
    throw new UsageError(`${command} does not take ${foreign.map((name) => `--${name}`).join(', ')}`);
  if (values.endpoint !== undefined && !isHttpUrl(values.endpoint))
    throw new UsageError(`--endpoint: not a URL: ${values.endpoint} (e.g. http://localhost:9001)`);
  const call = request(command, values, rest);
  const admin = createAdminClient(await target(values));
  try {
    console.log(await call(admin));
    return 0;
  } finally {
    admin.destroy();
  }
}

type Values = ReturnType<typeof parse>['values'];

/** The command's call, checked before anything is invoked; it answers what to print. */
function request(command: Command, values: Values, rest: string[]): (admin: AdminClient) => Promise<string> {
  const print =
    <T>(text: (result: T) => string) =>
    (result: T) =>
      values.json ? JSON.stringify(result) : text(result);
  if (command === 'publish') {
    const text = rest.join(' ');
    if (!text) throw new UsageError('publish: the text to publish is missing');
    if ((values.room === undefined) === (values.user === undefined))
      throw new UsageError('publish: give --room or --user, one of the two');
    return async (admin) =>
      print(publishedText)(
        await admin.publish({
          ...(values.room !== undefined && { room_id: values.room }),
          ...(values.user !== undefined && { to_user_id: values.user }),
          message: text,
          ...(values.sender !== undefined && { sender: values.sender }),
          ...(values.id !== undefined && { client_msg_id: values.id }),
        }),
      );
  }
  if (rest.length > 0) throw new UsageError(`${command}: unexpected ${rest.join(' ')}`);
  if (command === 'stats') return async (admin) => print(statsText)(await admin.stats());
  if (values.user === undefined && values.token === undefined)
    throw new UsageError(
      'revoke: give --user, or --token (and its owner as --user to close its connections)',
    );
  if (values.token !== undefined && values.before !== undefined)
    throw new UsageError(
      'revoke: --before goes with --user alone (a token is refused whenever it was issued)',
    );
  return async (admin) =>
    print(revokedText)(
      await admin.revoke({
        ...(values.user !== undefined && { user_id: values.user }),
        ...(values.token !== undefined && { token_id: values.token }),
        ...(values.before !== undefined && { before: values.before }),
      }),
    );
}

function isCommand(name: string): name is Command {
  return Object.hasOwn(commandOptions, name);
}

/** The arguments, parsed; parseArgs' refusals (an unknown option, a missing value…) as usage errors. */
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, tokens: true });
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      // Which option, from the tokens of a lenient parse (the message is for people, not for parsing).
      const { tokens } = parseArgs({
        args: argv,
        options,
        allowPositionals: true,
        tokens: true,
        strict: false,
      });
      const unknown = tokens.find((token) => token.kind === 'option' && !Object.hasOwn(options, token.name));
      if (unknown?.kind === 'option')
        throw new UsageError(`unknown option ${unknown.rawName} (see roomcast --help)`);
    }
    if (
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
      code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
    )
      throw new UsageError(`${(error as Error).message.replace(/\s*\n\s*/g, ' ')} (see roomcast --help)`);
    throw error;
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/** The admin function to invoke: named (AWS, or any endpoint), or the local stack's. */
async function target(values: {
  function?: string;
  region?: string;
  endpoint?: string;
}): Promise<AdminClientOptions> {
  const named = values.function ?? process.env.ROOMCAST_ADMIN_FUNCTION;
  if (named) {
    return {
      functionName: named,
      ...(values.region && { region: values.region }),
      ...(values.endpoint && { endpoint: values.endpoint }),
    };
  }
  const path = await findLocalStatePath();
  const local = path === undefined ? undefined : await readLocalState(path);
  if (!local) {
    throw new UsageError(
      `no admin function named (--function or ROOMCAST_ADMIN_FUNCTION) and no local stack running here (${path ?? `no .roomcast/local-stack.json in ${process.cwd()} or a parent`}); start one with npm start`,
    );
  }
  return {
    functionName: local.adminFunction,
    region: local.region,
    endpoint: values.endpoint ?? local.lambdaEndpoint,
    ...(local.credentials && { credentials: local.credentials }),
  };
}

/** What to tell the user about an error of the AWS SDK they can act on; undefined for the others. */
function awsHint(error: Error): string | undefined {
  if (error.message === 'Region is missing') return 'no AWS region: give --region or set AWS_REGION';
  if (error.name === 'CredentialsProviderError') {
    const hint = "no AWS credentials found (the AWS CLI's chain: environment, profile, SSO, instance role)";
    // The SDK's own message says more when one source was named but failed (a profile, an expired SSO session).
    return error.message === 'Could not load credentials from any providers'
      ? hint
      : `${hint}: ${error.message}`;
  }
  return undefined;
}

function publishedText(result: PublishResult): string {
  const where = result.room_id !== undefined ? `room ${result.room_id}` : `${result.to_user_id}'s inbox`;
  if (result.retried)
    return `already published to ${where} as seq ${result.seq} (message ${result.message_id})`;
  const how = result.path === 'workers' ? 'handed to fan-out workers' : 'delivered';
  return `published to ${where} as seq ${result.seq} (message ${result.message_id}); ${how}: ${result.connections} connection(s)`;
}

function statsText(result: StatsResult): string {
  const lines = [
    `${result.connections} live connection(s), ${result.rooms} room(s) with any (${result.subscriptions} subscription(s)), counted at ${result.counted_at}`,
  ];
  if (result.biggest_rooms.length > 0) {
    const width = Math.max(...result.biggest_rooms.map((room) => room.room_id.length));
    lines.push('biggest rooms:');
    for (const room of result.biggest_rooms)
      lines.push(`  ${room.room_id.padEnd(width)}  ${room.connections}`);
  }
  if (result.partial) lines.push('(more rooms than one count tracks: the rooms counted are a part)');
  return lines.join('\n');
}

function revokedText(result: RevokeResult): string {
  const what = [
    ...(result.accepts_issued_from !== undefined
      ? [`${result.user_id}'s tokens issued before ${result.accepts_issued_from}`]
      : []),
    ...(result.token_id !== undefined ? [`token ${result.token_id}`] : []),
  ].join(' and ');
  const closed =
    result.user_id === undefined
      ? 'no connections closed (give --user to close the token owner’s)'
      : `${result.closed} connection(s) closed`;
  return `revoked ${what}; ${closed}`;
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`roomcast: ${error.message}`);
      process.exitCode = 2;
    } else if (error instanceof AdminError) {
      console.error(`roomcast: ${error.code === 'BAD_REQUEST' ? 'refused' : 'failed'}: ${error.message}`);
      process.exitCode = 1;
    } else {
      console.error(
        `roomcast: ${error instanceof Error ? (awsHint(error) ?? `${error.name}: ${error.message}`) : String(error)}`,
      );
      process.exitCode = 1;
    }
  },
);
