import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { type LocalStack, startLocalStack } from '../../src/local/stack.ts';
import { single } from './terraform-checks.ts';
import { StandInTerraform, terraformSkipReason } from './terraform-cli.ts';

/**
 * Every command of the deploy walkthrough (infra/terraform/README.md, and the root README's "Deploy to AWS"), run or
 * checked as a reader would run it: terraform commands by the `terraform` binary over the stand-in module, in the
 * walkthrough's order (init, apply, output, destroy) against a local state; `npm run token` and `npm run smoke` for
 * real, against a local stack standing in for the deployed API; the `terraform.tfvars` lines it writes, in order,
 * into the stand-in's directory; npm scripts must exist; AWS CLI commands, which cannot run here, must be ones this
 * test knows (service, subcommand, options) and name the SSM parameter that Terraform is given.
 */

const ROOT = join(import.meta.dirname, '../..');
const TERRAFORM_DIR = join(ROOT, 'infra/terraform');
const run = promisify(execFile);

/** The AWS CLI commands the walkthrough may use, with the options each may take. */
const AWS_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  'ssm put-parameter': ['--name', '--type', '--value'],
  'ssm get-parameter': ['--name', '--with-decryption', '--query', '--output'],
  'ssm delete-parameter': ['--name'],
  'apigateway get-account': ['--query', '--output'],
};

interface Command {
  /** Where it is written, for messages. */
  source: string;
  text: string;
  env: Record<string, string>;
  argv: string[];
}

/** The commands in the ```sh blocks of a Markdown text (one per line; `&&` chains split; comments dropped). */
export function shellCommands(markdown: string, source: string): Command[] {
  const commands: Command[] = [];
  for (const [, block = ''] of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const raw of block.replace(/\\\n/g, ' ').split('\n')) {
      const line = stripComment(raw).trim();
      if (!line || line.startsWith('>') || line.startsWith('<')) continue;
      for (const part of splitAnd(line)) {
        const words = shellWords(part);
        const env: Record<string, string> = {};
        while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
          const [name = '', ...value] = (words.shift() ?? '').split('=');
          env[name] = value.join('=');
        }
        commands.push({ source, text: part, env, argv: words });
      }
    }
  }
  return commands;
}

/** Words of a command line: quotes removed, `$(…)` kept whole (with its quotes) for the caller to expand. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i] ?? '';
    if (line.startsWith('$(', i) || line.startsWith('"$(', i)) {
      const quoted = char === '"';
      const start = i + (quoted ? 2 : 1);
      let depth = 0;
      let j = start;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth += 1;
        else if (line[j] === ')' && --depth === 0) break;
      }
      word += `$(${line.slice(start + 1, j)})`;
      inWord = true;
      i = j + (quoted ? 1 : 0);
    } else if (char === '"' || char === "'") {
      const end = line.indexOf(char, i + 1);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function stripComment(line: string): string {
  return line.replace(/\s+#\s.*$/, '').replace(/^#.*$/, '');
}

function splitAnd(line: string): string[] {
  return line.split(/\s+&&\s+/);
}

const TFVARS = 'infra/terraform/terraform.tfvars';
const INFRA_README = 'infra/terraform/README.md';
const ROOT_README = 'README.md, Deploy to AWS';

/** `echo 'name = value' > (or >>) infra/terraform/terraform.tfvars`, as the walkthrough writes its settings. */
function tfvarsLine(command: Command): { name: string; value: string; redirect: '>' | '>>' } | undefined {
  const [program, text = '', redirect, file, ...rest] = command.argv;
  const assignment = /^([a-z_][a-z0-9_]*) = (.+)$/.exec(text);
  if (program !== 'echo' || rest.length > 0 || file !== TFVARS || !assignment) return undefined;
  if (redirect !== '>' && redirect !== '>>') return undefined;
  return { name: assignment[1] ?? '', value: assignment[2] ?? '', redirect };
}

/** The commands a `$(…)` in a word runs. */
function substitutions(word: string): string[] {
  return [...word.matchAll(/\$\(([^)]*)\)/g)].map(([, inner = '']) => inner.trim());
}

async function walkthroughCommands(): Promise<Command[]> {
  const infra = await readFile(join(TERRAFORM_DIR, 'README.md'), 'utf8');
  const root = await readFile(join(ROOT, 'README.md'), 'utf8');
  const deploy = /^## Deploy to AWS\n([\s\S]*?)^## /m.exec(root)?.[1] ?? '';
  return [...shellCommands(infra, INFRA_README), ...shellCommands(deploy, ROOT_README)];
}

describe('the deploy walkthrough', () => {
  let commands: Command[];
  let ssmParameter: string;

  before(async () => {
    commands = await walkthroughCommands();
    // The SSM parameter the walkthrough deploys with (its terraform.tfvars line), which every aws ssm command names.
    const line = commands
      .flatMap((command) => tfvarsLine(command) ?? [])
      .find((candidate) => candidate.name === 'jwt_secret_ssm_parameter');
    ssmParameter = line ? (JSON.parse(line.value) as string) : '';
  });

  it('is found: a build, an SSM secret, init, apply, a smoke test, the demo page, a tear-down', () => {
    assert.ok(
      commands.some((command) => tfvarsLine(command)?.redirect === '>'),
      'the walkthrough starts terraform.tfvars with >',
    );
    const texts = commands.map((command) =>
      command.argv
        .filter((word) => word !== '-s')
        .slice(0, 3)
        .join(' '),
    );
    for (const expected of [
      'npm run build',
      'aws ssm put-parameter',
      'terraform -chdir=infra/terraform init',
      'terraform -chdir=infra/terraform apply',
      'npm run smoke',
      'npm start',
      'npm run token',
      'terraform -chdir=infra/terraform destroy',
      'aws ssm delete-parameter',
    ]) {
      assert.ok(texts.includes(expected), `the walkthrough has no "${expected}"`);
    }
    assert.match(ssmParameter, /^\/roomcast\//);
  });

  it('uses only npm scripts that exist, and AWS CLI commands it knows, on the parameter Terraform reads', async () => {
    const scripts = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: object })
      .scripts;
    const problems: string[] = [];
    const check = (command: Command, argv: string[]) => {
      const where = `${command.source}: ${argv.join(' ')}`;
      const [program, ...args] = argv;
      if (program === 'npm') {
        const script = args[0] === 'run' ? args.find((arg, i) => i > 0 && !arg.startsWith('-')) : args[0];
        if (script === 'ci' || script === 'install') return;
        if (!script || !(script in scripts)) problems.push(`${where}: no npm script "${script}"`);
      } else if (program === 'aws') {
        const name = `${args[0]} ${args[1]}`;
        const allowed = AWS_COMMANDS[name];
        if (!allowed) {
          problems.push(`${where}: an AWS CLI command this test does not know (${name})`);
          return;
        }
        for (const option of args.slice(2).filter((arg) => arg.startsWith('--'))) {
          if (!allowed.includes(option)) problems.push(`${where}: ${name} has no option ${option} here`);
        }
        const nameIndex = args.indexOf('--name');
        if (nameIndex >= 0 && args[nameIndex + 1] !== ssmParameter) {
          problems.push(`${where}: names ${args[nameIndex + 1]}, but Terraform reads ${ssmParameter}`);
        }
        if (name === 'ssm put-parameter' && args[args.indexOf('--type') + 1] !== 'SecureString') {
          problems.push(`${where}: the secret must be a SecureString`);
        }
      } else if (program === 'echo') {
        if (!tfvarsLine(command))
          problems.push(`${where}: echo writes only "name = value" lines to ${TFVARS}`);
      } else if (program === 'openssl') {
        if (args.join(' ') !== 'rand -base64 48') problems.push(`${where}: unexpected openssl use`);
      } else if (program !== 'terraform' && !(program === 'npx' && args[0] === 'tsx')) {
        problems.push(`${where}: a command this test cannot evaluate (${program})`);
      }
    };
    for (const command of commands) {
      check(command, command.argv);
      for (const word of [...command.argv, ...Object.values(command.env)]) {
        for (const inner of substitutions(word)) check(command, shellWords(inner));
      }
    }
    assert.deepEqual(problems, []);
  });

  it('scripts it runs with npx answer --help', async () => {
    for (const command of commands.filter((c) => c.argv[0] === 'npx' && c.argv[1] === 'tsx')) {
      const { stdout } = await run('npx', [...command.argv.slice(1), '--help'], { cwd: ROOT });
      assert.match(stdout, /usage/i, `${command.text} --help`);
    }
  });

  describe('terraform commands, in order, on the stand-in module', { skip: terraformSkipReason() }, () => {
    let terraform: StandInTerraform;
    before(async () => {
      terraform = await StandInTerraform.create(TERRAFORM_DIR);
    });
    after(() => terraform?.dispose());

    /** Runs one document's terraform commands and terraform.tfvars lines in order; returns the -raw outputs. */
    async function runInOrder(source: string): Promise<string[]> {
      const steps = commands.filter(
        (command) => command.source === source && (command.argv[0] === 'terraform' || tfvarsLine(command)),
      );
      const outputs: string[] = [];
      let tfvars = '';
      for (const command of steps) {
        const line = tfvarsLine(command);
        if (line) {
          tfvars = `${line.redirect === '>' ? '' : tfvars}${line.name} = ${line.value}\n`;
          await writeFile(join(terraform.dir, 'terraform.tfvars'), tfvars);
          continue;
        }
        const [, chdir, subcommand = '', ...args] = command.argv;
        assert.equal(chdir, '-chdir=infra/terraform', `${command.source}: ${command.text}`);
        const extra =
          subcommand === 'apply' || subcommand === 'destroy' ? ['-auto-approve', '-input=false'] : [];
        const result = await terraform.run([subcommand, ...extra, ...args]);
        assert.equal(result.code, 0, `${command.source}: ${command.text}\n${result.stderr}${result.stdout}`);
        if (subcommand === 'output') outputs.push(result.stdout);
      }
      return outputs;
    }

    it('infra/terraform/README.md: each succeeds in order, and no later apply undoes an earlier choice', async () => {
      const outputs = await runInOrder(INFRA_README);
      assert.ok(outputs.length > 0);
      // A -raw output is a bare URL, ready to paste into ?server= or give to npm run smoke.
      for (const output of outputs) assert.match(output, /^wss:\/\/[^\s]+$/);
      const final = await terraform.evaluate();
      const stage = single(final, 'aws_apigatewayv2_stage.this');
      assert.equal((stage?.access_log_settings as unknown[] | undefined)?.length, 1, 'access logs still on');
      assert.ok(single(final, 'aws_api_gateway_account.this'), 'the account role still registered');
      assert.equal(final.outputs.websocket_url, 'wss://chat.example.com');
    });

    it("the root README's Deploy to AWS: each succeeds in order", async () => {
      await runInOrder(ROOT_README);
    });
  });

  describe('npm run token and npm run smoke, against a local stack with the "deployed" secret', () => {
    const secret = 'walkthrough-ssm-secure-string-0123456789abcdef';
    let stack: LocalStack;
    before(async () => {
      stack = await startLocalStack({
        port: 0,
        stage: 'prod',
        env: { LOG_LEVEL: 'SILENT', JWT_SECRET: secret },
      });
    });
    after(() => stack?.close());

    /** Runs a walkthrough npm command with its `$(…)` answered: the SSM secret, and the stack's URL. */
    async function runAsWritten(command: Command): Promise<{ stdout: string; stderr: string }> {
      const expand = (word: string) =>
        word.replace(/\$\(([^)]*)\)/g, (_match, inner: string) => {
          const argv = shellWords(inner);
          if (argv[0] === 'aws' && argv[2] === 'get-parameter') return secret;
          if (argv[0] === 'terraform' && argv.includes('websocket_url')) return stack.wsUrl;
          throw new Error(`cannot answer $(${inner})`);
        });
      const env = Object.fromEntries(
        Object.entries(command.env).map(([name, value]) => [name, expand(value)]),
      );
      const [program = '', ...args] = command.argv.map(expand);
      return run(program, args, { cwd: ROOT, env: { ...process.env, ...env, CI: '' }, timeout: 120_000 });
    }

    it('npm run token prints a token the deployed secret verifies', async () => {
      const command = commands.find((c) => c.argv[0] === 'npm' && c.argv.includes('token'));
      assert.ok(command);
      const { stdout } = await runAsWritten(command);
      const token = stdout.trim().split('\n').at(-1) ?? '';
      const { payload } = await jwtVerify(token, new TextEncoder().encode(secret));
      assert.equal(payload.sub, command.argv.at(-1));
    });

    it('npm run smoke passes every step', async () => {
      const command = commands.find((c) => c.argv[0] === 'npm' && c.argv.includes('smoke'));
      assert.ok(command);
      const { stdout } = await runAsWritten(command);
      assert.match(stdout, /all \d+ steps passed/);
      assert.doesNotMatch(stdout, /FAIL|SKIP/);
    });
  });
});
