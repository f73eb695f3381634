/**
 * The Lambda REQUEST authorizer of `$connect` (SPEC.md §3.5–§3.8): its identity sources, the event it receives, the
 * evaluation of the policy it returns, and what its outcome means for the handshake. Handshake.ts runs it.
 */
import { MAX_AUTHORIZER_RESULT_BYTES } from './constants.js';
import type {
  AuthorizerContext,
  ConnectionFacts,
  GatewayRequestContext,
  HeaderMaps,
  QueryMaps,
} from './events.js';
import type { InvocationOutcome } from './invoke.js';
import type { IdentitySource } from './options.js';

// Identity sources (SPEC.md §3.5) ---------------------------------------------------------------------------

export interface IdentityInputs {
  /** Header values keyed by lowercase name. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  queryStringParameters: Readonly<Record<string, string>>;
  stageVariables: Readonly<Record<string, string>>;
  requestContext: object;
}

/**
 * The first source that is missing or empty, or undefined when all are usable. API Gateway checks them before it
 * invokes the authorizer, and answers 401 without invoking it when one is missing.
 */
export function missingIdentitySource(
  sources: readonly IdentitySource[],
  inputs: IdentityInputs,
): IdentitySource | undefined {
  return sources.find((source) => {
    const value = sourceValue(source, inputs);
    return (
      value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)
    );
  });
}

function sourceValue(source: IdentitySource, inputs: IdentityInputs): unknown {
  switch (source.from) {
    case 'header':
      return own(inputs.headers, source.name);
    case 'querystring':
      return own(inputs.queryStringParameters, source.name);
    case 'stageVariables':
      return own(inputs.stageVariables, source.name);
    case 'context':
      return source.path.reduce<unknown>(
        (value, step) => (typeof value === 'object' && value !== null ? own(value, step) : undefined),
        inputs.requestContext,
      );
  }
}

function own(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

// The authorizer event (SPEC.md §3.6) -----------------------------------------------------------------------

export type AuthorizerEvent = {
  type: 'REQUEST';
  methodArn: string;
} & HeaderMaps &
  QueryMaps & {
    stageVariables: Record<string, string>;
    requestContext: GatewayRequestContext;
  };

export interface MethodArnParts {
  region: string;
  accountId: string;
  apiId: string;
  stage: string;
}

/** `arn:aws:execute-api:{region}:{accountId}:{apiId}/{stage}/$connect`: no HTTP verb segment on WebSocket APIs. */
export function connectMethodArn({ region, accountId, apiId, stage }: MethodArnParts): string {
  return `arn:aws:execute-api:${region}:${accountId}:${apiId}/${stage}/$connect`;
}

/**
 * The REQUEST authorizer event, as in the documented example: the handshake headers including
 * `Connection`/`Upgrade` and `content-length: "0"`, both query maps (empty without a query string, unverified),
 * `stageVariables` (`{}` when the stage has none) and the CONNECT request context.
 */
export function authorizerEvent(
  facts: ConnectionFacts,
  methodArn: string,
  headers: HeaderMaps,
  query: QueryMaps | undefined,
  requestContext: GatewayRequestContext,
): AuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    headers: headers.headers,
    multiValueHeaders: headers.multiValueHeaders,
    queryStringParameters: query?.queryStringParameters ?? {},
    multiValueQueryStringParameters: query?.multiValueQueryStringParameters ?? {},
    stageVariables: { ...facts.stageVariables },
    requestContext: { ...requestContext, identity: { ...requestContext.identity } },
  };
}

// Policy evaluation (SPEC.md §3.7) --------------------------------------------------------------------------
//
// IAM policy evaluation against the `$connect` method ARN (inferred): `*` matches any run of characters including
// `/`, `?` matches one character, an explicit Deny wins, and no matching Allow means deny. Actions match
// case-insensitively, resources case-sensitively. Statements with `NotAction`/`NotResource` or without
// Action/Resource are not understood and are ignored.

const INVOKE_ACTION = 'execute-api:Invoke';

interface Statement {
  Effect?: unknown;
  Action?: unknown;
  Resource?: unknown;
}

/** The statements of a policy document, or undefined when it is not one. */
export function statementsOf(policyDocument: unknown): Statement[] | undefined {
  if (typeof policyDocument !== 'object' || policyDocument === null) return undefined;
  const statement = (policyDocument as { Statement?: unknown }).Statement;
  const list = Array.isArray(statement) ? statement : [statement];
  if (list.some((s) => typeof s !== 'object' || s === null)) return undefined;
  return list as Statement[];
}

export function policyAllows(statements: readonly Statement[], methodArn: string): boolean {
  const matching = statements.filter(
    (s) =>
      matchesAny(s.Action, INVOKE_ACTION, { ignoreCase: true }) &&
      matchesAny(s.Resource, methodArn, { ignoreCase: false }),
  );
  if (matching.some((s) => s.Effect === 'Deny')) return false;
  return matching.some((s) => s.Effect === 'Allow');
}

function matchesAny(patterns: unknown, value: string, options: { ignoreCase: boolean }): boolean {
  const list = Array.isArray(patterns) ? patterns : [patterns];
  return list.some((pattern) => typeof pattern === 'string' && wildcardMatch(pattern, value, options));
}

export function wildcardMatch(pattern: string, value: string, { ignoreCase = false } = {}): boolean {
  const source = [...pattern]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

// The verdict (SPEC.md §3.7, §3.8) --------------------------------------------------------------------------

export type AuthorizerVerdict =
  | { allow: true; authorizer: AuthorizerContext }
  | { allow: false; status: 401 | 403 | 500; why: string };

/**
 * Maps the authorizer's outcome to the handshake: an error whose message is `Unauthorized` → 401, a policy that does
 * not allow `execute-api:Invoke` on the method ARN → 403, any other failure → 500. A result that is not a usable
 * authorizer response (not JSON, no `principalId`, no policy, object-valued context, over 8 KB) is also 500, as API
 * Gateway reports a misconfigured authorizer.
 */
export function judgeAuthorizer(outcome: InvocationOutcome, methodArn: string): AuthorizerVerdict {
  if (!outcome.ok) {
    if (outcome.reason === 'timeout') return { allow: false, status: 500, why: 'authorizer timed out' };
    return errorMessageOf(outcome.error) === 'Unauthorized'
      ? { allow: false, status: 401, why: 'authorizer said Unauthorized' }
      : { allow: false, status: 500, why: 'authorizer failed' };
  }
  const result = outcome.result;
  if (typeof result !== 'object' || result === null) return malformed('the result is not an object');
  const json = jsonOf(result);
  if (json === undefined) return malformed('the result is not JSON');
  if (Buffer.byteLength(json) > MAX_AUTHORIZER_RESULT_BYTES) return malformed('the result is over 8 KB');
  const { principalId, policyDocument, context } = result as Record<string, unknown>;
  if (typeof principalId !== 'string' || principalId === '') return malformed('principalId is missing');
  const statements = statementsOf(policyDocument);
  if (!statements) return malformed('policyDocument is missing or malformed');
  const stringified = stringifyContext(context);
  if (!stringified) return malformed('context values must be strings, numbers or booleans');
  if (!policyAllows(statements, methodArn)) {
    return { allow: false, status: 403, why: 'the policy does not allow the method ARN' };
  }
  return { allow: true, authorizer: { principalId, ...stringified } };
}

function malformed(why: string): AuthorizerVerdict {
  return { allow: false, status: 500, why: `invalid authorizer response: ${why}` };
}

/** The result as Lambda would send it, or undefined when it cannot be serialized (a cycle, a BigInt). */
function jsonOf(result: object): string | undefined {
  try {
    return JSON.stringify(result);
  } catch {
    return undefined;
  }
}

/** Lambda reports `errorMessage`: the string itself for `callback('Unauthorized')`, `message` for an Error. */
function errorMessageOf(error: unknown): string | undefined {
  if (typeof error === 'string') return error;
  if (error instanceof Error) return error.message;
  return undefined;
}

/**
 * Context values reach the integration as strings (`123` → `"123"`, `true` → `"true"`). Null values are dropped.
 * Undefined when a value is an object or an array, which API Gateway does not accept.
 */
function stringifyContext(context: unknown): Record<string, string> | undefined {
  if (context === undefined || context === null) return {};
  if (typeof context !== 'object' || Array.isArray(context)) return undefined;
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(context)) {
    if (value === null || value === undefined) continue;
    if (!['string', 'number', 'boolean'].includes(typeof value)) return undefined;
    entries.push([key, String(value)]);
  }
  // `principalId` is set by API Gateway, not by a context key of the same name.
  return Object.fromEntries(entries.filter(([key]) => key !== 'principalId'));
}
