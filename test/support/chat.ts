import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { type AdminClient, createAdminClient } from '@roomcast/admin';
import WebSocket from 'ws';
import { signDevToken } from '../../src/auth.ts';
import { createManagementClient, type ManagementClientOptions } from '../../src/delivery.ts';
import {
  LOCAL_CREDENTIALS,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '../../src/local/stack.ts';
import type { ChatMetrics, MetricName } from '../../src/metrics.ts';
import { CONNECT_GRACE_SECONDS } from '../../src/rooms.ts';
import { ConnectionStore } from '../../src/store/connections.ts';
import { createDocumentClient } from '../../src/store/tables.ts';

export const TEST_SECRET = 'integration-test-secret-0123456789abcdef';

/**
 * Per-connection frame limits out of the way: tests drive single connections far harder than any client may
 * (bursts of raw sends, thousands of reads). The tests of the limits themselves (test/security/hostile-load.test.ts)
 * and of the SDK under them set their own.
 */
export const UNLIMITED_FRAMES = {
  CONNECTION_FRAMES_PER_SECOND: '100000',
  CONNECTION_FRAME_BURST: '100000',
  CONNECTION_BYTES_PER_SECOND: String(2 ** 30),
  CONNECTION_BYTE_BURST: String(2 ** 30),
};

/**
 * The management API as a backend calls it: the AWS SDK, signing with the key pair the local stack gives its
 * functions (the HTTP endpoint refuses unsigned requests, as AWS does).
 */
export function managementApi(
  stack: LocalStack,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  return createManagementClient(stack.managementEndpoint, {
    region: stack.config.region,
    ...(stack.managementCredentials && { credentials: stack.managementCredentials }),
    ...options,
  });
}

export function startTestStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    port: 0,
    ...options,
    env: { JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'SILENT', ...UNLIMITED_FRAMES, ...options.env },
  });
}

/** The operators' client for `stack`'s admin function, signed with the key pair the stack checks. */
export function adminClientFor(stack: LocalStack): AdminClient {
  return createAdminClient({
    functionName: stack.adminFunction,
    endpoint: stack.lambdaEndpoint,
    region: stack.config.region,
    ...(stack.managementCredentials && { credentials: stack.managementCredentials }),
  });
}

export type Frame = Record<string, unknown> & { action?: string };

/** A real WebSocket client that queues the frames it receives. */
export class ChatClient {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  private refs = 0;
  closeCode: number | undefined;

  private constructor(
    readonly socket: WebSocket,
    keepPresence: boolean,
  ) {
    socket.on('message', (data) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(data)) as Frame;
      } catch {
        frame = { action: 'non-json', raw: String(data) };
      }
      if (frame.action === 'presence' && !keepPresence) return;
      this.frames.push(frame);
      this.wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  /**
   * Presence frames are dropped unless `keepPresence` is set, so tests of other features see only their frames.
   * `room` null: a connection that holds no room until it subscribes. `rooms`: the token's `rooms` claim.
   */
  static async connect(
    stack: Pick<LocalStack, 'wsUrl'>,
    user: string,
    room: string | null,
    extraQuery = '',
    {
      keepPresence = false,
      secret = TEST_SECRET,
      rooms,
      token: given,
    }: { keepPresence?: boolean; secret?: string; rooms?: string[]; token?: string } = {},
  ): Promise<ChatClient> {
    const token = given ?? (await signDevToken(secret, user, rooms ? { rooms } : {}));
    const roomQuery = room === null ? '' : `&room_id=${room}`;
    const socket = new WebSocket(`${stack.wsUrl}?token=${token}${roomQuery}${extraQuery}`);
    const client = new ChatClient(socket, keepPresence);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return client;
  }

  /** Sends a frame with a fresh `ref` and returns the answer carrying it (the reply or an error frame). */
  async request(frame: Frame, timeoutMs = 5000): Promise<Frame> {
    const ref = `req-${++this.refs}`;
    this.send({ ...frame, ref });
    return this.next((answer) => answer.ref === ref, timeoutMs);
  }

  /** Subscribes to a room and returns the `subscribed` frame; throws on an error answer. */
  async subscribe(roomId: string, extra: Frame = {}): Promise<Frame> {
    const answer = await this.request({ action: 'subscribe', room_id: roomId, ...extra });
    if (answer.action !== 'subscribed') throw new Error(`subscribe ${roomId}: ${JSON.stringify(answer)}`);
    return answer;
  }

  send(frame: Frame | string): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next unread frame (optionally the next matching one), or a timeout error. */
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(match);
      if (index >= 0) return this.frames.splice(index, 1)[0] as Frame;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching frame within ${timeoutMs} ms; have ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Proves the queue holds nothing else: a ping's pong must be the very next frame. */
  async expectOnlyPong(): Promise<void> {
    this.send({ action: 'ping' });
    const frame = await this.next();
    if (frame.action !== 'pong') throw new Error(`expected pong first, got ${JSON.stringify(frame)}`);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(1000);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface HandshakeOptions {
  headers?: Record<string, string>;
  protocols?: string[];
}

/** The HTTP status that refuses a handshake, or 0 when it is accepted (the socket is then closed with 1000). */
export function handshakeStatus(url: string, options: HandshakeOptions = {}): Promise<number> {
  const socket = new WebSocket(url, options.protocols ?? [], {
    ...(options.headers && { headers: options.headers }),
  });
  return new Promise<number>((resolve, reject) => {
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? -1);
      socket.terminate();
    });
    socket.once('open', () => {
      socket.close(1000);
      resolve(0);
    });
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

export async function eventually<T>(
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Metrics that add up what handlers record, so tests can read the totals. Every invocation flushes its metrics when
 * it ends, whatever the outcome, so `invocationsEnded` tells a test that the invocations it caused have finished
 * everything they would do: the sentinel that proves something did not happen, instead of a sleep.
 */
export function recordingMetrics(): ChatMetrics & {
  totals: Map<MetricName, number>;
  /** The last reading of each gauge, by `name` or `name/room_id`. */
  gauges: Map<string, number>;
  invocationsEnded: () => number;
} {
  const totals = new Map<MetricName, number>();
  const gauges = new Map<string, number>();
  let ended = 0;
  const add = (name: MetricName, value = 1) => totals.set(name, (totals.get(name) ?? 0) + value);
  return {
    totals,
    gauges,
    count: add,
    milliseconds: add,
    gauge: (name, value, roomId) => {
      gauges.set(roomId === undefined ? name : `${name}/${roomId}`, value);
    },
    flush() {
      ended += 1;
    },
    invocationsEnded: () => ended,
  };
}

/**
 * Writes a connection record as `$connect` would have, long enough ago to be past the connect grace period: a
 * record whose connection is gone without a `$disconnect`.
 */
export async function putOldRecord(
  stack: LocalStack,
  record: { connectionId: string; roomId: string; userId: string },
): Promise<void> {
  const doc = createDocumentClient({
    endpoint: stack.dynamodbEndpoint,
    region: stack.config.region,
    credentials: LOCAL_CREDENTIALS,
  });
  const past = Date.now() - (CONNECT_GRACE_SECONDS + 60) * 1000;
  const store = new ConnectionStore(doc, {
    tableName: stack.config.tables.connections,
    subscriptionsTableName: stack.config.tables.subscriptions,
    ttlSeconds: stack.config.connectionTtlSeconds,
    now: () => past,
  });
  try {
    await store.put(record);
  } finally {
    doc.destroy();
  }
}
