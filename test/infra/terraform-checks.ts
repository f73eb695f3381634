import { resolve } from 'node:path';
import type { StatsRequest } from '@roomcast/admin';
import { CONFIG_ENV_VARS, loadConfig } from '../../src/config.ts';
import {
  FUNCTION_NAMES,
  type FunctionName,
  ROUTE_SELECTION_EXPRESSION,
  ROUTES,
  WORKERS,
} from '../../src/handlers/routes.ts';
import { METRIC } from '../../src/metrics.ts';
import { connectionsTable, keyAttributes, type TableDefinition, tables } from '../../src/store/tables.ts';
import { DYNAMODB_NEEDS, type Table } from './dynamodb-needs.ts';
import { isObject, type Json, type JsonObject } from './hcl.ts';
import type { Evaluated } from './terraform-cli.ts';

/**
 * Checks that hold infra/terraform, as `terraform` evaluated it (terraform-cli.ts), to the code: the table
 * definitions (src/store/tables.ts), the route list (src/handlers/routes.ts), the environment the functions read
 * (src/config.ts) and what each function's code calls. They read evaluated values — ARNs, names, the policy JSON,
 * the dashboard JSON, the access-log format — never HCL text. Each returns the problems it found, so a test can also
 * run it over a broken copy and see it complain.
 */
export type Check = (evaluated: Evaluated) => string[];

const REPOSITORY = resolve(import.meta.dirname, '../..');
const CONNECT_FUNCTION = functionOfRoute('$connect');
/**
 * The functions no route serves (src/handlers/routes.ts WORKERS), by what invokes them: the fan-out workers, which
 * the sender invokes asynchronously with a shard of a big room (src/fan-out.ts), and the operators' function, which
 * `roomcast publish` and `roomcast revoke` invoke synchronously with IAM credentials (src/admin.ts). checkFunctions
 * holds every worker of routes.ts to one of the two.
 */
const FAN_OUT_WORKERS: readonly FunctionName[] = ['fan-out-worker'];
export const ADMIN_FUNCTION: FunctionName = 'admin';
/**
 * The functions whose code hands shards to the fan-out workers (src/fan-out.ts): the sender, each worker for the
 * posts that failed, and the admin function for a room it publishes to. Only they read FANOUT_WORKER_FUNCTION.
 */
const FAN_OUT_FUNCTIONS: readonly FunctionName[] = [
  functionOfRoute('sendMessage'),
  ...FAN_OUT_WORKERS,
  ADMIN_FUNCTION,
];
/** The functions that take client frames: $default and every action ($connect and $disconnect take none). */
const FRAME_FUNCTIONS: readonly FunctionName[] = ROUTES.filter(
  (route) => route.routeKey === '$default' || !route.routeKey.startsWith('$'),
).map((route) => route.functionName);

/** Environment variables Lambda reserves (a function that sets one fails to deploy or is silently overridden). */
const RESERVED_ENV = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_EXECUTION_ENV',
  'LAMBDA_TASK_ROOT',
  '_HANDLER',
];

/** DynamoDB writes: with a customer managed table key, a function that makes one also encrypts. */
const DYNAMODB_WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
const TABLE_KEY_READ = ['kms:Decrypt', 'kms:DescribeKey'];
const TABLE_KEY_WRITE = [
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

/** `$context` variables API Gateway documents for WebSocket access logs (the ones a format may use). */
const ACCESS_LOG_VARIABLES = new Set([
  'apiId',
  'connectedAt',
  'connectionId',
  'domainName',
  'error.message',
  'error.messageString',
  'error.responseType',
  'error.validationErrorString',
  'eventType',
  'extendedRequestId',
  'identity.sourceIp',
  'identity.userAgent',
  'integration.error',
  'integration.integrationStatus',
  'integration.latency',
  'integration.requestId',
  'integration.status',
  'integrationLatency',
  'messageId',
  'requestId',
  'requestTime',
  'requestTimeEpoch',
  'routeKey',
  'stage',
  'status',
]);
/** What an access log line must say to answer "who connected, what failed, why". */
const ACCESS_LOG_REQUIRED = [
  'requestId',
  'connectionId',
  'routeKey',
  'eventType',
  'status',
  'integration.error',
  'identity.sourceIp',
  'requestTime',
];

/** Metrics the alarms may watch, by namespace; roomcast's own namespace is checked against the functions'. */
const KNOWN_METRICS: Readonly<Record<string, readonly string[]>> = {
  'AWS/DynamoDB': [
    'ReadThrottleEvents',
    'WriteThrottleEvents',
    'ThrottledRequests',
    'SystemErrors',
    'UserErrors',
  ],
  'AWS/ApiGateway': ['ConnectCount', 'MessageCount', 'IntegrationError', 'ClientError', 'ExecutionError'],
  'AWS/Lambda': [
    'Errors',
    'Throttles',
    'Duration',
    'Invocations',
    'ConcurrentExecutions',
    // Asynchronous invocations (the fan-out workers').
    'AsyncEventsReceived',
    'AsyncEventAge',
    'AsyncEventsDropped',
    'DestinationDeliveryFailures',
  ],
  'AWS/SQS': ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage', 'NumberOfMessagesSent'],
};

// ---------------------------------------------------------------------------------------------------------------
// Reading the evaluated configuration
// ---------------------------------------------------------------------------------------------------------------

/** The instances of a resource or data source by key: "" for a single one, the index for count. */
export function instances(evaluated: Evaluated, address: string): Record<string, JsonObject> {
  const isData = address.startsWith('data.');
  const value = (isData ? evaluated.data : evaluated.resources)[isData ? address.slice(5) : address];
  switch (evaluated.shapes[address]) {
    case 'single':
      return isObject(value) ? { '': value } : {};
    case 'count':
      return Array.isArray(value)
        ? Object.fromEntries(value.filter(isObject).map((item, index) => [String(index), item]))
        : {};
    case 'for_each':
      return isObject(value) ? (value as Record<string, JsonObject>) : {};
    default:
      return {};
  }
}

export function single(evaluated: Evaluated, address: string): JsonObject | undefined {
  return instances(evaluated, address)[''] ?? instances(evaluated, address)['0'];
}

function text(value: Json | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function strings(value: Json | undefined): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function first(value: Json | undefined): JsonObject {
  return Array.isArray(value) && isObject(value[0]) ? value[0] : {};
}

function parseJson(value: Json | undefined): Json {
  try {
    return JSON.parse(text(value) ?? 'null') as Json;
  } catch {
    return null;
  }
}

/** The environment Terraform gives one function. */
export function environmentOf(evaluated: Evaluated, fn: string): Record<string, string> {
  const lambda = instances(evaluated, 'aws_lambda_function.this')[fn];
  const variables = first(lambda?.environment).variables;
  return isObject(variables)
    ? Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, String(value)]))
    : {};
}

/** The region the stand-in deployment is in (the dashboard and the ARNs say the same). */
function regionOf(evaluated: Evaluated): string {
  return text(single(evaluated, 'data.aws_region.current')?.region) ?? '';
}

/** The API's execute-api host: `{api_id}.execute-api.{region}.amazonaws.com`. */
function executeApiHost(evaluated: Evaluated): string {
  return `${text(single(evaluated, 'aws_apigatewayv2_api.this')?.id)}.execute-api.${regionOf(evaluated)}.amazonaws.com`;
}

// ---------------------------------------------------------------------------------------------------------------
// What each function's code needs, as evaluated ARNs
// ---------------------------------------------------------------------------------------------------------------

interface Grant {
  action: string;
  resource: string;
  /** `kms:ViaService` when the statement has that condition. */
  viaService?: string;
}

function grantText(grant: Grant): string {
  return `${grant.action} on ${grant.resource}${grant.viaService ? ` via ${grant.viaService}` : ''}`;
}

/** What Lambda needs of a function's role to deliver an asynchronous invocation's record to a destination. */
const DESTINATION_ACTIONS: Readonly<Record<string, string>> = {
  sqs: 'sqs:SendMessage',
  sns: 'sns:Publish',
  lambda: 'lambda:InvokeFunction',
  events: 'events:PutEvents',
};

/** Every instance of every resource of a type, whatever its name and shape. */
function instancesOfType(evaluated: Evaluated, type: string): JsonObject[] {
  return Object.keys(evaluated.resources)
    .filter((address) => address.startsWith(`${type}.`))
    .flatMap((address) => Object.values(instances(evaluated, address)));
}

/** The asynchronous invocation configs of one function (by its name or ARN, as Lambda takes either). */
function asyncConfigsOf(evaluated: Evaluated, fn: string): JsonObject[] {
  const lambda = instances(evaluated, 'aws_lambda_function.this')[fn];
  if (!lambda) return [];
  return instancesOfType(evaluated, 'aws_lambda_function_event_invoke_config').filter(
    (config) => config.function_name === lambda.function_name || config.function_name === lambda.arn,
  );
}

/** Where Lambda sends a config's records: its on-failure and on-success destinations. */
function destinationsOf(config: JsonObject): { onFailure?: string; onSuccess?: string } {
  const destination = first(config.destination_config);
  const onFailure = text(first(destination.on_failure).destination);
  const onSuccess = text(first(destination.on_success).destination);
  return { ...(onFailure && { onFailure }), ...(onSuccess && { onSuccess }) };
}

/**
 * The whole IAM policy of each function, as "action on resource": what its code calls (DYNAMODB_NEEDS, which the
 * bundle tests hold to what each bundle really calls), a post to connections, the fan-out worker it hands shards to,
 * the destination Lambda sends its failed asynchronous invocations to, and nothing else. With a customer managed
 * table key, each function that touches a table may use the key through DynamoDB only.
 */
export function expectedGrants(evaluated: Evaluated, tableKeyArn?: string): Record<string, string[]> {
  const tableArn = (key: string) =>
    text(single(evaluated, `aws_dynamodb_table.${key}`)?.arn) ?? `(no ${key} table)`;
  const connections = tableArn('connections');
  const subscriptions = tableArn('subscriptions');
  const messages = tableArn('messages');
  const revocations = tableArn('revocations');
  const stage = single(evaluated, 'aws_apigatewayv2_stage.this');
  const post = `${text(single(evaluated, 'aws_apigatewayv2_api.this')?.execution_arn)}/${text(stage?.name)}/POST/@connections/*`;
  const logStreams = (fn: string) =>
    `${text(instances(evaluated, 'aws_cloudwatch_log_group.function')[fn]?.arn)}:*`;
  const on = (actions: string[], resource: string) => actions.map((action) => ({ action, resource }));

  const reply = on(['execute-api:ManageConnections'], post);
  // GetConnection: sendDirect asks whether the recipient's connections are still there before it stores, and
  // $connect whether a user at the connection cap really has that many.
  const getConnection = on(['execute-api:ManageConnections'], post.replace('/POST/', '/GET/'));
  // DeleteConnection: every function that takes client frames closes a connection that keeps sending past its
  // limits (src/route.ts `admitted`); $connect and $disconnect take none. The admin function closes the
  // connections of a user or token it revokes.
  const closeConnection = on(['execute-api:ManageConnections'], post.replace('/POST/', '/DELETE/'));
  const management: Record<string, Grant[]> = {
    connect: getConnection,
    'send-direct': getConnection,
    [ADMIN_FUNCTION]: closeConnection,
  };
  const takesFrames = (fn: string) => (FRAME_FUNCTIONS as readonly string[]).includes(fn);
  // Invoke: a function that hands shards to fan-out workers (src/fan-out.ts) invokes the function its
  // FANOUT_WORKER_FUNCTION names, asynchronously, and no other.
  const functions = Object.values(instances(evaluated, 'aws_lambda_function.this'));
  const invokeWorker = (fn: string): Grant[] => {
    const name = environmentOf(evaluated, fn).FANOUT_WORKER_FUNCTION;
    if (!name) return [];
    const target = functions.find((candidate) => candidate.function_name === name);
    return on(['lambda:InvokeFunction'], text(target?.arn) ?? `(no function named ${name})`);
  };
  // Lambda sends the record of an asynchronous invocation it gave up on with the function's own role.
  const sendToDestinations = (fn: string): Grant[] =>
    asyncConfigsOf(evaluated, fn)
      .flatMap((config) => Object.values(destinationsOf(config)))
      .map((destination) => ({
        action:
          DESTINATION_ACTIONS[destination.split(':')[2] ?? ''] ??
          `(no action for destination ${destination})`,
        resource: destination,
      }));
  const tables: Record<Table, string> = { connections, subscriptions, messages, revocations };
  const code: Record<string, Grant[]> = {};
  for (const [fn, needs] of Object.entries(DYNAMODB_NEEDS)) {
    code[fn] = [
      ...needs.map((need) => ({
        action: `dynamodb:${need.action}`,
        resource: need.index ? `${tables[need.table]}/index/${need.index}` : tables[need.table],
      })),
      // Every function answers its caller, or posts to a room, a shard of one, or users (admin: publish).
      ...reply,
      ...(management[fn] ?? []),
      ...(takesFrames(fn) ? closeConnection : []),
      ...invokeWorker(fn),
      ...sendToDestinations(fn),
    ];
  }
  const dnsSuffix = text(single(evaluated, 'data.aws_partition.current')?.dns_suffix);
  const viaService = `dynamodb.${regionOf(evaluated)}.${dnsSuffix}`;
  const result: Record<string, string[]> = {};
  for (const [fn, grants] of Object.entries(code)) {
    const all: Grant[] = [...on(['logs:CreateLogStream', 'logs:PutLogEvents'], logStreams(fn)), ...grants];
    if (tableKeyArn) {
      const dynamodb = grants.filter((grant) => grant.action.startsWith('dynamodb:'));
      const writes = dynamodb.some((grant) => DYNAMODB_WRITES.includes(grant.action));
      if (dynamodb.length > 0) {
        for (const action of [...TABLE_KEY_READ, ...(writes ? TABLE_KEY_WRITE : [])]) {
          all.push({ action, resource: tableKeyArn, viaService });
        }
      }
    }
    result[fn] = [...new Set(all.map(grantText))];
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// DynamoDB
// ---------------------------------------------------------------------------------------------------------------

export const checkTables: Check = (evaluated) => {
  const problems: string[] = [];
  const declared = Object.keys(evaluated.resources)
    .filter((address) => address.startsWith('aws_dynamodb_table.'))
    .map((address) => address.slice('aws_dynamodb_table.'.length));
  for (const name of declared) {
    if (!(name in tables)) problems.push(`aws_dynamodb_table.${name} is not defined in src/store/tables.ts`);
  }
  for (const [key, def] of Object.entries(tables) as [string, TableDefinition][]) {
    const where = `aws_dynamodb_table.${key}`;
    const table = single(evaluated, where);
    if (!table) {
      problems.push(`${where} is missing (src/store/tables.ts defines ${def.defaultName})`);
      continue;
    }
    const expect = expecter(problems, where);
    expect(
      text(table.name)?.endsWith(def.defaultName),
      `name ${json(table.name)} does not end in ${def.defaultName}`,
    );
    expect(table.billing_mode === 'PAY_PER_REQUEST', `billing_mode ${json(table.billing_mode)}`);
    expect(table.hash_key === def.hashKey, `hash_key ${json(table.hash_key)}, defined as ${def.hashKey}`);
    expect(
      (table.range_key ?? undefined) === def.rangeKey,
      `range_key ${json(table.range_key)}, defined as ${json(def.rangeKey)}`,
    );
    const attributes = (Array.isArray(table.attribute) ? table.attribute : []).filter(isObject);
    const attributeNames = attributes.map((attribute) => String(attribute.name));
    const keys = keyAttributes(def);
    expect(
      sameSet(
        attributeNames,
        keys.map((key) => key.name),
      ) && attributeNames.length === new Set(attributeNames).size,
      `attribute definitions ${json(attributeNames)} must be exactly the key attributes ${json(keys.map((key) => key.name))} (DynamoDB rejects unused ones)`,
    );
    for (const attribute of attributes) {
      const type = keys.find((key) => key.name === attribute.name)?.type;
      expect(
        type === undefined || attribute.type === type,
        `attribute ${json(attribute.name)} has type ${json(attribute.type)}, not ${type}`,
      );
    }
    const indexes = (Array.isArray(table.global_secondary_index) ? table.global_secondary_index : []).filter(
      isObject,
    );
    const defined = Object.values(def.indexes);
    expect(
      sameSet(
        indexes.map((index) => String(index.name)),
        defined.map((index) => index.name),
      ),
      `global secondary indexes ${json(indexes.map((index) => index.name))}, defined ${json(defined.map((index) => index.name))}`,
    );
    for (const index of defined) {
      const gsi = indexes.find((candidate) => candidate.name === index.name);
      if (!gsi) continue;
      const at = `index ${index.name}:`;
      expect(
        gsi.hash_key === index.hashKey,
        `${at} hash_key ${json(gsi.hash_key)}, defined as ${index.hashKey}`,
      );
      expect(
        gsi.range_key === null || gsi.range_key === undefined,
        `${at} has a range_key; the definition has none`,
      );
      expect(
        gsi.projection_type === 'INCLUDE',
        `${at} projection_type ${json(gsi.projection_type)}, not INCLUDE`,
      );
      expect(
        sameSet(strings(gsi.non_key_attributes), index.projectedAttributes),
        `${at} non_key_attributes ${json(gsi.non_key_attributes)}, defined ${json(index.projectedAttributes)}`,
      );
    }
    const ttl = first(table.ttl);
    expect(
      ttl.attribute_name === def.ttlAttribute,
      `ttl attribute ${json(ttl.attribute_name)}, defined as ${def.ttlAttribute}`,
    );
    expect(ttl.enabled === true, 'ttl is not enabled');
    expect(first(table.server_side_encryption).enabled === true, 'server_side_encryption is not enabled');
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// API Gateway: routes, integrations, permissions, stage
// ---------------------------------------------------------------------------------------------------------------

export const checkRoutes: Check = (evaluated) => {
  const problems: string[] = [];
  const api = single(evaluated, 'aws_apigatewayv2_api.this');
  if (!api) return ['aws_apigatewayv2_api.this is missing'];
  const expectApi = expecter(problems, 'aws_apigatewayv2_api.this');
  expectApi(api.protocol_type === 'WEBSOCKET', `protocol_type ${json(api.protocol_type)}`);
  expectApi(
    api.route_selection_expression === ROUTE_SELECTION_EXPRESSION,
    `route_selection_expression ${json(api.route_selection_expression)}, the code uses ${ROUTE_SELECTION_EXPRESSION}`,
  );

  const routes = instances(evaluated, 'aws_apigatewayv2_route.this');
  const integrations = instances(evaluated, 'aws_apigatewayv2_integration.this');
  const functions = instances(evaluated, 'aws_lambda_function.this');
  const permissions = Object.entries(evaluated.resources)
    .filter(([address]) => address.startsWith('aws_lambda_permission.'))
    .flatMap(([address]) => Object.values(instances(evaluated, address)))
    .filter((permission) => permission.principal === 'apigateway.amazonaws.com');

  const routeKeys = Object.values(routes).map((route) => String(route.route_key));
  for (const key of routeKeys) {
    if (!ROUTES.some((route) => route.routeKey === key)) {
      problems.push(`route ${key} is not in src/handlers/routes.ts`);
    }
  }
  for (const { routeKey, functionName } of ROUTES) {
    const route = Object.values(routes).find((candidate) => candidate.route_key === routeKey);
    const fn = functions[functionName];
    if (!route) {
      problems.push(`route ${routeKey}: no aws_apigatewayv2_route`);
      continue;
    }
    if (!fn) {
      problems.push(`route ${routeKey}: no aws_lambda_function.this["${functionName}"]`);
      continue;
    }
    const expect = expecter(problems, `route ${routeKey}`);
    expect(route.api_id === api.id, `api_id ${json(route.api_id)} is not the API's`);
    expect(route.authorization_type === 'NONE', `authorization_type ${json(route.authorization_type)}`);
    const integrationId = /^integrations\/(.+)$/.exec(text(route.target) ?? '')?.[1];
    const integration = Object.values(integrations).find((candidate) => candidate.id === integrationId);
    if (!integration) {
      problems.push(`route ${routeKey}: target ${json(route.target)} is no integration declared here`);
    } else {
      expect(
        integration.integration_uri === fn.invoke_arn,
        `its integration invokes ${json(integration.integration_uri)}, not ${functionName} (${json(fn.invoke_arn)})`,
      );
      expect(
        integration.integration_type === 'AWS_PROXY',
        `integration_type ${json(integration.integration_type)}`,
      );
      expect(
        integration.integration_method === 'POST',
        `integration_method ${json(integration.integration_method)}`,
      );
    }
    const allowed = permissions.filter((permission) => permission.function_name === fn.function_name);
    expect(allowed.length > 0, `no aws_lambda_permission lets API Gateway invoke ${functionName}`);
    for (const permission of allowed) {
      expect(permission.action === 'lambda:InvokeFunction', `permission action ${json(permission.action)}`);
      expect(
        permission.source_arn === `${text(api.execution_arn)}/*/${routeKey}`,
        `permission source_arn ${json(permission.source_arn)} is not scoped to the route (${text(api.execution_arn)}/*/${routeKey})`,
      );
    }
  }
  // A function no route serves (a fan-out worker, the admin function) is invoked by the others or by operators
  // only: API Gateway has no way to it.
  const routed = new Set<string>(ROUTES.map((route) => route.functionName));
  for (const [fn, lambda] of Object.entries(functions)) {
    if (routed.has(fn)) continue;
    const invokes = (uri: Json | undefined) => uri === lambda.invoke_arn || uri === lambda.arn;
    if (Object.values(integrations).some((integration) => invokes(integration.integration_uri))) {
      problems.push(
        `${fn}: an API Gateway integration invokes it, but no route in src/handlers/routes.ts serves it`,
      );
    }
    const names = [lambda.function_name, lambda.arn];
    if (permissions.some((permission) => names.includes(permission.function_name ?? null))) {
      problems.push(
        `${fn}: a permission lets API Gateway invoke it, but no route in src/handlers/routes.ts serves it`,
      );
    }
  }
  if (Object.keys(integrations).length !== ROUTES.length) {
    problems.push(`${Object.keys(integrations).length} integrations for ${ROUTES.length} routes`);
  }
  return problems;
};

export const checkStage: Check = (evaluated) => {
  const problems: string[] = [];
  const stage = single(evaluated, 'aws_apigatewayv2_stage.this');
  if (!stage) return ['aws_apigatewayv2_stage.this is missing'];
  const expect = expecter(problems, 'aws_apigatewayv2_stage.this');
  expect(stage.api_id === single(evaluated, 'aws_apigatewayv2_api.this')?.id, `api_id ${json(stage.api_id)}`);
  expect(stage.auto_deploy === true, 'auto_deploy is not true');
  const settings = first(stage.default_route_settings);
  expect(
    typeof settings.throttling_burst_limit === 'number',
    'no default_route_settings.throttling_burst_limit',
  );
  expect(
    typeof settings.throttling_rate_limit === 'number',
    'no default_route_settings.throttling_rate_limit',
  );
  expect(settings.data_trace_enabled === false, 'data_trace_enabled logs whole frames, tokens included');

  // The format (evaluated JSON): documented variables only, and the ones an operator needs.
  const format = parseJson(evaluated.locals.access_log_format);
  if (!isObject(format)) {
    problems.push(
      `local.access_log_format is not a JSON object: ${json(evaluated.locals.access_log_format)}`,
    );
  } else {
    const used = Object.values(format).map(
      (value) => /^\$context\.(.+)$/.exec(String(value))?.[1] ?? String(value),
    );
    for (const variable of used) {
      if (!ACCESS_LOG_VARIABLES.has(variable)) {
        problems.push(`access log format: $context.${variable} is not a WebSocket access log variable`);
      }
    }
    for (const variable of ACCESS_LOG_REQUIRED) {
      if (!used.includes(variable)) problems.push(`access log format lacks $context.${variable}`);
    }
  }
  // When access logs are on: to the log group declared here, which has a retention, in that format.
  const access = Array.isArray(stage.access_log_settings) ? stage.access_log_settings.filter(isObject) : [];
  const groups = instances(evaluated, 'aws_cloudwatch_log_group.api_access');
  for (const settings of access) {
    const group = Object.values(groups).find((candidate) => candidate.arn === settings.destination_arn);
    expect(
      group !== undefined,
      `access logs go to ${json(settings.destination_arn)}, not a log group declared here`,
    );
    expect(typeof group?.retention_in_days === 'number', 'the access log group has no retention');
    expect(
      settings.format === evaluated.locals.access_log_format,
      'access logs do not use local.access_log_format',
    );
  }
  expect(
    access.length === Object.keys(groups).length,
    `${access.length} access log settings but ${Object.keys(groups).length} access log groups`,
  );
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// Lambda functions and their environment
// ---------------------------------------------------------------------------------------------------------------

export const checkFunctions: Check = (evaluated) => {
  const problems: string[] = [];
  for (const address of Object.keys(evaluated.resources)) {
    if (address.startsWith('aws_lambda_function.') && address !== 'aws_lambda_function.this') {
      problems.push(`${address}: every function must come from local.functions (aws_lambda_function.this)`);
    }
  }
  const functions = instances(evaluated, 'aws_lambda_function.this');
  const bundles = instances(evaluated, 'data.archive_file.function');
  const logGroups = instances(evaluated, 'aws_cloudwatch_log_group.function');
  const roles = instances(evaluated, 'aws_iam_role.function');
  if (!sameSet(Object.keys(functions), FUNCTION_NAMES)) {
    problems.push(
      `functions ${json(Object.keys(functions).sort())}, routes.ts has ${json([...FUNCTION_NAMES].sort())}`,
    );
  }
  for (const { functionName } of WORKERS) {
    if (!FAN_OUT_WORKERS.includes(functionName) && functionName !== ADMIN_FUNCTION) {
      problems.push(
        `${functionName}: a worker in routes.ts that test/infra knows neither as a fan-out worker nor as the admin function`,
      );
    }
  }
  for (const [fn, lambda] of Object.entries(functions)) {
    const expect = expecter(problems, `aws_lambda_function.this["${fn}"]`);
    expect(lambda.runtime === 'nodejs22.x', `runtime ${json(lambda.runtime)}, not nodejs22.x`);
    expect(sameSet(strings(lambda.architectures), ['arm64']), `architectures ${json(lambda.architectures)}`);
    expect(lambda.handler === 'index.handler', `handler ${json(lambda.handler)}`);
    const bundle = bundles[fn];
    expect(bundle !== undefined, 'no data.archive_file.function for it');
    if (bundle) {
      const source = resolve(text(bundle.source_dir) ?? '');
      expect(
        source === resolve(REPOSITORY, 'dist', fn),
        `is bundled from ${source}, not dist/${fn} (npm run build)`,
      );
      expect(bundle.type === 'zip', `bundle type ${json(bundle.type)}`);
      expect(lambda.filename === bundle.output_path, `filename ${json(lambda.filename)} is not its bundle`);
      expect(
        lambda.source_code_hash === bundle.output_base64sha256,
        'source_code_hash does not follow its bundle, so new code would not deploy',
      );
      // The zip holds the entry point and the chunks it imports (scripts/bundle.ts), and no source map.
      const excludes = strings(bundle.excludes);
      const excluded = (file: string) => excludes.some((pattern) => globMatches(pattern, file));
      for (const file of ['index.mjs.map', 'chunk-7QXJ2KQM.mjs.map']) {
        expect(excluded(file), `its zip would hold ${file} (excludes ${json(excludes)})`);
      }
      for (const file of ['index.mjs', 'chunk-7QXJ2KQM.mjs']) {
        expect(!excluded(file), `its zip would leave out ${file} (excludes ${json(excludes)})`);
      }
    }
    expect(lambda.role === roles[fn]?.arn, `role ${json(lambda.role)} is not its own`);
    const group = logGroups[fn];
    expect(group?.name === `/aws/lambda/${text(lambda.function_name)}`, `log group ${json(group?.name)}`);
    expect(typeof group?.retention_in_days === 'number', 'its log group has no retention');
    const logging = first(lambda.logging_config);
    expect(logging.log_group === group?.name, `logging_config.log_group ${json(logging.log_group)}`);
    expect(
      logging.log_format === 'Text',
      'log_format is not Text: EMF metrics are only extracted from plain lines',
    );
    const timeout = Number(lambda.timeout);
    expect(timeout >= 1 && timeout <= 900, `timeout ${json(lambda.timeout)}`);
  }
  return problems;
};

export const checkEnvironment: Check = (evaluated) => {
  const problems: string[] = [];
  const managementEndpoint = `https://${executeApiHost(evaluated)}/${text(single(evaluated, 'aws_apigatewayv2_stage.this')?.name)}`;
  const policies = policiesOf(evaluated);
  const functions = instances(evaluated, 'aws_lambda_function.this');
  const workerNames = FAN_OUT_WORKERS.flatMap((fn) => text(functions[fn]?.function_name) ?? []);
  for (const fn of FUNCTION_NAMES) {
    const env = environmentOf(evaluated, fn);
    for (const name of Object.keys(env)) {
      if (RESERVED_ENV.includes(name)) problems.push(`${fn}: sets ${name}, which Lambda reserves`);
      else if (!isAllowedEnv(name)) problems.push(`${fn}: sets ${name}, which src/config.ts does not read`);
      if (name.startsWith('JWT_') && fn !== CONNECT_FUNCTION) {
        problems.push(`${fn}: gets ${name}; only ${CONNECT_FUNCTION} verifies tokens`);
      }
    }
    // The table names: every function loads the connections table's; another one only if its policy uses it.
    const granted = (policies[fn] ?? []).map(grantText).join('\n');
    for (const [key, def] of Object.entries(tables) as [string, TableDefinition][]) {
      const table = single(evaluated, `aws_dynamodb_table.${key}`);
      if (def !== connectionsTable && !granted.includes(String(table?.arn))) continue;
      if (env[def.envVar] !== table?.name) {
        problems.push(`${fn}: ${def.envVar} is ${json(env[def.envVar])}, not ${json(table?.name)}`);
      }
    }
    // The fan-out tier: only the code that hands shards over reads it, and it must name a worker; a worker needs
    // its own name to hand on the posts that failed.
    const worker = env.FANOUT_WORKER_FUNCTION;
    if (worker !== undefined && !FAN_OUT_FUNCTIONS.includes(fn)) {
      problems.push(
        `${fn}: sets FANOUT_WORKER_FUNCTION, which only ${FAN_OUT_FUNCTIONS.slice(0, -1).join(', ')} and ${FAN_OUT_FUNCTIONS.at(-1)} read`,
      );
    } else if (worker !== undefined && !workerNames.includes(worker)) {
      problems.push(
        `${fn}: FANOUT_WORKER_FUNCTION is ${json(worker)}, not the name of a fan-out worker (${json(workerNames)})`,
      );
    } else if (worker === undefined && FAN_OUT_WORKERS.includes(fn)) {
      problems.push(
        `${fn}: no FANOUT_WORKER_FUNCTION, so it cannot hand the posts that failed to another worker`,
      );
    }
    if (env.WEBSOCKET_MANAGEMENT_ENDPOINT !== managementEndpoint) {
      problems.push(
        `${fn}: WEBSOCKET_MANAGEMENT_ENDPOINT is ${json(env.WEBSOCKET_MANAGEMENT_ENDPOINT)}, not the stage's ${managementEndpoint}`,
      );
    }
    // What the function does at cold start with exactly this environment (Lambda adds AWS_REGION).
    try {
      const config = loadConfig({ ...env, AWS_REGION: regionOf(evaluated) });
      if (fn === CONNECT_FUNCTION && !config.auth) problems.push(`${fn}: no JWT_SECRET or JWT_JWKS_URL`);
    } catch (error) {
      problems.push(`${fn}: src/config.ts refuses its environment: ${(error as Error).message}`);
    }
  }
  // A revocation is kept TOKEN_MAX_LIFETIME_SECONDS (the function that writes it), the longest $connect lets a
  // token live (the function that reads it): each function that uses the revocations table is given it, the same.
  const revocations = String(single(evaluated, 'aws_dynamodb_table.revocations')?.arn);
  const lifetimes: Record<string, string> = {};
  for (const fn of FUNCTION_NAMES) {
    if (!(policies[fn] ?? []).some((grant) => grant.resource === revocations)) continue;
    const lifetime = environmentOf(evaluated, fn).TOKEN_MAX_LIFETIME_SECONDS;
    if (lifetime === undefined) {
      problems.push(`${fn}: uses the revocations table but is given no TOKEN_MAX_LIFETIME_SECONDS`);
    } else lifetimes[fn] = lifetime;
  }
  if (new Set(Object.values(lifetimes)).size > 1) {
    problems.push(
      `TOKEN_MAX_LIFETIME_SECONDS differs between the functions that use the revocations table: ${json(lifetimes)}`,
    );
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// IAM
// ---------------------------------------------------------------------------------------------------------------

/** Each function's grants, from the policy JSON its role really gets. */
function policiesOf(evaluated: Evaluated): Record<string, Grant[]> {
  const result: Record<string, Grant[]> = {};
  const roles = instances(evaluated, 'aws_iam_role.function');
  const rolePolicies = Object.values(instances(evaluated, 'aws_iam_role_policy.function'));
  for (const [fn, role] of Object.entries(roles)) {
    const grants: Grant[] = [];
    for (const policy of rolePolicies.filter((candidate) => candidate.role === role.id)) {
      const document = parseJson(policy.policy);
      const statements = isObject(document) && Array.isArray(document.Statement) ? document.Statement : [];
      for (const statement of statements.filter(isObject)) {
        const condition = isObject(statement.Condition) ? statement.Condition : {};
        const via = isObject(condition.StringEquals) ? condition.StringEquals['kms:ViaService'] : undefined;
        const viaService = Array.isArray(via) ? String(via[0]) : typeof via === 'string' ? via : undefined;
        for (const action of asList(statement.Action)) {
          for (const resource of asList(statement.Resource)) {
            grants.push({ action, resource, ...(viaService && { viaService }) });
          }
        }
      }
    }
    result[fn] = grants;
  }
  return result;
}

function asList(value: Json | undefined): string[] {
  return typeof value === 'string' ? [value] : strings(value);
}

/** A list of nested blocks (or anything else: an empty list). */
function list(value: Json | undefined): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export function checkIam(evaluated: Evaluated, tableKeyArn?: string): string[] {
  const problems: string[] = [];
  const roles = instances(evaluated, 'aws_iam_role.function');
  if (!sameSet(Object.keys(roles), FUNCTION_NAMES)) {
    problems.push(`roles ${json(Object.keys(roles).sort())}: one per function is expected`);
  }
  for (const [fn, role] of Object.entries(roles)) {
    const trust = parseJson(role.assume_role_policy);
    const statements =
      isObject(trust) && Array.isArray(trust.Statement) ? trust.Statement.filter(isObject) : [];
    const principals = statements.map((statement) => JSON.stringify(statement.Principal));
    if (
      statements.length !== 1 ||
      !sameSet(asList(statements[0]?.Action), ['sts:AssumeRole']) ||
      principals[0] !== JSON.stringify({ Service: ['lambda.amazonaws.com'] })
    ) {
      problems.push(`${fn}: only lambda.amazonaws.com may assume its role (trust policy ${json(trust)})`);
    }
  }
  // Nothing else grants the function roles anything (a managed policy would add actions unseen here).
  const roleIds = new Set(Object.values(roles).flatMap((role) => [String(role.id), String(role.name)]));
  for (const address of Object.keys(evaluated.resources)) {
    if (!/^aws_iam_(role_policy|role_policy_attachment|policy_attachment)\./.test(address)) continue;
    for (const [key, grant] of Object.entries(instances(evaluated, address))) {
      if (address === 'aws_iam_role_policy.function') continue;
      const targets = [grant.role, ...(Array.isArray(grant.roles) ? grant.roles : [])].map(String);
      if (targets.some((target) => roleIds.has(target))) {
        problems.push(`${address}${key ? `["${key}"]` : ''} grants a function role more`);
      }
    }
  }
  const policies = policiesOf(evaluated);
  const expected = expectedGrants(evaluated, tableKeyArn);
  for (const fn of FUNCTION_NAMES) {
    const granted = policies[fn] ?? [];
    const want = new Set(expected[fn] ?? []);
    for (const grant of granted) {
      if (grant.action.includes('*')) problems.push(`${fn}: action ${grant.action} has a wildcard`);
      // A Scan reads a whole table or index: only the ones dynamodb-needs.ts says the code scans (the gauge's).
      if (grant.action === 'dynamodb:Scan' && !want.has(grantText(grant))) {
        problems.push(
          `${fn}: dynamodb:Scan on ${grant.resource}, which dynamodb-needs.ts does not say it scans`,
        );
      }
    }
    const have = new Set(granted.map(grantText));
    for (const grant of want)
      if (!have.has(grant)) problems.push(`${fn}: lacks ${grant}, which its code needs`);
    for (const grant of have)
      if (!want.has(grant)) problems.push(`${fn}: allows ${grant}, which its code never needs`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Alarms and dashboard
// ---------------------------------------------------------------------------------------------------------------

export const checkAlarms: Check = (evaluated) => {
  const problems: string[] = [];
  const api = single(evaluated, 'aws_apigatewayv2_api.this');
  const stage = single(evaluated, 'aws_apigatewayv2_stage.this');
  const functions = instances(evaluated, 'aws_lambda_function.this');
  const namespace = environmentOf(evaluated, CONNECT_FUNCTION).POWERTOOLS_METRICS_NAMESPACE ?? '';
  const service = environmentOf(evaluated, CONNECT_FUNCTION).POWERTOOLS_SERVICE_NAME ?? '';
  for (const fn of FUNCTION_NAMES) {
    const env = environmentOf(evaluated, fn);
    if (env.POWERTOOLS_METRICS_NAMESPACE !== namespace || env.POWERTOOLS_SERVICE_NAME !== service) {
      problems.push(`${fn}: publishes metrics under another namespace or service than the others`);
    }
  }
  const known: Record<string, readonly string[]> = { ...KNOWN_METRICS, [namespace]: Object.values(METRIC) };

  const tableNames = Object.keys(tables).map((key) =>
    String(single(evaluated, `aws_dynamodb_table.${key}`)?.name),
  );
  const indexNames = (Object.values(tables) as TableDefinition[]).flatMap((def) =>
    Object.values(def.indexes).map((index) => index.name),
  );
  const dimensionValues: Record<string, readonly string[]> = {
    TableName: tableNames,
    GlobalSecondaryIndexName: indexNames,
    ApiId: [String(api?.id)],
    Stage: [String(stage?.name)],
    FunctionName: Object.values(functions).map((fn) => String(fn.function_name)),
    QueueName: instancesOfType(evaluated, 'aws_sqs_queue').map((queue) => String(queue.name)),
    service: [service],
  };
  const connections = String(single(evaluated, 'aws_dynamodb_table.connections')?.name);
  const required = [
    ...tableNames.flatMap((table) =>
      ['ReadThrottleEvents', 'WriteThrottleEvents'].map(
        (metric) => `AWS/DynamoDB ${metric} TableName=${table}`,
      ),
    ),
    ...indexNames.flatMap((index) =>
      ['ReadThrottleEvents', 'WriteThrottleEvents'].map(
        (metric) => `AWS/DynamoDB ${metric} GlobalSecondaryIndexName=${index} TableName=${connections}`,
      ),
    ),
    `AWS/ApiGateway ConnectCount ApiId=${api?.id}`,
    `AWS/ApiGateway IntegrationError ApiId=${api?.id} Stage=${stage?.name}`,
    ...Object.values(functions).flatMap((fn) =>
      ['Errors', 'Throttles'].map((metric) => `AWS/Lambda ${metric} FunctionName=${fn.function_name}`),
    ),
    `${namespace} ${METRIC.deliveriesFailed} service=${service}`,
    // The fan-out workers: shards Lambda gave up on, and the queue their records go to.
    ...FAN_OUT_WORKERS.map(
      (fn) => `AWS/Lambda AsyncEventsDropped FunctionName=${functions[fn]?.function_name}`,
    ),
    ...failureQueues(evaluated).map(
      (queue) => `AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${queue?.name}`,
    ),
    // The connections gauge, while a schedule runs it (checkConnectionStats says how).
    ...(gaugeSchedules(evaluated).length > 0
      ? [`${namespace} ${METRIC.activeConnections} service=${service}`]
      : []),
  ];

  const topic = evaluated.outputs.alarm_topic_arn;
  const watched: string[] = [];
  for (const address of Object.keys(evaluated.resources).filter((a) =>
    a.startsWith('aws_cloudwatch_metric_alarm.'),
  )) {
    for (const [key, alarm] of Object.entries(instances(evaluated, address))) {
      const at = !key
        ? address
        : evaluated.shapes[address] === 'count'
          ? `${address}[${key}]`
          : `${address}["${key}"]`;
      const actions = topic ? [topic] : [];
      if (JSON.stringify(alarm.alarm_actions) !== JSON.stringify(actions)) {
        problems.push(`${at}: alarm_actions ${json(alarm.alarm_actions)}, not the alarm topic`);
      }
      if (JSON.stringify(alarm.ok_actions) !== JSON.stringify(actions)) {
        problems.push(`${at}: ok_actions ${json(alarm.ok_actions)}, not the alarm topic`);
      }
      problems.push(...metricMathProblems(alarm, at));
      // A metric alarm watches its metric; a metric math alarm, each metric its expressions read.
      for (const watchedMetric of alarmMetrics(alarm)) {
        const ns = String(watchedMetric.namespace);
        const metric = String(watchedMetric.metric_name);
        if (!known[ns]?.includes(metric))
          problems.push(`${at}: ${ns} ${metric} is not a metric anything here publishes`);
        const dimensions = isObject(watchedMetric.dimensions) ? watchedMetric.dimensions : {};
        for (const [dimension, value] of Object.entries(dimensions)) {
          if (!dimensionValues[dimension]?.includes(String(value))) {
            problems.push(`${at}: dimension ${dimension}=${value} names nothing declared here`);
          }
        }
        watched.push(metricText(watchedMetric));
      }
    }
  }
  for (const alarm of required) if (!watched.includes(alarm)) problems.push(`no alarm on ${alarm}`);

  // The dashboard (evaluated JSON) shows every alarmed metric, with the same dimensions, in this region.
  const dashboards = Object.keys(evaluated.resources).filter((a) =>
    a.startsWith('aws_cloudwatch_dashboard.'),
  );
  if (dashboards.length === 0) problems.push('no aws_cloudwatch_dashboard');
  const shown: string[] = [];
  for (const address of dashboards) {
    const body = parseJson(single(evaluated, address)?.dashboard_body);
    const widgets = isObject(body) && Array.isArray(body.widgets) ? body.widgets.filter(isObject) : [];
    if (widgets.length === 0) problems.push(`${address}: dashboard_body has no widgets`);
    for (const widget of widgets) {
      const properties = isObject(widget.properties) ? widget.properties : {};
      if (widget.type === 'metric' && properties.region !== regionOf(evaluated)) {
        problems.push(`${address}: widget ${json(properties.title)} shows region ${json(properties.region)}`);
      }
      shown.push(...dashboardMetrics(properties));
    }
  }
  for (const alarm of required)
    if (!shown.includes(alarm)) problems.push(`the dashboard does not show ${alarm}`);
  return problems;
};

/** The metrics an alarm watches: its own, or those of its metric_query blocks (a metric math alarm). */
function alarmMetrics(alarm: JsonObject): JsonObject[] {
  const queries = list(alarm.metric_query);
  if (queries.length === 0) {
    return [
      {
        namespace: alarm.namespace ?? null,
        metric_name: alarm.metric_name ?? null,
        dimensions: alarm.dimensions ?? null,
      },
    ];
  }
  return queries.map((query) => first(query.metric)).filter((metric) => Object.keys(metric).length > 0);
}

/** "namespace metric dimension=value …", dimensions sorted, as the alarm and dashboard checks compare them. */
function metricText(metric: JsonObject): string {
  const dimensions = isObject(metric.dimensions) ? metric.dimensions : {};
  const parts = Object.entries(dimensions).map(([dimension, value]) => `${dimension}=${value}`);
  return `${String(metric.namespace)} ${String(metric.metric_name)} ${parts.sort().join(' ')}`;
}

/** The ids a metric math expression reads (functions are upper case, ids start lower case; strings are skipped). */
function expressionIds(expression: string): string[] {
  const unquoted = expression.replace(/'[^']*'|"[^"]*"/g, '');
  return [...new Set(unquoted.match(/\b[a-z][A-Za-z0-9_]*\b/g) ?? [])];
}

/**
 * A metric math alarm as CloudWatch takes one: no metric of its own, each query a metric or an expression with a
 * lower-case id, expressions reading only the other queries' ids, and exactly one result. (A SEARCH cannot be alarmed
 * on.)
 */
function metricMathProblems(alarm: JsonObject, at: string): string[] {
  const queries = list(alarm.metric_query);
  if (queries.length === 0) return [];
  const problems: string[] = [];
  for (const key of ['namespace', 'metric_name', 'statistic', 'extended_statistic', 'period', 'dimensions']) {
    if (alarm[key] !== null && alarm[key] !== undefined) {
      problems.push(`${at}: sets ${key} as well as metric_query (one or the other)`);
    }
  }
  const ids = queries.map((query) => String(query.id));
  if (new Set(ids).size !== ids.length) problems.push(`${at}: metric_query ids ${json(ids)} repeat`);
  const returned = queries.filter((query) => query.return_data === true);
  if (returned.length !== 1) {
    problems.push(`${at}: ${returned.length} metric_query return data; an alarm watches exactly one`);
  }
  for (const query of queries) {
    const where = `${at}: metric_query ${json(query.id)}`;
    if (!/^[a-z][A-Za-z0-9_]*$/.test(String(query.id)))
      problems.push(`${where}: its id must start with a lower-case letter`);
    const metric = first(query.metric);
    const hasMetric = Object.keys(metric).length > 0;
    const expression = text(query.expression);
    if (hasMetric === (expression !== undefined)) {
      problems.push(
        `${where}: has ${expression === undefined ? 'neither' : 'both'} a metric and an expression`,
      );
    }
    if (hasMetric && (typeof metric.period !== 'number' || typeof metric.stat !== 'string')) {
      problems.push(`${where}: its metric has no period or stat`);
    }
    if (expression === undefined) continue;
    if (/\bSEARCH\(/.test(expression)) problems.push(`${where}: CloudWatch alarms on no SEARCH`);
    for (const id of expressionIds(expression)) {
      if (id === query.id || !ids.includes(id))
        problems.push(`${where}: reads ${json(id)}, which is no other query`);
    }
  }
  return problems;
}

/** The metrics of a dashboard widget, as metricText: plain lines; expressions (SEARCH, math) are not metrics. */
function dashboardMetrics(properties: JsonObject): string[] {
  const shown: string[] = [];
  for (const line of Array.isArray(properties.metrics) ? properties.metrics : []) {
    if (Array.isArray(line) && isObject(line[0] ?? null)) continue;
    const [ns, metric, ...dims] = strings(line);
    const dimensions: JsonObject = {};
    for (let i = 0; i + 1 < dims.length; i += 2) dimensions[dims[i] ?? ''] = dims[i + 1] ?? '';
    shown.push(metricText({ namespace: ns ?? null, metric_name: metric ?? null, dimensions }));
  }
  return shown;
}

/** The expressions (SEARCH, metric math) of a dashboard widget's lines. */
function dashboardExpressions(properties: JsonObject): string[] {
  return (Array.isArray(properties.metrics) ? properties.metrics : [])
    .map((line) =>
      Array.isArray(line) && isObject(line[0] ?? null) ? text((line[0] as JsonObject).expression) : undefined,
    )
    .filter((expression): expression is string => expression !== undefined);
}

/** Every widget's properties, across every dashboard declared here. */
function dashboardWidgets(evaluated: Evaluated): JsonObject[] {
  return instancesOfType(evaluated, 'aws_cloudwatch_dashboard').flatMap((dashboard) => {
    const body = parseJson(dashboard.dashboard_body);
    const widgets = isObject(body) && Array.isArray(body.widgets) ? body.widgets.filter(isObject) : [];
    return widgets.map((widget) => (isObject(widget.properties) ? widget.properties : {}));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The connections gauge: the admin function's stats on a schedule, published as metrics
// ---------------------------------------------------------------------------------------------------------------

/** What the schedule must ask the admin function (src/admin.ts StatsRequest): count, and publish the counts. */
const GAUGE_REQUEST = { op: 'stats', publish_metrics: true } satisfies StatsRequest;
const EVENTS_PRINCIPAL = 'events.amazonaws.com';

interface GaugeSchedule {
  rule: JsonObject | undefined;
  target: JsonObject;
}

/** The EventBridge targets that invoke the admin function, each with its rule (undefined when not declared here). */
function gaugeSchedules(evaluated: Evaluated): GaugeSchedule[] {
  const admin = instances(evaluated, 'aws_lambda_function.this')[ADMIN_FUNCTION];
  if (!admin) return [];
  const rules = instancesOfType(evaluated, 'aws_cloudwatch_event_rule');
  const bus = (value: Json | undefined) => text(value) ?? 'default';
  return instancesOfType(evaluated, 'aws_cloudwatch_event_target')
    .filter((target) => target.arn === admin.arn)
    .map((target) => ({
      target,
      rule: rules.find(
        (rule) => rule.name === target.rule && bus(rule.event_bus_name) === bus(target.event_bus_name),
      ),
    }));
}

/**
 * The connections gauge (src/admin.ts `stats` with publish_metrics): while a schedule runs it, one EventBridge rule
 * with a schedule expression invokes the admin function with exactly GAUGE_REQUEST, without Lambda's retries (a late
 * or repeated reading only costs its Scans again); an alarm fires on a sudden drop of ActiveConnections (metric math:
 * the share lost since the previous reading, above a minimum), another when the gauge stops publishing, and the
 * dashboard shows what it publishes. Without a schedule, no alarm watches a metric nothing publishes.
 */
export const checkConnectionStats: Check = (evaluated) => {
  const problems: string[] = [];
  const admin = instances(evaluated, 'aws_lambda_function.this')[ADMIN_FUNCTION];
  if (!admin) return [`no aws_lambda_function.this["${ADMIN_FUNCTION}"] for the connections gauge to run`];
  const env = environmentOf(evaluated, ADMIN_FUNCTION);
  const gauge = metricText({
    namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? null,
    metric_name: METRIC.activeConnections,
    dimensions: { service: env.POWERTOOLS_SERVICE_NAME ?? null },
  });
  const alarms = instancesOfType(evaluated, 'aws_cloudwatch_metric_alarm');
  const onGauge = alarms.filter((alarm) =>
    alarmMetrics(alarm).some((metric) => metricText(metric) === gauge),
  );
  const schedules = gaugeSchedules(evaluated);
  if (schedules.length === 0) {
    for (const alarm of onGauge) {
      problems.push(
        `alarm ${text(alarm.alarm_name)} watches ${gauge}, but no schedule runs the connections gauge`,
      );
    }
    return problems;
  }
  if (schedules.length > 1)
    problems.push(`${schedules.length} EventBridge targets run the connections gauge; one reads it`);
  for (const { rule, target } of schedules) {
    const where = `EventBridge target ${json(target.target_id)} of the admin function`;
    const expect = expecter(problems, where);
    expect(
      JSON.stringify(parseJson(target.input)) === JSON.stringify(GAUGE_REQUEST),
      `input ${json(target.input)}, not ${json(JSON.stringify(GAUGE_REQUEST))}: the gauge would publish nothing`,
    );
    expect(
      target.input_path === null && list(target.input_transformer).length === 0,
      'has an input_path or input_transformer: its input must be the constant stats request',
    );
    if (!rule) {
      problems.push(`${where}: its rule ${json(target.rule)} is not declared here`);
      continue;
    }
    const atRule = expecter(problems, `EventBridge rule ${json(rule.name)}`);
    atRule(
      /^(rate|cron)\(.+\)$/.test(text(rule.schedule_expression) ?? ''),
      `schedule_expression ${json(rule.schedule_expression)} is no rate(...) or cron(...)`,
    );
    atRule(rule.event_pattern === null, 'has an event_pattern: the gauge runs on a schedule');
    atRule(
      (rule.state === null || rule.state === 'ENABLED') && rule.is_enabled !== false,
      `is not enabled (state ${json(rule.state)})`,
    );
  }
  // EventBridge invokes asynchronously: no retries of a failed run.
  const configs = asyncConfigsOf(evaluated, ADMIN_FUNCTION);
  if (configs.length !== 1 || configs[0]?.maximum_retry_attempts !== 0) {
    problems.push(
      `the admin function's asynchronous invocations: ${configs.length} aws_lambda_function_event_invoke_config, retries ${json(configs.map((config) => config.maximum_retry_attempts))}; one with maximum_retry_attempts = 0 expected`,
    );
  }

  // A sudden drop: metric math over the gauge's Maximum a minute, the share lost since the previous reading.
  const drops = onGauge.filter((alarm) => list(alarm.metric_query).length > 0);
  if (drops.length === 0) problems.push(`no metric math alarm on a drop of ${gauge}`);
  for (const alarm of drops) {
    const expect = expecter(problems, `alarm ${text(alarm.alarm_name)}`);
    const queries = list(alarm.metric_query);
    const byId = (id: string | undefined) => queries.find((query) => query.id === id);
    const source = queries.find((query) => metricText(first(query.metric)) === gauge);
    const metric = first(source?.metric);
    expect(
      metric.stat === 'Maximum' && metric.period === 60,
      `reads ${json(metric.stat)} over ${json(metric.period)} s, not the Maximum of each minute`,
    );
    const m = String(source?.id);
    const result = queries.find((query) => query.return_data === true);
    // IF(prev >= N, -DIFF(m) / prev, 0), where prev = m - DIFF(m): the reading before each, and the share of it lost.
    const share =
      /^IF\(\s*([a-z]\w*)\s*>=\s*([0-9.]+)\s*,\s*-\s*DIFF\(\s*([a-z]\w*)\s*\)\s*\/\s*([a-z]\w*)\s*,\s*0\s*\)$/.exec(
        text(result?.expression) ?? '',
      );
    const previous = share ? text(byId(share[1])?.expression)?.replace(/\s+/g, '') : undefined;
    expect(
      share !== null && share[1] === share[4] && share[3] === m && previous === `${m}-DIFF(${m})`,
      `returns ${json(result?.expression)} (${json(share ? byId(share[1])?.expression : undefined)}), not IF(prev >= N, -DIFF(${m}) / prev, 0) with prev = ${m} - DIFF(${m}): the share lost since the previous reading`,
    );
    expect(
      share === null || Number(share[2]) >= 1,
      `looks at readings after ${json(share?.[2])} connections: at least 1, or a drop from 0 divides by 0`,
    );
    const threshold = Number(alarm.threshold);
    expect(
      alarm.comparison_operator === 'GreaterThanOrEqualToThreshold' && threshold > 0 && threshold <= 1,
      `fires when the share is ${json(alarm.comparison_operator)} ${json(alarm.threshold)}, not >= a share in (0, 1]`,
    );
    expect(
      alarm.evaluation_periods === 1 && (alarm.datapoints_to_alarm ?? 1) === 1,
      `fires after ${json(alarm.datapoints_to_alarm)} of ${json(alarm.evaluation_periods)} readings, not at the first drop`,
    );
    expect(
      alarm.treat_missing_data === 'notBreaching',
      `treats missing data as ${json(alarm.treat_missing_data)}: a missing reading is no drop`,
    );
  }

  // The gauge stopped: no reading at all (0 connections is a reading) for at least 5 minutes, within a day.
  const missing = onGauge.filter((alarm) => list(alarm.metric_query).length === 0);
  if (missing.length === 0) problems.push(`no alarm on ${gauge} publishing nothing`);
  for (const alarm of missing) {
    const expect = expecter(problems, `alarm ${text(alarm.alarm_name)}`);
    expect(
      alarm.treat_missing_data === 'breaching',
      `treats missing data as ${json(alarm.treat_missing_data)}: missing readings are what it is for`,
    );
    expect(
      alarm.statistic === 'SampleCount' &&
        alarm.comparison_operator === 'LessThanThreshold' &&
        Number(alarm.threshold) > 0 &&
        Number(alarm.threshold) <= 1,
      `fires on ${json(alarm.statistic)} ${json(alarm.comparison_operator)} ${json(alarm.threshold)}: any reading must keep it OK (SampleCount < 1)`,
    );
    const window = Number(alarm.period) * Number(alarm.evaluation_periods);
    expect(
      window >= 300 && window <= 86_400 && alarm.datapoints_to_alarm === alarm.evaluation_periods,
      `fires after ${json(alarm.datapoints_to_alarm)} of ${json(alarm.evaluation_periods)} periods of ${json(alarm.period)} s: every period of 5 minutes to a day must be missing`,
    );
  }

  // The dashboard: what the gauge publishes, the biggest rooms through a search of RoomConnections by room_id.
  const widgets = dashboardWidgets(evaluated);
  const shown = widgets.flatMap(dashboardMetrics);
  for (const name of [METRIC.activeConnections, METRIC.activeRooms, METRIC.largestRoomConnections]) {
    const wanted = metricText({
      namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? null,
      metric_name: name,
      dimensions: { service: env.POWERTOOLS_SERVICE_NAME ?? null },
    });
    if (!shown.includes(wanted)) problems.push(`the dashboard does not show ${wanted}`);
  }
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE ?? '';
  const schema = /^[A-Za-z0-9]+$/.test(namespace) ? namespace : `"${namespace}"`;
  const search = `SEARCH('{${schema},room_id,service} MetricName="${METRIC.roomConnections}"', 'Maximum', 60)`;
  if (!widgets.flatMap(dashboardExpressions).includes(search)) {
    problems.push(`the dashboard does not show ${search}`);
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// The fan-out tier's asynchronous invocations
// ---------------------------------------------------------------------------------------------------------------

/** The on-failure destination of each fan-out worker, as the queue declared here (undefined when it is none). */
function failureQueues(evaluated: Evaluated): (JsonObject | undefined)[] {
  const queues = instancesOfType(evaluated, 'aws_sqs_queue');
  return FAN_OUT_WORKERS.flatMap((fn) => asyncConfigsOf(evaluated, fn))
    .map((config) => destinationsOf(config).onFailure)
    .map((arn) => queues.find((queue) => queue.arn === arn));
}

/**
 * Each fan-out worker's asynchronous invocations: Lambda's retries and event age set within Lambda's ranges, and
 * an on-failure destination that is an encrypted SQS queue declared here, keeping its records as long as history
 * keeps messages (SQS keeps at most 14 days), with an alarm that fires at its first record. Without it, a shard Lambda gave up on would leave no trace.
 */
export const checkFanOut: Check = (evaluated) => {
  const problems: string[] = [];
  const queues = instancesOfType(evaluated, 'aws_sqs_queue');
  const alarms = instancesOfType(evaluated, 'aws_cloudwatch_metric_alarm');
  for (const fn of FAN_OUT_WORKERS) {
    const where = `${fn}'s asynchronous invocations`;
    const configs = asyncConfigsOf(evaluated, fn);
    const [config] = configs;
    if (configs.length !== 1 || !config) {
      problems.push(`${where}: ${configs.length} aws_lambda_function_event_invoke_config, one expected`);
      continue;
    }
    const expect = expecter(problems, where);
    const retries = config.maximum_retry_attempts;
    expect(
      typeof retries === 'number' && retries >= 0 && retries <= 2,
      `maximum_retry_attempts ${json(retries)}, not 0-2`,
    );
    const age = config.maximum_event_age_in_seconds;
    expect(
      typeof age === 'number' && age >= 60 && age <= 21600,
      `maximum_event_age_in_seconds ${json(age)}, not 60-21600`,
    );
    expect(
      config.qualifier === null || config.qualifier === undefined,
      `qualifier ${json(config.qualifier)}: the sender invokes the unqualified function`,
    );
    const { onFailure } = destinationsOf(config);
    const queue = queues.find((candidate) => candidate.arn === onFailure);
    if (!queue) {
      problems.push(
        `${where}: the on-failure destination ${json(onFailure)} is not an SQS queue declared here`,
      );
      continue;
    }
    const at = expecter(problems, `queue ${text(queue.name)}`);
    at(
      queue.sqs_managed_sse_enabled === true || typeof queue.kms_master_key_id === 'string',
      'is not encrypted at rest',
    );
    // Records carry the message's text: kept no longer than history keeps it, nor than SQS can.
    const historyDays = Number(environmentOf(evaluated, 'subscribe').MESSAGE_RETENTION_DAYS);
    const keptSeconds = Math.min(historyDays * 86_400, 1_209_600);
    at(
      queue.message_retention_seconds === keptSeconds,
      `keeps records ${json(queue.message_retention_seconds)} s, not ${keptSeconds} s (history's retention, at most 14 days)`,
    );
    const depth = alarms.filter(
      (alarm) =>
        alarm.namespace === 'AWS/SQS' &&
        alarm.metric_name === 'ApproximateNumberOfMessagesVisible' &&
        isObject(alarm.dimensions) &&
        alarm.dimensions.QueueName === queue.name,
    );
    at(depth.length > 0, 'has no alarm on its depth');
    for (const alarm of depth) {
      at(
        (alarm.comparison_operator === 'GreaterThanOrEqualToThreshold' && alarm.threshold === 1) ||
          (alarm.comparison_operator === 'GreaterThanThreshold' && alarm.threshold === 0),
        `its alarm ${text(alarm.alarm_name)} does not fire at the first record`,
      );
    }
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// Operators: who may invoke the admin function
// ---------------------------------------------------------------------------------------------------------------

/** The IAM managed policies declared here: the operators' one is the only one expected. */
function operatorPolicies(evaluated: Evaluated): JsonObject[] {
  return instancesOfType(evaluated, 'aws_iam_policy');
}

/** Resource types that attach a managed policy to a role, user or group. */
const POLICY_ATTACHMENTS = [
  'aws_iam_role_policy_attachment',
  'aws_iam_user_policy_attachment',
  'aws_iam_group_policy_attachment',
  'aws_iam_policy_attachment',
  'aws_iam_role_policy_attachments_exclusive',
];

/**
 * `roomcast publish` and `roomcast revoke` invoke the admin function with the operator's own IAM credentials. So:
 * one managed policy, named after the deployment, that allows `lambda:InvokeFunction` on the admin function and
 * nothing else (no other action or resource, no Deny, no NotAction/NotResource), attached to nothing here (who
 * operates is the deployer's choice); and no resource-based permission lets any principal invoke the function
 * around IAM.
 */
export const checkOperatorPolicy: Check = (evaluated) => {
  const problems: string[] = [];
  const admin = instances(evaluated, 'aws_lambda_function.this')[ADMIN_FUNCTION];
  if (!admin) return [`no aws_lambda_function.this["${ADMIN_FUNCTION}"] for operators to invoke`];
  const policies = operatorPolicies(evaluated);
  if (policies.length !== 1) {
    problems.push(`${policies.length} aws_iam_policy declared; one, the operators', is expected`);
  }
  const prefix = text(admin.function_name)?.replace(new RegExp(`-${ADMIN_FUNCTION}$`), '');
  const wanted = `lambda:InvokeFunction on ${text(admin.arn)}`;
  for (const policy of policies) {
    const expect = expecter(problems, `aws_iam_policy ${json(policy.name)}`);
    expect(policy.name === `${prefix}-operator`, `is not named ${prefix}-operator`);
    const document = parseJson(policy.policy);
    const statements =
      isObject(document) && Array.isArray(document.Statement) ? document.Statement.filter(isObject) : [];
    const granted: string[] = [];
    for (const statement of statements) {
      const sid = json(statement.Sid);
      expect(statement.Effect === 'Allow', `statement ${sid} has Effect ${json(statement.Effect)}`);
      for (const key of ['NotAction', 'NotResource', 'Condition', 'Principal']) {
        expect(statement[key] === undefined, `statement ${sid} has ${key}`);
      }
      for (const action of asList(statement.Action)) {
        for (const resource of asList(statement.Resource)) granted.push(`${action} on ${resource}`);
      }
    }
    expect(
      sameSet(granted, [wanted]),
      `allows ${json([...new Set(granted)])}, not exactly ${json([wanted])}`,
    );
    for (const type of POLICY_ATTACHMENTS) {
      for (const attachment of instancesOfType(evaluated, type)) {
        const arns = [
          attachment.policy_arn,
          ...(Array.isArray(attachment.policy_arns) ? attachment.policy_arns : []),
        ];
        expect(
          !arns.includes(policy.arn ?? null),
          `is attached by a ${type}; it is for the deployer to grant`,
        );
      }
    }
  }
  // The one resource-based permission: EventBridge, from the rule of the connections gauge, while it runs.
  const names = [admin.function_name, admin.arn];
  const gaugeRules = gaugeSchedules(evaluated).flatMap(({ rule }) => (rule ? [text(rule.arn)] : []));
  const allowed: string[] = [];
  for (const permission of instancesOfType(evaluated, 'aws_lambda_permission')) {
    if (!names.includes(permission.function_name ?? null)) continue;
    const source = text(permission.source_arn);
    if (
      permission.principal === EVENTS_PRINCIPAL &&
      permission.action === 'lambda:InvokeFunction' &&
      (permission.qualifier ?? null) === null &&
      source !== undefined &&
      gaugeRules.includes(source)
    ) {
      allowed.push(source);
    } else {
      problems.push(
        `${ADMIN_FUNCTION}: a resource-based permission lets ${json(permission.principal)} invoke it${source ? ` from ${source}` : ''}; operators go through IAM, and only EventBridge from the connections gauge's rule may besides`,
      );
    }
  }
  for (const rule of gaugeRules) {
    const count = allowed.filter((source) => source === rule).length;
    if (count !== 1) {
      problems.push(
        `${ADMIN_FUNCTION}: ${count} permissions let EventBridge invoke it from ${rule}; one expected`,
      );
    }
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------------------------

export const checkOutputs: Check = (evaluated) => {
  const problems: string[] = [];
  const stage = single(evaluated, 'aws_apigatewayv2_stage.this');
  const admin = instances(evaluated, 'aws_lambda_function.this')[ADMIN_FUNCTION];
  const expected: Record<string, Json | undefined> = {
    execute_api_url: `wss://${executeApiHost(evaluated)}/${text(stage?.name)}`,
    management_endpoint: `https://${executeApiHost(evaluated)}/${text(stage?.name)}`,
    api_id: single(evaluated, 'aws_apigatewayv2_api.this')?.id,
    connections_table_name: single(evaluated, 'aws_dynamodb_table.connections')?.name,
    subscriptions_table_name: single(evaluated, 'aws_dynamodb_table.subscriptions')?.name,
    messages_table_name: single(evaluated, 'aws_dynamodb_table.messages')?.name,
    revocations_table_name: single(evaluated, 'aws_dynamodb_table.revocations')?.name,
    fanout_failure_queue_url: failureQueues(evaluated)[0]?.url,
    admin_function_name: admin?.function_name,
    admin_function_arn: admin?.arn,
    operator_policy_arn: operatorPolicies(evaluated)[0]?.arn,
  };
  for (const [name, value] of Object.entries(expected)) {
    if (evaluated.outputs[name] !== value) {
      problems.push(`output ${name} is ${json(evaluated.outputs[name])}, expected ${json(value)}`);
    }
  }
  const url = text(evaluated.outputs.websocket_url) ?? '';
  if (!/^wss:\/\/[^/?#]+(\/[^/?#]+)?$/.test(url))
    problems.push(`output websocket_url ${json(url)} is not wss://host[/path]`);
  return problems;
};

export const ALL_CHECKS: Readonly<Record<string, Check>> = {
  tables: checkTables,
  routes: checkRoutes,
  stage: checkStage,
  functions: checkFunctions,
  environment: checkEnvironment,
  iam: (evaluated) => checkIam(evaluated),
  alarms: checkAlarms,
  'fan-out': checkFanOut,
  operator: checkOperatorPolicy,
  'connection-stats': checkConnectionStats,
  outputs: checkOutputs,
};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function functionOfRoute(routeKey: string): FunctionName {
  const route = ROUTES.find((candidate) => candidate.routeKey === routeKey);
  if (!route) throw new Error(`no ${routeKey} route in src/handlers/routes.ts`);
  return route.functionName;
}

function isAllowedEnv(name: string): boolean {
  return (
    (CONFIG_ENV_VARS as readonly string[]).includes(name) ||
    name.startsWith('POWERTOOLS_') ||
    name === 'NODE_OPTIONS'
  );
}

/** Whether a path relative to the zipped folder matches an `excludes` pattern (the archive provider's doublestar globs). */
function globMatches(pattern: string, path: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (pattern.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (pattern[i] === '*') source += '[^/]*';
    else if (pattern[i] === '?') source += '[^/]';
    else source += (pattern[i] ?? '').replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(path);
}

function expecter(problems: string[], where: string): (ok: boolean | undefined, problem: string) => void {
  return (ok, problem) => {
    if (!ok) problems.push(`${where}: ${problem}`);
  };
}

function sameSet(actual: readonly string[], expected: readonly string[]): boolean {
  const a = new Set(actual);
  const b = new Set(expected);
  return a.size === b.size && [...a].every((item) => b.has(item));
}

function json(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}
