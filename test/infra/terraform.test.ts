import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROUTES } from '../../src/handlers/routes.ts';
import { connectionsTable } from '../../src/store/tables.ts';
import { blocks, type Json, type JsonObject, loadTerraform, obj, ref, type TerraformConfig } from './hcl.ts';
import {
  ALL_CHECKS,
  type Check,
  checkAlarms,
  checkEnvironment,
  checkFunctions,
  checkIam,
  checkReferences,
  checkRoutes,
  checkStage,
  checkTables,
} from './terraform-checks.ts';

const TERRAFORM_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../infra/terraform');

describe('infra/terraform', () => {
  let tf: TerraformConfig;

  before(async () => {
    tf = await loadTerraform(TERRAFORM_DIR);
  });

  /** Runs a check over a mutated copy of the configuration. */
  function afterMutation(check: Check, mutate: (copy: TerraformConfig) => void): string[] {
    const copy = structuredClone(tf);
    mutate(copy);
    return check(copy);
  }

  function assertCaught(problems: string[], pattern: RegExp): void {
    assert.ok(
      problems.some((problem) => pattern.test(problem)),
      `expected a problem matching ${pattern}, got ${JSON.stringify(problems, null, 2)}`,
    );
  }

  it('is split by concern, one file each', () => {
    assert.deepEqual(tf.files, [
      'alarms.tf',
      'apigateway.tf',
      'dashboard.tf',
      'dynamodb.tf',
      'iam.tf',
      'lambda.tf',
      'locals.tf',
      'outputs.tf',
      'variables.tf',
      'versions.tf',
    ]);
  });

  it('has one local.functions entry per route of src/handlers/routes.ts', () => {
    const functions = obj(tf.locals.functions);
    assert.deepEqual(
      Object.entries(functions)
        .map(([name, fn]) => [obj(fn).route_key, name])
        .sort(),
      ROUTES.map((route) => [route.routeKey, route.functionName]).sort(),
    );
  });

  it('documents every variable in its README', async () => {
    const readme = await readFile(join(TERRAFORM_DIR, 'README.md'), 'utf8');
    const rows = new Set([...readme.matchAll(/^\| `([\w-]+)` +\|/gm)].map(([, name]) => name));
    const undocumented = Object.keys(tf.variables).filter((name) => !rows.has(name));
    assert.deepEqual(undocumented, []);
  });

  describe('matches the code', () => {
    for (const [name, check] of Object.entries(ALL_CHECKS)) {
      it(name, () => {
        assert.deepEqual(check(tf), []);
      });
    }
  });

  describe('the checks catch mistakes', () => {
    it('none passes an empty configuration', () => {
      const empty: TerraformConfig = {
        files: [],
        resources: {},
        data: {},
        locals: {},
        variables: {},
        outputs: {},
        duplicates: [],
      };
      for (const [name, check] of Object.entries(ALL_CHECKS)) {
        if (name === 'references') continue; // nothing to reference, nothing wrong
        assert.notDeepEqual(check(empty), [], `${name} passed an empty configuration`);
      }
    });

    it('an attribute definition for the non-key ttl attribute', () => {
      const problems = afterMutation(checkTables, (copy) => {
        attributes(copy).push({ name: connectionsTable.ttlAttribute, type: 'S' });
      });
      assertCaught(problems, /attribute definitions .*"ttl".* must be exactly the key attributes/);
    });

    it('a table the store defines and Terraform lacks', () => {
      const problems = afterMutation(checkTables, (copy) => {
        delete copy.resources.aws_dynamodb_table?.messages;
      });
      assertCaught(
        problems,
        /aws_dynamodb_table\.messages is missing \(src\/store\/tables\.ts defines chat_messages\)/,
      );
    });

    it('an index that projects everything, or forgets an attribute its read needs', () => {
      assertCaught(
        afterMutation(checkTables, (copy) => {
          roomIndex(copy).projection_type = 'ALL';
        }),
        /index room_id-index: projection_type "ALL"/,
      );
      assertCaught(
        afterMutation(checkTables, (copy) => {
          roomIndex(copy).non_key_attributes = ['ttl'];
        }),
        /index room_id-index: non_key_attributes/,
      );
    });

    it('a route that loses its permission', () => {
      const problems = afterMutation(checkRoutes, (copy) => {
        resource(copy, 'aws_lambda_permission', 'api_gateway').for_each = ref(
          '{ for name, fn in local.functions : name => fn if name != "ping" }',
        );
      });
      assertCaught(
        problems,
        /aws_lambda_permission\.api_gateway: for_each .* some routes' functions get no permission/,
      );
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          delete copy.resources.aws_lambda_permission;
        }),
        /route ping: no aws_lambda_permission lets API Gateway invoke ping/,
      );
    });

    it('a permission for every route of the API', () => {
      const problems = afterMutation(checkRoutes, (copy) => {
        resource(copy, 'aws_lambda_permission', 'api_gateway').source_arn =
          `${ref('aws_apigatewayv2_api.this.execution_arn')}/*/*`;
      });
      assertCaught(problems, /source_arn .* is not scoped to the route key/);
    });

    it('a route missing from the function map, or another selection expression', () => {
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          delete functions(copy).ping;
        }),
        /route ping: local\.functions has no "ping"/,
      );
      assertCaught(
        afterMutation(checkRoutes, (copy) => {
          resource(copy, 'aws_apigatewayv2_api', 'this').route_selection_expression = '$request.body.type';
        }),
        /route_selection_expression "\$request\.body\.type"/,
      );
    });

    it('another runtime, or a bundle from elsewhere', () => {
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          resource(copy, 'aws_lambda_function', 'this').runtime = 'nodejs20.x';
        }),
        /runtime "nodejs20\.x"/,
      );
      assertCaught(
        afterMutation(checkFunctions, (copy) => {
          must(copy.data.archive_file?.function).source_dir =
            `${ref('path.module')}/../../build/${ref('each.key')}`;
        }),
        /function send-message is bundled from .*build\/send-message, not dist\/send-message/,
      );
    });

    it('JWT settings outside $connect, a reserved or unknown variable', () => {
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          obj(copy.locals.function_secret_env).ping = { JWT_SECRET: ref('local.jwt_secret') };
        }),
        /ping: gets JWT_SECRET; only connect verifies tokens/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          obj(copy.locals.common_env).AWS_REGION = 'us-east-1';
        }),
        /sets AWS_REGION, which Lambda reserves/,
      );
      assertCaught(
        afterMutation(checkEnvironment, (copy) => {
          obj(functionEntry(copy, 'send-message').env).REDIS_URL = 'redis://cache';
        }),
        /send-message: sets REDIS_URL, which src\/config\.ts does not read/,
      );
    });

    it('Scan, wildcards, a whole-table Query, a managed policy', () => {
      assertCaught(
        afterMutation(checkIam, (copy) => {
          statement(copy, 'send-message', 0).actions = [
            'dynamodb:GetItem',
            'dynamodb:DeleteItem',
            'dynamodb:Scan',
          ];
        }),
        /send-message: dynamodb:Scan is never needed/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          statement(copy, 'ping', 0).actions = ['execute-api:*'];
        }),
        /ping: action execute-api:\* has a wildcard/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          statement(copy, 'send-message', 1).resources = [ref('aws_dynamodb_table.connections.arn')];
        }),
        /send-message: allows dynamodb:Query on \$\{aws_dynamodb_table\.connections\.arn\}, which its code never needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          const entry = functionEntry(copy, 'send-message');
          entry.statements = blocks(entry.statements).filter((statement) => statement.sid !== 'StoreMessage');
        }),
        /send-message: lacks dynamodb:PutItem on \$\{aws_dynamodb_table\.messages\.arn\}, which its code needs/,
      );
      assertCaught(
        afterMutation(checkIam, (copy) => {
          copy.resources.aws_iam_role_policy_attachment = {
            basic: {
              for_each: ref('local.functions'),
              role: ref('aws_iam_role.function[each.key].name'),
              policy_arn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
            },
          };
        }),
        /aws_iam_role_policy_attachment\.basic grants the function roles more/,
      );
    });

    it('an alarm on something that does not exist, or a missing alarm', () => {
      const broken = (copy: TerraformConfig): void => {
        resource(copy, 'aws_cloudwatch_metric_alarm', 'lambda_errors').dimensions = {
          FunctionName: ref('aws_lambda_function.missing[each.key].function_name'),
        };
      };
      assertCaught(afterMutation(checkReferences, broken), /aws_lambda_function\.missing is not declared/);
      assertCaught(
        afterMutation(checkAlarms, broken),
        /dimension FunctionName=.*missing.* names nothing declared/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          delete obj(copy.locals.dynamodb_table_throttle_alarms)['connections-reads'];
        }),
        /no alarm on AWS\/DynamoDB ReadThrottleEvents TableName=/,
      );
      assertCaught(
        afterMutation(checkAlarms, (copy) => {
          resource(copy, 'aws_cloudwatch_metric_alarm', 'delivery_failures').metric_name = 'DeliveryFailures';
        }),
        /DeliveryFailures is not a metric anything here publishes/,
      );
    });

    it('an undeclared variable, or each.key on a resource keyed differently', () => {
      assertCaught(
        afterMutation(checkReferences, (copy) => {
          must(copy.outputs.api_id).value = ref('var.api_name');
        }),
        /output api_id: var\.api_name is not declared/,
      );
      assertCaught(
        afterMutation(checkReferences, (copy) => {
          resource(copy, 'aws_cloudwatch_log_group', 'function').for_each = ref('local.function_names');
        }),
        /aws_cloudwatch_log_group\.function\[each\.key\], but that is not for_each over \$\{local\.functions\}/,
      );
    });

    it('a stage that does not deploy itself', () => {
      assertCaught(
        afterMutation(checkStage, (copy) => {
          resource(copy, 'aws_apigatewayv2_stage', 'this').auto_deploy = false;
        }),
        /auto_deploy is not true/,
      );
    });
  });
});

// Navigating a copy of the configuration to mutate it.

function must<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'not in the configuration');
  return value;
}

function resource(tf: TerraformConfig, type: string, name: string): JsonObject {
  return must(tf.resources[type]?.[name]);
}

function attributes(tf: TerraformConfig): Json[] {
  const attribute = resource(tf, 'aws_dynamodb_table', 'connections').attribute;
  assert.ok(Array.isArray(attribute));
  return attribute;
}

function roomIndex(tf: TerraformConfig): JsonObject {
  const indexes = blocks(resource(tf, 'aws_dynamodb_table', 'connections').global_secondary_index);
  return must(indexes.find((index) => index.name === connectionsTable.indexes.byRoom.name));
}

function functions(tf: TerraformConfig): JsonObject {
  return obj(tf.locals.functions);
}

function functionEntry(tf: TerraformConfig, name: string): JsonObject {
  return obj(functions(tf)[name]);
}

function statement(tf: TerraformConfig, fn: string, index: number): JsonObject {
  return must(blocks(functionEntry(tf, fn).statements)[index]);
}
