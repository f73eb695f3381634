/**
 * What one PostToConnection costs, by client: the same posts from this process to 100 WebSocket clients of an
 * in-process gateway, through the code the Lambdas run (`postOne` on the client `managementClientFor` builds),
 * through the AWS SDK client as roomcast built it before, and through leaner alternatives down to `node:http` with
 * a hand-rolled SigV4 signature (the lower bound for a signed post) and unsigned. Everything runs in one process,
 * so the CPU per post includes the gateway and the receiving clients; only the differences between rows are the
 * client's. Rounds take the rows in turn, so a change in the machine's load weighs on all of them alike.
 *
 * The credentials are the environment's (made up when absent), with a session token of about a kilobyte as Lambda
 * gives its functions. Before measuring, every signed row posts once to a second gateway that checks SigV4
 * signatures, and the run stops if one is refused. `npx tsx bench/micro/post-to-connection.ts [posts] [--json]`
 */
import http from 'node:http';
import {
  ApiGatewayManagementApiClient,
  type ApiGatewayManagementApiClientConfig,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { createGateway, type Gateway, type GatewayOptions } from '@roomcast/gateway';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import WebSocket from 'ws';
import { createManagementClient, managementClientFor, postOne } from '../../src/delivery.ts';
import { mapLimit, median, round } from '../driver/stats.ts';
import { type Credentials, sigV4Signer } from './sigv4.ts';

export interface PostPathRow {
  variant: string;
  postsPerSec: number;
  cpuUsPerPost: number;
  /** CPU per post relative to the first row (the SDK as roomcast built it before). */
  relativeCpu: number;
  /**
   * CPU per post relative to `node:http` with a hand-rolled signature (the lower bound for a signed post): the
   * median over rounds of the ratio within a round.
   */
  vsLowerBound: number;
  delivered: number;
  posts: number;
}

const CLIENTS = 100;
const CONCURRENCY = 32;
const ROUNDS = 7;
const REGION = 'us-east-1';
const LOWER_BOUND = 'node:http + hand-rolled SigV4 (lower bound for a signed post)';

type Post = (connectionId: string, body: Buffer) => Promise<void>;
interface Variant {
  name: string;
  post: Post;
  signed: boolean;
}

export async function measurePostPaths(posts: number): Promise<PostPathRow[]> {
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_REGION ??= REGION;
  // As on Lambda, whose role credentials always carry a session token: it is signed and sent with every post.
  process.env.AWS_SESSION_TOKEN ??= 'IQoJb3JpZ2luX2VjE'.padEnd(1024, 'x');
  const credentials = envCredentials();

  const checking = await startGateway(1, { managementAuth: { credentials: [credentials] } });
  try {
    for (const variant of variants(checking.gateway, checking.managementEndpoint, credentials)) {
      if (!variant.signed) continue;
      await variant.post(checking.ids[0] as string, Buffer.from('{"action":"check"}')).catch((error) => {
        throw new Error(`${variant.name}: the gateway refused the signature (${String(error)})`);
      });
    }
  } finally {
    await checking.close();
  }

  const { gateway, managementEndpoint, ids, received, close } = await startGateway(CLIENTS);
  try {
    const list = variants(gateway, managementEndpoint, credentials);
    const body = Buffer.from(JSON.stringify({ action: 'message', message: 'x'.repeat(100) }));
    const deliver = async (post: Post, count: number) => {
      const before = received();
      const cpu = process.cpuUsage();
      const started = performance.now();
      await run(post, ids, body, count);
      await waitFor(() => received() - before >= count, 5000);
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpu);
      return { ms, cpuUs: used.user + used.system, delivered: received() - before };
    };
    for (const { post } of list) await deliver(post, Math.min(posts, 500)); // JIT, sockets
    const samples = list.map(() => [] as Array<{ ms: number; cpuUs: number; delivered: number }>);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, { post }] of list.entries()) samples[i]?.push(await deliver(post, posts));
    }
    const rows = list.map(({ name }, i): PostPathRow => {
      const mine = samples[i] ?? [];
      return {
        variant: name,
        postsPerSec: Math.round((posts / median(mine.map((s) => s.ms))) * 1000),
        cpuUsPerPost: round(median(mine.map((s) => s.cpuUs)) / posts, 1),
        relativeCpu: 0,
        vsLowerBound: 0,
        delivered: mine.reduce((sum, s) => sum + s.delivered, 0),
        posts: posts * ROUNDS,
      };
    });
    // Per round, against the lower bound's run of the same round: the machine's load changes less within a round.
    const lower = list.findIndex(({ name }) => name === LOWER_BOUND);
    for (const [i, row] of rows.entries()) {
      row.relativeCpu = round(row.cpuUsPerPost / (rows[0]?.cpuUsPerPost ?? 1), 2);
      const ratios = (samples[i] ?? []).map((s, r) => s.cpuUs / (samples[lower]?.[r]?.cpuUs ?? s.cpuUs));
      row.vsLowerBound = round(median(ratios), 2);
    }
    return rows;
  } finally {
    await close();
  }
}

/** A gateway on a free port with `clients` WebSocket clients connected to it. */
async function startGateway(clients: number, options: Partial<GatewayOptions> = {}) {
  const ids: string[] = [];
  const gateway = createGateway({
    stage: 'dev',
    region: REGION,
    routes: {
      $connect: async (event: { requestContext: { connectionId: string } }) => {
        ids.push(event.requestContext.connectionId);
        return { statusCode: 200 };
      },
    },
    ...options,
  });
  const { url, managementEndpoint } = await gateway.listen(0, '127.0.0.1');
  let received = 0;
  const sockets = await Promise.all(
    Array.from({ length: clients }, async () => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      socket.on('message', () => received++);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      return socket;
    }),
  );
  return {
    gateway,
    managementEndpoint,
    ids,
    received: () => received,
    close: async () => {
      for (const socket of sockets) socket.terminate();
      await gateway.close();
    },
  };
}

function variants(gateway: Gateway, endpoint: string, credentials: Credentials): Variant[] {
  const sdk = (client: ApiGatewayManagementApiClient): Post => {
    return async (id, body) => {
      await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: body }));
    };
  };
  const agent = () => new http.Agent({ keepAlive: true });
  // The SDK client as createManagementClient built it before the direct path: cacheMiddleware, 3 attempts, a
  // keep-alive agent, a 10 s request timeout.
  const sdkClient = (config: Partial<ApiGatewayManagementApiClientConfig> = {}) =>
    new ApiGatewayManagementApiClient({
      endpoint,
      region: REGION,
      maxAttempts: 3,
      cacheMiddleware: true,
      requestHandler: { httpAgent: agent(), requestTimeout: 10_000, throwOnRequestTimeout: true },
      ...config,
    });
  const trimmed = sdkClient({ endpointProvider: () => ({ url: new URL(endpoint) }) });
  for (const name of ['getUserAgentMiddleware', 'recursionDetectionMiddleware', 'loggerMiddleware']) {
    trimmed.middlewareStack.remove(name);
  }
  const requestHandler =
    gateway.managementRequestHandler() as ApiGatewayManagementApiClient['config']['requestHandler'];
  return [
    {
      name: 'SDK over HTTP, as roomcast built it before (cacheMiddleware)',
      post: sdk(sdkClient()),
      signed: true,
    },
    {
      name: 'SDK over HTTP, trimmed: static endpoint, no user-agent, recursion-detection or logger middleware',
      post: sdk(trimmed),
      signed: true,
    },
    {
      name: 'roomcast (as deployed): postOne(managementClientFor(endpoint)), credentials from the environment',
      post: (id, body) => postOne(managementClientFor(endpoint, { region: REGION }), id, body),
      signed: true,
    },
    {
      name: 'node:http + @smithy/signature-v4 (no retries, no timeout, no error types)',
      post: rawPost(endpoint, agent(), smithySigner(credentials)),
      signed: true,
    },
    { name: LOWER_BOUND, post: rawPost(endpoint, agent(), handSigner(credentials)), signed: true },
    { name: 'node:http, unsigned (AWS would refuse it)', post: rawPost(endpoint, agent()), signed: false },
    {
      name: 'SDK, in-process transport, unsigned (as the local stack builds it)',
      post: sdk(
        createManagementClient(endpoint, { region: REGION, transport: requestHandler, unsigned: true }),
      ),
      signed: false,
    },
  ];
}

type Headers = Record<string, string>;
type Signer = (method: string, host: string, path: string, body: Buffer) => Headers | Promise<Headers>;

function envCredentials(): Credentials {
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = process.env;
  return {
    accessKeyId: AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: AWS_SECRET_ACCESS_KEY ?? '',
    ...(AWS_SESSION_TOKEN && { sessionToken: AWS_SESSION_TOKEN }),
  };
}

function handSigner(credentials: Credentials): Signer {
  const sign = sigV4Signer(credentials, REGION);
  return (_method, host, path, body) => sign(host, path, body);
}

/** The SDK's signer as a hand-rolled client would call it: it hashes the payload and signs every header. */
function smithySigner(credentials: Credentials): Signer {
  const signer = new SignatureV4({ credentials, region: REGION, service: 'execute-api', sha256: Sha256 });
  return async (method, host, path, body) => {
    const headers = { host, 'content-length': String(body.length) };
    return (await signer.sign({ method, protocol: 'http:', hostname: host, path, query: {}, headers, body }))
      .headers;
  };
}

function rawPost(endpoint: string, agent: http.Agent, sign?: Signer): Post {
  const base = new URL(endpoint);
  const send = (path: string, headers: Headers, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
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
  return (id, body) => {
    const path = `${base.pathname}/@connections/${encodeURIComponent(id)}`;
    const headers = sign ? sign('POST', base.host, path, body) : {};
    // A signer that can sign synchronously (the hand-rolled one) does not wait for a turn of the event loop.
    return headers instanceof Promise
      ? headers.then((signed) => send(path, signed, body))
      : send(path, headers, body);
  };
}

async function run(post: Post, ids: string[], body: Buffer, posts: number): Promise<void> {
  const targets = Array.from({ length: posts }, (_, i) => ids[i % ids.length] as string);
  const results = await mapLimit(targets, CONCURRENCY, (id) => post(id, body));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
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
