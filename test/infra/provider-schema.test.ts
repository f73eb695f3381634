import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  canonicalJson,
  DEFAULT_EXTRA_TYPES,
  filterTerraformSchema,
  InputError,
  selectTypes,
} from '../../scripts/provider-schema.ts';
import {
  blocks,
  isObject,
  type Json,
  type JsonObject,
  loadTerraform,
  ref,
  type TerraformConfig,
} from './hcl.ts';
import {
  asSchemaFile,
  checkProviderSchema,
  type ProviderSchemaFile,
  providerAddress,
  providerLocalName,
  requiredProviders,
  SCHEMA_FILE,
} from './provider-schema-check.ts';

const REPOSITORY = join(dirname(fileURLToPath(import.meta.url)), '../..');
const TERRAFORM_DIR = join(REPOSITORY, 'infra/terraform');
const SCRIPT = join(REPOSITORY, 'scripts/provider-schema.ts');

describe('provider schema (test/infra/provider-schema.json)', () => {
  let tf: TerraformConfig;
  let schemaText: string;
  let schema: ProviderSchemaFile;

  before(async () => {
    tf = await loadTerraform(TERRAFORM_DIR);
    schemaText = await readFile(join(REPOSITORY, SCHEMA_FILE), 'utf8');
    schema = asSchemaFile(JSON.parse(schemaText));
  });

  /** The check over a mutated copy of the configuration. */
  function afterMutation(mutate: (copy: TerraformConfig) => void): string[] {
    const copy = structuredClone(tf);
    mutate(copy);
    return checkProviderSchema(copy, schema);
  }

  function assertCaught(problems: string[], pattern: RegExp): void {
    assert.ok(
      problems.some((problem) => pattern.test(problem)),
      `expected a problem matching ${pattern}, got ${JSON.stringify(problems, null, 2)}`,
    );
  }

  /** A declared block, failing the test (rather than the check) when the configuration no longer has it. */
  function declared(
    section: Record<string, Record<string, JsonObject>>,
    type: string,
    name: string,
  ): JsonObject {
    const body = section[type]?.[name];
    assert.ok(body, `the configuration no longer declares ${type}.${name}: update this test`);
    return body;
  }

  function firstBlock(body: JsonObject, name: string): JsonObject {
    const block = blocks(body[name])[0];
    assert.ok(block, `no ${name} block: update this test`);
    return block;
  }

  function rename(body: JsonObject, from: string, to: string): void {
    assert.ok(from in body, `no "${from}" to rename: update this test`);
    body[to] = body[from] ?? null;
    delete body[from];
  }

  it('infra/terraform agrees with the provider schemas and pins exactly their versions', () => {
    assert.deepEqual(checkProviderSchema(tf, schema), []);
  });

  it('covers every type and provider the configuration uses, and records their exact versions', () => {
    const required = requiredProviders(tf);
    const addressOf = (localName: string) =>
      providerAddress(required[localName]?.source ?? `hashicorp/${localName}`);
    const missing: string[] = [];
    const used = new Set<string>();
    for (const [kind, section] of [
      ['resource_schemas', tf.resources],
      ['data_source_schemas', tf.data],
    ] as const) {
      for (const [type, byName] of Object.entries(section)) {
        for (const body of Object.values(byName)) {
          const address = addressOf(providerLocalName(type, body));
          used.add(address);
          if (!schema.provider_schemas[address]?.[kind]?.[type]) missing.push(`${kind} ${type}`);
        }
      }
    }
    for (const localName of Object.keys(tf.providers ?? {})) used.add(addressOf(localName));
    assert.deepEqual(missing, []);
    for (const address of used) {
      assert.ok(schema.provider_schemas[address]?.provider, `no provider block schema for ${address}`);
      assert.match(
        schema.roomcast.providers[address] ?? '',
        /^\d+\.\d+\.\d+$/,
        `no exact version for ${address}`,
      );
    }
    assert.ok(schema.roomcast.source.length > 0 && schema.roomcast.command.startsWith('npx tsx scripts/'));
  });

  it('is in canonical form: re-serialising it gives the same bytes', () => {
    assert.equal(canonicalJson(JSON.parse(schemaText) as Json), schemaText);
  });

  describe('the check catches', () => {
    it('a misspelt argument', () => {
      const problems = afterMutation((copy) =>
        rename(declared(copy.resources, 'aws_lambda_function', 'this'), 'runtime', 'runtme'),
      );
      assertCaught(
        problems,
        /^aws_lambda_function\.this: unknown argument "runtme", did you mean "runtime"\? \(aws /,
      );
    });

    it('a missing required argument', () => {
      const problems = afterMutation((copy) => {
        delete declared(copy.resources, 'aws_lambda_function', 'this').function_name;
      });
      assertCaught(problems, /^aws_lambda_function\.this: missing required argument "function_name"/);
    });

    it('an unknown nested block', () => {
      const problems = afterMutation((copy) =>
        rename(declared(copy.resources, 'aws_dynamodb_table', 'connections'), 'ttl', 'time_to_live'),
      );
      assertCaught(problems, /^aws_dynamodb_table\.connections: unknown block "time_to_live"/);
    });

    it('an unknown argument inside a nested block', () => {
      const problems = afterMutation((copy) =>
        rename(
          firstBlock(declared(copy.resources, 'aws_dynamodb_table', 'messages'), 'ttl'),
          'enabled',
          'enable',
        ),
      );
      assertCaught(problems, /^aws_dynamodb_table\.messages > ttl: unknown argument "enable"/);
    });

    it('a misspelt argument inside a dynamic block', () => {
      const problems = afterMutation((copy) => {
        const policy = declared(copy.data, 'aws_iam_policy_document', 'function');
        const generator = blocks(isObject(policy.dynamic) ? policy.dynamic.statement : undefined)[0];
        assert.ok(generator, 'no dynamic "statement" block: update this test');
        rename(firstBlock(generator, 'content'), 'sid', 'sidd');
      });
      assertCaught(
        problems,
        /^data\.aws_iam_policy_document\.function > dynamic "statement" content: unknown argument "sidd"/,
      );
    });

    it('a computed-only attribute being set', () => {
      const problems = afterMutation((copy) => {
        declared(copy.resources, 'aws_dynamodb_table', 'connections').arn = 'arn:aws:dynamodb:::table/x';
      });
      assertCaught(
        problems,
        /^aws_dynamodb_table\.connections: "arn" is computed by the provider and cannot be set/,
      );
    });

    it('more blocks than max_items', () => {
      const problems = afterMutation((copy) => {
        const table = declared(copy.resources, 'aws_dynamodb_table', 'connections');
        const ttl = firstBlock(table, 'ttl');
        table.ttl = [ttl, { ...ttl }];
      });
      assertCaught(problems, /^aws_dynamodb_table\.connections: 2 "ttl" blocks, at most 1 allowed/);
    });

    it('a missing required block', () => {
      const problems = afterMutation((copy) => {
        copy.resources.aws_apigatewayv2_domain_name = { extra: { domain_name: 'chat.example.com' } };
      });
      assertCaught(
        problems,
        /^aws_apigatewayv2_domain_name\.extra: missing required block "domain_name_configuration"/,
      );
    });

    it('a block written as an argument, and an argument written as a block', () => {
      const problems = afterMutation((copy) => {
        const fn = declared(copy.resources, 'aws_lambda_function', 'this');
        fn.environment = ref('local.environment');
        fn.tags = [{ Team: 'chat' }];
      });
      assertCaught(problems, /^aws_lambda_function\.this: "environment" is a block, not an argument/);
      assertCaught(problems, /^aws_lambda_function\.this: "tags" is an argument, not a block/);
    });

    it('a reference to an attribute the type does not have', () => {
      const problems = afterMutation((copy) => {
        declared(copy.resources, 'aws_apigatewayv2_integration', 'this').integration_uri = ref(
          'aws_lambda_function.this[each.key].invokearn',
        );
      });
      assertCaught(
        problems,
        /^aws_apigatewayv2_integration\.this: reference aws_lambda_function\.this\[each\.key\]\.invokearn: aws_lambda_function has no attribute or block "invokearn", did you mean "invoke_arn"\?/,
      );
    });

    it('references one level deeper, in data sources, splats and templates inside expressions', () => {
      const problems = afterMutation((copy) => {
        copy.locals.probe_block = ref('aws_dynamodb_table.connections.ttl[0].enabeld');
        copy.locals.probe_splat = ref('one(aws_sns_topic.alarms[*].arnn)');
        copy.locals.probe_data = ref('data.aws_region.current.nam');
        copy.locals.probe_nested = ref(
          `jsonencode({ a = "$context.x ${ref('aws_dynamodb_table.messages.stream_ar')}" })`,
        );
      });
      assertCaught(
        problems,
        /^local\.probe_block: .*aws_dynamodb_table\.ttl has no attribute or block "enabeld"/,
      );
      assertCaught(problems, /^local\.probe_splat: .*aws_sns_topic has no attribute or block "arnn"/);
      assertCaught(problems, /^local\.probe_data: .*data\.aws_region has no attribute or block "nam"/);
      assertCaught(
        problems,
        /^local\.probe_nested: .*aws_dynamodb_table has no attribute or block "stream_ar"/,
      );
      assert.equal(problems.length, 4, JSON.stringify(problems, null, 2));
    });

    it('a loose version pin', () => {
      const problems = afterMutation((copy) => {
        const aws = (copy.terraform ?? [])
          .flatMap((terraform) => blocks(terraform.required_providers))
          .map((entries) => entries.aws)
          .find(isObject);
        assert.ok(aws, 'no required_providers.aws: update this test');
        aws.version = '~> 6.0';
      });
      assertCaught(
        problems,
        /^terraform\.required_providers\.aws\.version is "~> 6\.0": pin exactly "\d+\.\d+\.\d+"/,
      );
    });

    it('a misspelt provider argument', () => {
      const problems = afterMutation((copy) => {
        const aws = copy.providers?.aws?.[0];
        assert.ok(aws, 'no provider "aws" block: update this test');
        aws.regoin = 'eu-west-1';
      });
      assertCaught(problems, /^provider "aws": unknown argument "regoin", did you mean "region"\?/);
    });

    it('a type the schema file lacks, saying to re-run the script', () => {
      const problems = afterMutation((copy) => {
        copy.resources.aws_kinesis_stream = { events: { name: 'x' } };
      });
      assertCaught(
        problems,
        /^aws_kinesis_stream\.events: .* not in test\/infra\/provider-schema\.json.*re-run/,
      );
    });
  });

  it('does not take meta-arguments for schema arguments', () => {
    const problems = afterMutation((copy) => {
      const fn = declared(copy.resources, 'aws_lambda_function', 'this');
      fn.lifecycle = [
        {
          create_before_destroy: true,
          ignore_changes: [ref('tags')],
          precondition: [{ condition: true, error_message: 'x' }],
          postcondition: [{ condition: ref('self.arn != ""'), error_message: 'x' }],
        },
      ];
      fn.provisioner = { 'local-exec': [{ command: 'echo' }] };
      fn.connection = [{ type: 'ssh', host: 'localhost' }];
      declared(copy.data, 'aws_region', 'current').lifecycle = [
        { postcondition: [{ condition: true, error_message: 'x' }] },
      ];
    });
    assert.deepEqual(problems, []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// scripts/provider-schema.ts on a synthetic configuration and a synthetic `terraform providers schema -json` document
// ---------------------------------------------------------------------------------------------------------------

const SYNTHETIC_TF = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "6.99.0" }
  }
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_widget" "a" {
  name = "a"
  part {
    size = 1
  }
}

data "aws_gadget" "b" {}

output "serial" {
  value = data.aws_gadget.b.serial
}
`;

const SYNTHETIC_LOCK = `
provider "registry.terraform.io/hashicorp/aws" {
  version     = "6.99.0"
  constraints = "6.99.0"
  hashes      = ["h1:0000000000000000000000000000000000000000000="]
}
`;

/** What `terraform providers schema -json` prints, with the fields the file does not keep. */
function syntheticTerraformSchema(): JsonObject {
  const plain = { description_kind: 'plain' };
  const stub = {
    version: 0,
    block: { attributes: { id: { type: 'string', computed: true, ...plain } }, ...plain },
  };
  const stubs = (prefix: string) =>
    Object.fromEntries(
      DEFAULT_EXTRA_TYPES.filter((type) => type.startsWith('data.') === (prefix === 'data.')).map((type) => [
        type.replace(/^data\./, ''),
        stub,
      ]),
    );
  return {
    format_version: '1.0',
    provider_schemas: {
      'registry.terraform.io/hashicorp/aws': {
        provider: {
          version: 0,
          block: {
            attributes: { region: { type: 'string', optional: true, description: 'Region', ...plain } },
            ...plain,
          },
        },
        resource_schemas: {
          ...stubs(''),
          aws_widget: {
            version: 2,
            block: {
              attributes: {
                id: { type: 'string', optional: true, computed: true, ...plain },
                name: { type: 'string', required: true, description: 'Name', ...plain },
                secret: { type: 'string', optional: true, sensitive: true, ...plain },
                legacy: { type: 'string', optional: true, deprecated: true, ...plain },
                settings: {
                  nested_type: {
                    attributes: { mode: { type: 'string', optional: true, ...plain } },
                    nesting_mode: 'list',
                  },
                  optional: true,
                  ...plain,
                },
              },
              block_types: {
                part: {
                  nesting_mode: 'list',
                  min_items: 1,
                  max_items: 2,
                  block: { attributes: { size: { type: 'number', required: true, ...plain } }, ...plain },
                },
              },
              ...plain,
            },
          },
          aws_unused: stub,
        },
        data_source_schemas: {
          ...stubs('data.'),
          aws_gadget: { version: 0, block: { attributes: { serial: { type: 'string', computed: true } } } },
        },
      },
      'registry.terraform.io/hashicorp/random': { provider: { version: 0, block: plain } },
    },
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The script as a user runs it; --from-terraform needs no network. */
function runScript(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', SCRIPT, ...args],
      { cwd: REPOSITORY },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('scripts/provider-schema.ts --from-terraform', () => {
  let dir: string;
  let terraformDir: string;
  let schemaPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'provider-schema-test-'));
    terraformDir = join(dir, 'terraform');
    await mkdir(terraformDir);
    await writeFile(join(terraformDir, 'main.tf'), SYNTHETIC_TF);
    await writeFile(join(dir, 'terraform.lock.hcl'), SYNTHETIC_LOCK);
    schemaPath = join(dir, 'schema.json');
    await writeFile(schemaPath, JSON.stringify(syntheticTerraformSchema()));
    await writeFile(
      join(dir, 'state.json'),
      JSON.stringify({ format_version: '1.0', values: { root_module: {} } }),
    );
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps only the used types, and only the fields the file keeps', async () => {
    const config = await loadTerraform(terraformDir);
    const schemas = filterTerraformSchema(syntheticTerraformSchema(), selectTypes(config, []), 'schema.json');
    assert.deepEqual(Object.keys(schemas), ['registry.terraform.io/hashicorp/aws']);
    const aws = schemas['registry.terraform.io/hashicorp/aws'];
    assert.deepEqual(aws?.provider, {
      block: { attributes: { region: { type: 'string', optional: true } } },
    });
    assert.deepEqual(Object.keys(aws?.resource_schemas ?? {}), ['aws_widget']);
    assert.deepEqual(aws?.resource_schemas?.aws_widget, {
      block: {
        attributes: {
          id: { type: 'string', optional: true, computed: true },
          name: { type: 'string', required: true },
          secret: { type: 'string', optional: true },
          legacy: { type: 'string', optional: true },
          settings: { type: ['list', ['object', { mode: 'string' }]], optional: true },
        },
        block_types: {
          part: {
            nesting_mode: 'list',
            min_items: 1,
            max_items: 2,
            block: { attributes: { size: { type: 'number', required: true } } },
          },
        },
      },
    });
    assert.deepEqual(aws?.data_source_schemas, {
      aws_gadget: { block: { attributes: { serial: { type: 'string', computed: true } } } },
    });
  });

  it('refuses a document in another format, and a type the document lacks', async () => {
    const config = await loadTerraform(terraformDir);
    assert.throws(
      () => filterTerraformSchema({ values: {} }, selectTypes(config, []), 'state.json'),
      (error: Error) =>
        error instanceof InputError &&
        /state\.json is not the output of terraform providers schema/.test(error.message),
    );
    assert.throws(
      () =>
        filterTerraformSchema(syntheticTerraformSchema(), selectTypes(config, ['aws_nope']), 'schema.json'),
      (error: Error) => error instanceof InputError && /unknown resource type aws_nope/.test(error.message),
    );
  });

  it('writes a canonical file with its provenance, which the check then holds the configuration to', async () => {
    const out = join(dir, 'out.json');
    const lockFile = join(dir, 'terraform.lock.hcl');
    const run = await runScript([
      ...[
        '--terraform-dir',
        terraformDir,
        '--from-terraform',
        schemaPath,
        '--lock-file',
        lockFile,
        '--out',
        out,
      ],
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^wrote .*out\.json \(\d+\.\d KiB\)/);
    const text = await readFile(out, 'utf8');
    assert.equal(canonicalJson(JSON.parse(text) as Json), text);
    const written = asSchemaFile(JSON.parse(text));
    assert.deepEqual(written.roomcast.providers, { 'registry.terraform.io/hashicorp/aws': '6.99.0' });
    assert.match(written.roomcast.source, /^terraform providers schema -json/);
    assert.match(written.roomcast.command, /^npx tsx scripts\/provider-schema\.ts --terraform-dir /);

    const config = await loadTerraform(terraformDir);
    assert.deepEqual(checkProviderSchema(config, written), []);
    const withoutPart = structuredClone(config);
    delete withoutPart.resources.aws_widget?.a?.part;
    assert.deepEqual(checkProviderSchema(withoutPart, written), [
      'aws_widget.a: missing required block "part" (aws 6.99.0)',
    ]);
  });

  it('refuses bad input with one line on stderr and exit status 2', async () => {
    const common = ['--terraform-dir', terraformDir, '--out', join(dir, 'refused.json')];
    const runs = await Promise.all([
      runScript([
        ...common,
        '--from-terraform',
        join(dir, 'state.json'),
        '--version',
        'hashicorp/aws=6.99.0',
      ]),
      runScript([...common, '--from-terraform', schemaPath]),
      runScript([
        ...common,
        '--from-terraform',
        schemaPath,
        '--version',
        'hashicorp/aws=6.99.0',
        '--type',
        'aws_nope',
      ]),
      runScript([...common, '--frobnicate']),
    ]);
    const expected = [
      /is not the output of terraform providers schema -json/,
      /no version for registry\.terraform\.io\/hashicorp\/aws/,
      /unknown resource type aws_nope/,
      /unknown argument "--frobnicate"/,
    ];
    for (const [index, run] of runs.entries()) {
      assert.equal(run.code, 2, `${expected[index]}: ${run.stderr}`);
      assert.match(run.stderr, expected[index] ?? /./);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
    await assert.rejects(readFile(join(dir, 'refused.json')));
  });
});
