import { isUtf8 } from 'node:buffer';
import { CLOSE_NORMAL } from './close-codes.js';
import type { Connection } from './connections.js';
import { isWellFormedGatewayId } from './ids.js';
import {
  awsError,
  awsSuccess,
  type ManagementRequest,
  type ManagementResponse,
} from './management-messages.js';
import type { GatewayRuntime } from './runtime.js';

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
const MANAGEMENT_PATH = /^\/(?:([^/]+)\/+)?(?:@|%40)connections(?:\/([^/]*))?(\/.*)?$/;

export function parseManagementPath(pathname: string): ManagementPath | undefined {
  const match = MANAGEMENT_PATH.exec(pathname);
  if (!match) return undefined;
  const [, stage, id, rest] = match;
  return { stage, encodedId: id && !rest ? id : undefined };
}

/**
 * The @connections API: POST sends a frame, GET describes the connection, DELETE closes it. Both transports (the
 * HTTP listener and the in-process SDK handler) call this one function.
 */
export async function handleManagementRequest(
  runtime: GatewayRuntime,
  request: ManagementRequest,
): Promise<ManagementResponse> {
  const { method } = request;
  const path = parseManagementPath(request.pathname);
  const stageMatches = path?.stage === undefined || path.stage === runtime.options.stage;
  if (!path || !stageMatches || path.encodedId === undefined || !['POST', 'GET', 'DELETE'].includes(method)) {
    return awsError(403, 'ForbiddenException', 'Forbidden');
  }
  const id = decodeId(path.encodedId);
  if (id === undefined || !isWellFormedGatewayId(id)) {
    return awsError(400, 'BadRequestException', `Invalid connectionId: ${id ?? path.encodedId}`);
  }
  if (method === 'POST') return postToConnection(runtime, request, id);
  const connection = runtime.connections.getOpen(id);
  if (!connection) return gone();
  if (method === 'GET') return awsSuccess(200, describe(connection));
  connection.close(CLOSE_NORMAL);
  return awsSuccess(204);
}

async function postToConnection(
  runtime: GatewayRuntime,
  request: ManagementRequest,
  id: string,
): Promise<ManagementResponse> {
  const data = await request.readBody(MAX_POST_BYTES);
  if (data === undefined) return awsError(413, 'PayloadTooLargeException', 'Message too long');
  const connection = runtime.connections.getOpen(id);
  if (!connection) return gone();
  // "The WebSocket client side buffer is full" (service model): the client is not reading fast enough.
  if (connection.bufferedAmount >= runtime.options.sendBufferLimitBytes) {
    return awsError(429, 'LimitExceededException', 'Rate exceeded');
  }
  // Text when the bytes are UTF-8, binary otherwise (SPEC.md §5.4, unverified).
  if (!connection.send(data, !isUtf8(data))) return gone();
  return awsSuccess(200);
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
function gone(): ManagementResponse {
  return awsError(410, 'GoneException');
}

function decodeId(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}
