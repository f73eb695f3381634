import { parseArgs } from 'node:util';
import { startLocalStack } from './stack.ts';
import { claimLocalState, localStatePath, removeLocalState } from './state-file.ts';

/** `npm start`: the local stack in the foreground. */
const usage = `usage: npm start [-- --data-dir DIR] [--management-auth sigv4|none]
environment: HOST (127.0.0.1), PORT (8080), STAGE (dev), DYNAMODB_ENDPOINT, JWT_SECRET | JWT_JWKS_URL, LOG_LEVEL`;

async function main(): Promise<void> {
  // The SDK is pinned by the lockfile and Lambda runs Node.js 22; its Node 20 notice is noise at every start.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      'management-auth': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const managementAuth = values['management-auth'] ?? 'sigv4';
  if (managementAuth !== 'sigv4' && managementAuth !== 'none')
    throw new Error(`--management-auth must be sigv4 or none, got ${managementAuth}`);
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a port number, got ${process.env.PORT}`);

  const stack = await startLocalStack({
    host: process.env.HOST ?? '127.0.0.1',
    port,
    stage: process.env.STAGE ?? 'dev',
    env: { LOG_LEVEL: 'WARN', ...process.env },
    ...(values['data-dir'] && { dataDir: values['data-dir'] }),
    managementAuth,
  });

  const store = stack.embeddedStore
    ? `embedded DynamoDB-compatible store (dynalite, ${values['data-dir'] ? `data in ${values['data-dir']}` : 'in memory'})`
    : `DynamoDB at ${stack.dynamodbEndpoint}`;
  console.log(`roomcast local stack
  WebSocket       ${stack.wsUrl}?token=<JWT>[&room_id=<room>]
  management API  ${stack.managementEndpoint}/@connections/<connectionId> (${managementAuthText(stack)})
  demo page       ${stack.httpUrl}
  store           ${store}
  big rooms       ${fanOutText(stack)}`);
  if (stack.usingDevSecret) {
    console.log(
      '  tokens          JWT_SECRET is not set: using the public development secret (never deploy it)',
    );
  }
  if (stack.staleConnectionsRemoved > 0) {
    console.log(
      `  cleaned up      ${stack.staleConnectionsRemoved} connection record(s) a previous run left (their sockets died with it)`,
    );
  }
  console.log('  get a token     npm run token -- <user> [--room <room or prefix*>]... [--ttl <seconds>]');
  const statePath = localStatePath();
  const owner = await claimLocalState(statePath, {
    lambdaEndpoint: stack.lambdaEndpoint,
    region: stack.config.region,
    adminFunction: stack.adminFunction,
    wsUrl: stack.wsUrl,
    ...cliCredentials(stack),
    pid: process.pid,
  });
  console.log(
    owner
      ? `  operate         another local stack (pid ${owner.pid}) owns ${statePath}: npx roomcast keeps talking to that one (ROOMCAST_LOCAL_STATE=<file> npm start gives this one a file of its own)`
      : `  operate         npx roomcast publish --room <room> "text" | revoke --user <user> (${statePath})`,
  );
  console.log(`ready on ${stack.wsUrl}`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`\n${signal}: closing connections…`);
    await removeLocalState(statePath);
    await stack.close();
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`roomcast: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

/** How the management API checks callers, as the banner says it: the key pair to sign with, when it is made up. */
function managementAuthText(stack: Awaited<ReturnType<typeof startLocalStack>>): string {
  const key = stack.managementCredentials;
  if (!stack.managementKeyId || !key) return 'unsigned requests accepted';
  const own = process.env.AWS_ACCESS_KEY_ID === key.accessKeyId;
  return own
    ? `SigV4 with your key ${key.accessKeyId}`
    : `SigV4: sign with key ${key.accessKeyId}, secret ${key.secretAccessKey} (made up at start)`;
}

/**
 * The key pair the CLI signs with, written to the state file only when the stack made it up (the developer's own
 * stays where it came from) or checks none (any pair will do).
 */
function cliCredentials(stack: Awaited<ReturnType<typeof startLocalStack>>): {
  credentials?: { accessKeyId: string; secretAccessKey: string };
} {
  const key = stack.managementCredentials;
  if (!stack.managementKeyId) return { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  if (!key || process.env.AWS_ACCESS_KEY_ID === key.accessKeyId) return {};
  return { credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } };
}

function fanOutText(stack: Awaited<ReturnType<typeof startLocalStack>>): string {
  const tier = stack.config.fanOutTier;
  if (!tier) return 'posted to by the sender (FANOUT_WORKER_FUNCTION is empty)';
  return `over ${tier.threshold} connections: fan-out workers in process, ${tier.shardSize} connections each`;
}
