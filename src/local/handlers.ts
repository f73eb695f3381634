import type { Context } from 'aws-lambda';
import * as admin from '../handlers/admin.ts';
import * as connect from '../handlers/connect.ts';
import * as defaultRoute from '../handlers/default.ts';
import * as disconnect from '../handlers/disconnect.ts';
import * as fanOutWorker from '../handlers/fan-out-worker.ts';
import * as getHistory from '../handlers/get-history.ts';
import * as listMembers from '../handlers/list-members.ts';
import * as ping from '../handlers/ping.ts';
import type { RouteFunctionName, WorkerFunctionName } from '../handlers/routes.ts';
import * as sendDirect from '../handlers/send-direct.ts';
import * as sendMessage from '../handlers/send-message.ts';
import * as subscribe from '../handlers/subscribe.ts';
import * as unsubscribe from '../handlers/unsubscribe.ts';
import type { WebSocketHandler } from '../invocation.ts';
import type { HandlerDeps } from '../route.ts';

/** Each function of the route list, as the factory its Lambda entry point uses. */
export const handlerFactories: Record<RouteFunctionName, (deps: HandlerDeps) => WebSocketHandler> = {
  connect: connect.createHandler,
  disconnect: disconnect.createHandler,
  default: defaultRoute.createHandler,
  subscribe: subscribe.createHandler,
  unsubscribe: unsubscribe.createHandler,
  'send-message': sendMessage.createHandler,
  'send-direct': sendDirect.createHandler,
  'get-history': getHistory.createHandler,
  'list-members': listMembers.createHandler,
  ping: ping.createHandler,
};

/** Each function no route invokes, as the factory of its Lambda entry point. */
export const workerFactories: Record<
  WorkerFunctionName,
  (deps: HandlerDeps) => (event: unknown, context: Context) => Promise<unknown>
> = {
  'fan-out-worker': fanOutWorker.createHandler,
  admin: admin.createHandler,
};
