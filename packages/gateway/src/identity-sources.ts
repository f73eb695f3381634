/**
 * Authorizer identity sources in WebSocket syntax (SPEC.md §3.5). API Gateway checks them before it invokes the
 * authorizer: each must be present and non-empty, otherwise the handshake gets 401.
 */

export type IdentitySource =
  | { from: 'header'; name: string; expression: string }
  | { from: 'querystring'; name: string; expression: string }
  | { from: 'stageVariables'; name: string; expression: string }
  | { from: 'context'; path: string[]; expression: string };

const SOURCE = /^(route\.request\.header|route\.request\.querystring|stageVariables|context)\.(.+)$/;

export function parseIdentitySources(expressions: readonly string[]): IdentitySource[] {
  return expressions.map((expression) => {
    const match = SOURCE.exec(expression);
    const [, kind, name] = match ?? [];
    if (kind === undefined || name === undefined) throw new Error(`Invalid identity source: ${expression}`);
    switch (kind) {
      case 'route.request.header':
        return { from: 'header', name: name.toLowerCase(), expression };
      case 'route.request.querystring':
        return { from: 'querystring', name, expression };
      case 'stageVariables':
        return { from: 'stageVariables', name, expression };
      default:
        return { from: 'context', path: name.split('.'), expression };
    }
  });
}

export interface IdentityInputs {
  /** Header values keyed by lowercase name. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  queryStringParameters: Readonly<Record<string, string>>;
  stageVariables: Readonly<Record<string, string>>;
  requestContext: object;
}

/** The first source that is missing or empty, or undefined when all are usable. */
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
