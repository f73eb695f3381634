import { isUtf8 } from 'node:buffer';
import type http from 'node:http';
import { CLOSE_NORMAL } from './close-codes.ts';
import type { Connection } from './connections.ts';
import { sendAwsError, sendAwsSuccess } from './http-responses.ts';
import { isWellFormedGatewayId } from './ids.ts';
import type { GatewayRuntime } from './runtime.ts';

/** `PostToConnection` `Data` limit from the service model. */
export const MAX_POST_BYTES = 131_072;

export interface ManagementPath {
  /** Undefined for `/@connections/…` without a stage prefix, which the gateway also accepts. */
  stage: string | undefined;
  /** Still percent-encoded; undefined for paths that name no single connection. */
  encodedId: string | undefined;
}

// SDK v3 appends `/@connections/{id}` to the endpoint path (a trailing slash in the endpoint gives `//`);
// other clients send `%40connections`.
const MANAGEMENT_PATH = /^\/(?:([^/]+)\/+)?(?:@|%40)connections(?:\/([^/]*))?(\/.*)?$/i;

export function parseManagementPath(pathname: string): ManagementPath | undefined {
  const match = MANAGEMENT_PATH.exec(pathname);
  if (!match) return undefined;
  const [, stage, id, rest] = match;
  return { stage, encodedId: id && !rest ? id : undefined };
}

/** The @connections API: POST sends a frame, GET describes the connection, DELETE closes it. */
export async function handleManagementRequest(
  runtime: GatewayRuntime,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: ManagementPath,
): Promise<void> {
  const method = req.method ?? '';
  const stageMatches = path.stage === undefined || path.stage === runtime.options.stage;
  if (!stageMatches || path.encodedId === undefined || !['POST', 'GET', 'DELETE'].includes(method)) {
    await discardBody(req);
    return sendAwsError(res, 403, 'ForbiddenException', 'Forbidden');
  }
  const id = decodeId(path.encodedId);
  if (id === undefined || !isWellFormedGatewayId(id)) {
    await discardBody(req);
    return sendAwsError(res, 400, 'BadRequestException', `Invalid connectionId: ${id ?? path.encodedId}`);
  }
  if (method === 'POST') return postToConnection(runtime, req, res, id);
  await discardBody(req);
  const connection = runtime.connections.getOpen(id);
  if (!connection) return sendGone(res);
  if (method === 'GET') return sendAwsSuccess(res, 200, describe(connection));
  connection.close(CLOSE_NORMAL);
  sendAwsSuccess(res, 204);
}

async function postToConnection(
  runtime: GatewayRuntime,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  id: string,
): Promise<void> {
  const data = await readBody(req, MAX_POST_BYTES);
  if (data === undefined) return sendAwsError(res, 413, 'PayloadTooLargeException', 'Message too long');
  const connection = runtime.connections.getOpen(id);
  if (!connection) return sendGone(res);
  try {
    // Text when the bytes are UTF-8, binary otherwise (reference §5.5, inferred).
    await connection.send(data, !isUtf8(data));
  } catch {
    return sendGone(res);
  }
  sendAwsSuccess(res, 200);
}

function describe(connection: Connection) {
  const { connectedAt, identity } = connection.facts;
  return {
    connectedAt: new Date(connectedAt).toISOString(),
    identity: { sourceIp: identity.sourceIp, userAgent: identity.userAgent ?? '' },
    lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
  };
}

/** AWS answers 410 with only the error-type header and an empty body. */
function sendGone(res: http.ServerResponse): void {
  sendAwsError(res, 410, 'GoneException');
}

function decodeId(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** The body, or undefined when it exceeds `limit` (the rest is still read so the response is not cut off). */
async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size <= limit ? Buffer.concat(chunks) : undefined;
}

async function discardBody(req: http.IncomingMessage): Promise<void> {
  for await (const _ of req);
}
