import { parseArgs } from 'node:util';
import {
  type AdminClientOptions,
  AdminError,
  createAdminClient,
  type PublishResult,
  type RevokeResult,
  type StatsResult,
} from '@roomcast/admin';
import { localStatePath, readLocalState } from './state-file.ts';

/**
 * `roomcast`: the operators' command line. Each command invokes the admin function (src/admin.ts) through
 * @roomcast/admin: on AWS with the caller's IAM credentials, or against the local stack that `npm start`
 * runs in this directory.
 */

const usage = `usage: roomcast <command> [options]

commands
  publish --room <room> <text>      store a message from the system in a room and deliver it
  publish --user <user> <text>      a system message to one user's inbox (delivered to every connection)
      [--sender <name>]             the sender's name the message shows (default: system)
      [--id <client_msg_id>]        publishing again with the same id stores nothing twice
  revoke --user <user> [--before <time>]
                                    refuse the user's tokens issued before <time> (ISO 8601; default now)
                                    and close the connections they opened
  revoke --token <jti> [--user <user>]
                                    refuse one token (its jti); with --user, close its connections
  stats                             live connections, rooms, and the biggest rooms, counted now

where
  --function <name>                 the admin function (or ROOMCAST_ADMIN_FUNCTION; Terraform output
                                    admin_function_name); credentials as the AWS CLI finds them
  --region <region>, --endpoint <url>
  without a function name           the local stack of \`npm start\` in this directory (.roomcast/local-stack.json,
                                    or ROOMCAST_LOCAL_STATE)
  --json                            print the result as JSON

exit status: 0 done, 1 refused or failed, 2 usage`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
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
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const admin = createAdminClient(await target(values));
  try {
    if (command === 'publish') {
      const text = rest.join(' ');
      if (!text) throw new UsageError('publish: the text to publish is missing');
      if ((values.room === undefined) === (values.user === undefined))
        throw new UsageError('publish: give --room or --user, one of the two');
      const result = await admin.publish({
        ...(values.room !== undefined && { room_id: values.room }),
        ...(values.user !== undefined && { to_user_id: values.user }),
        message: text,
        ...(values.sender !== undefined && { sender: values.sender }),
        ...(values.id !== undefined && { client_msg_id: values.id }),
      });
      console.log(values.json ? JSON.stringify(result) : publishedText(result));
      return 0;
    }
    if (command === 'revoke') {
      if (rest.length > 0) throw new UsageError(`revoke: unexpected ${rest.join(' ')}`);
      if (values.user === undefined && values.token === undefined)
        throw new UsageError(
          'revoke: give --user, or --token (and its owner as --user to close its connections)',
        );
      if (values.token !== undefined && values.before !== undefined)
        throw new UsageError(
          'revoke: --before goes with --user alone (a token is refused whenever it was issued)',
        );
      let before: string | undefined;
      if (values.before !== undefined) {
        const ms = Date.parse(values.before);
        if (Number.isNaN(ms)) throw new UsageError(`--before: not a time: ${values.before} (ISO 8601)`);
        before = new Date(ms).toISOString();
      }
      const result = await admin.revoke({
        ...(values.user !== undefined && { user_id: values.user }),
        ...(values.token !== undefined && { token_id: values.token }),
        ...(before !== undefined && { before }),
      });
      console.log(values.json ? JSON.stringify(result) : revokedText(result));
      return 0;
    }
    if (command === 'stats') {
      if (rest.length > 0) throw new UsageError(`stats: unexpected ${rest.join(' ')}`);
      const result = await admin.stats();
      console.log(values.json ? JSON.stringify(result) : statsText(result));
      return 0;
    }
    throw new UsageError(`unknown command: ${command} (see roomcast --help)`);
  } finally {
    admin.destroy();
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
  const path = localStatePath();
  const local = await readLocalState(path);
  if (!local) {
    throw new UsageError(
      `no admin function named (--function or ROOMCAST_ADMIN_FUNCTION) and no local stack running here (${path}); start one with npm start`,
    );
  }
  return {
    functionName: local.adminFunction,
    region: local.region,
    endpoint: values.endpoint ?? local.lambdaEndpoint,
    ...(local.credentials && { credentials: local.credentials }),
  };
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
        `roomcast: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
      process.exitCode = 1;
    }
  },
);
