/**
 * What one PostToConnection costs, by client: the same posts from this process to K WebSocket clients of an
 * in-process gateway, through the AWS SDK as roomcast configures it and through leaner alternatives. Everything
 * runs in one process, so the CPU per post includes the gateway and the receiving clients; only the differences
 * between rows are the client's. `npx tsx bench/micro/post-to-connection.ts [posts] [--json]`
 */
import http from 'node:http';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { createGateway } from '@roomcast/gateway';
import WebSocket from 'ws';
import { createManagementClient } from '../../src/delivery.ts';
import { mapLimit, median, round } from '../driver/stats.ts';
import { sigV4Signer } from './sigv4.ts';

export interface PostPathRow {
  variant: string;
  postsPerSec: number;
  cpuUsPerPost: number;
  /** CPU per post relative to the first row (the SDK as roomcast configures it). */
  relativeCpu: number;
  delivered: number;
  posts: number;
}

const CLIENTS = 100;
const CONCURRENCY = 32;
const ROUNDS = 3;
const REGION = 'us-east-1';

type Post = (connectionId: string, body: Buffer) => Promise<void>;

export async function measurePostPaths(posts: number): Promise<PostPathRow[]> {
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_REGION ??= REGION;
  const ids: string[] = [];
  const gateway = createGateway({
    stage: 'dev',
    routes: {
      $connect: async (event: { requestContext: { connectionId: string } }) => {
        ids.push(event.requestContext.connectionId);
        return { statusCode: 200 };
      },
    },
  });
  const { url, managementEndpoint } = await gateway.listen(0, '127.0.0.1');
  let received = 0;
  const sockets = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      socket.on('message', () => received++);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      return socket;
    }),
  );
  try {
    const rows: PostPathRow[] = [];
    for (const [variant, post] of variants(gateway, managementEndpoint)) {
      const body = Buffer.from(JSON.stringify({ action: 'message', message: 'x'.repeat(100) }));
      const warmUp = received;
      await run(post, ids, body, Math.min(posts, 500)); // JIT, sockets
      await waitFor(() => received - warmUp >= Math.min(posts, 500), 5000);
      const samples: Array<{ ms: number; cpuUs: number }> = [];
      const before = received;
      for (let r = 0; r < ROUNDS; r++) samples.push(await run(post, ids, body, posts));
      await waitFor(() => received - before >= posts * ROUNDS, 5000);
      const ms = median(samples.map((s) => s.ms));
      const cpuUs = median(samples.map((s) => s.cpuUs));
      rows.push({
        variant,
        postsPerSec: Math.round((posts / ms) * 1000),
        cpuUsPerPost: round(cpuUs / posts, 1),
        relativeCpu: 0,
        delivered: received - before,
        posts: posts * ROUNDS,
      });
    }
    for (const row of rows) row.relativeCpu = round(row.cpuUsPerPost / (rows[0]?.cpuUsPerPost ?? 1), 2);
    return rows;
  } finally {
    for (const socket of sockets) socket.terminate();
    await gateway.close();
  }
}

function variants(gateway: object, endpoint: string): Array<[string, Post]> {
  const sdk = (client: ApiGatewayManagementApiClient): Post => {
    return async (id, body) => {
      await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: body }));
    };
  };
  const agent = () => new http.Agent({ keepAlive: true });
  const list: Array<[string, Post]> = [
    [
      'SDK over HTTP, as roomcast builds it (createManagementClient)',
      sdk(createManagementClient(endpoint, { region: REGION })),
    ],
    [
      'SDK over HTTP, SDK defaults (no cacheMiddleware)',
      sdk(
        new ApiGatewayManagementApiClient({
          endpoint,
          region: REGION,
          requestHandler: { httpAgent: agent() },
        }),
      ),
    ],
  ];
  const inProcess = (gateway as { managementRequestHandler?: () => unknown }).managementRequestHandler?.();
  if (inProcess) {
    const requestHandler = inProcess as ApiGatewayManagementApiClient['config']['requestHandler'];
    list.push([
      'SDK, in-process transport (gateway.managementRequestHandler), no cacheMiddleware',
      sdk(new ApiGatewayManagementApiClient({ endpoint, region: REGION, requestHandler })),
    ]);
    list.push([
      'SDK, in-process transport + cacheMiddleware, signed',
      sdk(
        new ApiGatewayManagementApiClient({
          endpoint,
          region: REGION,
          requestHandler,
          cacheMiddleware: true,
        }),
      ),
    ]);
    list.push([
      'SDK, in-process transport, unsigned (as the local stack builds it)',
      sdk(createManagementClient(endpoint, { region: REGION, transport: requestHandler, unsigned: true })),
    ]);
  }
  list.push(['node:http + hand-rolled SigV4', rawPost(endpoint, agent(), true)]);
  list.push(['node:http, unsigned (lower bound; AWS would refuse it)', rawPost(endpoint, agent(), false)]);
  return list;
}

function rawPost(endpoint: string, agent: http.Agent, signed: boolean): Post {
  const base = new URL(endpoint);
  const sign = sigV4Signer({ accessKeyId: 'local', secretAccessKey: 'local' }, REGION);
  return (id, body) =>
    new Promise<void>((resolve, reject) => {
      const path = `${base.pathname}/@connections/${encodeURIComponent(id)}`;
      const headers = signed ? sign(base.host, path, body) : {};
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.once('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.once('error', reject);
      req.end(body);
    });
}

async function run(post: Post, ids: string[], body: Buffer, posts: number) {
  const targets = Array.from({ length: posts }, (_, i) => ids[i % ids.length] as string);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const results = await mapLimit(targets, CONCURRENCY, (id) => post(id, body));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return { ms, cpuUs: used.user + used.system };
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const json = process.argv.includes('--json');
  const posts = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3000);
  const rows = await measurePostPaths(posts);
  if (json) console.log(`POSTPATHS ${JSON.stringify(rows)}`);
  else console.table(rows);
  process.exit(0);
}
