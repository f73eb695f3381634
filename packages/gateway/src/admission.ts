import type http from 'node:http';
import { authorizerEvent, connectMethodArn } from './authorizer-event.js';
import { type AuthorizerContext, judgeAuthorizer } from './authorizer-result.js';
import type { ConnectionFacts, GatewayRequestContext } from './events.js';
import type { HeaderMaps, QueryMaps } from './handshake-request.js';
import { missingIdentitySource } from './identity-sources.js';
import { describeFailure, type GatewayRuntime, invokeTracked } from './runtime.js';

export type Admission =
  | { admitted: true; authorizer: AuthorizerContext | undefined }
  | { admitted: false; status: number };

export interface AdmissionRequest {
  req: http.IncomingMessage;
  facts: ConnectionFacts;
  /** The authorizer variant of the handshake headers. */
  headers: HeaderMaps;
  query: QueryMaps | undefined;
  requestContext: GatewayRequestContext;
}

/**
 * The steps before `$connect` (SPEC.md §3.2, §3.5): identity sources must all be present and non-empty (401
 * otherwise, without invoking anything), then the Lambda REQUEST authorizer decides. Without an authorizer every
 * handshake is admitted.
 */
export async function admit(runtime: GatewayRuntime, request: AdmissionRequest): Promise<Admission> {
  const { authorizer, stageVariables, region, accountId, apiId, stage, logger } = runtime.options;
  if (!authorizer) return { admitted: true, authorizer: undefined };
  const { facts, query, requestContext } = request;
  const missing = missingIdentitySource(authorizer.identitySources, {
    headers: request.req.headers,
    queryStringParameters: query?.queryStringParameters ?? {},
    stageVariables: stageVariables ?? {},
    requestContext,
  });
  if (missing) {
    logger.info('connection refused', { connectionId: facts.connectionId, missing: missing.expression });
    return { admitted: false, status: 401 };
  }
  const methodArn = connectMethodArn({ region, accountId, apiId, stage });
  const event = authorizerEvent(facts, methodArn, request.headers, query, requestContext);
  const outcome = await invokeTracked(runtime, authorizer.handler, 'authorizer', event);
  const verdict = judgeAuthorizer(outcome, methodArn);
  if (!verdict.allow) {
    const { status, why } = verdict;
    const details = { connectionId: facts.connectionId, status, why };
    // 401 and 403 are the authorizer saying no; a 500 is a broken authorizer and worth an error.
    if (status !== 500) logger.info('connection refused', details);
    else logger.error('authorizer failed', { ...details, ...(!outcome.ok && describeFailure(outcome)) });
    return { admitted: false, status };
  }
  return { admitted: true, authorizer: verdict.authorizer };
}
