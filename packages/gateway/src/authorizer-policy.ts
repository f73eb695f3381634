/**
 * IAM policy evaluation for an authorizer's `policyDocument` against the `$connect` method ARN (SPEC.md §3.7,
 * inferred): `*` matches any run of characters including `/`, `?` matches one character, an explicit Deny wins,
 * and no matching Allow means deny. Actions match case-insensitively, resources case-sensitively. Statements with
 * `NotAction`/`NotResource` or without Action/Resource are not understood and are ignored.
 */

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
