/**
 * What keeping one user's sends in order costs. The SDK puts a send on the wire only when the previous one is
 * acknowledged (`maxSendsInFlight: 1`, the default), so one client sends at most one message per round trip plus
 * the server's time to store and fan it out. This measures sends per second of one SDK client through a TCP proxy
 * that adds a fixed delay each way, at round trips of 0, 20 and 100 ms, ordered and pipelined (8 in flight),
 * against the local stack (the same handlers as on Lambda, dynalite in a worker thread, one other member in the
 * room). On AWS the server's share is larger (DynamoDB and PostToConnection over the network: tens of ms).
 *
 * Not a test. `npx tsx bench/micro/send-order.ts [messages]` (per run; default 100).
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server } from 'node:net';
import { connect, type RoomcastClient } from '@roomcast/client';
import WebSocket from 'ws';
import { signDevToken } from '../../src/auth.ts';
import { type LocalStack, startLocalStack } from '../../src/local/stack.ts';

const SECRET = 'bench-send-order-secret-0123456789abcdef';
const messages = Number(process.argv[2] ?? 100);

/** A TCP relay that delays every chunk by `oneWayMs` in each direction, in order. */
async function delayingRelay(target: URL, oneWayMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((client) => {
    const upstream = createConnection(Number(target.port), target.hostname);
    const later = (send: () => void) => (oneWayMs > 0 ? setTimeout(send, oneWayMs) : send());
    client.on('data', (chunk) => later(() => upstream.destroyed || upstream.write(chunk)));
    upstream.on('data', (chunk) => later(() => client.destroyed || client.write(chunk)));
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { url: `ws://127.0.0.1:${address.port}${target.pathname}`, server };
}

async function opened(client: RoomcastClient): Promise<void> {
  if (client.state === 'open') return;
  await new Promise<void>((resolve) => {
    const off = client.on('state', (change) => {
      if (change.state === 'open') {
        off();
        resolve();
      }
    });
  });
}

async function run(stack: LocalStack, rttMs: number, inFlight: number, room: string): Promise<number> {
  const relay = await delayingRelay(new URL(stack.wsUrl), rttMs / 2);
  const token = await signDevToken(SECRET, 'sender');
  const sender = connect({ url: relay.url, room, token, WebSocket, maxSendsInFlight: inFlight });
  const listener = connect({
    url: stack.wsUrl,
    room,
    token: await signDevToken(SECRET, 'listener'),
    WebSocket,
  });
  try {
    await Promise.all([opened(sender), opened(listener)]);
    await sender.send('warm-up');
    const started = performance.now();
    await Promise.all(Array.from({ length: messages }, (_, i) => sender.send(`m${i}`)));
    return (messages / (performance.now() - started)) * 1000;
  } finally {
    sender.close();
    listener.close();
    relay.server.close();
  }
}

const stack = await startLocalStack({
  port: 0,
  env: { JWT_SECRET: SECRET, LOG_LEVEL: 'SILENT', PRESENCE_ENABLED: 'false' },
});
try {
  console.log(`${messages} sends per run, one SDK client, local stack\n`);
  console.log('| round trip | in order (1 in flight) | pipelined (8 in flight) |');
  console.log('| ---------- | ---------------------- | ----------------------- |');
  for (const rtt of [0, 20, 100]) {
    const ordered = await run(stack, rtt, 1, `ordered-${rtt}`);
    const pipelined = await run(stack, rtt, 8, `pipelined-${rtt}`);
    console.log(`| ${rtt} ms | ${ordered.toFixed(1)} sends/s | ${pipelined.toFixed(1)} sends/s |`);
  }
} finally {
  await stack.close();
}
