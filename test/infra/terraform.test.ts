import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TERRAFORM_FUNCTIONS_FILE } from '../../scripts/bundle-invoker.ts';
import { loadConfig } from '../../src/config.ts';
import { WORKERS } from '../../src/handlers/routes.ts';
import { METRIC } from '../../src/metrics.ts';
import { loadTerraform } from './hcl.ts';
import {
  ADMIN_FUNCTION,
  ALL_CHECKS,
  type Check,
  checkAlarms,
  checkConnectionStats,
  checkEnvironment,
  checkFanOut,
  checkFunctions,
  checkIam,
  checkOperatorPolicy,
  checkOutputs,
  checkRoutes,
  checkStage,
  checkTables,
  environmentOf,
  instances,
  single,
} from './terraform-checks.ts';
import { type Evaluated, StandInTerraform, terraformSkipReason, varArgs } from './terraform-cli.ts';

const TERRAFORM_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../infra/terraform');
const TERRAFORM_FUNCTIONS_ABOUT =
  'What infra/terraform gives each function, as terraform evaluates it with -var region=us-east-1 -var jwt_secret_ssm_parameter=/roomcast/jwt-secret (JWT_SECRET is the stand-in for the SSM value). Written by test/infra/terraform.test.ts with ROOMCAST_UPDATE_SNAPSHOTS=1; read by scripts/bundle-invoker.ts.';

/** The token source the READMEs deploy with. */
const README_VARS = { jwt_secret_ssm_parameter: '/roomcast/jwt-secret' };
/** The fan-out worker (src/handlers/routes.ts WORKERS). */
const WORKER = WORKERS[0].functionName;
const TABLE_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CERTIFICATE = 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
/** Every optional feature on at once. */
const EVERYTHING_VARS = {
  ...README_VARS,
  table_kms_key_arn: TABLE_KEY,
  access_logs_enabled: 'true',
  execution_logging_level: 'ERROR',
  manage_api_gateway_account: 'true',
  alarm_email: 'ops@example.com',
  custom_domain_name: 'chat.example.com',
  custom_domain_certificate_arn: CERTIFICATE,
  custom_domain_base_path: 'v1',
  custom_domain_route53_zone_id: 'Z0123456789ABCDEFGHIJ',
};

describe('infra/terraform as files', () => {
  it('is split by concern, one file each', async () => {
    const tf = await loadTerraform(TERRAFORM_DIR);
    assert.deepEqual(tf.files, [
      'alarms.tf',
      'apigateway.tf',
      'dashboard.tf',
      'domain.tf',
      'dynamodb.tf',
      'iam.tf',
      'lambda.tf',
      'locals.tf',
      'outputs.tf',
      'variables.tf',
      'versions.tf',
    ]);
  });

  it('documents every variable and output in its README', async () => {
    const tf = await loadTerraform(TERRAFORM_DIR);
    const readme = await readFile(join(TERRAFORM_DIR, 'README.md'), 'utf8');
    const rows = new Set([...readme.matchAll(/^\| `([\w-]+)` +\|/gm)].map(([, name]) => name));
    assert.deepEqual(
      Object.keys(tf.variables).filter((name) => !rows.has(name)),
      [],
    );
    assert.deepEqual(
      Object.keys(tf.outputs).filter((name) => !readme.includes(`\`${name}\``)),
      [],
    );
  });
});

describe('infra/terraform evaluated by terraform', { skip: terraformSkipReason() }, () => {
  let terraform: StandInTerraform;
  let deployed: Evaluated;
  let everything: Evaluated;
  /** The README's deployment without the connections gauge. */
  let statsOff: Evaluated;

  before(async () => {
    terraform = await StandInTerraform.create(TERRAFORM_DIR);
    [deployed, everything, statsOff] = await Promise.all([
      terraform.evaluate(README_VARS),
      terraform.evaluate(EVERYTHING_VARS),
      terraform.evaluate({ ...README_VARS, connection_stats_enabled: 'false' }),
    ]);
  });

  after(() => terraform?.dispose());

  /** Plans with these variables and returns Terraform's error text ('' when the plan succeeds). */
  async function refusal(vars: Record<string, string>): Promise<string> {
    const result = await terraform.plan(varArgs(vars));
    return result.code === 0 ? '' : `${result.stderr}${result.stdout}`.replace(/\s+/g, ' ');
  }

  /** The statements of a function's policy, as its role gets them. */
  const statements = (evaluated: Evaluated, fn: string) =>
    (
      JSON.parse(String(instances(evaluated, 'aws_iam_role_policy.function')[fn]?.policy)) as {
        Statement: { Sid: string; Action: string[]; Resource: string[] }[];
      }
    ).Statement;
  const grantsOf = (evaluated: Evaluated, fn: string, service: string) =>
    statements(evaluated, fn).flatMap((statement) =>
      statement.Action.filter((action) => action.startsWith(`${service}:`)).flatMap((action) =>
        statement.Resource.map((resource) => `${action} on ${resource}`),
      ),
    );

  it('is formatted as terraform fmt writes it', async () => {
    const result = await terraform.run(['fmt', '-check', '-diff', TERRAFORM_DIR]);
    assert.equal(result.code, 0, `terraform fmt would change:\n${result.stdout}`);
  });

  describe('matches the code, as deployed by the README', () => {
    for (const [name, check] of Object.entries(ALL_CHECKS)) {
      it(name, () => assert.deepEqual(check(deployed), []));
    }
  });

  describe('matches the code with every option on (KMS key, logs, custom domain, alarm email)', () => {
    for (const [name, check] of Object.entries(ALL_CHECKS)) {
      it(name, () =>
        assert.deepEqual(name === 'iam' ? checkIam(everything, TABLE_KEY) : check(everything), []),
      );
    }
  });

  describe('matches the code without the connections gauge (connection_stats_enabled = false)', () => {
    for (const [name, check] of Object.entries(ALL_CHECKS)) {
      it(name, () => assert.deepEqual(check(statsOff), []));
    }
  });

  describe('variables', () => {
    const accepted: [string, Record<string, string>][] = [
      ['an SSM parameter path', { jwt_secret_ssm_parameter: '/roomcast/jwt-secret' }],
      ['an SSM parameter name without a path', { jwt_secret_ssm_parameter: 'roomcast_jwt.secret-2' }],
      ['an SSM parameter of 2048 characters', { jwt_secret_ssm_parameter: `/${'a'.repeat(2047)}` }],
      [
        'an SSM parameter ARN',
        { jwt_secret_ssm_parameter: 'arn:aws:ssm:eu-west-1:123456789012:parameter/roomcast/jwt-secret' },
      ],
      ['a JWT secret of 32 characters', { jwt_secret: 'x'.repeat(32) }],
      [
        'a Secrets Manager secret read through Parameter Store',
        { jwt_secret_ssm_parameter: '/aws/reference/secretsmanager/roomcast/jwt' },
      ],
      [
        "a base path with API Gateway's mapping characters",
        {
          ...README_VARS,
          custom_domain_name: 'chat.example.com',
          custom_domain_certificate_arn: CERTIFICATE,
          custom_domain_base_path: "v1+beta_(x)!*'$",
        },
      ],
      ['the longest message that fits a 32 KB frame', { ...README_VARS, max_message_chars: '5000' }],
      ['the most rooms per connection the code takes', { ...README_VARS, max_rooms_per_connection: '1000' }],
      [
        'the longest token lifetime the code takes',
        { ...README_VARS, token_max_lifetime_seconds: '2592000' },
      ],
      ['a token lifetime of one second', { ...README_VARS, token_max_lifetime_seconds: '1' }],
      ["Lambda's longest timeout for the admin function", { ...README_VARS, admin_timeout_seconds: '900' }],
      [
        "the fan-out tier's largest settings the code takes",
        {
          ...README_VARS,
          fanout_threshold: '50000',
          fanout_shard_size: '2000',
          fanout_worker_max_event_age_seconds: '21600',
          fanout_worker_retry_attempts: '0',
        },
      ],
      [
        'a JWKS URL with issuer, audience and algorithms',
        {
          jwt_jwks_url: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json',
          jwt_issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
          jwt_audience: 'roomcast',
          jwt_algorithms: '["RS256"]',
        },
      ],
      ['a gauge every 5 minutes', { ...README_VARS, connection_stats_schedule: 'rate(5 minutes)' }],
      ['a gauge every 12 hours', { ...README_VARS, connection_stats_schedule: 'rate(12 hours)' }],
      ['a gauge every hour', { ...README_VARS, connection_stats_schedule: 'rate(1 hour)' }],
      [
        'a gauge on a cron expression',
        { ...README_VARS, connection_stats_schedule: 'cron(0/2 8-18 ? * MON-FRI *)' },
      ],
      [
        'a drop alarm on every loss, from a single connection',
        { ...README_VARS, connections_drop_alarm_fraction: '1', connections_drop_alarm_min_connections: '1' },
      ],
    ];
    for (const [what, vars] of accepted) {
      it(`accepts ${what}`, async () => assert.equal(await refusal(vars), ''));
    }

    const schedule = /connection_stats_schedule must be an EventBridge schedule expression/;
    const refused: [string, Record<string, string>, RegExp][] = [
      ['no token source', {}, /Set exactly one of jwt_secret, jwt_secret_ssm_parameter or jwt_jwks_url/],
      ['a plural rate of 1', { ...README_VARS, connection_stats_schedule: 'rate(1 minutes)' }, schedule],
      ['a singular rate above 1', { ...README_VARS, connection_stats_schedule: 'rate(5 minute)' }, schedule],
      ['a rate of 0', { ...README_VARS, connection_stats_schedule: 'rate(0 minutes)' }, schedule],
      ['a rate in seconds', { ...README_VARS, connection_stats_schedule: 'rate(30 seconds)' }, schedule],
      [
        'a gauge less often than every 12 hours',
        { ...README_VARS, connection_stats_schedule: 'rate(13 hours)' },
        schedule,
      ],
      ['a daily gauge', { ...README_VARS, connection_stats_schedule: 'rate(1 day)' }, schedule],
      [
        'a cron expression of five fields',
        { ...README_VARS, connection_stats_schedule: 'cron(* * * * *)' },
        schedule,
      ],
      ['a schedule in words', { ...README_VARS, connection_stats_schedule: 'every minute' }, schedule],
      [
        'a drop of none',
        { ...README_VARS, connections_drop_alarm_fraction: '0' },
        /connections_drop_alarm_fraction must be greater than 0 and at most 1/,
      ],
      [
        'a drop of more than every connection',
        { ...README_VARS, connections_drop_alarm_fraction: '1.5' },
        /connections_drop_alarm_fraction must be greater than 0 and at most 1/,
      ],
      [
        'a drop alarm from 0 connections (a division by 0)',
        { ...README_VARS, connections_drop_alarm_min_connections: '0' },
        /connections_drop_alarm_min_connections must be a whole number of at least 1/,
      ],
      [
        'a drop alarm from half a connection',
        { ...README_VARS, connections_drop_alarm_min_connections: '2.5' },
        /connections_drop_alarm_min_connections must be a whole number of at least 1/,
      ],
      ['two token sources', { ...README_VARS, jwt_secret: 'x'.repeat(32) }, /Set exactly one of/],
      [
        'an SSM parameter under "aws"',
        { jwt_secret_ssm_parameter: '/aws/reference' },
        /must be an SSM parameter name/,
      ],
      [
        'an SSM parameter starting "ssm"',
        { jwt_secret_ssm_parameter: 'SSM-secret' },
        /must be an SSM parameter name/,
      ],
      [
        'an SSM path without a leading slash',
        { jwt_secret_ssm_parameter: 'roomcast/jwt' },
        /must be an SSM parameter name/,
      ],
      [
        'an SSM parameter with a space',
        { jwt_secret_ssm_parameter: '/room cast' },
        /must be an SSM parameter name/,
      ],
      [
        'an SSM parameter of 2049 characters',
        { jwt_secret_ssm_parameter: `/${'a'.repeat(2048)}` },
        /must be an SSM parameter name/,
      ],
      ['an empty SSM parameter', { jwt_secret_ssm_parameter: '' }, /must be an SSM parameter name/],
      ['a short JWT secret', { jwt_secret: 'short' }, /at least 32 characters/],
      ['a JWKS URL over http', { jwt_jwks_url: 'http://idp.example.com/jwks.json' }, /https:\/\/ URL/],
      ['the "none" algorithm', { ...README_VARS, jwt_algorithms: '["none"]' }, /never "none"/],
      [
        'a KMS alias instead of a key',
        { ...README_VARS, table_kms_key_arn: 'arn:aws:kms:eu-west-1:123456789012:alias/chat' },
        /must be a KMS key ARN/,
      ],
      [
        'an unknown execution logging level',
        { ...README_VARS, execution_logging_level: 'DEBUG' },
        /OFF, ERROR or INFO/,
      ],
      [
        'a custom domain with a scheme',
        {
          ...README_VARS,
          custom_domain_name: 'https://chat.example.com',
          custom_domain_certificate_arn: CERTIFICATE,
        },
        /lower-case DNS name/,
      ],
      [
        'a custom domain without a certificate',
        { ...README_VARS, custom_domain_name: 'chat.example.com' },
        /custom_domain_name and custom_domain_certificate_arn together/,
      ],
      [
        'a base path without a custom domain',
        { ...README_VARS, custom_domain_base_path: 'v1' },
        /need custom_domain_name/,
      ],
      [
        'a base path with a slash',
        {
          ...README_VARS,
          custom_domain_name: 'chat.example.com',
          custom_domain_certificate_arn: CERTIFICATE,
          custom_domain_base_path: 'a/b',
        },
        /one path segment/,
      ],
      [
        'a certificate that is not ACM',
        {
          ...README_VARS,
          custom_domain_name: 'chat.example.com',
          custom_domain_certificate_arn: 'arn:aws:iam::123456789012:server-certificate/x',
        },
        /ACM certificate ARN/,
      ],
      [
        'a function that does not exist',
        { ...README_VARS, function_memory_mb: '{ chat = 512 }' },
        /function names/,
      ],
      ['a stage name with a slash', { ...README_VARS, stage_name: 'prod/v1' }, /stage_name must be/],
      [
        'algorithms of a JWKS key with a shared secret',
        { ...README_VARS, jwt_algorithms: '["RS256"]' },
        /HS256\/HS384\/HS512 with jwt_secret or jwt_secret_ssm_parameter/,
      ],
      [
        'a shared-secret algorithm with a JWKS URL',
        { jwt_jwks_url: 'https://idp.example.com/jwks.json', jwt_algorithms: '["HS256"]' },
        /asymmetric ones .* with jwt_jwks_url/,
      ],
      [
        'a secret in SSM shorter than 32 characters',
        {
          ...README_VARS,
          standin__computed: '{ "data.aws_ssm_parameter.jwt_secret.value" = "too short" }',
        },
        /holds fewer than 32 characters/,
      ],
      [
        'a certificate from another region',
        {
          ...README_VARS,
          custom_domain_name: 'chat.example.com',
          custom_domain_certificate_arn: CERTIFICATE.replace('eu-west-1', 'us-east-1'),
        },
        /ACM certificate in the API's region \(eu-west-1\)/,
      ],
      [
        'a table key from another region',
        { ...README_VARS, table_kms_key_arn: TABLE_KEY.replace('eu-west-1', 'us-east-1') },
        /a key in the tables' region \(eu-west-1\)/,
      ],
      [
        'a base path API Gateway refuses',
        {
          ...README_VARS,
          custom_domain_name: 'chat.example.com',
          custom_domain_certificate_arn: CERTIFICATE,
          custom_domain_base_path: 'v1~x',
        },
        /one path segment/,
      ],
      [
        'messages too long for a 32 KB frame',
        { ...README_VARS, max_message_chars: '5001' },
        /between 1 and 5000/,
      ],
      [
        'a metrics namespace CloudWatch refuses',
        { ...README_VARS, metrics_namespace: 'chat {prod}' },
        /CloudWatch's rule/,
      ],
      ['a JWKS URL without a host', { jwt_jwks_url: 'https://' }, /with a host/],
      [
        'more rooms per connection than the code takes',
        { ...README_VARS, max_rooms_per_connection: '1001' },
        /max_rooms_per_connection must be a whole number between 1 and 1000/,
      ],
      [
        'no room per connection',
        { ...README_VARS, max_rooms_per_connection: '0' },
        /max_rooms_per_connection must be a whole number between 1 and 1000/,
      ],
      [
        'a fan-out threshold the code refuses',
        { ...README_VARS, fanout_threshold: '50001' },
        /fanout_threshold must be a whole number between 1 and 50000/,
      ],
      [
        'a shard bigger than the code takes',
        { ...README_VARS, fanout_shard_size: '2001' },
        /fanout_shard_size must be a whole number between 1 and 2000/,
      ],
      ['an empty shard', { ...README_VARS, fanout_shard_size: '0' }, /fanout_shard_size must be/],
      [
        'a worker timeout that leaves no time to post before the hand-off margin',
        { ...README_VARS, fanout_worker_timeout_seconds: '15' },
        /fanout_worker_timeout_seconds must be a whole number between 20 and 900/,
      ],
      [
        'no post in flight across the workers',
        { ...README_VARS, fanout_tier_concurrency: '0' },
        /fanout_tier_concurrency must be a whole number between 1 and 100000/,
      ],
      [
        'more retries than Lambda makes',
        { ...README_VARS, fanout_worker_retry_attempts: '3' },
        /fanout_worker_retry_attempts must be 0, 1 or 2/,
      ],
      [
        'an event age Lambda refuses',
        { ...README_VARS, fanout_worker_max_event_age_seconds: '59' },
        /between 60 and 21600/,
      ],
      [
        'a reserved concurrency of 0, which would drop every shard',
        { ...README_VARS, fanout_worker_reserved_concurrency: '0' },
        /set fanout_workers_enabled = false instead/,
      ],
      [
        "the worker's memory through the route functions' map",
        { ...README_VARS, function_memory_mb: '{ "fan-out-worker" = 1024 }' },
        /the fan-out worker has fanout_worker_memory_mb/,
      ],
      [
        'a fractional memory size',
        { ...README_VARS, function_memory_mb: '{ ping = 200.5 }' },
        /whole numbers/,
      ],
      [
        'a token lifetime longer than the code takes (30 days)',
        { ...README_VARS, token_max_lifetime_seconds: '2592001' },
        /token_max_lifetime_seconds must be a whole number between 1 and 2592000/,
      ],
      [
        'no token lifetime',
        { ...README_VARS, token_max_lifetime_seconds: '0' },
        /token_max_lifetime_seconds must be a whole number between 1 and 2592000/,
      ],
      [
        'a fractional token lifetime',
        { ...README_VARS, token_max_lifetime_seconds: '3600.5' },
        /token_max_lifetime_seconds must be a whole number/,
      ],
      [
        'an admin timeout Lambda refuses',
        { ...README_VARS, admin_timeout_seconds: '901' },
        /admin_timeout_seconds must be a whole number between 1 and 900/,
      ],
      [
        "the admin function's timeout through the route functions' map",
        { ...README_VARS, function_timeout_seconds: '{ admin = 60 }' },
        /route function names/,
      ],
    ];
    for (const [what, vars, message] of refused) {
      it(`refuses ${what}`, async () => assert.match(await refusal(vars), message));
    }
  });

  describe('a first deploy', () => {
    it('needs no account-wide API Gateway setting: logging is off and no account role is created', () => {
      const stage = single(deployed, 'aws_apigatewayv2_stage.this');
      assert.deepEqual(stage?.access_log_settings, []);
      assert.equal(
        (stage?.default_route_settings as { logging_level: string }[] | undefined)?.[0]?.logging_level,
        'OFF',
      );
      assert.deepEqual(instances(deployed, 'aws_api_gateway_account.this'), {});
      assert.deepEqual(instances(deployed, 'aws_cloudwatch_log_group.api_access'), {});
      assert.deepEqual(instances(deployed, 'aws_cloudwatch_log_group.api_execution'), {});
      assert.equal(deployed.outputs.access_log_group, null);
    });

    it('gives $connect the secret from SSM and nothing else a JWT setting', () => {
      const env = environmentOf(deployed, 'connect');
      assert.equal(env.JWT_SECRET, single(deployed, 'data.aws_ssm_parameter.jwt_secret')?.value);
      assert.ok(loadConfig({ ...env, AWS_REGION: 'eu-west-1' }).auth);
      assert.equal(environmentOf(deployed, 'send-message').JWT_SECRET, undefined);
    });

    it('serves clients on the execute-api URL of the stage', () => {
      const api = single(deployed, 'aws_apigatewayv2_api.this');
      assert.equal(
        deployed.outputs.websocket_url,
        `wss://${api?.id}.execute-api.eu-west-1.amazonaws.com/prod`,
      );
      assert.equal(deployed.outputs.websocket_url, deployed.outputs.execute_api_url);
      assert.equal(deployed.outputs.custom_domain_target, null);
    });
  });

  it('scripts/lambda-environment.json, which the bundle tests and the cold-start bench run with, is what it evaluates', async () => {
    const evaluated = await terraform.evaluate({ ...README_VARS, region: 'us-east-1' });
    const functions = Object.fromEntries(
      Object.entries(instances(evaluated, 'aws_lambda_function.this')).map(([fn, lambda]) => [
        fn,
        {
          function_name: lambda.function_name,
          memory_size: lambda.memory_size,
          timeout: lambda.timeout,
          environment: environmentOf(evaluated, fn),
        },
      ]),
    );
    const expected = `${JSON.stringify({ about: TERRAFORM_FUNCTIONS_ABOUT, functions }, null, 2)}\n`;
    if (process.env.ROOMCAST_UPDATE_SNAPSHOTS) await writeFile(TERRAFORM_FUNCTIONS_FILE, expected);
    assert.equal(
      await readFile(TERRAFORM_FUNCTIONS_FILE, 'utf8'),
      expected,
      `Terraform gives the functions something else now: ROOMCAST_UPDATE_SNAPSHOTS=1 node --import tsx --test ${relative(process.cwd(), fileURLToPath(import.meta.url))}`,
    );
  });

  it("an override of one function's timeout keeps send-message's 29 s", async () => {
    const evaluated = await terraform.evaluate({
      ...README_VARS,
      function_timeout_seconds: '{ connect = 5 }',
    });
    const functions = instances(evaluated, 'aws_lambda_function.this');
    assert.equal(functions.connect?.timeout, 5);
    assert.equal(functions['send-message']?.timeout, 29);
    assert.equal(functions.ping?.timeout, 10);
  });

  it('only JWT_SECRET is sensitive in the environment, so plans show changes to the rest', async () => {
    const variables = 'local.r__aws_lambda_function__this["connect"].environment[0].variables';
    const vars = { jwt_secret: 'x'.repeat(40) };
    assert.equal(await terraform.console(`issensitive(${variables})`, vars), 'false');
    assert.equal(await terraform.console(`issensitive(${variables}["JWT_SECRET"])`, vars), 'true');
    assert.equal(await terraform.console(`issensitive(${variables}["LOG_LEVEL"])`, vars), 'false');
  });

  describe('options', () => {
    it('access and execution logs go to log groups with a retention once turned on', () => {
      const stage = single(everything, 'aws_apigatewayv2_stage.this');
      const group = single(everything, 'aws_cloudwatch_log_group.api_access');
      assert.deepEqual(stage?.access_log_settings, [
        { destination_arn: group?.arn, format: everything.locals.access_log_format },
      ]);
      assert.equal(everything.outputs.access_log_group, group?.name);
      assert.equal(
        single(everything, 'aws_cloudwatch_log_group.api_execution')?.name,
        `API-Gateway-Execution-Logs_${single(everything, 'aws_apigatewayv2_api.this')?.id}/prod`,
      );
      assert.equal(
        single(everything, 'aws_api_gateway_account.this')?.cloudwatch_role_arn,
        single(everything, 'aws_iam_role.api_gateway_cloudwatch')?.arn,
      );
    });

    it('a customer managed key is usable through DynamoDB by exactly the functions that touch a table', () => {
      const document = (fn: string) =>
        JSON.parse(String(instances(everything, 'data.aws_iam_policy_document.function')[fn]?.json)) as {
          Statement: { Sid: string; Action: string[]; Condition?: unknown }[];
        };
      const keyStatement = (fn: string) => document(fn).Statement.find((s) => s.Sid === 'UseTableKey');
      // Readers decrypt; writers also encrypt. Every function that touches a table writes: those that read the
      // caller's record may move a record of the previous version over (get-history also voids seqs left empty).
      for (const writer of [
        'connect',
        'list-members',
        'ping',
        'send-message',
        'get-history',
        WORKER,
        ADMIN_FUNCTION,
      ])
        assert.deepEqual(
          keyStatement(writer)?.Action,
          [
            'kms:Decrypt',
            'kms:DescribeKey',
            'kms:Encrypt',
            'kms:GenerateDataKey',
            'kms:GenerateDataKeyWithoutPlaintext',
            'kms:ReEncryptFrom',
            'kms:ReEncryptTo',
          ],
          writer,
        );
      assert.deepEqual(keyStatement('send-message')?.Condition, {
        StringEquals: { 'kms:ViaService': ['dynamodb.eu-west-1.amazonaws.com'] },
      });
      assert.equal(keyStatement('default'), undefined);
      for (const key of ['connections', 'subscriptions', 'messages', 'revocations']) {
        const sse = single(everything, `aws_dynamodb_table.${key}`)?.server_side_encryption as {
          kms_key_arn: string;
        }[];
        assert.equal(sse[0]?.kms_key_arn, TABLE_KEY);
      }
    });

    it('a custom domain serves the stage at its base path; the functions still post to execute-api', () => {
      const domain = single(everything, 'aws_apigatewayv2_domain_name.this');
      const mapping = single(everything, 'aws_apigatewayv2_api_mapping.this');
      const record = single(everything, 'aws_route53_record.custom_domain');
      const target = (domain?.domain_name_configuration as Record<string, string>[] | undefined)?.[0];
      assert.equal(everything.outputs.websocket_url, 'wss://chat.example.com/v1');
      assert.equal(target?.endpoint_type, 'REGIONAL');
      assert.equal(target?.certificate_arn, CERTIFICATE);
      assert.equal(mapping?.domain_name, domain?.id);
      assert.equal(mapping?.api_id, single(everything, 'aws_apigatewayv2_api.this')?.id);
      assert.equal(mapping?.stage, single(everything, 'aws_apigatewayv2_stage.this')?.id);
      assert.equal(mapping?.api_mapping_key, 'v1');
      assert.deepEqual(record?.alias, [
        { name: target?.target_domain_name, zone_id: target?.hosted_zone_id, evaluate_target_health: false },
      ]);
      assert.deepEqual(everything.outputs.custom_domain_target, {
        target_domain_name: target?.target_domain_name,
        hosted_zone_id: target?.hosted_zone_id,
      });
      assert.equal(
        environmentOf(everything, 'send-message').WEBSOCKET_MANAGEMENT_ENDPOINT,
        everything.outputs.management_endpoint,
      );
      assert.match(
        String(everything.outputs.management_endpoint),
        /^https:\/\/\w+\.execute-api\.eu-west-1\.amazonaws\.com\/prod$/,
      );
    });

    it('a custom domain without a base path maps the stage to the root', async () => {
      const evaluated = await terraform.evaluate({
        ...README_VARS,
        custom_domain_name: 'chat.example.com',
        custom_domain_certificate_arn: CERTIFICATE,
      });
      assert.equal(evaluated.outputs.websocket_url, 'wss://chat.example.com');
      assert.equal(single(evaluated, 'aws_apigatewayv2_api_mapping.this')?.api_mapping_key, null);
      assert.deepEqual(instances(evaluated, 'aws_route53_record.custom_domain'), {});
    });

    it('max_rooms_per_connection reaches subscribe, the one function that holds the cap', async () => {
      const evaluated = await terraform.evaluate({ ...README_VARS, max_rooms_per_connection: '7' });
      const env = environmentOf(evaluated, 'subscribe');
      assert.equal(loadConfig({ ...env, AWS_REGION: 'eu-west-1' }).maxRoomsPerConnection, 7);
      const others = Object.keys(instances(evaluated, 'aws_lambda_function.this')).filter(
        (fn) => fn !== 'subscribe' && environmentOf(evaluated, fn).MAX_ROOMS_PER_CONNECTION !== undefined,
      );
      assert.deepEqual(others, []);
    });

    it('a JWKS URL reaches $connect, which then verifies RS256/ES256 tokens', async () => {
      const evaluated = await terraform.evaluate({
        jwt_jwks_url: 'https://idp.example.com/.well-known/jwks.json',
        jwt_issuer: 'https://idp.example.com/',
      });
      const env = environmentOf(evaluated, 'connect');
      assert.equal(env.JWT_SECRET, undefined);
      assert.deepEqual(loadConfig({ ...env, AWS_REGION: 'eu-west-1' }).auth?.kind, 'jwks');
      assert.deepEqual(checkEnvironment(evaluated), []);
    });
  });

  describe('the fan-out tier', () => {
    it('the worker is a function with its own role and log group, and no route, integration or permission', () => {
      const worker = must(instances(deployed, 'aws_lambda_function.this')[WORKER]);
      assert.equal(worker.function_name, 'roomcast-fan-out-worker');
      assert.equal(worker.memory_size, 512);
      assert.equal(worker.timeout, 60);
      assert.equal(worker.reserved_concurrent_executions, null);
      assert.equal(worker.role, instances(deployed, 'aws_iam_role.function')[WORKER]?.arn);
      assert.equal(
        instances(deployed, 'aws_cloudwatch_log_group.function')[WORKER]?.name,
        '/aws/lambda/roomcast-fan-out-worker',
      );
      for (const address of [
        'aws_apigatewayv2_route.this',
        'aws_apigatewayv2_integration.this',
        'aws_lambda_permission.api_gateway',
      ]) {
        assert.equal(instances(deployed, address)[WORKER], undefined, address);
      }
      assert.equal(Object.keys(instances(deployed, 'aws_apigatewayv2_route.this')).length, 10);
    });

    it('send-message hands rooms above fanout_threshold to the worker, in shards of fanout_shard_size', async () => {
      const evaluated = await terraform.evaluate({
        ...README_VARS,
        fanout_threshold: '2500',
        fanout_shard_size: '250',
        fanout_concurrency: '16',
        fanout_tier_concurrency: '400',
      });
      const worker = instances(evaluated, 'aws_lambda_function.this')[WORKER]?.function_name;
      const sender = loadConfig({ ...environmentOf(evaluated, 'send-message'), AWS_REGION: 'eu-west-1' });
      assert.deepEqual(sender.fanOutTier, {
        workerFunction: worker,
        threshold: 2500,
        shardSize: 250,
        concurrency: 400,
      });
      // The worker names itself, to hand on the posts that failed, and posts as many at once as the sender would.
      const env = environmentOf(evaluated, WORKER);
      const config = loadConfig({ ...env, AWS_REGION: 'eu-west-1' });
      assert.equal(config.fanOutTier?.workerFunction, worker);
      assert.equal(config.fanOutConcurrency, 16);
      assert.equal(env.WEBSOCKET_MANAGEMENT_ENDPOINT, evaluated.outputs.management_endpoint);
      // No JWT settings, no messages table: it verifies no token and reads no history.
      assert.deepEqual(
        Object.keys(env).filter((name) => name.startsWith('JWT_') || name.includes('MESSAGES')),
        [],
      );
    });

    it('send-message may invoke the worker and nothing else; the worker itself, and send to its failure queue', () => {
      const worker = instances(deployed, 'aws_lambda_function.this')[WORKER];
      const queue = single(deployed, 'aws_sqs_queue.fanout_failures');
      assert.deepEqual(grantsOf(deployed, 'send-message', 'lambda'), [
        `lambda:InvokeFunction on ${worker?.arn}`,
      ]);
      assert.deepEqual(grantsOf(deployed, WORKER, 'lambda'), [`lambda:InvokeFunction on ${worker?.arn}`]);
      assert.deepEqual(grantsOf(deployed, WORKER, 'sqs'), [`sqs:SendMessage on ${queue?.arn}`]);
      assert.deepEqual(grantsOf(deployed, WORKER, 'execute-api'), [
        `execute-api:ManageConnections on ${single(deployed, 'aws_apigatewayv2_api.this')?.execution_arn}/prod/POST/@connections/*`,
      ]);
      // Nothing else may invoke a function or send to a queue; the admin function hands shards over as send-message
      // does ('the admin function' below).
      for (const fn of Object.keys(instances(deployed, 'aws_lambda_function.this'))) {
        if (fn === 'send-message' || fn === WORKER || fn === ADMIN_FUNCTION) continue;
        assert.deepEqual([...grantsOf(deployed, fn, 'lambda'), ...grantsOf(deployed, fn, 'sqs')], [], fn);
      }
    });

    it('fanout_workers_enabled = false: send-message posts to every room itself and may not invoke the worker', async () => {
      const evaluated = await terraform.evaluate({ ...README_VARS, fanout_workers_enabled: 'false' });
      const env = environmentOf(evaluated, 'send-message');
      assert.equal(env.FANOUT_WORKER_FUNCTION, undefined);
      assert.equal(loadConfig({ ...env, AWS_REGION: 'eu-west-1' }).fanOutTier, undefined);
      assert.deepEqual(grantsOf(evaluated, 'send-message', 'lambda'), []);
      // The admin function too: a publish posts to every room itself.
      assert.equal(environmentOf(evaluated, ADMIN_FUNCTION).FANOUT_WORKER_FUNCTION, undefined);
      assert.deepEqual(grantsOf(evaluated, ADMIN_FUNCTION, 'lambda'), []);
      for (const [name, check] of Object.entries(ALL_CHECKS)) assert.deepEqual(check(evaluated), [], name);
    });

    it('a shard Lambda gives up on goes to an encrypted queue kept as long as history, whose first record raises an alarm', async () => {
      const config = single(deployed, 'aws_lambda_function_event_invoke_config.fanout_worker');
      const queue = single(deployed, 'aws_sqs_queue.fanout_failures');
      assert.equal(
        config?.function_name,
        instances(deployed, 'aws_lambda_function.this')[WORKER]?.function_name,
      );
      assert.equal(config?.maximum_retry_attempts, 2);
      assert.equal(config?.maximum_event_age_in_seconds, 900);
      assert.deepEqual(config?.destination_config, [
        { on_failure: [{ destination: queue?.arn }], on_success: [] },
      ]);
      assert.equal(queue?.sqs_managed_sse_enabled, true);
      // As long as history keeps messages (7 days by default).
      assert.equal(queue?.message_retention_seconds, 7 * 86_400);
      const alarm = single(deployed, 'aws_cloudwatch_metric_alarm.fanout_failures');
      assert.deepEqual(alarm?.dimensions, { QueueName: queue?.name });
      assert.equal(alarm?.comparison_operator, 'GreaterThanOrEqualToThreshold');
      assert.equal(alarm?.threshold, 1);
      assert.match(String(alarm?.alarm_description), /missed the live message/);
      assert.equal(deployed.outputs.fanout_failure_queue_url, queue?.url);

      const tuned = await terraform.evaluate({
        ...README_VARS,
        fanout_worker_retry_attempts: '0',
        fanout_worker_max_event_age_seconds: '3600',
      });
      const tunedConfig = single(tuned, 'aws_lambda_function_event_invoke_config.fanout_worker');
      assert.equal(tunedConfig?.maximum_retry_attempts, 0);
      assert.equal(tunedConfig?.maximum_event_age_in_seconds, 3600);
    });

    it("the worker's memory, timeout and reserved concurrency are its own settings", async () => {
      const evaluated = await terraform.evaluate({
        ...README_VARS,
        fanout_worker_memory_mb: '1024',
        fanout_worker_timeout_seconds: '120',
        fanout_worker_reserved_concurrency: '3',
        lambda_memory_mb: '128',
      });
      const functions = instances(evaluated, 'aws_lambda_function.this');
      assert.equal(functions[WORKER]?.memory_size, 1024);
      assert.equal(functions[WORKER]?.timeout, 120);
      assert.equal(functions[WORKER]?.reserved_concurrent_executions, 3);
      // send-message keeps at least 512 MB: it posts to every room up to the threshold itself, and posting is CPU.
      assert.equal(functions['send-message']?.memory_size, 512);
      assert.equal(functions.ping?.memory_size, 128);
      assert.equal(functions['send-message']?.timeout, 29);
      const reserved = Object.entries(functions).filter(
        ([, lambda]) => lambda.reserved_concurrent_executions !== null,
      );
      assert.deepEqual(
        reserved.map(([fn]) => fn),
        [WORKER],
      );
    });
  });

  describe('the admin function and its operators', () => {
    const ADMIN = ADMIN_FUNCTION;
    const ACCOUNT = 'arn:aws:dynamodb:eu-west-1:123456789012:table';
    /** A managed policy's grants, as "action on resource", whatever the JSON's list-or-string form. */
    const policyGrants = (document: string) =>
      (
        JSON.parse(document) as {
          Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[];
        }
      ).Statement.flatMap((statement) =>
        [statement.Action]
          .flat()
          .flatMap((action) =>
            [statement.Resource].flat().map((resource) => `${statement.Effect} ${action} on ${resource}`),
          ),
      );

    it("is a function with its own role and log group, no route or integration, and only the gauge's permission and asynchronous config", () => {
      const functions = instances(deployed, 'aws_lambda_function.this');
      const admin = must(functions[ADMIN]);
      assert.equal(admin.function_name, 'roomcast-admin');
      assert.equal(
        admin.description,
        "roomcast admin, invoked by operators (roomcast publish, revoke, stats) and the connections gauge's schedule",
      );
      assert.equal(admin.role, instances(deployed, 'aws_iam_role.function')[ADMIN]?.arn);
      assert.equal(
        instances(deployed, 'aws_cloudwatch_log_group.function')[ADMIN]?.name,
        '/aws/lambda/roomcast-admin',
      );
      for (const address of [
        'aws_apigatewayv2_route.this',
        'aws_apigatewayv2_integration.this',
        'aws_lambda_permission.api_gateway',
      ]) {
        assert.equal(instances(deployed, address)[ADMIN], undefined, address);
      }
      // Operators invoke it synchronously; the gauge's schedule asynchronously, without retries or a failure queue.
      const asyncConfigs = (evaluated: Evaluated) =>
        Object.keys(evaluated.resources)
          .filter((address) => address.startsWith('aws_lambda_function_event_invoke_config.'))
          .flatMap((address) => Object.values(instances(evaluated, address)))
          .filter((config) => config.function_name === admin.function_name);
      assert.deepEqual(
        asyncConfigs(deployed).map((config) => [
          config.maximum_retry_attempts,
          config.maximum_event_age_in_seconds,
          config.destination_config,
        ]),
        [[0, 60, []]],
      );
      const permissions = (evaluated: Evaluated) =>
        Object.keys(evaluated.resources)
          .filter((address) => address.startsWith('aws_lambda_permission.'))
          .flatMap((address) => Object.values(instances(evaluated, address)))
          .filter((permission) => permission.function_name === admin.function_name);
      assert.deepEqual(
        permissions(deployed).map((permission) => permission.principal),
        ['events.amazonaws.com'],
      );
      assert.deepEqual(asyncConfigs(statsOff), []);
      assert.deepEqual(permissions(statsOff), []);
    });

    it("takes 30 s (admin_timeout_seconds) and send-message's memory, an override of it included", async () => {
      const functions = instances(deployed, 'aws_lambda_function.this');
      assert.equal(functions[ADMIN]?.timeout, 30);
      assert.equal(functions[ADMIN]?.memory_size, 512);
      assert.equal(functions[ADMIN]?.reserved_concurrent_executions, null);
      const tuned = instances(
        await terraform.evaluate({
          ...README_VARS,
          admin_timeout_seconds: '120',
          function_memory_mb: '{ "send-message" = 1024 }',
          function_timeout_seconds: '{ "send-message" = 20 }',
        }),
        'aws_lambda_function.this',
      );
      assert.equal(tuned[ADMIN]?.timeout, 120);
      assert.equal(tuned['send-message']?.timeout, 20);
      assert.equal(tuned[ADMIN]?.memory_size, 1024);
      assert.equal(tuned['send-message']?.memory_size, 1024);
      const big = instances(
        await terraform.evaluate({ ...README_VARS, lambda_memory_mb: '2048' }),
        'aws_lambda_function.this',
      );
      assert.equal(big[ADMIN]?.memory_size, 2048);
    });

    it("gets send-message's tables, fan-out tier, retention and message limit, the revocations table and connect's token lifetime", () => {
      const env = environmentOf(deployed, ADMIN);
      const config = loadConfig({ ...env, AWS_REGION: 'eu-west-1' });
      const sender = loadConfig({ ...environmentOf(deployed, 'send-message'), AWS_REGION: 'eu-west-1' });
      const connect = loadConfig({ ...environmentOf(deployed, 'connect'), AWS_REGION: 'eu-west-1' });
      assert.deepEqual(config.tables, {
        connections: 'roomcast-chat_connections',
        subscriptions: 'roomcast-chat_subscriptions',
        messages: 'roomcast-chat_messages',
        revocations: 'roomcast-chat_revocations',
      });
      assert.deepEqual(connect.tables, config.tables);
      assert.deepEqual(config.fanOutTier, sender.fanOutTier);
      assert.equal(config.fanOutTier?.workerFunction, 'roomcast-fan-out-worker');
      assert.equal(config.fanOutConcurrency, sender.fanOutConcurrency);
      assert.equal(config.messageRetentionSeconds, sender.messageRetentionSeconds);
      assert.equal(config.maxMessageChars, sender.maxMessageChars);
      assert.equal(config.managementEndpoint, deployed.outputs.management_endpoint);
      assert.equal(config.tokenMaxLifetimeSeconds, 86_400);
      assert.equal(connect.tokenMaxLifetimeSeconds, 86_400);
      // It verifies no token and announces no presence.
      assert.deepEqual(
        Object.keys(env).filter((name) => name.startsWith('JWT_') || name.startsWith('PRESENCE_')),
        [],
      );
    });

    it('token_max_lifetime_seconds reaches connect and admin, and no other function', async () => {
      const evaluated = await terraform.evaluate({ ...README_VARS, token_max_lifetime_seconds: '3600' });
      for (const fn of ['connect', ADMIN]) {
        const config = loadConfig({ ...environmentOf(evaluated, fn), AWS_REGION: 'eu-west-1' });
        assert.equal(config.tokenMaxLifetimeSeconds, 3600, fn);
      }
      const others = Object.keys(instances(evaluated, 'aws_lambda_function.this')).filter(
        (fn) =>
          fn !== 'connect' &&
          fn !== ADMIN &&
          environmentOf(evaluated, fn).TOKEN_MAX_LIFETIME_SECONDS !== undefined,
      );
      assert.deepEqual(others, []);
    });

    it('its DynamoDB statements are exactly what dynamodb-needs.ts says it calls', () => {
      const dynamodb = statements(deployed, ADMIN).filter((statement) =>
        statement.Action.some((action) => action.startsWith('dynamodb:')),
      );
      assert.deepEqual(
        dynamodb.map(({ Sid, Action, Resource }) => ({ Sid, Action, Resource })),
        [
          {
            Sid: 'ReadConnectionsPruneGone',
            Action: ['dynamodb:GetItem', 'dynamodb:DeleteItem'],
            Resource: [`${ACCOUNT}/roomcast-chat_connections`],
          },
          {
            Sid: 'QueryUserConnections',
            Action: ['dynamodb:Query'],
            Resource: [`${ACCOUNT}/roomcast-chat_connections/index/user_id-index`],
          },
          {
            Sid: 'QueryRoomPruneGone',
            Action: ['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
            Resource: [`${ACCOUNT}/roomcast-chat_subscriptions`],
          },
          {
            Sid: 'CountLiveConnections',
            Action: ['dynamodb:Scan'],
            Resource: [`${ACCOUNT}/roomcast-chat_connections/index/user_id-index`],
          },
          {
            Sid: 'CountRooms',
            Action: ['dynamodb:Scan'],
            Resource: [`${ACCOUNT}/roomcast-chat_subscriptions`],
          },
          {
            Sid: 'StoreMessage',
            Action: ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:GetItem'],
            Resource: [`${ACCOUNT}/roomcast-chat_messages`],
          },
          {
            Sid: 'WriteRevocation',
            Action: ['dynamodb:PutItem', 'dynamodb:GetItem'],
            Resource: [`${ACCOUNT}/roomcast-chat_revocations`],
          },
        ],
      );
      // connect reads the revocations, nothing else touches them.
      assert.deepEqual(
        grantsOf(deployed, 'connect', 'dynamodb').filter((grant) => grant.includes('revocations')),
        [`dynamodb:BatchGetItem on ${ACCOUNT}/roomcast-chat_revocations`],
      );
      for (const fn of Object.keys(instances(deployed, 'aws_lambda_function.this'))) {
        if (fn === 'connect' || fn === ADMIN) continue;
        assert.deepEqual(
          grantsOf(deployed, fn, 'dynamodb').filter((grant) => grant.includes('revocations')),
          [],
          fn,
        );
      }
    });

    it("may post to (publish) and close (revoke) connections of this stage's API only, and do nothing else there", () => {
      const stage = `${single(deployed, 'aws_apigatewayv2_api.this')?.execution_arn}/prod`;
      assert.deepEqual(grantsOf(deployed, ADMIN, 'execute-api'), [
        `execute-api:ManageConnections on ${stage}/POST/@connections/*`,
        `execute-api:ManageConnections on ${stage}/DELETE/@connections/*`,
      ]);
      assert.deepEqual(
        statements(deployed, ADMIN)
          .filter((statement) => statement.Action.includes('execute-api:ManageConnections'))
          .map((statement) => statement.Sid),
        ['PostToRoomOrUser', 'CloseRevokedConnections'],
      );
      const renamed = `${single(everything, 'aws_apigatewayv2_api.this')?.execution_arn}/prod`;
      assert.deepEqual(grantsOf(everything, ADMIN, 'execute-api'), [
        `execute-api:ManageConnections on ${renamed}/POST/@connections/*`,
        `execute-api:ManageConnections on ${renamed}/DELETE/@connections/*`,
      ]);
    });

    it('may invoke the fan-out worker while the tier is on, and no function when it is off', async () => {
      const worker = instances(deployed, 'aws_lambda_function.this')[WORKER];
      assert.deepEqual(grantsOf(deployed, ADMIN, 'lambda'), [`lambda:InvokeFunction on ${worker?.arn}`]);
      assert.equal(environmentOf(deployed, ADMIN).FANOUT_WORKER_FUNCTION, worker?.function_name);
      assert.deepEqual(grantsOf(deployed, ADMIN, 'sqs'), []);
      const off = await terraform.evaluate({ ...README_VARS, fanout_workers_enabled: 'false' });
      assert.deepEqual(grantsOf(off, ADMIN, 'lambda'), []);
      const config = loadConfig({ ...environmentOf(off, ADMIN), AWS_REGION: 'eu-west-1' });
      assert.equal(config.fanOutTier, undefined);
      assert.deepEqual(checkIam(off), []);
    });

    it('operators get a managed policy that allows invoking the admin function and nothing else, attached to nothing', () => {
      const policy = must(single(deployed, 'aws_iam_policy.operator'));
      const admin = must(instances(deployed, 'aws_lambda_function.this')[ADMIN]);
      assert.equal(policy.name, 'roomcast-operator');
      assert.equal(policy.arn, 'arn:aws:iam::123456789012:policy/roomcast-operator');
      assert.deepEqual(policyGrants(String(policy.policy)), [`Allow lambda:InvokeFunction on ${admin.arn}`]);
      assert.deepEqual(checkOperatorPolicy(deployed), []);
      assert.deepEqual(checkOperatorPolicy(everything), []);
      // Nothing here attaches it, with every option on either (the API Gateway account role has its own policy).
      for (const evaluated of [deployed, everything]) {
        const arn = single(evaluated, 'aws_iam_policy.operator')?.arn;
        const attaching = Object.keys(evaluated.resources)
          .filter((address) => /^aws_iam_\w*policy_attachment/.test(address))
          .flatMap((address) => Object.values(instances(evaluated, address)))
          .filter((attachment) => attachment.policy_arn === arn);
        assert.deepEqual(attaching, []);
      }
    });

    it('outputs the function and the policy for the CLI, named after name_prefix', async () => {
      const admin = instances(deployed, 'aws_lambda_function.this')[ADMIN];
      assert.equal(deployed.outputs.admin_function_name, 'roomcast-admin');
      assert.equal(deployed.outputs.admin_function_arn, admin?.arn);
      assert.equal(deployed.outputs.operator_policy_arn, single(deployed, 'aws_iam_policy.operator')?.arn);
      assert.equal(deployed.outputs.revocations_table_name, 'roomcast-chat_revocations');
      assert.equal((deployed.outputs.function_names as Record<string, string>)[ADMIN], 'roomcast-admin');
      const renamed = await terraform.evaluate({ ...README_VARS, name_prefix: 'chat-prod' });
      assert.equal(renamed.outputs.admin_function_name, 'chat-prod-admin');
      assert.equal(
        renamed.outputs.operator_policy_arn,
        'arn:aws:iam::123456789012:policy/chat-prod-operator',
      );
      assert.deepEqual(policyGrants(String(single(renamed, 'aws_iam_policy.operator')?.policy)), [
        `Allow lambda:InvokeFunction on ${renamed.outputs.admin_function_arn}`,
      ]);
    });

    it('an error raises an alarm within 5 minutes, on the dashboard with its invocations', () => {
      const alarm = must(instances(everything, 'aws_cloudwatch_metric_alarm.lambda_errors')[ADMIN]);
      assert.equal(alarm.alarm_name, 'roomcast-admin-errors');
      assert.equal(alarm.namespace, 'AWS/Lambda');
      assert.equal(alarm.metric_name, 'Errors');
      assert.deepEqual(alarm.dimensions, { FunctionName: 'roomcast-admin' });
      assert.equal(alarm.statistic, 'Sum');
      assert.equal(alarm.period, 300);
      assert.equal(alarm.evaluation_periods, 1);
      assert.equal(alarm.comparison_operator, 'GreaterThanThreshold');
      assert.equal(alarm.threshold, 0);
      assert.deepEqual(alarm.alarm_actions, [everything.outputs.alarm_topic_arn]);
      assert.deepEqual(alarm.ok_actions, [everything.outputs.alarm_topic_arn]);
      assert.match(String(alarm.alarm_description), /A roomcast publish or revoke failed/);
      const body = JSON.parse(
        String(single(everything, 'aws_cloudwatch_dashboard.this')?.dashboard_body),
      ) as {
        widgets: { type: string; properties: { metrics?: unknown[][]; alarms?: string[] } }[];
      };
      const lines = body.widgets.flatMap((widget) => widget.properties.metrics ?? []);
      for (const metric of ['Invocations', 'Errors', 'Throttles', 'Duration']) {
        assert.ok(
          lines.some(
            (line) =>
              line[0] === 'AWS/Lambda' &&
              line[1] === metric &&
              line[2] === 'FunctionName' &&
              line[3] === 'roomcast-admin',
          ),
          metric,
        );
      }
      // What it did, from its own metrics.
      for (const metric of [METRIC.messagesPublished, METRIC.tokensRevoked, METRIC.connectionsRevoked]) {
        assert.ok(
          lines.some(
            (line) =>
              line[0] === 'roomcast' && line[1] === metric && line[2] === 'service' && line[3] === 'roomcast',
          ),
          metric,
        );
      }
      const shown = body.widgets.flatMap((widget) => widget.properties.alarms ?? []);
      assert.ok(shown.includes(String(alarm.arn)));
    });

    it("the revocations table is keyed by subject, expires on ttl, and has the other tables' recovery, protection and encryption", async () => {
      const table = must(single(deployed, 'aws_dynamodb_table.revocations'));
      assert.equal(table.name, 'roomcast-chat_revocations');
      assert.equal(table.billing_mode, 'PAY_PER_REQUEST');
      assert.equal(table.hash_key, 'subject');
      assert.equal(table.range_key, null);
      assert.deepEqual(table.attribute, [{ name: 'subject', type: 'S' }]);
      const ttl = (table.ttl as { attribute_name: string; enabled: boolean }[])[0];
      assert.deepEqual([ttl?.attribute_name, ttl?.enabled], ['ttl', true]);
      assert.deepEqual(table.global_secondary_index, []);
      const keys = ['connections', 'subscriptions', 'messages', 'revocations'];
      const settings = (evaluated: Evaluated, key: string) => {
        const t = must(single(evaluated, `aws_dynamodb_table.${key}`));
        return {
          pitr: (t.point_in_time_recovery as { enabled: boolean }[])[0]?.enabled,
          protection: t.deletion_protection_enabled,
          sse: (t.server_side_encryption as { enabled: boolean; kms_key_arn: string | null }[])[0],
        };
      };
      for (const key of keys) {
        assert.deepEqual(settings(deployed, key), settings(deployed, 'connections'), key);
        assert.deepEqual(settings(everything, key), settings(everything, 'connections'), key);
      }
      const kept = await terraform.evaluate({
        ...README_VARS,
        point_in_time_recovery: 'true',
        deletion_protection: 'true',
      });
      for (const key of keys) {
        assert.deepEqual([settings(kept, key).pitr, settings(kept, key).protection], [true, true], key);
      }
      // Its throttles raise alarms, as every table's do.
      const throttles = instances(deployed, 'aws_cloudwatch_metric_alarm.dynamodb_table_throttles');
      assert.deepEqual(throttles['revocations-reads']?.dimensions, {
        TableName: 'roomcast-chat_revocations',
      });
      assert.equal(throttles['revocations-writes']?.metric_name, 'WriteThrottleEvents');
    });
  });

  describe('the connections gauge', () => {
    /** The dashboard's widgets, as CloudWatch reads them. */
    const widgets = (evaluated: Evaluated) =>
      (
        JSON.parse(String(single(evaluated, 'aws_cloudwatch_dashboard.this')?.dashboard_body)) as {
          widgets: {
            type: string;
            y: number;
            properties: {
              title?: string;
              stat?: string;
              period?: number;
              metrics?: unknown[][];
              alarms?: string[];
            };
          }[];
        }
      ).widgets;

    it('an EventBridge rule runs the admin function every minute with the stats request that publishes the metrics', () => {
      const admin = must(instances(deployed, 'aws_lambda_function.this')[ADMIN_FUNCTION]);
      const rule = must(single(deployed, 'aws_cloudwatch_event_rule.connection_stats'));
      assert.equal(rule.name, 'roomcast-connection-stats');
      assert.equal(rule.schedule_expression, 'rate(1 minute)');
      assert.equal(rule.state, 'ENABLED');
      assert.equal(rule.event_pattern, null);
      const target = must(single(deployed, 'aws_cloudwatch_event_target.connection_stats'));
      assert.equal(target.rule, rule.name);
      assert.equal(target.arn, admin.arn);
      assert.deepEqual(JSON.parse(String(target.input)), { op: 'stats', publish_metrics: true });
      assert.deepEqual(target.retry_policy, [
        { maximum_event_age_in_seconds: 60, maximum_retry_attempts: 0 },
      ]);
      // EventBridge may invoke the admin function from that rule, and nothing else may through a permission.
      const permission = must(single(deployed, 'aws_lambda_permission.connection_stats'));
      assert.equal(permission.function_name, admin.function_name);
      assert.equal(permission.action, 'lambda:InvokeFunction');
      assert.equal(permission.principal, 'events.amazonaws.com');
      assert.equal(permission.source_arn, rule.arn);
      assert.equal(rule.arn, 'arn:aws:events:eu-west-1:123456789012:rule/roomcast-connection-stats');
      // A failed or throttled run is not retried: the next reading is a minute away.
      const config = must(single(deployed, 'aws_lambda_function_event_invoke_config.admin'));
      assert.equal(config.function_name, admin.function_name);
      assert.equal(config.maximum_retry_attempts, 0);
      assert.equal(config.maximum_event_age_in_seconds, 60);
    });

    it('connection_stats_schedule reaches the rule, and the missing alarm waits twice its rate (at least 5 minutes)', async () => {
      const missing = (evaluated: Evaluated) =>
        must(single(evaluated, 'aws_cloudwatch_metric_alarm.connection_stats_missing'));
      assert.equal(missing(deployed).evaluation_periods, 5);
      const cases: [string, number][] = [
        ['rate(2 minutes)', 5],
        ['rate(5 minutes)', 10],
        ['rate(1 hour)', 120],
        ['rate(12 hours)', 1440],
        ['cron(0/2 8-18 ? * MON-FRI *)', 5],
      ];
      for (const [schedule, minutes] of cases) {
        const evaluated = await terraform.evaluate({ ...README_VARS, connection_stats_schedule: schedule });
        assert.equal(
          single(evaluated, 'aws_cloudwatch_event_rule.connection_stats')?.schedule_expression,
          schedule,
        );
        assert.equal(missing(evaluated).period, 60, schedule);
        assert.equal(missing(evaluated).evaluation_periods, minutes, schedule);
        assert.equal(missing(evaluated).datapoints_to_alarm, minutes, schedule);
        assert.deepEqual(checkConnectionStats(evaluated), [], schedule);
      }
    });

    it('connection_stats_enabled = false: no rule, target, permission, asynchronous config, alarms or dashboard row', () => {
      for (const address of [
        'aws_cloudwatch_event_rule.connection_stats',
        'aws_cloudwatch_event_target.connection_stats',
        'aws_lambda_permission.connection_stats',
        'aws_lambda_function_event_invoke_config.admin',
        'aws_cloudwatch_metric_alarm.connections_drop',
        'aws_cloudwatch_metric_alarm.connection_stats_missing',
      ]) {
        assert.deepEqual(instances(statsOff, address), {}, address);
      }
      assert.deepEqual(
        widgets(statsOff).filter((widget) => widget.properties.title?.startsWith('Who is connected')),
        [],
      );
      const alarmWidget = must(widgets(statsOff).find((widget) => widget.type === 'alarm'));
      assert.equal(alarmWidget.y, 36);
      // roomcast stats still counts on demand: the Scans stay.
      assert.deepEqual(
        grantsOf(statsOff, ADMIN_FUNCTION, 'dynamodb').filter((grant) => grant.startsWith('dynamodb:Scan')),
        [
          'dynamodb:Scan on arn:aws:dynamodb:eu-west-1:123456789012:table/roomcast-chat_connections/index/user_id-index',
          'dynamodb:Scan on arn:aws:dynamodb:eu-west-1:123456789012:table/roomcast-chat_subscriptions',
        ],
      );
    });

    it('a drop alarm: the share of ActiveConnections lost since the previous reading, DIFF and IF over the Maximum a minute', async () => {
      const alarm = must(single(everything, 'aws_cloudwatch_metric_alarm.connections_drop'));
      assert.equal(alarm.alarm_name, 'roomcast-connections-drop');
      assert.deepEqual(alarm.metric_query, [
        {
          account_id: null,
          expression: null,
          id: 'm1',
          label: 'Live connections',
          metric: [
            {
              dimensions: { service: 'roomcast' },
              metric_name: 'ActiveConnections',
              namespace: 'roomcast',
              period: 60,
              stat: 'Maximum',
              unit: null,
            },
          ],
          period: null,
          return_data: false,
        },
        {
          account_id: null,
          expression: 'm1 - DIFF(m1)',
          id: 'prev',
          label: 'Live connections at the previous reading',
          metric: [],
          period: null,
          return_data: false,
        },
        {
          account_id: null,
          expression: 'IF(prev >= 100, -DIFF(m1) / prev, 0)',
          id: 'drop',
          label: 'Share of the live connections lost since the previous reading',
          metric: [],
          period: null,
          return_data: true,
        },
      ]);
      assert.equal(alarm.comparison_operator, 'GreaterThanOrEqualToThreshold');
      assert.equal(alarm.threshold, 0.5);
      assert.equal(alarm.evaluation_periods, 1);
      assert.equal(alarm.datapoints_to_alarm, 1);
      assert.equal(alarm.treat_missing_data, 'notBreaching');
      assert.deepEqual(alarm.alarm_actions, [everything.outputs.alarm_topic_arn]);
      assert.deepEqual(alarm.ok_actions, [everything.outputs.alarm_topic_arn]);
      assert.match(String(alarm.alarm_description), /At least 50 % of the live connections/);
      const tuned = must(
        single(
          await terraform.evaluate({
            ...README_VARS,
            connections_drop_alarm_fraction: '0.25',
            connections_drop_alarm_min_connections: '5000',
            metrics_namespace: 'chat prod',
          }),
          'aws_cloudwatch_metric_alarm.connections_drop',
        ),
      );
      const queries = tuned.metric_query as { expression: string | null; metric: { namespace: string }[] }[];
      assert.equal(queries[2]?.expression, 'IF(prev >= 5000, -DIFF(m1) / prev, 0)');
      assert.equal(queries[0]?.metric[0]?.namespace, 'chat prod');
      assert.equal(tuned.threshold, 0.25);
      assert.match(String(tuned.alarm_description), /At least 25 % .* at least 5000 before/);
    });

    it('a missing alarm: no ActiveConnections at all for 5 minutes is breaching, any reading (0 included) is not', () => {
      const alarm = must(single(everything, 'aws_cloudwatch_metric_alarm.connection_stats_missing'));
      assert.equal(alarm.alarm_name, 'roomcast-connection-stats-missing');
      assert.equal(alarm.namespace, 'roomcast');
      assert.equal(alarm.metric_name, 'ActiveConnections');
      assert.deepEqual(alarm.dimensions, { service: 'roomcast' });
      assert.equal(alarm.statistic, 'SampleCount');
      assert.equal(alarm.comparison_operator, 'LessThanThreshold');
      assert.equal(alarm.threshold, 1);
      assert.equal(alarm.period, 60);
      assert.equal(alarm.evaluation_periods, 5);
      assert.equal(alarm.datapoints_to_alarm, 5);
      assert.equal(alarm.treat_missing_data, 'breaching');
      assert.deepEqual(alarm.alarm_actions, [everything.outputs.alarm_topic_arn]);
      assert.deepEqual(alarm.ok_actions, [everything.outputs.alarm_topic_arn]);
      assert.match(String(alarm.alarm_description), /roomcast-connection-stats/);
    });

    it('the dashboard has a row "Who is connected", and its alarms widget both alarms', async () => {
      const row = widgets(everything).filter((widget) =>
        widget.properties.title?.startsWith('Who is connected'),
      );
      assert.deepEqual(
        row.map((widget) => [
          widget.y,
          widget.properties.stat,
          widget.properties.period,
          widget.properties.metrics,
        ]),
        [
          [36, 'Maximum', 60, [['roomcast', 'ActiveConnections', 'service', 'roomcast']]],
          [
            36,
            'Maximum',
            60,
            [
              ['roomcast', 'ActiveRooms', 'service', 'roomcast'],
              ['roomcast', 'LargestRoomConnections', 'service', 'roomcast'],
            ],
          ],
          [
            36,
            'Maximum',
            60,
            [
              [
                {
                  expression: `SEARCH('{roomcast,room_id,service} MetricName="RoomConnections"', 'Maximum', 60)`,
                  id: 'rooms',
                  // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudWatch's dynamic label, not a template.
                  label: "${PROP('Dim.room_id')}",
                  period: 60,
                },
              ],
            ],
          ],
        ],
      );
      const alarmWidget = must(widgets(everything).find((widget) => widget.type === 'alarm'));
      assert.equal(alarmWidget.y, 42);
      for (const address of [
        'aws_cloudwatch_metric_alarm.connections_drop',
        'aws_cloudwatch_metric_alarm.connection_stats_missing',
      ]) {
        assert.ok(alarmWidget.properties.alarms?.includes(String(single(everything, address)?.arn)), address);
      }
      // A namespace with characters other than letters and digits is quoted in the search's schema.
      const spaced = await terraform.evaluate({ ...README_VARS, metrics_namespace: 'chat prod/v2' });
      const search = widgets(spaced)
        .flatMap((widget) => widget.properties.metrics ?? [])
        .flatMap((line) =>
          typeof line[0] === 'object' ? [(line[0] as { expression: string }).expression] : [],
        );
      assert.deepEqual(search, [
        `SEARCH('{"chat prod/v2",room_id,service} MetricName="RoomConnections"', 'Maximum', 60)`,
      ]);
      assert.deepEqual(checkConnectionStats(spaced), []);
      assert.deepEqual(checkAlarms(spaced), []);
    });
  });

  describe('the checks catch mistakes', () => {
    function afterMutation(check: Check, mutate: (copy: Evaluated) => void): string[] {
      const copy = structuredClone(deployed);
      mutate(copy);
      return check(copy);
    }
    function assertCaught(problems: string[], pattern: RegExp): void {
      assert.ok(
        problems.some((problem) => pattern.test(problem)),
        `expected a problem matching ${pattern}, got ${JSON.stringify(problems, null, 2)}`,
      );
    }
    const lambda = (copy: Evaluated, fn: string) => instances(copy, 'aws_lambda_function.this')[fn] ?? {};
    const variables = (copy: Evaluated, fn: string) =>
      (lambda(copy, fn).environment as { variables: Record<string, string> }[])[0]?.variables ?? {};
    const policy = (copy: Evaluated, fn: string) => {
      const document = instances(copy, 'aws_iam_role_policy.function')[fn];
      assert.ok(document);
      return {
        read: () => JSON.parse(String(document.policy)) as { Statement: Record<string, unknown>[] },
        write: (value: unknown) => {
          document.policy = JSON.stringify(value);
        },
      };
    };

    it('none passes an empty configuration', () => {
      const empty: Evaluated = { resources: {}, data: {}, locals: {}, outputs: {}, shapes: {} };
      for (const [name, check] of Object.entries(ALL_CHECKS)) {
        assert.notDeepEqual(check(empty), [], `${name} passed an empty configuration`);
      }
    });

    it('an attribute definition for the non-key ttl attribute, or an index that projects everything', () => {
      const table = (copy: Evaluated) => single(copy, 'aws_dynamodb_table.connections') ?? {};
      assertCaught(
        afterMutation(checkTables, (copy) => {
          (table(copy).attribute as unknown[]).push({ name: 'ttl', type: 'N' });
        }),
        /attribute definitions .*"ttl".* must be exactly the key attributes/,
      );
      assertCaught(
        afterMutation(checkTables, (copy) => {
          must((table(copy).global_secondary_index as Record<string, unknown>[])[0]).projection_type = 'ALL';
        }),
        /projection_type "ALL"/,
      );
    });

    it('a route wired to another function, or a permission for every route', () => {
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          const integrations = instances(copy, 'aws_apigatewayv2_integration.this');
          must(integrations.ping).integration_uri = integrations.default?.integration_uri ?? null;
        }),
        /route ping: its integration invokes .*default.*not ping/,
      );
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          const permission = must(instances(copy, 'aws_lambda_permission.api_gateway').ping);
          permission.source_arn = String(permission.source_arn).replace(/ping$/, '*');
        }),
        /route ping: permission source_arn .* is not scoped to the route/,
      );
    });

    it('an access log format with a variable WebSocket APIs do not have, or without the status', () => {
      assertCaught(
        afterMutation(checkStage, (copy) => {
          copy.locals.access_log_format = JSON.stringify({
            requestId: '$context.requestId',
            path: '$context.path',
          });
        }),
        /\$context\.path is not a WebSocket access log variable/,
      );
      assertCaught(
        afterMutation(checkStage, (copy) => {
          const format = JSON.parse(String(copy.locals.access_log_format)) as Record<string, string>;
          delete format.status;
          copy.locals.access_log_format = JSON.stringify(format);
        }),
        /access log format lacks \$context\.status/,
      );
    });

    it('another runtime, a bundle from elsewhere, a source hash that does not follow the bundle', () => {
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          lambda(copy, 'ping').runtime = 'nodejs20.x';
        }),
        /runtime "nodejs20\.x"/,
      );
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          const bundle = must(instances(copy, 'data.archive_file.function')['send-message']);
          bundle.source_dir = `${bundle.source_dir}/../../build/send-message`;
        }),
        /is bundled from .*build\/send-message, not dist\/send-message/,
      );
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          lambda(copy, 'ping').source_code_hash = 'fixed';
        }),
        /source_code_hash does not follow its bundle/,
      );
    });

    it('JWT settings outside $connect, a reserved or unknown variable, a value the code refuses', () => {
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'ping').JWT_SECRET = 'x'.repeat(40);
        }),
        /ping: gets JWT_SECRET; only connect verifies tokens/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'ping').AWS_REGION = 'us-east-1';
        }),
        /ping: sets AWS_REGION, which Lambda reserves/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'send-message').REDIS_URL = 'redis://cache';
        }),
        /send-message: sets REDIS_URL, which src\/config\.ts does not read/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'send-message').FANOUT_CONCURRENCY = '0';
        }),
        /send-message: src\/config\.ts refuses its environment: .*FANOUT_CONCURRENCY/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'get-history').DYNAMO_TABLE_NAME_CHAT_MESSAGES = 'chat_messages';
        }),
        /get-history: DYNAMO_TABLE_NAME_CHAT_MESSAGES is "chat_messages", not "roomcast-chat_messages"/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'ping').WEBSOCKET_MANAGEMENT_ENDPOINT = 'https://chat.example.com/prod';
        }),
        /ping: WEBSOCKET_MANAGEMENT_ENDPOINT is "https:\/\/chat\.example\.com\/prod", not the stage's/,
      );
    });

    it('Scan, wildcards, a grant the code never uses, a grant it needs missing, a managed policy', () => {
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, 'send-message');
          const value = document.read();
          value.Statement.push({ Effect: 'Allow', Action: ['dynamodb:Scan'], Resource: ['*'] });
          document.write(value);
        }),
        /send-message: dynamodb:Scan on \*, which dynamodb-needs\.ts does not say it scans/,
      );
      // The admin function scans user_id-index and the subscriptions table (the gauge), never the connections table.
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, ADMIN_FUNCTION);
          const value = document.read();
          document.write({
            ...value,
            Statement: value.Statement.map((statement) =>
              statement.Sid === 'CountLiveConnections'
                ? { ...statement, Resource: [String(statement.Resource).replace('/index/user_id-index', '')] }
                : statement,
            ),
          });
        }),
        /admin: dynamodb:Scan on arn:aws:dynamodb:eu-west-1:123456789012:table\/roomcast-chat_connections, which dynamodb-needs\.ts does not say it scans/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, ADMIN_FUNCTION);
          const value = document.read();
          document.write({ ...value, Statement: value.Statement.filter((s) => s.Sid !== 'CountRooms') });
        }),
        /admin: lacks dynamodb:Scan on arn:aws:dynamodb:eu-west-1:123456789012:table\/roomcast-chat_subscriptions, which its code needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, 'ping');
          const value = document.read();
          value.Statement.push({ Effect: 'Allow', Action: ['execute-api:*'], Resource: ['*'] });
          document.write(value);
        }),
        /ping: action execute-api:\* has a wildcard/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, 'send-message');
          const value = document.read();
          document.write({ ...value, Statement: value.Statement.filter((s) => s.Sid !== 'StoreMessage') });
        }),
        /send-message: lacks dynamodb:PutItem on arn:aws:dynamodb:eu-west-1:123456789012:table\/roomcast-chat_messages, which its code needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          copy.resources['aws_iam_role_policy_attachment.basic'] = {
            ping: {
              role: must(instances(copy, 'aws_iam_role.function').ping).name ?? null,
              policy_arn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
            },
          };
          copy.shapes['aws_iam_role_policy_attachment.basic'] = 'for_each';
        }),
        /aws_iam_role_policy_attachment\.basic\["ping"\] grants a function role more/,
      );
      assertCaught(
        checkIam(deployed, TABLE_KEY),
        /send-message: lacks kms:Decrypt on arn:aws:kms:.* via dynamodb\.eu-west-1\.amazonaws\.com/,
      );
    });

    it('an alarm on something that does not exist, a missing alarm, a metric the dashboard does not show', () => {
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          must(instances(copy, 'aws_cloudwatch_metric_alarm.lambda_errors').ping).dimensions = {
            FunctionName: 'roomcast-pong',
          };
        }),
        /dimension FunctionName=roomcast-pong names nothing declared here/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          delete instances(copy, 'aws_cloudwatch_metric_alarm.dynamodb_table_throttles')['connections-reads'];
        }),
        /no alarm on AWS\/DynamoDB ReadThrottleEvents TableName=roomcast-chat_connections/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          must(single(copy, 'aws_cloudwatch_metric_alarm.delivery_failures')).metric_name =
            'DeliveryFailures';
        }),
        /roomcast DeliveryFailures is not a metric anything here publishes/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          const dashboard = must(single(copy, 'aws_cloudwatch_dashboard.this'));
          const body = JSON.parse(String(dashboard.dashboard_body)) as { widgets: unknown[] };
          dashboard.dashboard_body = JSON.stringify({ widgets: body.widgets.slice(1) });
        }),
        /the dashboard does not show AWS\/ApiGateway ConnectCount/,
      );
    });

    it('API Gateway able to invoke the worker, through a permission or an integration', () => {
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          const permissions = instances(copy, 'aws_lambda_permission.api_gateway');
          permissions[WORKER] = {
            ...must(permissions.ping),
            function_name: lambda(copy, WORKER).function_name ?? null,
          };
        }),
        /fan-out-worker: a permission lets API Gateway invoke it, but no route/,
      );
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          const integrations = instances(copy, 'aws_apigatewayv2_integration.this');
          integrations[WORKER] = {
            ...must(integrations.ping),
            integration_uri: lambda(copy, WORKER).invoke_arn ?? null,
          };
        }),
        /fan-out-worker: an API Gateway integration invokes it, but no route/,
      );
    });

    it('a worker without its function or its role', () => {
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          delete instances(copy, 'aws_lambda_function.this')[WORKER];
        }),
        /functions .*, routes\.ts has .*"fan-out-worker"/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          delete instances(copy, 'aws_iam_role.function')[WORKER];
        }),
        /roles .*: one per function is expected/,
      );
    });

    it('send-message invoking any function, the worker sending to any queue or unable to hand posts on', () => {
      const edit = (copy: Evaluated, fn: string, sid: string, resource: string[] | undefined) => {
        const document = policy(copy, fn);
        const value = document.read();
        value.Statement = value.Statement.flatMap((statement) =>
          statement.Sid !== sid ? [statement] : resource ? [{ ...statement, Resource: resource }] : [],
        );
        document.write(value);
      };
      assertCaught(
        afterMutation(checkIam, (copy) =>
          edit(copy, 'send-message', 'HandShardsToWorker', [
            'arn:aws:lambda:eu-west-1:123456789012:function:*',
          ]),
        ),
        /send-message: allows lambda:InvokeFunction on arn:aws:lambda:eu-west-1:123456789012:function:\*, which its code never needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => edit(copy, WORKER, 'SendGivenUpShard', ['*'])),
        /fan-out-worker: allows sqs:SendMessage on \*, which its code never needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => edit(copy, WORKER, 'HandOnFailedPosts', undefined)),
        /fan-out-worker: lacks lambda:InvokeFunction on arn:aws:lambda:eu-west-1:123456789012:function:roomcast-fan-out-worker, which its code needs/,
      );
    });

    it('FANOUT_WORKER_FUNCTION naming another function, or set where no code reads it', () => {
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'send-message').FANOUT_WORKER_FUNCTION = 'roomcast-ping';
        }),
        /send-message: FANOUT_WORKER_FUNCTION is "roomcast-ping", not the name of a fan-out worker/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, 'ping').FANOUT_WORKER_FUNCTION = 'roomcast-fan-out-worker';
        }),
        /ping: sets FANOUT_WORKER_FUNCTION, which only send-message, fan-out-worker and admin read/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          delete variables(copy, WORKER).FANOUT_WORKER_FUNCTION;
        }),
        /fan-out-worker: no FANOUT_WORKER_FUNCTION/,
      );
    });

    it('shards given up on going nowhere, to an unencrypted queue, or raising no alarm', () => {
      assertCaught(
        afterMutation(checkFanOut, (copy) => {
          must(single(copy, 'aws_lambda_function_event_invoke_config.fanout_worker')).destination_config = [];
        }),
        /fan-out-worker's asynchronous invocations: the on-failure destination undefined is not an SQS queue declared here/,
      );
      assertCaught(
        afterMutation(checkFanOut, (copy) => {
          delete copy.resources['aws_lambda_function_event_invoke_config.fanout_worker'];
        }),
        /fan-out-worker's asynchronous invocations: 0 aws_lambda_function_event_invoke_config, one expected/,
      );
      assertCaught(
        afterMutation(checkFanOut, (copy) => {
          must(single(copy, 'aws_sqs_queue.fanout_failures')).sqs_managed_sse_enabled = false;
        }),
        /queue roomcast-fan-out-failures: is not encrypted at rest/,
      );
      assertCaught(
        afterMutation(checkFanOut, (copy) => {
          must(single(copy, 'aws_cloudwatch_metric_alarm.fanout_failures')).threshold = 10;
        }),
        /its alarm roomcast-fan-out-failures does not fire at the first record/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          delete copy.resources['aws_cloudwatch_metric_alarm.fanout_failures'];
        }),
        /no alarm on AWS\/SQS ApproximateNumberOfMessagesVisible QueueName=roomcast-fan-out-failures/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          delete copy.resources['aws_cloudwatch_metric_alarm.fanout_events_dropped'];
        }),
        /no alarm on AWS\/Lambda AsyncEventsDropped FunctionName=roomcast-fan-out-worker/,
      );
    });

    it('a zip that would carry the source maps, or leave the chunks out', () => {
      const bundle = (copy: Evaluated) => must(instances(copy, 'data.archive_file.function')[WORKER]);
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          bundle(copy).excludes = ['index.mjs.map'];
        }),
        /its zip would hold chunk-\w+\.mjs\.map/,
      );
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          bundle(copy).excludes = ['*.map', 'chunk-*'];
        }),
        /its zip would leave out chunk-\w+\.mjs /,
      );
    });

    it('the admin function unable to close a revoked connection, or able to inspect one', () => {
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, ADMIN_FUNCTION);
          const value = document.read();
          document.write({
            ...value,
            Statement: value.Statement.filter((s) => s.Sid !== 'CloseRevokedConnections'),
          });
        }),
        /admin: lacks execute-api:ManageConnections on .*\/prod\/DELETE\/@connections\/\*, which its code needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, ADMIN_FUNCTION);
          const value = document.read();
          value.Statement.push({
            Effect: 'Allow',
            Action: ['execute-api:ManageConnections'],
            Resource: [
              String(value.Statement.find((s) => s.Sid === 'PostToRoomOrUser')?.Resource).replace(
                '/POST/',
                '/GET/',
              ),
            ],
          });
          document.write(value);
        }),
        /admin: allows execute-api:ManageConnections on .*\/prod\/GET\/@connections\/\*, which its code never needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const document = policy(copy, ADMIN_FUNCTION);
          const value = document.read();
          document.write({ ...value, Statement: value.Statement.filter((s) => s.Sid !== 'WriteRevocation') });
        }),
        /admin: lacks dynamodb:PutItem on arn:aws:dynamodb:eu-west-1:123456789012:table\/roomcast-chat_revocations/,
      );
    });

    it('revocations kept for another lifetime than $connect allows, or a table name missing', () => {
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          variables(copy, ADMIN_FUNCTION).TOKEN_MAX_LIFETIME_SECONDS = '3600';
        }),
        /TOKEN_MAX_LIFETIME_SECONDS differs between the functions that use the revocations table: \{"connect":"86400","admin":"3600"\}/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          delete variables(copy, 'connect').TOKEN_MAX_LIFETIME_SECONDS;
        }),
        /connect: uses the revocations table but is given no TOKEN_MAX_LIFETIME_SECONDS/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          delete variables(copy, 'connect').DYNAMO_TABLE_NAME_CHAT_REVOCATIONS;
        }),
        /connect: DYNAMO_TABLE_NAME_CHAT_REVOCATIONS is undefined, not "roomcast-chat_revocations"/,
      );
    });

    it('an operator policy that allows more, is attached here, or a permission around it', () => {
      const operator = (copy: Evaluated) => must(single(copy, 'aws_iam_policy.operator'));
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          operator(copy).policy = JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'lambda:InvokeFunction',
                Resource: 'arn:aws:lambda:eu-west-1:123456789012:function:*',
              },
            ],
          });
        }),
        /aws_iam_policy "roomcast-operator": allows \["lambda:InvokeFunction on arn:aws:lambda:eu-west-1:123456789012:function:\*"\], not exactly/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          const value = JSON.parse(String(operator(copy).policy)) as { Statement: Record<string, unknown>[] };
          value.Statement.push({ Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: ['*'] });
          operator(copy).policy = JSON.stringify(value);
        }),
        /aws_iam_policy "roomcast-operator": allows .*dynamodb:PutItem on \*/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          copy.resources['aws_iam_role_policy_attachment.operators'] = {
            role: 'ops',
            policy_arn: operator(copy).arn ?? null,
          };
          copy.shapes['aws_iam_role_policy_attachment.operators'] = 'single';
        }),
        /is attached by a aws_iam_role_policy_attachment; it is for the deployer to grant/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          copy.resources['aws_lambda_permission.operators'] = {
            function_name: lambda(copy, ADMIN_FUNCTION).function_name ?? null,
            principal: '123456789012',
            action: 'lambda:InvokeFunction',
          };
          copy.shapes['aws_lambda_permission.operators'] = 'single';
        }),
        /admin: a resource-based permission lets "123456789012" invoke it; operators go through IAM/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          delete copy.resources['aws_iam_policy.operator'];
        }),
        /0 aws_iam_policy declared; one, the operators', is expected/,
      );
      assertCaught(
        afterMutation(checkOutputs, (copy) => {
          copy.outputs.operator_policy_arn = 'arn:aws:iam::aws:policy/AWSLambda_FullAccess';
        }),
        /output operator_policy_arn is "arn:aws:iam::aws:policy\/AWSLambda_FullAccess"/,
      );
    });

    it('a gauge that would not publish, be retried, run from anywhere, or lack its permission', () => {
      const target = (copy: Evaluated) => must(single(copy, 'aws_cloudwatch_event_target.connection_stats'));
      const permission = (copy: Evaluated) => must(single(copy, 'aws_lambda_permission.connection_stats'));
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          target(copy).input = JSON.stringify({ op: 'stats' });
        }),
        /target "admin-stats" of the admin function: input "\{\\"op\\":\\"stats\\"\}", not .*: the gauge would publish nothing/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          must(single(copy, 'aws_cloudwatch_event_rule.connection_stats')).state = 'DISABLED';
        }),
        /EventBridge rule "roomcast-connection-stats": is not enabled/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          must(single(copy, 'aws_cloudwatch_event_rule.connection_stats')).schedule_expression = null;
          must(single(copy, 'aws_cloudwatch_event_rule.connection_stats')).event_pattern =
            '{"source":["aws.lambda"]}';
        }),
        /schedule_expression null is no rate\(\.\.\.\) or cron\(\.\.\.\)/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          delete copy.resources['aws_lambda_function_event_invoke_config.admin'];
        }),
        /the admin function's asynchronous invocations: 0 aws_lambda_function_event_invoke_config/,
      );
      // The one permission: EventBridge, from that rule.
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          permission(copy).source_arn = null;
        }),
        /admin: a resource-based permission lets "events\.amazonaws\.com" invoke it; operators go through IAM/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          permission(copy).source_arn = 'arn:aws:events:eu-west-1:210987654321:rule/elsewhere';
        }),
        /admin: a resource-based permission lets "events\.amazonaws\.com" invoke it from arn:aws:events:eu-west-1:210987654321:rule\/elsewhere/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          permission(copy).principal = 'scheduler.amazonaws.com';
        }),
        /admin: a resource-based permission lets "scheduler\.amazonaws\.com" invoke it/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          delete copy.resources['aws_lambda_permission.connection_stats'];
        }),
        /admin: 0 permissions let EventBridge invoke it from arn:aws:events:eu-west-1:123456789012:rule\/roomcast-connection-stats; one expected/,
      );
      // Without the schedule, its alarms would watch a metric nothing publishes (and the missing one fire for good).
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          delete copy.resources['aws_cloudwatch_event_target.connection_stats'];
        }),
        /alarm roomcast-connection-stats-missing watches roomcast ActiveConnections service=roomcast, but no schedule runs the connections gauge/,
      );
      assertCaught(
        afterMutation(checkOperatorPolicy, (copy) => {
          delete copy.resources['aws_cloudwatch_event_target.connection_stats'];
        }),
        /admin: a resource-based permission lets "events\.amazonaws\.com" invoke it from .*roomcast-connection-stats/,
      );
    });

    it('a drop alarm that is not the share lost since the previous reading, or a missing alarm that cannot fire', () => {
      const drop = (copy: Evaluated) => must(single(copy, 'aws_cloudwatch_metric_alarm.connections_drop'));
      const query = (copy: Evaluated, id: string) =>
        must((drop(copy).metric_query as Record<string, unknown>[]).find((q) => q.id === id));
      const wrong =
        /alarm roomcast-connections-drop: returns .*, not IF\(prev >= N, -DIFF\(m1\) \/ prev, 0\) with prev = m1 - DIFF\(m1\)/;
      // What was gained, not lost.
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          query(copy, 'drop').expression = 'IF(prev >= 100, DIFF(m1) / prev, 0)';
        }),
        wrong,
      );
      // A share of the current reading, not of the previous one.
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          query(copy, 'prev').expression = 'm1 + 0';
        }),
        wrong,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          query(copy, 'drop').expression = 'IF(prev >= 0, -DIFF(m1) / prev, 0)';
        }),
        /looks at readings after "0" connections: at least 1/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          const metric = (query(copy, 'm1').metric as Record<string, unknown>[])[0] ?? {};
          metric.stat = 'Average';
          metric.period = 300;
        }),
        /reads "Average" over 300 s, not the Maximum of each minute/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          drop(copy).threshold = 50;
        }),
        /fires when the share is "GreaterThanOrEqualToThreshold" 50, not >= a share in \(0, 1\]/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          drop(copy).treat_missing_data = 'breaching';
        }),
        /treats missing data as "breaching": a missing reading is no drop/,
      );
      // Metric math CloudWatch would refuse.
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          query(copy, 'drop').expression = 'IF(previous >= 100, -DIFF(m1) / previous, 0)';
        }),
        /aws_cloudwatch_metric_alarm\.connections_drop\[0\]: metric_query "drop": reads "previous", which is no other query/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          query(copy, 'prev').return_data = true;
        }),
        /aws_cloudwatch_metric_alarm\.connections_drop\[0\]: 2 metric_query return data; an alarm watches exactly one/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          const metric = (query(copy, 'm1').metric as Record<string, unknown>[])[0] ?? {};
          metric.metric_name = 'LiveConnections';
        }),
        /aws_cloudwatch_metric_alarm\.connections_drop\[0\]: roomcast LiveConnections is not a metric anything here publishes/,
      );
      const missing = (copy: Evaluated) =>
        must(single(copy, 'aws_cloudwatch_metric_alarm.connection_stats_missing'));
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          missing(copy).treat_missing_data = 'notBreaching';
        }),
        /alarm roomcast-connection-stats-missing: treats missing data as "notBreaching"/,
      );
      // A reading of 0 connections is a reading.
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          missing(copy).statistic = 'Maximum';
        }),
        /alarm roomcast-connection-stats-missing: fires on "Maximum" "LessThanThreshold" 1: any reading must keep it OK/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          missing(copy).datapoints_to_alarm = 1;
        }),
        /alarm roomcast-connection-stats-missing: fires after 1 of 5 periods of 60 s/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) => {
          delete copy.resources['aws_cloudwatch_metric_alarm.connections_drop'];
        }),
        /no metric math alarm on a drop of roomcast ActiveConnections service=roomcast/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          delete copy.resources['aws_cloudwatch_metric_alarm.connections_drop'];
          delete copy.resources['aws_cloudwatch_metric_alarm.connection_stats_missing'];
        }),
        /no alarm on roomcast ActiveConnections service=roomcast/,
      );
    });

    it('a dashboard without the row "Who is connected", or searching other dimensions', () => {
      const edit = (
        copy: Evaluated,
        change: (body: { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] }) => void,
      ) => {
        const dashboard = must(single(copy, 'aws_cloudwatch_dashboard.this'));
        const body = JSON.parse(String(dashboard.dashboard_body));
        change(body);
        dashboard.dashboard_body = JSON.stringify(body);
      };
      assertCaught(
        afterMutation(checkConnectionStats, (copy) =>
          edit(copy, (body) => {
            body.widgets = body.widgets.filter(
              (widget) => !widget.properties.title?.startsWith('Who is connected'),
            );
          }),
        ),
        /the dashboard does not show roomcast ActiveRooms service=roomcast/,
      );
      assertCaught(
        afterMutation(checkConnectionStats, (copy) =>
          edit(copy, (body) => {
            for (const widget of body.widgets) {
              for (const line of widget.properties.metrics ?? []) {
                const first = line[0] as { expression?: string };
                if (typeof first === 'object' && first.expression) {
                  first.expression = first.expression.replace('room_id,service', 'room_id');
                }
              }
            }
          }),
        ),
        /the dashboard does not show SEARCH\('\{roomcast,room_id,service\} MetricName="RoomConnections"', 'Maximum', 60\)/,
      );
    });

    it('outputs that point somewhere else', () => {
      assertCaught(
        afterMutation(checkOutputs, (copy) => {
          copy.outputs.management_endpoint = 'https://chat.example.com/prod';
        }),
        /output management_endpoint is "https:\/\/chat\.example\.com\/prod"/,
      );
    });
  });

  describe('mistakes in the HCL fail as terraform plan would fail them', () => {
    let copyDir: string;

    before(async () => {
      copyDir = await mkdtemp(join(tmpdir(), 'roomcast-infra-copy-'));
    });
    after(() => rm(copyDir, { recursive: true, force: true }));

    async function planCopy(
      edit: (files: Record<string, string>) => void,
      vars = README_VARS,
    ): Promise<string> {
      const dir = await mkdtemp(join(copyDir, 'case-'));
      await cp(TERRAFORM_DIR, dir, { recursive: true, filter: (source) => !source.includes('.terraform') });
      const files: Record<string, string> = {};
      for (const name of ['variables.tf', 'apigateway.tf', 'locals.tf', 'outputs.tf']) {
        files[name] = await readFile(join(dir, name), 'utf8');
      }
      edit(files);
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
      const copy = await StandInTerraform.create(dir);
      try {
        const result = await copy.plan(varArgs(vars));
        return result.code === 0 ? '' : `${result.stderr}${result.stdout}`.replace(/\s+/g, ' ');
      } finally {
        await copy.dispose();
      }
    }

    it("the {1,2048} repeat count refused every SSM parameter name, the READMEs' included", async () => {
      const message = await planCopy((files) => {
        files['variables.tf'] = String(files['variables.tf']).replace(
          /(variable "jwt_secret_ssm_parameter" \{[\s\S]*?validation \{\n)\s+condition = [\s\S]*?\n {4}\)\n/,
          '$1    condition = var.jwt_secret_ssm_parameter == null || can(regex("^[A-Za-z0-9_./-]{1,2048}$", var.jwt_secret_ssm_parameter))\n',
        );
        assert.match(String(files['variables.tf']), /\{1,2048\}/, 'the edit did not apply');
      });
      assert.match(message, /Invalid value for variable .* jwt_secret_ssm_parameter/);
    });

    it('an attribute the resource type does not have', async () => {
      const message = await planCopy((files) => {
        files['apigateway.tf'] = String(files['apigateway.tf']).replace(
          'aws_lambda_function.this[each.key].invoke_arn',
          'aws_lambda_function.this[each.key].invokearn',
        );
      });
      assert.match(message, /Unsupported attribute.*invokearn/);
    });

    it('a reference to a resource that is not declared', async () => {
      const message = await planCopy((files) => {
        files['outputs.tf'] = String(files['outputs.tf']).replace(
          'aws_apigatewayv2_api.this.id',
          'aws_apigatewayv2_api.chat.id',
        );
      });
      assert.match(message, /Reference to undeclared resource .*aws_apigatewayv2_api/);
    });
  });
});

function must<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'not in the evaluated configuration');
  return value;
}
