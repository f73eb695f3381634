import { setTimeout as sleep } from 'node:timers/promises';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SdkCounters } from './ipc.ts';

/** API Gateway meters messages in 32 KB units (https://aws.amazon.com/api-gateway/pricing/). */
const MESSAGE_UNIT_BYTES = 32 * 1024;
const READS = new Set([
  'GetCommand',
  'GetItemCommand',
  'QueryCommand',
  'BatchGetCommand',
  'BatchGetItemCommand',
]);
const WRITES = new Set([
  'PutCommand',
  'PutItemCommand',
  'DeleteCommand',
  'DeleteItemCommand',
  'UpdateCommand',
  'UpdateItemCommand',
]);
const PATCHED = Symbol.for('roomcast.bench.sdkMeter');

type Send = (this: unknown, command: unknown, ...rest: unknown[]) => unknown;
interface Command {
  constructor: { name: string };
  input: Record<string, unknown>;
}
interface Capacity {
  CapacityUnits?: number;
}

/**
 * Counts what the AWS SDK clients of this process do, without touching the code that uses them: every client's
 * `send` is wrapped once. DynamoDB requests get `ReturnConsumedCapacity: 'TOTAL'`; dynalite answers with the base
 * table's units by DynamoDB's rules, and the GSI writes it leaves out are added here (+1 per index whose key the
 * written or deleted item has). Scans are not counted: only the bench's registry check uses them.
 *
 * `indexKeys`: table name → hash keys of its global secondary indexes. `postLatencyMs` (env
 * `BENCH_POST_LATENCY_MS`) delays every PostToConnection, as a round trip to AWS would; `invokeLatencyMs` (env
 * `BENCH_INVOKE_LATENCY_MS`) delays every Lambda Invoke (the fan-out tier's hand-off) the same way.
 */
export function installSdkMeter(
  indexKeys: Record<string, readonly string[]>,
  postLatencyMs = Number(process.env.BENCH_POST_LATENCY_MS ?? 0),
  invokeLatencyMs = Number(process.env.BENCH_INVOKE_LATENCY_MS ?? 0),
): () => SdkCounters {
  const counters: SdkCounters = {
    operations: {},
    rru: 0,
    wru: 0,
    conditionalFailures: 0,
    posts: 0,
    postRetries: 0,
    postUnits: 0,
    postBytes: 0,
    postErrors: {},
    invokes: 0,
  };
  const latencies: Record<string, number> = {
    PostToConnectionCommand: postLatencyMs,
    InvokeCommand: invokeLatencyMs,
  };
  // Every client of the SDK shares this prototype (@smithy/core's Client), the Lambda client loaded later included.
  const prototypes = new Set(
    [DynamoDBClient, DynamoDBDocumentClient, ApiGatewayManagementApiClient].map(
      (client) => Object.getPrototypeOf(client.prototype) as Record<string | symbol, unknown>,
    ),
  );
  for (const prototype of prototypes) {
    if (prototype[PATCHED]) continue;
    const original = prototype.send as Send;
    prototype.send = function (this: unknown, command: unknown, ...rest: unknown[]) {
      const observe = observer(command as Command, counters, indexKeys);
      // AWS-like round trip: PostToConnection (and Invoke) waits before it reaches the (local, instant) gateway.
      const delay = latencies[(command as Command).constructor.name] ?? 0;
      const result =
        delay > 0
          ? sleep(delay).then(() => original.call(this, command, ...rest))
          : original.call(this, command, ...rest);
      return observe && result instanceof Promise ? result.then(observe.ok, observe.failed) : result;
    };
    prototype[PATCHED] = true;
  }
  return () => structuredClone(counters);
}

function observer(
  command: Command,
  counters: SdkCounters,
  indexKeys: Record<string, readonly string[]>,
): { ok: (output: unknown) => unknown; failed: (error: unknown) => never } | undefined {
  const name = command.constructor.name;
  const input = command.input ?? {};
  if (name === 'InvokeCommand') {
    counters.invokes++;
    return undefined;
  }
  if (name === 'PostToConnectionCommand') {
    const bytes = byteLength(input.Data);
    counters.posts++;
    counters.postBytes += bytes;
    counters.postUnits += Math.max(1, Math.ceil(bytes / MESSAGE_UNIT_BYTES));
    const retries = (result: unknown) => {
      const attempts =
        (result as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
      counters.postRetries += Math.max(0, attempts - 1);
    };
    return {
      ok: (output) => {
        retries(output);
        return output;
      },
      failed: (error) => {
        retries(error);
        const code = (error as { code?: unknown }).code;
        const key =
          error instanceof Error ? `${error.name}${typeof code === 'string' ? ` (${code})` : ''}` : 'unknown';
        counters.postErrors[key] = (counters.postErrors[key] ?? 0) + 1;
        // The first of each kind goes to stderr, which the bench prints after the run.
        if (counters.postErrors[key] === 1 && key !== 'GoneException') {
          console.error(
            `PostToConnection failed: ${key}: ${error instanceof Error ? error.stack : String(error)}`,
          );
        }
        throw error;
      },
    };
  }
  const isRead = READS.has(name);
  if (!isRead && !WRITES.has(name)) return undefined;
  input.ReturnConsumedCapacity ??= 'TOTAL';
  counters.operations[name] = (counters.operations[name] ?? 0) + 1;
  const gsiKeys = indexKeys[String(input.TableName)] ?? [];
  return {
    ok: (output) => {
      const units = capacityOf(output);
      if (isRead) counters.rru += units;
      else counters.wru += units + indexWrites(name, input, output, gsiKeys);
      return output;
    },
    failed: (error) => {
      if (!isRead && error instanceof Error && error.name === 'ConditionalCheckFailedException') {
        counters.conditionalFailures++;
        counters.wru += 1;
      }
      throw error;
    },
  };
}

function capacityOf(output: unknown): number {
  const consumed = (output as { ConsumedCapacity?: Capacity | Capacity[] } | undefined)?.ConsumedCapacity;
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
}

/**
 * One index write per GSI the item is in: a put adds the entry, a delete removes it (DynamoDB's capacity rules for
 * global secondary indexes).
 */
function indexWrites(
  name: string,
  input: Record<string, unknown>,
  output: unknown,
  gsiKeys: readonly string[],
): number {
  if (gsiKeys.length === 0) return 0;
  if (name.startsWith('Put')) {
    const item = (input.Item ?? {}) as Record<string, unknown>;
    return gsiKeys.filter((key) => item[key] !== undefined).length;
  }
  if (name.startsWith('Delete')) {
    const old = (output as { Attributes?: Record<string, unknown> } | undefined)?.Attributes;
    // Without ReturnValues the deleted item is unknown; a successful delete is taken to have removed one.
    if (input.ReturnValues !== 'ALL_OLD') return gsiKeys.length;
    return old ? gsiKeys.filter((key) => old[key] !== undefined).length : 0;
  }
  return gsiKeys.length; // UpdateItem: at least the projected attributes of each index change.
}

function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof Uint8Array) return data.byteLength;
  return 0;
}
