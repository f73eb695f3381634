/**
 * The server half of the churn soak (test/soak/churn.test.ts): the local stack alone in a process started with
 * `--expose-gc`, so that its heap can be measured without the load generator's. Driven over IPC:
 * `{ kind: 'heap', settleMs }` → `{ kind: 'heap', heapUsed, … }`, `{ kind: 'stop' }` → exit 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapCodeStatistics } from 'node:v8';
import { startLocalStack } from '../../src/local/stack.ts';

export type SoakRequest = { kind: 'heap'; settleMs: number } | { kind: 'stop' };
export type SoakReply =
  | { kind: 'ready'; wsUrl: string }
  | {
      kind: 'heap';
      /** `heapUsed` after full collections (the smallest of several samples). */
      heapUsed: number;
      /** Of which compiled code and bytecode with their metadata: V8 keeps optimizing while the load runs. */
      code: number;
      rss: number;
    };

const gc = (globalThis as { gc?: () => void }).gc;
const send = (reply: SoakReply) => process.send?.(reply);

/**
 * The heap once garbage is collected: the smallest of several samples, each after full collections. Waiting first
 * lets keep-alive sockets time out (Node's HTTP server closes idle ones after 5 s), as they would in production.
 */
async function settledHeap(settleMs: number): Promise<SoakReply> {
  if (!gc) throw new Error('run with --expose-gc');
  await sleep(settleMs);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(50);
    gc();
    samples.push(process.memoryUsage().heapUsed);
  }
  const { code_and_metadata_size, bytecode_and_metadata_size } = getHeapCodeStatistics();
  return {
    kind: 'heap',
    heapUsed: Math.min(...samples),
    code: code_and_metadata_size + bytecode_and_metadata_size,
    rss: process.memoryUsage().rss,
  };
}

const stack = await startLocalStack({ port: 0, env: process.env });
process.on('message', (request: SoakRequest) => {
  if (request.kind === 'heap') {
    void settledHeap(request.settleMs).then(send);
  } else {
    void stack.close().then(() => process.exit(0));
  }
});
// Never outlive the test that started it.
process.on('disconnect', () => process.exit(1));
send({ kind: 'ready', wsUrl: stack.wsUrl });
