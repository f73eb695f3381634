/**
 * The route list: API Gateway route key → the Lambda function (file in src/handlers/) that serves it.
 * The local stack, the bundler and the Terraform tests all read it from here.
 */
export const ROUTES = [
  { routeKey: '$connect', functionName: 'connect' },
  { routeKey: '$disconnect', functionName: 'disconnect' },
  { routeKey: '$default', functionName: 'default' },
  { routeKey: 'subscribe', functionName: 'subscribe' },
  { routeKey: 'unsubscribe', functionName: 'unsubscribe' },
  { routeKey: 'sendMessage', functionName: 'send-message' },
  { routeKey: 'sendDirect', functionName: 'send-direct' },
  { routeKey: 'getHistory', functionName: 'get-history' },
  { routeKey: 'listMembers', functionName: 'list-members' },
  { routeKey: 'ping', functionName: 'ping' },
] as const;

export type RouteKey = (typeof ROUTES)[number]['routeKey'];
export type FunctionName = (typeof ROUTES)[number]['functionName'];

/** API Gateway selects routes with this expression; client frames carry `action` accordingly. */
export const ROUTE_SELECTION_EXPRESSION = '$request.body.action';
