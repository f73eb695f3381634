/**
 * What Lambda gives every function and local handlers need too (SPEC.md §8.3, §5.6): a region, credentials so
 * SDK v3 can sign, and the management endpoint for clients built without an explicit `endpoint`.
 * Credentials are only invented when none are configured (no key and no profile). Returns the names it set.
 */
export function injectLambdaEnvironment(
  env: NodeJS.ProcessEnv,
  { region, managementEndpoint }: { region: string; managementEndpoint: string },
): string[] {
  const set: string[] = [];
  const assign = (name: string, value: string) => {
    env[name] = value;
    set.push(name);
  };
  if (!env.AWS_REGION) assign('AWS_REGION', region);
  if (!env.AWS_DEFAULT_REGION) assign('AWS_DEFAULT_REGION', region);
  if (!env.AWS_ACCESS_KEY_ID && !env.AWS_SECRET_ACCESS_KEY && !env.AWS_PROFILE) {
    assign('AWS_ACCESS_KEY_ID', 'ASIALOCALGATEWAY0000');
    assign('AWS_SECRET_ACCESS_KEY', 'local-gateway-dummy-secret');
    assign('AWS_SESSION_TOKEN', 'local-gateway-dummy-session-token');
  }
  // Always: this gateway is where @connections calls must go.
  assign('AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI', managementEndpoint);
  return set;
}
