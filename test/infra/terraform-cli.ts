import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isObject, type Json, type JsonObject } from './hcl.ts';
import { asSchemaFile, type ProviderSchemaFile, SCHEMA_FILE } from './provider-schema-check.ts';
import { standInModule } from './stand-in.ts';

/**
 * The `terraform` binary run over the stand-in module (stand-in.ts) of a configuration, in a temporary directory:
 * `terraform init` needs no provider there, and `plan` evaluates variables, validations, locals, preconditions,
 * checks and outputs exactly as it would before calling AWS.
 */

/** The `terraform` on PATH, or undefined. */
export function findTerraform(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'terraform');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why the tests that need the binary skip, or undefined when they run. Whenever it is on PATH they run, in CI too;
 * it cannot be installed from the package registries this project's CI reaches, so without it they say so and skip.
 */
export function terraformSkipReason(): string | undefined {
  return findTerraform()
    ? undefined
    : 'SKIPPED: the terraform binary is not on PATH, and these tests evaluate infra/terraform with it';
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a successful plan evaluated: every resource and data source as its stand-in, every local and output. */
export interface Evaluated {
  /** "aws_lambda_function.this" → the instance, a list (count) or a map (for_each) of instances. */
  resources: Record<string, Json>;
  data: Record<string, Json>;
  locals: Record<string, Json>;
  outputs: Record<string, Json>;
  /** How each resource ("aws_x.y") and data source ("data.aws_x.y") is instantiated. */
  shapes: Record<string, 'single' | 'count' | 'for_each'>;
}

export class StandInTerraform {
  private plans = 0;

  private constructor(
    readonly dir: string,
    private readonly binary: string,
  ) {}

  /**
   * Writes the stand-in module of `configDir` into a temporary directory and runs `terraform init` there. The
   * stand-ins take their attributes from the committed provider schema (provider-schema.json).
   */
  static async create(
    configDir: string,
    schema: ProviderSchemaFile = readProviderSchema(),
  ): Promise<StandInTerraform> {
    const binary = findTerraform();
    if (!binary) throw new Error('the terraform binary is not on PATH');
    const dir = await mkdtemp(join(tmpdir(), 'roomcast-terraform-'));
    await writeFile(join(dir, '.terraformrc'), '');
    for (const [name, text] of Object.entries(await standInModule(configDir, schema))) {
      await writeFile(join(dir, name), text);
    }
    const terraform = new StandInTerraform(dir, binary);
    const init = await terraform.run(['init', '-input=false', '-backend=false']);
    if (init.code !== 0) throw new Error(`terraform init failed in ${dir}:\n${init.stderr}${init.stdout}`);
    return terraform;
  }

  /** Runs terraform in the stand-in directory: no color, no prompts, no network (no version check). */
  run(args: readonly string[], stdin?: string): Promise<CommandResult> {
    return new Promise((resolve) => {
      const child = execFile(
        this.binary,
        [`-chdir=${this.dir}`, ...args, ...(args[0] === 'init' || args[0] === 'output' ? [] : ['-no-color'])],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: this.dir,
            TF_CLI_CONFIG_FILE: join(this.dir, '.terraformrc'),
            TF_IN_AUTOMATION: '1',
            TF_INPUT: '0',
            CHECKPOINT_DISABLE: '1',
            NO_COLOR: '1',
          },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 120_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.end(stdin ?? '');
    });
  }

  /**
   * Evaluates one expression over the stand-ins with `terraform console` (which can see locals, and so the stand-in
   * of a resource: `local.r__<type>__<name>`) and returns what it printed.
   */
  async console(expression: string, vars: Readonly<Record<string, string>> = {}): Promise<string> {
    const result = await this.run(['console', ...varArgs(vars)], `${expression}\n`);
    if (result.code !== 0) throw new Error(`terraform console failed:\n${result.stderr}${result.stdout}`);
    return result.stdout.trim();
  }

  /** `terraform plan` with these arguments (e.g. `-var name=value`); on success, what it evaluated. */
  async plan(args: readonly string[] = []): Promise<CommandResult & { evaluated?: Evaluated }> {
    this.plans += 1;
    const planFile = join(this.dir, `plan-${this.plans}.tfplan`);
    const plan = await this.run([
      'plan',
      '-input=false',
      '-lock=false',
      '-refresh=false',
      `-out=${planFile}`,
      ...args,
    ]);
    if (plan.code !== 0) return plan;
    const show = await this.run(['show', '-json', planFile]);
    await rm(planFile, { force: true });
    if (show.code !== 0) throw new Error(`terraform show failed: ${show.stderr}`);
    return { ...plan, evaluated: evaluatedOf(JSON.parse(show.stdout) as JsonObject) };
  }

  /** Plans with `-var name=value` for each entry, and fails with Terraform's own message if the plan fails. */
  async evaluate(vars: Readonly<Record<string, string>> = {}): Promise<Evaluated> {
    const result = await this.plan(varArgs(vars));
    if (!result.evaluated) throw new Error(`terraform plan failed:\n${result.stderr}${result.stdout}`);
    return result.evaluated;
  }

  /** The text of a generated file (to show in a failure). */
  file(name: string): Promise<string> {
    return readFile(join(this.dir, name), 'utf8');
  }

  dispose(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** The committed provider schema (scripts/provider-schema.ts writes it). */
export function readProviderSchema(): ProviderSchemaFile {
  return asSchemaFile(JSON.parse(readFileSync(join(import.meta.dirname, '../..', SCHEMA_FILE), 'utf8')));
}

export function varArgs(vars: Readonly<Record<string, string>>): string[] {
  return Object.entries(vars).flatMap(([name, value]) => ['-var', `${name}=${value}`]);
}

function evaluatedOf(plan: JsonObject): Evaluated {
  const planned = isObject(plan.planned_values) ? plan.planned_values : {};
  const outputs = isObject(planned.outputs) ? planned.outputs : {};
  const value = (name: string): Json => {
    const output = outputs[name];
    return isObject(output) ? (output.value ?? null) : null;
  };
  const asRecord = (json: Json): Record<string, Json> => (isObject(json) ? json : {});
  return {
    resources: asRecord(value('standin__resources')),
    data: asRecord(value('standin__data')),
    locals: asRecord(value('standin__locals')),
    shapes: asRecord(value('standin__shapes')) as Evaluated['shapes'],
    outputs: Object.fromEntries(
      Object.keys(outputs)
        .filter((name) => !name.startsWith('standin__'))
        .map((name) => [name, value(name)]),
    ),
  };
}
