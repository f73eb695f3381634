import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ScriptedResponse {
  status: number;
  /** Sent as `x-amzn-ErrorType`, which the SDK turns into the named exception. */
  errorType?: string;
  body?: string;
  /** Held this long instead of the stub's `latencyMs`: longer than a client's request timeout, it hangs. */
  delayMs?: number;
}

export const OK: ScriptedResponse = { status: 200 };
export const GONE: ScriptedResponse = { status: 410, errorType: 'GoneException', body: '' };
export const THROTTLED: ScriptedResponse = {
  status: 429,
  errorType: 'LimitExceededException',
  body: '{"message":"Rate exceeded"}',
};
export const FORBIDDEN: ScriptedResponse = {
  status: 403,
  errorType: 'ForbiddenException',
  body: '{"message":"Forbidden"}',
};
export const INTERNAL: ScriptedResponse = { status: 500, body: '{"message":"Internal server error"}' };
/** Answers 200, but only after a second. */
export const HANGS: ScriptedResponse = { status: 200, delayMs: 1_000 };

export interface ConnectionsApiStub {
  /** `http://127.0.0.1:{port}/{stage}`, as a management endpoint. */
  endpoint: string;
  /** Per connection id: responses in order, the last one repeating. Unscripted ids get 200. */
  script: Map<string, ScriptedResponse[]>;
  /** Every POST, in arrival order. */
  posts: Array<{ connectionId: string; body: Buffer; authorization: string | undefined }>;
  /** The most requests the stub held open at once. */
  readonly maxInFlight: number;
  readonly responded: number;
  close(): Promise<void>;
}

/**
 * Plays API Gateway's @connections API with scripted faults the real service (or an emulator) will not produce
 * on demand. Each response is held for `latencyMs` so concurrency is observable.
 */
export async function startConnectionsApiStub(
  options: { stage?: string; latencyMs?: number } = {},
): Promise<ConnectionsApiStub> {
  const stage = options.stage ?? 'dev';
  const prefix = `/${stage}/@connections/`;
  const served = new Map<string, number>();
  let inFlight = 0;
  const state = { maxInFlight: 0, responded: 0 };
  const script = new Map<string, ScriptedResponse[]>();
  const posts: ConnectionsApiStub['posts'] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const url = req.url ?? '';
      if (req.method !== 'POST' || !url.startsWith(prefix)) {
        res.writeHead(404).end();
        return;
      }
      const connectionId = decodeURIComponent(url.slice(prefix.length));
      posts.push({ connectionId, body: Buffer.concat(chunks), authorization: req.headers.authorization });
      const n = served.get(connectionId) ?? 0;
      served.set(connectionId, n + 1);
      const steps = script.get(connectionId) ?? [OK];
      const step = steps[Math.min(n, steps.length - 1)] ?? OK;
      await sleep(step.delayMs ?? options.latencyMs ?? 5);
      res.writeHead(step.status, {
        'content-type': 'application/json',
        ...(step.errorType && { 'x-amzn-ErrorType': step.errorType }),
      });
      res.end(step.body ?? '');
    } finally {
      inFlight--;
      state.responded++;
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stub: ConnectionsApiStub = {
    endpoint: `http://127.0.0.1:${port}/${stage}`,
    script,
    posts,
    get maxInFlight() {
      return state.maxInFlight;
    },
    get responded() {
      return state.responded;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return stub;
}
