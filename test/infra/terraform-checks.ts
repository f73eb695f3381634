import { CONFIG_ENV_VARS } from '../../src/config.ts';
import { METRIC } from '../../src/handlers/metrics.ts';
import { type FunctionName, ROUTE_SELECTION_EXPRESSION, ROUTES } from '../../src/handlers/routes.ts';
import { connectionsTable, keyAttributes, type TableDefinition, tables } from '../../src/store/tables.ts';
import {
  allStrings,
  block,
  blocks,
  isObject,
  type Json,
  type JsonObject,
  obj,
  ref,
  str,
  strings,
  type TerraformConfig,
} from './hcl.ts';

/**
 * Checks that hold infra/terraform to the code: the table definitions (src/store/tables.ts), the route list
 * (src/handlers/routes.ts) and the environment the functions read (src/config.ts). Each returns the problems it
 * found, so a test can also run it over a broken copy of the configuration and see it complain.
 */
export type Check = (tf: TerraformConfig) => string[];

const FUNCTION_NAMES: readonly FunctionName[] = ROUTES.map((route) => route.functionName);
const FOR_EACH_FUNCTION = ref('local.functions');
const CONNECT_FUNCTION = functionOfRoute('$connect');

const LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const CONNECTIONS_ARN = ref('aws_dynamodb_table.connections.arn');
const MESSAGES_ARN = ref('aws_dynamodb_table.messages.arn');
const ROOM_INDEX_ARN = `${CONNECTIONS_ARN}/index/${connectionsTable.indexes.byRoom.name}`;
const USER_INDEX_ARN = `${CONNECTIONS_ARN}/index/${connectionsTable.indexes.byUser.name}`;
const OWN_LOG_STREAMS = `${ref('aws_cloudwatch_log_group.function[each.key].arn')}:*`;
const POST_TO_CONNECTIONS = `${ref('aws_apigatewayv2_api.this.execution_arn')}/${ref('var.stage_name')}/POST/@connections/*`;

function grants(actions: readonly string[], resource: string): string[] {
  return actions.map((action) => `${action} on ${resource}`);
}

const WRITE_OWN_LOGS = grants(LOG_ACTIONS, OWN_LOG_STREAMS);
const REPLY = grants(['execute-api:ManageConnections'], POST_TO_CONNECTIONS);
/** src/handlers/presence.ts: read the room's index entries and post to each; it prunes nothing. */
const ANNOUNCE_TO_ROOM = [
  ...grants(['dynamodb:Query'], ROOM_INDEX_ARN),
  ...grants(['execute-api:ManageConnections'], POST_TO_CONNECTIONS),
];
/** src/handlers/broadcast.ts: page through the room's index entries, post to each, delete the records of gone ones. */
const FAN_OUT_TO_ROOM = [...ANNOUNCE_TO_ROOM, ...grants(['dynamodb:DeleteItem'], CONNECTIONS_ARN)];

/**
 * The whole IAM policy of each function, as "action on resource": what its code calls, and nothing else.
 * connect and disconnect announce presence to the room (src/handlers/presence.ts); send-message stores the message
 * (src/store/messages.ts: conditional puts, reading back an idempotency marker) before fanning it out.
 * Keyed by plain string, not FunctionName: a route added to src/handlers/routes.ts fails a test here (asking for
 * its grants) instead of breaking the type-check of the whole project.
 */
export const EXPECTED_GRANTS: Readonly<Partial<Record<string, readonly string[]>>> = {
  connect: [...WRITE_OWN_LOGS, ...grants(['dynamodb:PutItem'], CONNECTIONS_ARN), ...ANNOUNCE_TO_ROOM],
  disconnect: [...WRITE_OWN_LOGS, ...grants(['dynamodb:DeleteItem'], CONNECTIONS_ARN), ...ANNOUNCE_TO_ROOM],
  default: [...WRITE_OWN_LOGS, ...REPLY],
  'send-message': [
    ...WRITE_OWN_LOGS,
    ...grants(['dynamodb:GetItem'], CONNECTIONS_ARN),
    ...grants(['dynamodb:PutItem', 'dynamodb:GetItem'], MESSAGES_ARN),
    ...FAN_OUT_TO_ROOM,
  ],
  'send-direct': [
    ...WRITE_OWN_LOGS,
    ...grants(['dynamodb:GetItem', 'dynamodb:DeleteItem'], CONNECTIONS_ARN),
    ...grants(['dynamodb:Query'], USER_INDEX_ARN),
    ...grants(['dynamodb:PutItem', 'dynamodb:GetItem'], MESSAGES_ARN),
    ...REPLY,
  ],
  'get-history': [
    ...WRITE_OWN_LOGS,
    ...grants(['dynamodb:GetItem'], CONNECTIONS_ARN),
    ...grants(['dynamodb:Query'], MESSAGES_ARN),
    ...REPLY,
  ],
  'list-members': [
    ...WRITE_OWN_LOGS,
    ...grants(['dynamodb:GetItem'], CONNECTIONS_ARN),
    ...grants(['dynamodb:Query'], ROOM_INDEX_ARN),
    ...REPLY,
  ],
  ping: [...WRITE_OWN_LOGS, ...REPLY],
};

/** Metrics the alarms may watch, by namespace; `${var.metrics_namespace}` is roomcast's own (EMF) namespace. */
const KNOWN_METRICS: Readonly<Record<string, readonly string[]>> = {
  'AWS/DynamoDB': [
    'ReadThrottleEvents',
    'WriteThrottleEvents',
    'ThrottledRequests',
    'SystemErrors',
    'UserErrors',
  ],
  'AWS/ApiGateway': ['ConnectCount', 'MessageCount', 'IntegrationError', 'ClientError', 'ExecutionError'],
  'AWS/Lambda': ['Errors', 'Throttles', 'Duration', 'Invocations', 'ConcurrentExecutions'],
  [ref('var.metrics_namespace')]: Object.values(METRIC),
};

const KNOWN_DIMENSIONS: Readonly<Record<string, readonly string[]>> = {
  'AWS/DynamoDB': ['TableName', 'GlobalSecondaryIndexName'],
  'AWS/ApiGateway': ['ApiId', 'Stage'],
  'AWS/Lambda': ['FunctionName'],
  [ref('var.metrics_namespace')]: ['service'],
};

// ---------------------------------------------------------------------------------------------------------------
// DynamoDB
// ---------------------------------------------------------------------------------------------------------------

export const checkTables: Check = (tf) => {
  const problems: string[] = [];
  const declared = tf.resources.aws_dynamodb_table ?? {};
  for (const name of Object.keys(declared)) {
    if (!(name in tables)) problems.push(`aws_dynamodb_table.${name} is not defined in src/store/tables.ts`);
  }
  for (const [name, def] of Object.entries(tables) as [string, TableDefinition][]) {
    const table = declared[name];
    const where = `aws_dynamodb_table.${name}`;
    if (!table) {
      problems.push(`${where} is missing (src/store/tables.ts defines ${def.defaultName})`);
      continue;
    }
    const expect = expecter(problems, where);
    expect(
      str(table.name)?.includes(def.defaultName),
      `name ${json(table.name)} does not contain ${def.defaultName}`,
    );
    expect(table.billing_mode === 'PAY_PER_REQUEST', `billing_mode ${json(table.billing_mode)}`);
    expect(table.hash_key === def.hashKey, `hash_key ${json(table.hash_key)}, defined as ${def.hashKey}`);
    expect(
      table.range_key === def.rangeKey,
      `range_key ${json(table.range_key)}, defined as ${json(def.rangeKey)}`,
    );

    const attributes = blocks(table.attribute);
    const attributeNames = attributes.map((attribute) => String(attribute.name));
    expect(
      sameSet(attributeNames, keyAttributes(def)) && attributeNames.length === new Set(attributeNames).size,
      `attribute definitions ${json(attributeNames)} must be exactly the key attributes ${json(keyAttributes(def))} (DynamoDB rejects unused ones)`,
    );
    for (const attribute of attributes) {
      expect(
        attribute.type === 'S',
        `attribute ${json(attribute.name)} has type ${json(attribute.type)}, not S`,
      );
    }

    const indexes = blocks(table.global_secondary_index);
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
      expect(gsi.range_key === undefined, `${at} has a range_key; the definition has none`);
      expect(
        gsi.projection_type === 'INCLUDE',
        `${at} projection_type ${json(gsi.projection_type)}, not INCLUDE`,
      );
      expect(
        sameSet(strings(gsi.non_key_attributes), index.projectedAttributes),
        `${at} non_key_attributes ${json(gsi.non_key_attributes)}, defined ${json(index.projectedAttributes)}`,
      );
    }

    const ttl = block(table.ttl);
    expect(
      ttl.attribute_name === def.ttlAttribute,
      `ttl attribute ${json(ttl.attribute_name)}, defined as ${def.ttlAttribute}`,
    );
    expect(ttl.enabled === true, 'ttl is not enabled');
    expect(block(table.server_side_encryption).enabled === true, 'server_side_encryption is not enabled');
    expect(
      block(table.point_in_time_recovery).enabled === ref('var.point_in_time_recovery'),
      'point_in_time_recovery is not switched by var.point_in_time_recovery',
    );
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// API Gateway: routes, integrations, permissions, stage
// ---------------------------------------------------------------------------------------------------------------

export const checkRoutes: Check = (tf) => {
  const problems: string[] = [];
  const functions = functionsOf(tf);

  for (const { routeKey, functionName } of ROUTES) {
    const fn = functions[functionName];
    if (!isObject(fn)) problems.push(`route ${routeKey}: local.functions has no "${functionName}"`);
    else if (fn.route_key !== routeKey) {
      problems.push(
        `route ${routeKey}: local.functions["${functionName}"].route_key is ${json(fn.route_key)}`,
      );
    }
  }
  for (const name of Object.keys(functions)) {
    if (!(FUNCTION_NAMES as readonly string[]).includes(name)) {
      problems.push(`local.functions["${name}"] is not in src/handlers/routes.ts`);
    }
  }

  const api = tf.resources.aws_apigatewayv2_api?.this ?? {};
  const expectApi = expecter(problems, 'aws_apigatewayv2_api.this');
  expectApi(api.protocol_type === 'WEBSOCKET', `protocol_type ${json(api.protocol_type)}`);
  expectApi(
    api.route_selection_expression === ROUTE_SELECTION_EXPRESSION,
    `route_selection_expression ${json(api.route_selection_expression)}, the code uses ${ROUTE_SELECTION_EXPRESSION}`,
  );

  const route = perFunction(tf, problems, 'aws_apigatewayv2_route', 'this', 'route');
  if (route) {
    const expect = expecter(problems, 'aws_apigatewayv2_route.this');
    expect(route.route_key === ref('each.value.route_key'), `route_key ${json(route.route_key)}`);
    expect(route.api_id === ref('aws_apigatewayv2_api.this.id'), `api_id ${json(route.api_id)}`);
    expect(
      route.target === `integrations/${ref('aws_apigatewayv2_integration.this[each.key].id')}`,
      `target ${json(route.target)} is not the route's own integration`,
    );
  }

  const integration = perFunction(tf, problems, 'aws_apigatewayv2_integration', 'this', 'integration');
  if (integration) {
    const expect = expecter(problems, 'aws_apigatewayv2_integration.this');
    expect(
      integration.integration_type === 'AWS_PROXY',
      `integration_type ${json(integration.integration_type)}`,
    );
    expect(
      integration.integration_method === 'POST',
      `integration_method ${json(integration.integration_method)}`,
    );
    expect(
      integration.integration_uri === ref('aws_lambda_function.this[each.key].invoke_arn'),
      `integration_uri ${json(integration.integration_uri)} is not the function's invoke ARN`,
    );
  }

  // The permissions that let API Gateway invoke a function: one per route, scoped to that route.
  const permissions = Object.entries(tf.resources.aws_lambda_permission ?? {}).filter(
    ([, permission]) => permission.principal === 'apigateway.amazonaws.com',
  );
  const covering = permissions.filter(([, permission]) => permission.for_each === FOR_EACH_FUNCTION);
  for (const [name, permission] of permissions) {
    const expect = expecter(problems, `aws_lambda_permission.${name}`);
    expect(
      permission.for_each === FOR_EACH_FUNCTION,
      `for_each ${json(permission.for_each)} is not local.functions: some routes' functions get no permission`,
    );
    expect(permission.action === 'lambda:InvokeFunction', `action ${json(permission.action)}`);
    expect(
      permission.function_name === ref('aws_lambda_function.this[each.key].function_name'),
      `function_name ${json(permission.function_name)} is not the route's function`,
    );
    const sourceArn = str(permission.source_arn) ?? '';
    for (const { routeKey } of ROUTES) {
      const resolved = sourceArn.replaceAll(ref('each.value.route_key'), routeKey);
      expect(
        resolved === `${ref('aws_apigatewayv2_api.this.execution_arn')}/*/${routeKey}`,
        `source_arn ${json(sourceArn)} is not scoped to the route key (${routeKey} gives ${resolved})`,
      );
    }
  }
  if (covering.length === 0) {
    for (const { routeKey, functionName } of ROUTES) {
      problems.push(`route ${routeKey}: no aws_lambda_permission lets API Gateway invoke ${functionName}`);
    }
  }
  return problems;
};

export const checkStage: Check = (tf) => {
  const problems: string[] = [];
  const stage = tf.resources.aws_apigatewayv2_stage?.this;
  if (!stage) return ['aws_apigatewayv2_stage.this is missing'];
  const expect = expecter(problems, 'aws_apigatewayv2_stage.this');
  expect(stage.api_id === ref('aws_apigatewayv2_api.this.id'), `api_id ${json(stage.api_id)}`);
  expect(stage.name === ref('var.stage_name'), `name ${json(stage.name)} is not var.stage_name`);
  expect(tf.variables.stage_name?.default === 'prod', 'var.stage_name does not default to "prod"');
  expect(stage.auto_deploy === true, 'auto_deploy is not true');

  const settings = block(stage.default_route_settings);
  expect(
    settings.throttling_burst_limit === ref('var.throttling_burst_limit'),
    'default_route_settings.throttling_burst_limit is not var.throttling_burst_limit',
  );
  expect(
    settings.throttling_rate_limit === ref('var.throttling_rate_limit'),
    'default_route_settings.throttling_rate_limit is not var.throttling_rate_limit',
  );

  const access = block(stage.access_log_settings);
  const destination = /^\$\{aws_cloudwatch_log_group\.([\w-]+)\.arn\}$/.exec(
    str(access.destination_arn) ?? '',
  );
  const logGroup = destination?.[1] ? tf.resources.aws_cloudwatch_log_group?.[destination[1]] : undefined;
  expect(
    logGroup !== undefined,
    `access logs go to ${json(access.destination_arn)}, not a log group declared here`,
  );
  expect(
    logGroup?.retention_in_days === ref('var.log_retention_days'),
    'the access log group has no retention from var.log_retention_days',
  );
  const format = str(access.format) ?? '';
  expect(/^\$\{jsonencode\(/.test(format), 'access log format is not jsonencode(...)');
  for (const variable of [
    'requestId',
    'connectionId',
    'routeKey',
    'eventType',
    'status',
    'integration.error',
    'identity.sourceIp',
    'requestTime',
  ]) {
    expect(format.includes(`"$context.${variable}"`), `access log format lacks $context.${variable}`);
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// Lambda functions
// ---------------------------------------------------------------------------------------------------------------

export const checkFunctions: Check = (tf) => {
  const problems: string[] = [];
  for (const name of Object.keys(tf.resources.aws_lambda_function ?? {})) {
    if (name !== 'this')
      problems.push(`aws_lambda_function.${name}: every function must come from local.functions`);
  }

  const bundle = tf.data.archive_file?.function;
  if (!bundle) problems.push('data.archive_file.function is missing');
  else {
    const expect = expecter(problems, 'data.archive_file.function');
    expect(bundle.for_each === FOR_EACH_FUNCTION, `for_each ${json(bundle.for_each)} is not local.functions`);
    expect(bundle.type === 'zip', `type ${json(bundle.type)}`);
    const sourceDir = str(bundle.source_dir) ?? '';
    for (const fn of FUNCTION_NAMES) {
      const resolved = sourceDir.replaceAll(ref('each.key'), fn);
      expect(
        resolved === `${ref('path.module')}/../../dist/${fn}`,
        `function ${fn} is bundled from ${resolved}, not dist/${fn}`,
      );
    }
  }

  const lambda = perFunction(tf, problems, 'aws_lambda_function', 'this', 'function');
  if (lambda) {
    const expect = expecter(problems, 'aws_lambda_function.this');
    expect(lambda.runtime === 'nodejs22.x', `runtime ${json(lambda.runtime)}, not nodejs22.x`);
    expect(sameList(strings(lambda.architectures), ['arm64']), `architectures ${json(lambda.architectures)}`);
    expect(lambda.handler === 'index.handler', `handler ${json(lambda.handler)}`);
    expect(
      lambda.filename === ref('data.archive_file.function[each.key].output_path'),
      `filename ${json(lambda.filename)} is not the function's bundle`,
    );
    expect(
      lambda.source_code_hash === ref('data.archive_file.function[each.key].output_base64sha256'),
      `source_code_hash ${json(lambda.source_code_hash)} does not follow the bundle`,
    );
    expect(
      lambda.role === ref('aws_iam_role.function[each.key].arn'),
      `role ${json(lambda.role)} is not its own`,
    );
    expect(
      lambda.function_name === ref('local.function_names[each.key]'),
      `function_name ${json(lambda.function_name)}`,
    );
    expect(
      block(lambda.logging_config).log_group === ref('aws_cloudwatch_log_group.function[each.key].name'),
      'logging_config.log_group is not the function log group',
    );
  }

  const logGroup = perFunction(tf, problems, 'aws_cloudwatch_log_group', 'function', 'log group');
  if (logGroup) {
    const expect = expecter(problems, 'aws_cloudwatch_log_group.function');
    expect(
      logGroup.name === `/aws/lambda/${ref('local.function_names[each.key]')}`,
      `name ${json(logGroup.name)} is not /aws/lambda/<function name>`,
    );
    expect(
      logGroup.retention_in_days === ref('var.log_retention_days'),
      'retention is not var.log_retention_days',
    );
  }
  const functionNames = str(tf.locals.function_names) ?? '';
  if (!functionNames.includes('keys(local.functions)') || !functionNames.includes(ref('var.name_prefix'))) {
    problems.push(
      `local.function_names ${json(functionNames)} is not "<name_prefix>-<function>" for local.functions`,
    );
  }
  return problems;
};

export const checkEnvironment: Check = (tf) => {
  const problems: string[] = [];
  const lambda = tf.resources.aws_lambda_function?.this ?? {};
  const variables = str(block(lambda.environment).variables) ?? '';
  const sources = new Set(variables.match(/(?<![\w.])(local\.[\w-]+|each\.value\.[\w-]+)/g) ?? []);
  if (!sameSet([...sources], ['local.common_env', 'each.value.env', 'local.function_secret_env'])) {
    problems.push(
      `aws_lambda_function.this: environment is built from ${json([...sources])}; the checks follow local.common_env, each.value.env and local.function_secret_env`,
    );
  }
  for (const name of Object.keys(obj(tf.locals.function_secret_env))) {
    if (!(FUNCTION_NAMES as readonly string[]).includes(name)) {
      problems.push(`local.function_secret_env["${name}"] is not a function`);
    }
  }

  for (const fn of FUNCTION_NAMES) {
    const env = environmentOf(tf, fn);
    for (const name of Object.keys(env)) {
      if (name === 'AWS_REGION') problems.push(`${fn}: sets AWS_REGION, which Lambda reserves`);
      else if (!isAllowedEnv(name)) problems.push(`${fn}: sets ${name}, which src/config.ts does not read`);
      if (name.startsWith('JWT_') && fn !== CONNECT_FUNCTION) {
        problems.push(`${fn}: gets ${name}; only ${CONNECT_FUNCTION} verifies tokens`);
      }
    }
    // Every function gets the connections table (the config loads it); any other table, if its policy uses it.
    const granted = [...grantsOf(tf, fn, [])].join('\n');
    for (const [key, def] of Object.entries(tables) as [string, TableDefinition][]) {
      const table = `aws_dynamodb_table.${key}`;
      if (def !== connectionsTable && !granted.includes(ref(`${table}.arn`))) continue;
      if (env[def.envVar] !== ref(`${table}.name`)) {
        problems.push(`${fn}: ${def.envVar} is ${json(env[def.envVar])}, not the name of ${table}`);
      }
    }
  }
  const connectEnv = environmentOf(tf, CONNECT_FUNCTION);
  for (const name of ['JWT_SECRET', 'JWT_JWKS_URL']) {
    if (!(name in connectEnv)) problems.push(`${CONNECT_FUNCTION}: ${name} is never set`);
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// IAM
// ---------------------------------------------------------------------------------------------------------------

export const checkIam: Check = (tf) => {
  const problems: string[] = [];
  const role = perFunction(tf, problems, 'aws_iam_role', 'function', 'role');
  if (role && role.assume_role_policy !== ref('data.aws_iam_policy_document.lambda_assume.json')) {
    problems.push(`aws_iam_role.function: assume_role_policy ${json(role.assume_role_policy)}`);
  }
  const assume = blocks(tf.data.aws_iam_policy_document?.lambda_assume?.statement);
  const principals = assume.flatMap((statement) => blocks(statement.principals));
  if (
    assume.length !== 1 ||
    !sameList(strings(assume[0]?.actions), ['sts:AssumeRole']) ||
    !sameList(
      principals.flatMap((principal) => strings(principal.identifiers)),
      ['lambda.amazonaws.com'],
    )
  ) {
    problems.push(
      'data.aws_iam_policy_document.lambda_assume: only lambda.amazonaws.com may assume the roles',
    );
  }

  const policy = perFunction(tf, problems, 'aws_iam_role_policy', 'function', 'role policy');
  if (policy) {
    if (policy.role !== ref('aws_iam_role.function[each.key].id')) {
      problems.push(`aws_iam_role_policy.function: role ${json(policy.role)} is not the function's own`);
    }
    if (policy.policy !== ref('data.aws_iam_policy_document.function[each.key].json')) {
      problems.push(`aws_iam_role_policy.function: policy ${json(policy.policy)}`);
    }
  }
  // Nothing else may grant the function roles anything (a managed policy would add actions unseen here).
  for (const type of ['aws_iam_role_policy', 'aws_iam_role_policy_attachment', 'aws_iam_policy_attachment']) {
    for (const [name, grant] of Object.entries(tf.resources[type] ?? {})) {
      if (type === 'aws_iam_role_policy' && name === 'function') continue;
      if (
        allStrings([grant.role ?? null, grant.roles ?? null]).some((s) => s.includes('aws_iam_role.function'))
      ) {
        problems.push(`${type}.${name} grants the function roles more`);
      }
    }
  }

  const document = tf.data.aws_iam_policy_document?.function;
  if (!document) return [...problems, 'data.aws_iam_policy_document.function is missing'];
  if (document.for_each !== FOR_EACH_FUNCTION) {
    problems.push(`data.aws_iam_policy_document.function: for_each ${json(document.for_each)}`);
  }
  const dynamic = blocks(obj(document.dynamic).statement);
  for (const statement of dynamic) {
    const content = block(statement.content);
    if (
      statement.for_each !== ref('each.value.statements') ||
      content.actions !== ref('statement.value.actions') ||
      content.resources !== ref('statement.value.resources') ||
      Object.keys(content).some((key) => !['sid', 'actions', 'resources'].includes(key))
    ) {
      problems.push(
        'data.aws_iam_policy_document.function: a dynamic statement that is not local.functions[*].statements as they are',
      );
    }
  }
  for (const fn of FUNCTION_NAMES) {
    const granted = grantsOf(tf, fn, problems);
    for (const grant of granted) {
      const action = grant.split(' ')[0] ?? '';
      if (action.includes('*')) problems.push(`${fn}: action ${action} has a wildcard`);
      if (action === 'dynamodb:Scan') problems.push(`${fn}: dynamodb:Scan is never needed`);
    }
    const expectedGrants = EXPECTED_GRANTS[fn];
    if (!expectedGrants) {
      problems.push(
        `${fn}: no expected grants in test/infra/terraform-checks.ts (EXPECTED_GRANTS): add what its code calls`,
      );
      continue;
    }
    const expected = new Set(expectedGrants);
    for (const grant of expected) {
      if (!granted.has(grant)) problems.push(`${fn}: lacks ${grant}, which its code needs`);
    }
    for (const grant of granted) {
      if (!expected.has(grant)) problems.push(`${fn}: allows ${grant}, which its code never needs`);
    }
  }
  return problems;
};

/** "action on resource" for every action and resource of the function's policy (static and per-function statements). */
function grantsOf(tf: TerraformConfig, fn: string, problems: string[]): Set<string> {
  const document = tf.data.aws_iam_policy_document?.function ?? {};
  const dynamic = blocks(obj(document.dynamic).statement);
  const statements = [
    ...blocks(document.statement),
    ...(dynamic.length > 0 ? blocks(obj(functionsOf(tf)[fn]).statements) : []),
  ];
  const granted = new Set<string>();
  for (const statement of statements) {
    const sid = json(statement.sid);
    if (statement.effect !== undefined && statement.effect !== 'Allow') {
      problems.push(`${fn}: statement ${sid} has effect ${json(statement.effect)}`);
    }
    for (const key of ['not_actions', 'not_resources', 'condition', 'principals']) {
      if (statement[key] !== undefined) problems.push(`${fn}: statement ${sid} uses ${key}`);
    }
    const resources = strings(statement.resources).map((resource) => String(resolveLocal(tf, resource)));
    if (resources.length === 0) problems.push(`${fn}: statement ${sid} names no resources`);
    for (const action of strings(statement.actions)) {
      for (const resource of resources) granted.add(`${action} on ${resource}`);
    }
  }
  return granted;
}

// ---------------------------------------------------------------------------------------------------------------
// Alarms and dashboard
// ---------------------------------------------------------------------------------------------------------------

export const checkAlarms: Check = (tf) => {
  const problems: string[] = [];
  const api = ref('aws_apigatewayv2_api.this.id');
  const throttles = ['ReadThrottleEvents', 'WriteThrottleEvents'];
  const required = [
    ...(Object.entries(tables) as [string, TableDefinition][]).flatMap(([key, def]) => {
      const table = ref(`aws_dynamodb_table.${key}.name`);
      return [
        ...throttles.map((metric) => `AWS/DynamoDB ${metric} TableName=${table}`),
        ...Object.values(def.indexes).flatMap((index) =>
          throttles.map(
            (metric) => `AWS/DynamoDB ${metric} GlobalSecondaryIndexName=${index.name} TableName=${table}`,
          ),
        ),
      ];
    }),
    `AWS/ApiGateway ConnectCount ApiId=${api}`,
    `AWS/ApiGateway IntegrationError ApiId=${api} Stage=${ref('aws_apigatewayv2_stage.this.name')}`,
    ...FUNCTION_NAMES.flatMap((fn) =>
      ['Errors', 'Throttles'].map(
        (metric) =>
          `AWS/Lambda ${metric} FunctionName=${ref(`aws_lambda_function.this["${fn}"].function_name`)}`,
      ),
    ),
    `${ref('var.metrics_namespace')} ${METRIC.deliveriesFailed} service=${ref('local.service_name')}`,
  ];

  const indexNames = Object.values(tables as Record<string, TableDefinition>).flatMap((def) =>
    Object.values(def.indexes).map((index) => index.name),
  );
  const watched: string[] = [];
  for (const [name, alarm] of Object.entries(tf.resources.aws_cloudwatch_metric_alarm ?? {})) {
    const where = `aws_cloudwatch_metric_alarm.${name}`;
    const expect = expecter(problems, where);
    expect(alarm.alarm_actions === ref('local.alarm_actions'), `alarm_actions ${json(alarm.alarm_actions)}`);
    expect(
      ['notBreaching', 'breaching', 'ignore', 'missing'].includes(String(alarm.treat_missing_data)),
      `treat_missing_data ${json(alarm.treat_missing_data)}`,
    );
    const instances = instancesOf(tf, alarm);
    if (!instances) {
      problems.push(`${where}: for_each ${json(alarm.for_each)} is not a local map the checks can follow`);
      continue;
    }
    if (!isObject(alarm.dimensions)) {
      problems.push(`${where}: dimensions must be a literal map`);
      continue;
    }
    for (const instance of instances) {
      const at = instance.key === undefined ? where : `${where}["${instance.key}"]`;
      const namespace = evaluate(alarm.namespace, instance) ?? '';
      const metric = evaluate(alarm.metric_name, instance) ?? '';
      if (!KNOWN_METRICS[namespace]?.includes(metric)) {
        problems.push(`${at}: ${namespace} ${metric} is not a metric anything here publishes`);
      }
      const dimensions: string[] = [];
      for (const [dimension, raw] of Object.entries(alarm.dimensions)) {
        const value = evaluate(raw, instance) ?? '';
        dimensions.push(`${dimension}=${value}`);
        if (!KNOWN_DIMENSIONS[namespace]?.includes(dimension)) {
          problems.push(`${at}: ${namespace} has no dimension ${dimension}`);
        }
        const ok = dimensionValueIsDeclared(dimension, value, indexNames);
        if (!ok) problems.push(`${at}: dimension ${dimension}=${value} names nothing declared here`);
      }
      watched.push(`${namespace} ${metric} ${dimensions.sort().join(' ')}`);
    }
  }
  for (const alarm of required) {
    if (!watched.includes(alarm)) problems.push(`no alarm on ${alarm}`);
  }

  // The custom metric's namespace and service dimension are the ones the functions publish with.
  const common = obj(tf.locals.common_env);
  if (common.POWERTOOLS_METRICS_NAMESPACE !== ref('var.metrics_namespace')) {
    problems.push('POWERTOOLS_METRICS_NAMESPACE is not var.metrics_namespace, which the alarms watch');
  }
  if (common.POWERTOOLS_SERVICE_NAME !== ref('local.service_name') || tf.locals.service_name !== 'roomcast') {
    problems.push('POWERTOOLS_SERVICE_NAME is not local.service_name = "roomcast", which the alarms watch');
  }
  if (tf.variables.metrics_namespace?.default !== 'roomcast') {
    problems.push('var.metrics_namespace does not default to "roomcast"');
  }

  const dashboards = Object.values(tf.resources.aws_cloudwatch_dashboard ?? {});
  if (dashboards.length === 0) problems.push('no aws_cloudwatch_dashboard');
  const body = dashboards.map((dashboard) => String(dashboard.dashboard_body)).join('\n');
  // Widgets may list metrics from a local map (the alarms' own), so those count as shown too.
  const shown = [
    body,
    ...[...body.matchAll(/(?<![\w.])local\.([\w-]+)/g)].flatMap(([, name = '']) =>
      allStrings(tf.locals[name]),
    ),
  ].join('\n');
  if (dashboards.length > 0 && !/^\$\{jsonencode\(/.test(body)) {
    problems.push('the dashboard body is not jsonencode(...)');
  }
  for (const metric of new Set(required.map((alarm) => alarm.split(' ')[1] ?? ''))) {
    if (!shown.includes(`"${metric}"`) && !shown.split('\n').includes(metric)) {
      problems.push(`the dashboard does not show ${metric}`);
    }
  }
  return problems;
};

// ---------------------------------------------------------------------------------------------------------------
// Variables, outputs, references
// ---------------------------------------------------------------------------------------------------------------

export const checkVariablesAndOutputs: Check = (tf) => {
  const problems: string[] = [];
  for (const [name, variable] of Object.entries(tf.variables)) {
    if (!str(variable.description)) problems.push(`var.${name} has no description`);
  }
  const defaults: Record<string, Json> = {
    name_prefix: 'roomcast',
    stage_name: 'prod',
    metrics_namespace: 'roomcast',
    jwt_secret: null,
    jwt_secret_ssm_parameter: null,
    jwt_jwks_url: null,
  };
  for (const [name, value] of Object.entries(defaults)) {
    if (!(name in tf.variables)) problems.push(`var.${name} is missing`);
    else if (tf.variables[name]?.default !== value)
      problems.push(`var.${name} does not default to ${json(value)}`);
  }
  if (tf.variables.jwt_secret?.sensitive !== true) problems.push('var.jwt_secret is not sensitive');
  if (!str(tf.data.aws_ssm_parameter?.jwt_secret?.count)?.includes('var.jwt_secret_ssm_parameter')) {
    problems.push(
      'data.aws_ssm_parameter.jwt_secret is not read only when var.jwt_secret_ssm_parameter is set',
    );
  }
  if (tf.data.aws_ssm_parameter?.jwt_secret?.with_decryption !== true) {
    problems.push('data.aws_ssm_parameter.jwt_secret is not decrypted');
  }
  // Per-function override maps may only name functions that exist.
  for (const name of ['function_memory_mb', 'function_timeout_seconds']) {
    const condition = str(block(tf.variables[name]?.validation).condition) ?? '';
    const allowed = /contains\(\[([^\]]*)\],\s*name\)/.exec(condition)?.[1] ?? '';
    const names = [...allowed.matchAll(/"([^"]+)"/g)].map((match) => String(match[1]));
    if (!sameSet(names, FUNCTION_NAMES)) {
      problems.push(
        `var.${name}: validation allows ${json(names)}, the functions are ${json(FUNCTION_NAMES)}`,
      );
    }
  }

  const outputs: Record<string, string> = {
    websocket_url: ref('aws_apigatewayv2_stage.this.invoke_url'),
    management_endpoint: ref('local.management_endpoint'),
    connections_table_name: ref('aws_dynamodb_table.connections.name'),
    api_id: ref('aws_apigatewayv2_api.this.id'),
  };
  for (const [name, value] of Object.entries(outputs)) {
    const output = tf.outputs[name];
    if (!output) problems.push(`output ${name} is missing`);
    else if (output.value !== value)
      problems.push(`output ${name} is ${json(output.value)}, expected ${value}`);
  }
  const endpoint = str(tf.locals.management_endpoint) ?? '';
  if (!endpoint.includes('"https://"') || !endpoint.endsWith(`/${ref('var.stage_name')}`)) {
    problems.push(`local.management_endpoint ${json(endpoint)} is not https://{api}/{stage}`);
  }
  return problems;
};

/** What `terraform validate` would catch first: every var., local., resource and data reference is declared. */
export const checkReferences: Check = (tf) => {
  const problems = tf.duplicates.map((name) => `${name} is declared more than once`);
  const visit = (where: string, body: JsonObject): void => {
    const forEach = str(body.for_each);
    for (const text of allStrings(body)) {
      for (const [, name = ''] of text.matchAll(/(?<![\w.])var\.([A-Za-z_][\w-]*)/g)) {
        if (!(name in tf.variables)) problems.push(`${where}: var.${name} is not declared`);
      }
      for (const [, name = ''] of text.matchAll(/(?<![\w.])local\.([A-Za-z_][\w-]*)/g)) {
        if (!(name in tf.locals)) problems.push(`${where}: local.${name} is not declared`);
      }
      for (const [, type = '', name = ''] of text.matchAll(
        /(?<![\w.])data\.([a-z][\w]*)\.([A-Za-z_][\w-]*)/g,
      )) {
        if (!tf.data[type]?.[name]) problems.push(`${where}: data.${type}.${name} is not declared`);
      }
      for (const [, type = '', name = ''] of text.matchAll(
        /(?<![\w.])((?:aws|archive)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)/g,
      )) {
        if (!tf.resources[type]?.[name]) problems.push(`${where}: ${type}.${name} is not declared`);
      }
      // X[each.key] only makes sense when X is for_each over the same map.
      for (const [, data, type = '', name = ''] of text.matchAll(
        /(?<![\w.])(data\.)?((?:aws|archive)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)\[each\.key\]/g,
      )) {
        const target = data ? tf.data[type]?.[name] : tf.resources[type]?.[name];
        if (target && target.for_each !== forEach) {
          problems.push(
            `${where}: ${data ?? ''}${type}.${name}[each.key], but that is not for_each over ${forEach}`,
          );
        }
      }
      if (forEach === undefined && /(?<![\w.])each\.(key|value)/.test(text)) {
        problems.push(`${where}: uses each.* without for_each`);
      }
    }
  };
  for (const [type, byName] of Object.entries(tf.resources)) {
    for (const [name, body] of Object.entries(byName)) visit(`${type}.${name}`, body);
  }
  for (const [type, byName] of Object.entries(tf.data)) {
    for (const [name, body] of Object.entries(byName)) visit(`data.${type}.${name}`, body);
  }
  for (const [name, value] of Object.entries(tf.locals)) visit(`local.${name}`, { value });
  for (const [name, body] of Object.entries(tf.outputs)) visit(`output ${name}`, body);
  for (const [name, body] of Object.entries(tf.variables)) visit(`var.${name}`, body);
  return problems;
};

export const ALL_CHECKS: Readonly<Record<string, Check>> = {
  tables: checkTables,
  routes: checkRoutes,
  stage: checkStage,
  functions: checkFunctions,
  environment: checkEnvironment,
  iam: checkIam,
  alarms: checkAlarms,
  variablesAndOutputs: checkVariablesAndOutputs,
  references: checkReferences,
};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function functionOfRoute(routeKey: string): FunctionName {
  const route = ROUTES.find((candidate) => candidate.routeKey === routeKey);
  if (!route) throw new Error(`no ${routeKey} route in src/handlers/routes.ts`);
  return route.functionName;
}

function functionsOf(tf: TerraformConfig): JsonObject {
  return obj(tf.locals.functions);
}

/** A resource that must exist once per function: for_each over local.functions. */
function perFunction(
  tf: TerraformConfig,
  problems: string[],
  type: string,
  name: string,
  what: string,
): JsonObject | undefined {
  const resource = tf.resources[type]?.[name];
  if (!resource) {
    for (const { routeKey, functionName } of ROUTES) {
      problems.push(`route ${routeKey}: ${functionName} has no ${what} (${type}.${name} is missing)`);
    }
    return undefined;
  }
  if (resource.for_each !== FOR_EACH_FUNCTION) {
    problems.push(
      `${type}.${name}: for_each ${json(resource.for_each)} is not local.functions: not every function gets a ${what}`,
    );
  }
  return resource;
}

/** Environment of one function: common_env, then its own env, then its secrets (as lambda.tf merges them). */
function environmentOf(tf: TerraformConfig, fn: string): JsonObject {
  return {
    ...obj(tf.locals.common_env),
    ...obj(obj(functionsOf(tf)[fn]).env),
    ...obj(obj(tf.locals.function_secret_env)[fn]),
  };
}

function isAllowedEnv(name: string): boolean {
  return (
    (CONFIG_ENV_VARS as readonly string[]).includes(name) ||
    name.startsWith('POWERTOOLS_') ||
    name === 'NODE_OPTIONS'
  );
}

/** `${local.name}` → the local's value; anything else as it is. */
function resolveLocal(tf: TerraformConfig, value: Json): Json {
  const name = /^\$\{local\.([\w-]+)\}$/.exec(typeof value === 'string' ? value : '')?.[1];
  return name !== undefined && name in tf.locals ? (tf.locals[name] ?? null) : value;
}

interface Instance {
  key?: string;
  value?: JsonObject;
}

/** The instances of a block: one without for_each, or one per entry of the local map it iterates. */
function instancesOf(tf: TerraformConfig, body: JsonObject): Instance[] | undefined {
  if (body.for_each === undefined) return [{}];
  const source = resolveLocal(tf, body.for_each);
  if (!isObject(source)) return undefined;
  return Object.entries(source).map(([key, value]) => ({ key, value: obj(value) }));
}

/** A string attribute of one instance: `${each.value.x}` and `${each.key}` resolved, `[each.key]` made literal. */
function evaluate(value: Json | undefined, instance: Instance): string | undefined {
  const text = str(value);
  if (text === undefined) return undefined;
  const field = /^\$\{each\.value\.([\w-]+)\}$/.exec(text)?.[1];
  if (field !== undefined) return str(instance.value?.[field]);
  if (text === ref('each.key')) return instance.key;
  return instance.key === undefined ? text : text.replaceAll('[each.key]', `["${instance.key}"]`);
}

/** Whether an alarm dimension's value is the resource (or index) of that kind declared here. */
function dimensionValueIsDeclared(dimension: string, value: string, indexNames: readonly string[]): boolean {
  switch (dimension) {
    case 'TableName':
      return Object.keys(tables).some((key) => value === ref(`aws_dynamodb_table.${key}.name`));
    case 'GlobalSecondaryIndexName':
      return indexNames.includes(value);
    case 'ApiId':
      return value === ref('aws_apigatewayv2_api.this.id');
    case 'Stage':
      return value === ref('aws_apigatewayv2_stage.this.name');
    case 'FunctionName':
      return FUNCTION_NAMES.some((fn) => value === ref(`aws_lambda_function.this["${fn}"].function_name`));
    case 'service':
      return value === ref('local.service_name');
    default:
      return false;
  }
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

function sameList(actual: readonly string[], expected: readonly string[]): boolean {
  return actual.length === expected.length && actual.every((item, i) => item === expected[i]);
}

function json(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}
