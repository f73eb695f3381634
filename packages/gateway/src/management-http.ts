import type http from 'node:http';
import { handleManagementRequest } from './management.js';
import { collectLimited, internalError, type ManagementResponse } from './management-messages.js';
import { pathnameOf } from './paths.js';
import type { GatewayRuntime } from './runtime.js';

/** The @connections API over the gateway's HTTP listener: adapts the request and writes the response. */
export async function serveManagementOverHttp(
  runtime: GatewayRuntime,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  let body: Promise<Buffer | undefined> | undefined;
  const request = {
    method: req.method ?? '',
    pathname: pathnameOf(req.url),
    readBody: (limit: number) => {
      body ??= collectLimited(req, limit);
      return body;
    },
  };
  let response: ManagementResponse;
  try {
    response = await handleManagementRequest(runtime, request);
  } catch (error) {
    runtime.options.logger.error('management request failed', { url: req.url, error: String(error) });
    response = internalError();
  }
  // Whatever was not read is drained, so the client is not cut off while still sending.
  await (body ?? collectLimited(req, 0)).catch(() => undefined);
  res.writeHead(response.statusCode, response.headers);
  res.end(response.body);
}
