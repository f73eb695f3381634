/**
 * The server half of the hostile-load tests (test/security/hostile-load.test.ts): the local stack alone in a
 * process, so that its memory is measured without the attacker's. Driven over IPC:
 * `{ kind: 'stats' }` → `{ kind: 'stats', … }`, `{ kind: 'reset-peak' }` → `{ kind: 'peak-reset' }`,
 * `{ kind: 'stop' }` → exit 0. Its environment is the functions' (and ROOMCAST_DATA_DIR, the store's directory).
 */
import { startLocalStack } from '../../src/local/stack.ts';

export type HostileRequest = { kind: 'stats' } | { kind: 'reset-peak' } | { kind: 'stop' };
export type HostileReply =
  | { kind: 'ready'; wsUrl: string; managementEndpoint: string; staleConnectionsRemoved: number }
  | { kind: 'peak-reset' }
  | {
      kind: 'stats';
      rss: number;
      /** The highest RSS sampled (every 10 ms) since start or the last reset. */
      rssPeak: number;
      /**
       * Failure lines the gateway logged (a handler threw or timed out). Its failure log bounds them, so this is a
       * lower bound of the failed invocations; but the first of each kind is always logged, so 0 means none.
       */
      failedInvocations: number;
    };

const send = (reply: HostileReply) => process.send?.(reply);
let rssPeak = process.memoryUsage.rss();
setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 10).unref();

let failedInvocations = 0;
const stack = await startLocalStack({
  port: 0,
  env: process.env,
  ...(process.env.ROOMCAST_DATA_DIR && { dataDir: process.env.ROOMCAST_DATA_DIR }),
  gatewayLogger: {
    info() {},
    warn() {},
    error(message) {
      if (message.endsWith(' failed')) failedInvocations++;
    },
  },
});
process.on('message', (request: HostileRequest) => {
  if (request.kind === 'stats') {
    const rss = process.memoryUsage.rss();
    send({ kind: 'stats', rss, rssPeak: Math.max(rssPeak, rss), failedInvocations });
  } else if (request.kind === 'reset-peak') {
    rssPeak = process.memoryUsage.rss();
    send({ kind: 'peak-reset' });
  } else {
    void stack.close().then(() => process.exit(0));
  }
});
// Never outlive the test that started it.
process.on('disconnect', () => process.exit(1));
send({
  kind: 'ready',
  wsUrl: stack.wsUrl,
  managementEndpoint: stack.managementEndpoint,
  staleConnectionsRemoved: stack.staleConnectionsRemoved,
});
