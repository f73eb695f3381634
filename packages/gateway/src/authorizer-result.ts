import { policyAllows, statementsOf } from './authorizer-policy.js';
import type { InvocationOutcome } from './invoke.js';

/** What `requestContext.authorizer` carries on every event of an authorized connection. */
export type AuthorizerContext = Readonly<Record<string, string>>;

export type AuthorizerVerdict =
  | { allow: true; authorizer: AuthorizerContext }
  | { allow: false; status: 401 | 403 | 500; why: string };

/** The authorizer result size limit (SPEC.md §3.7, §7.1). */
const MAX_RESULT_BYTES = 8_192;

/**
 * Maps the authorizer's outcome to the handshake (SPEC.md §3.7): an error whose message is `Unauthorized` → 401,
 * a policy that does not allow `execute-api:Invoke` on the method ARN → 403, any other failure → 500. A result
 * that is not a usable authorizer response (no `principalId`, no policy, object-valued context, over 8 KB) is
 * also 500, as API Gateway reports a misconfigured authorizer.
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
  if (Buffer.byteLength(JSON.stringify(result)) > MAX_RESULT_BYTES)
    return malformed('the result is over 8 KB');
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
