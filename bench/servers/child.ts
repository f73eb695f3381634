import type { AsyncInvocationCounters, ChildMessage, ParentMessage, ReadyInfo, SdkCounters } from './ipc.ts';

/** A server started inside a child process. */
export interface RunningServer {
  info: ReadyInfo;
  /** Connections the server still knows about (registry items or open sockets). */
  registry(): Promise<number>;
  sdk?(): SdkCounters;
  lambda?(): AsyncInvocationCounters;
  close(): Promise<void>;
}

const STOP_TIMEOUT_MS = 15_000;

/**
 * Runs a server in this child process under the bench's control: reports `ready`, answers `stats`, and on
 * `stop` closes it and exits normally (so `--cpu-prof` writes its profile). Exits too when the parent goes away,
 * so a crashed bench leaves no server behind.
 */
export async function serveChild(start: () => Promise<RunningServer>): Promise<void> {
  const send = (message: ChildMessage) => process.send?.(message);
  if (!process.send) throw new Error('run this file through the bench (it needs an IPC channel)');
  process.on('disconnect', () => process.exit(1));

  let server: RunningServer;
  try {
    server = await start();
  } catch (error) {
    send({
      type: 'failed',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exit(1);
  }

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stats') {
      void server
        .registry()
        .catch(() => -1)
        .then((registry) => {
          const cpu = process.cpuUsage();
          send({
            type: 'stats',
            id: message.id,
            stats: {
              cpuUserUs: cpu.user,
              cpuSystemUs: cpu.system,
              hrtimeUs: Number(process.hrtime.bigint() / 1000n),
              rssBytes: process.memoryUsage.rss(),
              registry,
              ...(server.sdk && { sdk: server.sdk() }),
              ...(server.lambda && { lambda: server.lambda() }),
            },
          });
        });
    } else if (message.type === 'stop') {
      const forced = setTimeout(() => process.exit(2), STOP_TIMEOUT_MS);
      void server.close().finally(() => {
        clearTimeout(forced);
        process.exit(0);
      });
    }
  });
  send({ type: 'ready', info: server.info });
}
