/**
 * The route list: API Gateway route key → the Lambda function (file in src/handlers/) that serves it, and the
 * functions no route serves. The local stack, the bundler and the Terraform tests all read them from here.
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

/**
 * Functions no route invokes: the fan-out workers, which the send-message function invokes asynchronously
 * (src/fan-out.ts), and the operators' function (src/admin.ts), which `roomcast publish` and `roomcast revoke`
 * invoke with IAM credentials. Built, deployed and run locally like the route functions.
 */
export const WORKERS = [{ functionName: 'fan-out-worker' }, { functionName: 'admin' }] as const;

export type RouteKey = (typeof ROUTES)[number]['routeKey'];
export type RouteFunctionName = (typeof ROUTES)[number]['functionName'];
export type WorkerFunctionName = (typeof WORKERS)[number]['functionName'];
export type FunctionName = RouteFunctionName | WorkerFunctionName;

/** Every Lambda function roomcast deploys: the route functions, then the workers. */
export const FUNCTION_NAMES: readonly FunctionName[] = [
  ...ROUTES.map((route) => route.functionName),
  ...WORKERS.map((worker) => worker.functionName),
];

/** API Gateway selects routes with this expression; client frames carry `action` accordingly. */
export const ROUTE_SELECTION_EXPRESSION = '$request.body.action';
