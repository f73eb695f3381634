import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { type Json, type JsonObject, loadTerraform, obj, type TerraformConfig } from '../test/infra/hcl.ts';
import {
  type ProviderSchema,
  type ProviderSchemaFile,
  providerAddress,
  providerLocalName,
  requiredProviders,
  SCHEMA_FILE,
  type SchemaAttribute,
  type SchemaBlock,
  type SchemaBlockType,
  schemaShapeProblems,
} from '../test/infra/provider-schema-check.ts';

/**
 * Writes test/infra/provider-schema.json: the schema, in Terraform's `terraform providers schema -json` format, of
 * every resource type, data source type and provider block infra/terraform uses (plus any `--type`), for exact
 * provider versions. test/infra/provider-schema-check.ts holds the configuration to it.
 *
 * Providers cannot be downloaded here (only the npm registry is reachable), so by default the schema is read from
 * the cdktf bindings on npm, which are generated from it: `npm pack @cdktf/provider-aws@21.22.1` (hashicorp/aws
 * 6.25.0) and `@cdktf/provider-archive@11.0.1` (hashicorp/archive 2.7.1), unpacked into a temporary directory that
 * is deleted afterwards. cdktf is deprecated and stops at aws 6.25.0; for a later version, run
 * `terraform providers schema -json > schema.json` where providers install and pass it with `--from-terraform`.
 *
 *   npx tsx scripts/provider-schema.ts [--cdktf-aws 21.22.1] [--cdktf-archive 11.0.1] [--type aws_x | data.aws_x]…
 *   npx tsx scripts/provider-schema.ts --from-terraform schema.json
 *       (--version registry.terraform.io/hashicorp/aws=6.30.0 … | --lock-file .terraform.lock.hcl) [--type …]…
 *   common: [--terraform-dir infra/terraform] [--out test/infra/provider-schema.json]
 *
 * Bad input exits with status 2 and one line on stderr.
 */

const REPOSITORY = resolve(fileURLToPath(import.meta.url), '../..');
const DEFAULT_TERRAFORM_DIR = 'infra/terraform';
/** Provider local name → version of @cdktf/provider-<name> read when no --cdktf-<name> is given. */
const DEFAULT_CDKTF_PACKAGES: Readonly<Record<string, string>> = { aws: '21.22.1', archive: '11.0.1' };
/** Types the configuration is about to use: kept in the file before it does. */
export const DEFAULT_EXTRA_TYPES: readonly string[] = [
  'aws_apigatewayv2_domain_name',
  'aws_apigatewayv2_api_mapping',
  'aws_route53_record',
  'data.aws_caller_identity',
];
const FORMAT_VERSION = '1.0';
const NOTE =
  'Only the types infra/terraform uses. Kept per attribute: type, required, optional, computed; per block type: ' +
  'nesting_mode, min_items, max_items. Not kept: descriptions, deprecation, sensitivity, schema versions.';

export const USAGE = `usage: npx tsx scripts/provider-schema.ts [options]
Writes ${SCHEMA_FILE}: the provider schemas of the types infra/terraform uses, for exact provider versions.

  from the cdktf bindings on npm (the default; they cover hashicorp/aws up to 6.25.0):
    [--cdktf-aws 21.22.1] [--cdktf-archive 11.0.1]
  from \`terraform providers schema -json > schema.json\`, run where providers install (any version):
    --from-terraform schema.json (--version registry.terraform.io/hashicorp/aws=6.30.0 ... | --lock-file FILE)
  common:
    [--type aws_x | data.aws_x]...   also these types
    [--terraform-dir infra/terraform] [--out ${SCHEMA_FILE}]
    --help                           this text`;

/** Input the script cannot work with: reported as one line, exit status 2. */
export class InputError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------------------------

export interface Options {
  /** Given paths are relative to the working directory; the defaults to the repository. */
  terraformDir: string;
  out: string;
  /** Extra types: "aws_x" (resource) or "data.aws_x" (data source). */
  types: string[];
  /** Provider local name → @cdktf/provider-<name> version. */
  cdktf: Record<string, string>;
  fromTerraform?: string;
  /** Provider address → version, for --from-terraform. */
  versions: Record<string, string>;
  lockFile?: string;
}

export function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    terraformDir: join(REPOSITORY, DEFAULT_TERRAFORM_DIR),
    out: join(REPOSITORY, SCHEMA_FILE),
    types: [...DEFAULT_EXTRA_TYPES],
    cdktf: { ...DEFAULT_CDKTF_PACKAGES },
    versions: {},
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? splitOnce(arg, '=') : [arg, undefined];
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined || next === '') throw new InputError(`${flag} needs a value`);
      return next;
    };
    if (flag === '--terraform-dir') options.terraformDir = resolve(value());
    else if (flag === '--out') options.out = resolve(value());
    else if (flag === '--type') options.types.push(value());
    else if (flag === '--from-terraform') options.fromTerraform = resolve(value());
    else if (flag === '--lock-file') options.lockFile = resolve(value());
    else if (flag === '--version') {
      const [address, version] = splitOnce(value(), '=');
      if (!version || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(version)) {
        throw new InputError(`--version takes <provider address>=<exact version>, got "${argv[i]}"`);
      }
      options.versions[providerAddress(address)] = version;
    } else if (flag.startsWith('--cdktf-') && flag.length > '--cdktf-'.length) {
      options.cdktf[flag.slice('--cdktf-'.length)] = value();
    } else {
      throw new InputError(`unknown argument "${arg}" (npx tsx scripts/provider-schema.ts --help)`);
    }
  }
  for (const type of options.types) {
    if (!/^(data\.)?[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(type)) {
      throw new InputError(
        `--type takes a resource type (aws_x) or data source type (data.aws_x), got "${type}"`,
      );
    }
  }
  return options;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}

/** The command that reproduces a run, recorded in the file. */
function commandLine(argv: readonly string[]): string {
  const quoted = argv.map((arg) =>
    /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`,
  );
  return ['npx tsx scripts/provider-schema.ts', ...quoted].join(' ');
}

// ---------------------------------------------------------------------------------------------------------------
// What the configuration uses
// ---------------------------------------------------------------------------------------------------------------

/** The types to describe, by provider address. */
export interface Selection {
  /** Provider address → { local name, resource types, data source types }. */
  providers: Map<string, { localName: string; resources: Set<string>; dataSources: Set<string> }>;
}

export function selectTypes(config: TerraformConfig, extraTypes: readonly string[]): Selection {
  const required = requiredProviders(config);
  const selection: Selection = { providers: new Map() };
  const providerFor = (localName: string) => {
    const address = providerAddress(required[localName]?.source ?? `hashicorp/${localName}`);
    let entry = selection.providers.get(address);
    if (!entry) {
      entry = { localName, resources: new Set(), dataSources: new Set() };
      selection.providers.set(address, entry);
    }
    return entry;
  };
  for (const localName of Object.keys(config.providers ?? {})) providerFor(localName);
  for (const [type, byName] of Object.entries(config.resources)) {
    for (const body of Object.values(byName)) providerFor(providerLocalName(type, body)).resources.add(type);
  }
  for (const [type, byName] of Object.entries(config.data)) {
    for (const body of Object.values(byName))
      providerFor(providerLocalName(type, body)).dataSources.add(type);
  }
  for (const type of extraTypes) {
    if (type.startsWith('data.')) {
      const name = type.slice('data.'.length);
      providerFor(providerLocalName(name)).dataSources.add(name);
    } else {
      providerFor(providerLocalName(type)).resources.add(type);
    }
  }
  return selection;
}

// ---------------------------------------------------------------------------------------------------------------
// Source 1: the cdktf bindings on npm
// ---------------------------------------------------------------------------------------------------------------

const run = promisify(execFile);

/** An unpacked @cdktf/provider-<name> package. */
interface CdktfPackage {
  spec: string;
  address: string;
  version: string;
  /** "resource:aws_x" / "data:aws_x" / "provider" → the binding's index.js. */
  bindings: Map<string, string>;
}

async function packAndUnpack(spec: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  try {
    const { stdout } = await run('npm', ['pack', spec, '--json', '--pack-destination', into], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    if (!packed) throw new Error('npm pack wrote nothing');
    await run('tar', ['-xzf', join(into, packed.filename), '-C', into]);
    await rm(join(into, packed.filename));
    return join(into, 'package');
  } catch (error) {
    const detail = String((error as { stderr?: string }).stderr || (error as Error).message);
    const reason = /E404|ETARGET|No matching version|is not in this registry/.test(detail)
      ? 'no such package version on the npm registry'
      : (detail.split('\n').find((line) => /error/i.test(line)) ?? detail.split('\n')[0] ?? '').trim();
    throw new InputError(`npm pack ${spec} failed: ${reason}`);
  }
}

/** Every binding of a package, found by its `tfResourceType` in the index.d.ts files (its directory names vary). */
async function indexBindings(packageDir: string): Promise<Map<string, string>> {
  const bindings = new Map<string, string>();
  const lib = join(packageDir, 'lib');
  for (const entry of await readdir(lib, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const declarations = await readFile(join(lib, entry.name, 'index.d.ts'), 'utf8').catch(() => '');
    const type = /static readonly tfResourceType = "([^"]+)"/.exec(declarations)?.[1];
    const base = /extends cdktf\.Terraform(Resource|DataSource|Provider)\b/.exec(declarations)?.[1];
    if (!type || !base) continue;
    const key = base === 'Provider' ? 'provider' : `${base === 'Resource' ? 'resource' : 'data'}:${type}`;
    bindings.set(key, join(lib, entry.name, 'index.js'));
  }
  return bindings;
}

async function openCdktfPackage(localName: string, version: string, into: string): Promise<CdktfPackage> {
  const spec = `@cdktf/provider-${localName}@${version}`;
  const dir = await packAndUnpack(spec, join(into, localName));
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    cdktf?: { provider?: { name?: string; version?: string } };
  };
  const provider = manifest.cdktf?.provider;
  if (!provider?.name || !provider.version) {
    throw new InputError(`${spec} has no cdktf.provider name and version in its package.json`);
  }
  return { spec, address: provider.name, version: provider.version, bindings: await indexBindings(dir) };
}

async function schemaFromCdktf(
  selection: Selection,
  packages: Record<string, string>,
): Promise<{ schemas: Record<string, ProviderSchema>; versions: Record<string, string>; sources: string[] }> {
  const workDir = await mkdtemp(join(tmpdir(), 'provider-schema-'));
  try {
    const schemas: Record<string, ProviderSchema> = {};
    const versions: Record<string, string> = {};
    const sources: string[] = [];
    for (const [address, used] of selection.providers) {
      const version = packages[used.localName];
      if (!version) {
        throw new InputError(`no cdktf package for provider ${address}: pass --cdktf-${used.localName}`);
      }
      const pkg = await openCdktfPackage(used.localName, version, workDir);
      if (pkg.address !== address) {
        throw new InputError(`${pkg.spec} describes ${pkg.address}, but the configuration uses ${address}`);
      }
      sources.push(`${pkg.spec} (${shortAddress(address)} ${pkg.version})`);
      versions[address] = pkg.version;
      const bindingOf = async (key: string, what: string): Promise<SchemaBlock> => {
        const file = pkg.bindings.get(key);
        if (!file) {
          throw new InputError(`unknown ${what} in ${shortAddress(address)} ${pkg.version} (${pkg.spec})`);
        }
        return normaliseBlock(await bindingSchema(file));
      };
      const resourceSchemas: Record<string, { block: SchemaBlock }> = {};
      for (const type of used.resources) {
        resourceSchemas[type] = { block: await bindingOf(`resource:${type}`, `resource type ${type}`) };
      }
      const dataSourceSchemas: Record<string, { block: SchemaBlock }> = {};
      for (const type of used.dataSources) {
        dataSourceSchemas[type] = { block: await bindingOf(`data:${type}`, `data source type data.${type}`) };
      }
      const schema: ProviderSchema = {
        provider: { block: await bindingOf('provider', 'provider block') },
        resource_schemas: resourceSchemas,
        data_source_schemas: dataSourceSchemas,
      };
      schemas[address] = schema;
    }
    return { schemas, versions, sources };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading one binding. cdktf generated it from the provider schema, and its TypeScript source (kept whole in the
// inline source map of index.js) says, before each attribute and block of every class:
//   // <terraform name> - computed: <bool>, optional: <bool>, required: <bool>
// synthesizeHclAttributes() (of the resource class) and <struct>ToHclTerraform() (of each nested block's struct)
// name every settable attribute and block in Terraform's snake_case with `isBlock`, `type` (simple, list, set, map,
// struct) and `storageClassType` (string, stringList, numberMap, …, or the struct's class); attributes only the
// provider sets appear as getters only, and their getter's call says their type. A block stored in an
// …OutputReference rather than a …List holds at most one item.
// ---------------------------------------------------------------------------------------------------------------

const FLAG_COMMENT = /^\/\/ (\S+) - computed: (true|false), optional: (true|false), required: (true|false)$/;

/** One attribute or block of a class, from its flag comment to the next. */
interface ClassMember {
  name: string;
  computed: boolean;
  optional: boolean;
  required: boolean;
  /** `new <className>(this, "<name>", <wrapsSet>)` when it is stored in an object. */
  stored?: { className: string; wrapsSet: boolean };
  /** The expression its getter returns. */
  getter?: string;
}

/** How a settable attribute or block is written out (an entry of `attrs` in a …HclTerraform function). */
interface HclEntry {
  isBlock: boolean;
  kind: string;
  storageClassType: string;
  /** Its camelCase property in the struct interface, when the value reads one. */
  property?: string;
}

/** The TypeScript source cdktf generated, from the inline source map of the compiled index.js. */
export function generatedSource(file: string, compiled: string): string {
  const map =
    /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/.exec(
      compiled,
    );
  const source = map?.[1]
    ? (JSON.parse(Buffer.from(map[1], 'base64').toString('utf8')) as { sourcesContent?: string[] })
        .sourcesContent?.[0]
    : undefined;
  if (!source) throw new Error(`${file}: no inline source map with the generated TypeScript`);
  return source;
}

/**
 * The schema block of the resource, data source or provider a binding's index.js defines. The largest bindings keep
 * their structs in index-structs/structs<N>.js beside it.
 */
export async function bindingSchema(indexJs: string): Promise<SchemaBlock> {
  const structsDir = join(indexJs, '../index-structs');
  const structFiles = (await readdir(structsDir).catch(() => [] as string[]))
    .filter((name) => /^structs\d+\.js$/.test(name))
    .map((name) => join(structsDir, name));
  const sources: string[] = [];
  for (const file of [indexJs, ...structFiles]) {
    sources.push(generatedSource(file, await readFile(file, 'utf8')));
  }
  return new Binding(indexJs, sources).schema();
}

class Binding {
  private readonly classes = new Map<string, ts.ClassDeclaration>();
  private readonly functions = new Map<string, ts.FunctionDeclaration>();
  private readonly interfaces = new Map<string, ts.InterfaceDeclaration>();

  constructor(
    private readonly file: string,
    sources: readonly string[],
  ) {
    for (const [index, source] of sources.entries()) {
      const sourceFile = ts.createSourceFile(`source${index}.ts`, source, ts.ScriptTarget.Latest, true);
      for (const statement of sourceFile.statements) {
        const name = (statement as { name?: ts.Identifier }).name?.text;
        if (!name) continue;
        if (ts.isClassDeclaration(statement)) this.classes.set(name, statement);
        else if (ts.isFunctionDeclaration(statement)) this.functions.set(name, statement);
        else if (ts.isInterfaceDeclaration(statement)) this.interfaces.set(name, statement);
      }
    }
  }

  schema(): SchemaBlock {
    const main = [...this.classes.values()].find((cls) =>
      cls.members.some(
        (member) => ts.isPropertyDeclaration(member) && member.name.getText() === 'tfResourceType',
      ),
    );
    if (!main) throw new Error(`${this.file}: no class with a tfResourceType`);
    const isProvider = (main.heritageClauses ?? []).some((clause) =>
      /TerraformProvider/.test(clause.getText()),
    );
    const synthesize = main.members.find(
      (member) => ts.isMethodDeclaration(member) && member.name.getText() === 'synthesizeHclAttributes',
    );
    const block = this.block(
      this.members(main),
      synthesize ? this.hclEntries(synthesize) : new Map(),
      undefined,
      [],
    );
    // cdktf adds `alias` to every provider ("somehow missing from provider schema"): a meta-argument, not the schema.
    if (isProvider) delete block.attributes?.alias;
    return block;
  }

  /** The schema block of a class (resource class or struct) given its members, its hcl entries and its interface. */
  private block(
    members: Map<string, ClassMember> | undefined,
    hcl: Map<string, HclEntry>,
    structInterface: ts.InterfaceDeclaration | undefined,
    path: string[],
  ): SchemaBlock {
    const attributes: Record<string, SchemaAttribute> = {};
    const blockTypes: Record<string, SchemaBlockType> = {};
    const names = new Set([...(members?.keys() ?? []), ...hcl.keys()]);
    for (const name of names) {
      const member = members?.get(name);
      const entry = hcl.get(name);
      const flags = member ?? this.interfaceFlags(structInterface, entry?.property);
      if (entry?.isBlock) {
        blockTypes[name] = this.blockType(entry, member, flags.required, [...path, name]);
      } else {
        const type = entry ? this.hclType(entry, [...path, name]) : this.memberType(member, [...path, name]);
        attributes[name] = {
          type,
          ...(flags.required ? { required: true } : {}),
          ...(flags.optional ? { optional: true } : {}),
          ...(flags.computed ? { computed: true } : {}),
        };
      }
    }
    return {
      ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
      ...(Object.keys(blockTypes).length > 0 ? { block_types: blockTypes } : {}),
    };
  }

  private blockType(
    entry: HclEntry,
    member: ClassMember | undefined,
    required: boolean,
    path: string[],
  ): SchemaBlockType {
    const nesting = ({ list: 'list', set: 'set', struct: 'single', map: 'map' } as const)[
      entry.kind as 'list' | 'set' | 'struct' | 'map'
    ];
    if (!nesting) throw new Error(`${this.where(path)}: block of unknown kind "${entry.kind}"`);
    const struct =
      entry.kind === 'struct' ? entry.storageClassType : entry.storageClassType.replace(/(List|Map)$/, '');
    const repeated = nesting === 'list' || nesting === 'set';
    // Only resource and data source classes keep a single-item block in an OutputReference; provider classes store
    // every block as an array, so a provider block's max_items is not known.
    const singleItem = member?.stored?.className.endsWith('OutputReference') === true;
    return {
      nesting_mode: nesting,
      ...(repeated && required ? { min_items: 1 } : {}),
      ...(repeated && singleItem ? { max_items: 1 } : {}),
      block: this.struct(struct, path),
    };
  }

  private struct(struct: string, path: string[]): SchemaBlock {
    if (path.length > 12) {
      throw new Error(`${this.where(path)}: nested too deeply (recursive struct ${struct}?)`);
    }
    const toHcl = this.functions.get(`${struct[0]?.toLowerCase()}${struct.slice(1)}ToHclTerraform`);
    if (!toHcl) throw new Error(`${this.where(path)}: no ToHclTerraform function for ${struct}`);
    const outputReference = this.classes.get(`${struct}OutputReference`);
    return this.block(
      outputReference ? this.members(outputReference) : undefined,
      this.hclEntries(toHcl),
      this.interfaces.get(struct),
      path,
    );
  }

  /** Required/optional of a struct property without an OutputReference class (provider blocks): its `?`. */
  private interfaceFlags(
    structInterface: ts.InterfaceDeclaration | undefined,
    property: string | undefined,
  ): Pick<ClassMember, 'computed' | 'optional' | 'required'> {
    const declaration = structInterface?.members.find((member) => member.name?.getText() === property);
    const optional = !declaration || declaration.questionToken !== undefined;
    return { computed: false, optional, required: !optional };
  }

  /** The attributes and blocks of a class, by Terraform name, from the flag comments. */
  private members(cls: ts.ClassDeclaration): Map<string, ClassMember> {
    const members = new Map<string, ClassMember>();
    let current: ClassMember | undefined;
    for (const member of cls.members) {
      const text = member.getSourceFile().text;
      for (const range of ts.getLeadingCommentRanges(text, member.pos) ?? []) {
        const flags = FLAG_COMMENT.exec(text.slice(range.pos, range.end));
        if (!flags?.[1]) continue;
        current = {
          name: flags[1],
          computed: flags[2] === 'true',
          optional: flags[3] === 'true',
          required: flags[4] === 'true',
        };
        members.set(current.name, current);
      }
      if (!current) continue;
      if (ts.isPropertyDeclaration(member) && member.initializer && ts.isNewExpression(member.initializer)) {
        const [, , wrapsSet] = member.initializer.arguments ?? [];
        current.stored = {
          className: member.initializer.expression.getText(),
          wrapsSet: wrapsSet?.kind === ts.SyntaxKind.TrueKeyword,
        };
      }
      if ((ts.isGetAccessor(member) || ts.isMethodDeclaration(member)) && current.getter === undefined) {
        const returned = member.body?.statements.find(ts.isReturnStatement)?.expression;
        current.getter = returned?.getText() ?? '';
      }
    }
    return members;
  }

  /** The `attrs` object literal of synthesizeHclAttributes() or a …ToHclTerraform() function. */
  private hclEntries(node: ts.Node): Map<string, HclEntry> {
    const entries = new Map<string, HclEntry>();
    const visit = (child: ts.Node): void => {
      if (
        ts.isVariableDeclaration(child) &&
        child.name.getText() === 'attrs' &&
        child.initializer &&
        ts.isObjectLiteralExpression(child.initializer)
      ) {
        for (const property of child.initializer.properties) {
          if (!ts.isPropertyAssignment(property) || !ts.isObjectLiteralExpression(property.initializer))
            continue;
          const fields = new Map(
            property.initializer.properties
              .filter(ts.isPropertyAssignment)
              .map((field) => [field.name.getText(), field.initializer] as const),
          );
          const literal = (key: string) => {
            const value = fields.get(key);
            return value && ts.isStringLiteral(value) ? value.text : '';
          };
          const name = ts.isStringLiteral(property.name) ? property.name.text : property.name.getText();
          entries.set(name, {
            isBlock: fields.get('isBlock')?.kind === ts.SyntaxKind.TrueKeyword,
            kind: literal('type'),
            storageClassType: literal('storageClassType'),
            property: /\bstruct!?\.(\w+)/.exec(fields.get('value')?.getText() ?? '')?.[1],
          });
        }
        return;
      }
      ts.forEachChild(child, visit);
    };
    visit(node);
    return entries;
  }

  /** The cty type of a settable attribute. */
  private hclType(entry: HclEntry, path: string[]): Json {
    const primitive = /^(string|number|boolean|any)((?:List|Map)*)$/.exec(entry.storageClassType);
    if (primitive?.[1]) {
      let type: Json = PRIMITIVES[primitive[1]] ?? 'dynamic';
      for (const wrapper of primitive[2]?.match(/List|Map/g) ?? [])
        type = [wrapper === 'List' ? 'list' : 'map', type];
      // The outermost collection is the entry's kind (a set is stored as a list).
      if (entry.kind === 'set' && Array.isArray(type)) type = ['set', type[1] ?? 'dynamic'];
      return type;
    }
    const struct =
      entry.kind === 'struct' ? entry.storageClassType : entry.storageClassType.replace(/(List|Map)$/, '');
    const object = this.objectType(struct, path);
    if (entry.kind === 'list' || entry.kind === 'set' || entry.kind === 'map') return [entry.kind, object];
    return object;
  }

  /** The cty type of an attribute only the provider sets, from its getter. */
  private memberType(member: ClassMember | undefined, path: string[]): Json {
    if (!member) throw new Error(`${this.where(path)}: neither a class member nor an hcl entry`);
    const getter = member.getter ?? '';
    if (member.stored && /^this\._\w+$/.test(getter)) return this.storedType(member.stored, path);
    for (const [pattern, type] of GETTER_TYPES) if (pattern.test(getter)) return type;
    throw new Error(`${this.where(path)}: unrecognised getter "${getter}"`);
  }

  private storedType(stored: { className: string; wrapsSet: boolean }, path: string[]): Json {
    const builtIn = CDKTF_COLLECTIONS[stored.className];
    if (builtIn) return builtIn;
    const [, struct, wrapper] = /^(\w+?)(OutputReference|List|Map)$/.exec(stored.className) ?? [];
    if (!struct) throw new Error(`${this.where(path)}: unrecognised stored class ${stored.className}`);
    const object = this.objectType(struct, path);
    if (wrapper === 'List') return [stored.wrapsSet ? 'set' : 'list', object];
    if (wrapper === 'Map') return ['map', object];
    return object;
  }

  /** ["object", {…}] of a struct (an attribute of object type, not a block). */
  private objectType(struct: string, path: string[]): Json {
    return blockAsObject(this.struct(struct, path));
  }

  private where(path: string[]): string {
    return `${this.file}: ${path.join('.')}`;
  }
}

const PRIMITIVES: Readonly<Record<string, string>> = {
  string: 'string',
  number: 'number',
  boolean: 'bool',
  any: 'dynamic',
};

/** Getter calls of attributes only the provider sets (cdktf's AttributesEmitter.determineGetAttCall). */
const GETTER_TYPES: readonly [RegExp, Json][] = [
  [/^this\.getStringAttribute\(/, 'string'],
  [/^this\.getNumberAttribute\(/, 'number'],
  [/^this\.getBooleanAttribute\(/, 'bool'],
  [/^cdktf\.Fn\.tolist\(this\.getListAttribute\(/, ['set', 'string']],
  [/^this\.getListAttribute\(/, ['list', 'string']],
  [/^cdktf\.Token\.asNumberList\(cdktf\.Fn\.tolist\(this\.getNumberListAttribute\(/, ['set', 'number']],
  [/^this\.getNumberListAttribute\(/, ['list', 'number']],
  [/^this\.getBooleanListAttribute\(/, ['list', 'bool']],
  [/^this\.getStringMapAttribute\(/, ['map', 'string']],
  [/^this\.getNumberMapAttribute\(/, ['map', 'number']],
  [/^this\.getBooleanMapAttribute\(/, ['map', 'bool']],
  [/^this\.getAnyMapAttribute\(/, ['map', 'dynamic']],
  // Not implemented by cdktf ("Getting the computed value is not yet implemented"): the type is not known.
  [/interpolationForAttribute\(/, 'dynamic'],
];

const CDKTF_COLLECTIONS: Readonly<Record<string, Json>> = {
  'cdktf.StringMap': ['map', 'string'],
  'cdktf.NumberMap': ['map', 'number'],
  'cdktf.BooleanMap': ['map', 'bool'],
  'cdktf.AnyMap': ['map', 'dynamic'],
  'cdktf.StringMapList': ['list', ['map', 'string']],
  'cdktf.NumberMapList': ['list', ['map', 'number']],
  'cdktf.BooleanMapList': ['list', ['map', 'bool']],
  'cdktf.AnyMapList': ['list', ['map', 'dynamic']],
};

/** The object type a block's value has in expressions. */
function blockAsObject(block: SchemaBlock): Json {
  const fields: JsonObject = {};
  for (const [name, attribute] of Object.entries(block.attributes ?? {})) fields[name] = attribute.type;
  for (const [name, nested] of Object.entries(block.block_types ?? {})) {
    const object = blockAsObject(nested.block);
    fields[name] =
      nested.nesting_mode === 'single' ? object : [nested.nesting_mode === 'set' ? 'set' : 'list', object];
  }
  return ['object', fields];
}

function shortAddress(address: string): string {
  return address.split('/').slice(1).join('/');
}

// ---------------------------------------------------------------------------------------------------------------
// Source 2: `terraform providers schema -json`
// ---------------------------------------------------------------------------------------------------------------

/** The selected types of a Terraform-format schema document, reduced to the fields this file keeps. */
export function filterTerraformSchema(
  document: unknown,
  selection: Selection,
  origin: string,
): Record<string, ProviderSchema> {
  const problems = schemaShapeProblems(document, false);
  if (problems.length > 0) {
    const why = problems.slice(0, 2).join('; ');
    throw new InputError(`${origin} is not the output of terraform providers schema -json: ${why}`);
  }
  const all = (document as ProviderSchemaFile).provider_schemas;
  const schemas: Record<string, ProviderSchema> = {};
  for (const [address, used] of selection.providers) {
    const provider = all[address];
    if (!provider) throw new InputError(`${origin} has no schema for provider ${address}`);
    const pick = (section: 'resource_schemas' | 'data_source_schemas', types: Set<string>, what: string) => {
      const picked: Record<string, { block: SchemaBlock }> = {};
      for (const type of types) {
        const schema = provider[section]?.[type];
        if (!schema) throw new InputError(`unknown ${what} ${type} in ${address} (${origin})`);
        picked[type] = { block: normaliseBlock(schema.block) };
      }
      return picked;
    };
    schemas[address] = {
      provider: { block: normaliseBlock(provider.provider.block) },
      resource_schemas: pick('resource_schemas', used.resources, 'resource type'),
      data_source_schemas: pick('data_source_schemas', used.dataSources, 'data source type'),
    };
  }
  return schemas;
}

interface NestedType {
  attributes?: Record<string, SchemaAttribute & { nested_type?: NestedType }>;
  nesting_mode?: string;
}

/**
 * A block with only the fields kept: an attribute's type and flags, a block type's nesting and item limits. A nested
 * attribute (plugin framework `nested_type`) becomes the object type Terraform gives it, as cdktf does.
 */
export function normaliseBlock(block: SchemaBlock): SchemaBlock {
  const attributes: Record<string, SchemaAttribute> = {};
  for (const [name, attribute] of Object.entries(block.attributes ?? {})) {
    const nested = (attribute as { nested_type?: NestedType }).nested_type;
    attributes[name] = {
      type: nested ? nestedTypeAsType(nested) : attribute.type,
      ...(attribute.required ? { required: true } : {}),
      ...(attribute.optional ? { optional: true } : {}),
      ...(attribute.computed ? { computed: true } : {}),
    };
  }
  const blockTypes: Record<string, SchemaBlockType> = {};
  for (const [name, blockType] of Object.entries(block.block_types ?? {})) {
    blockTypes[name] = {
      nesting_mode: blockType.nesting_mode,
      ...(blockType.min_items ? { min_items: blockType.min_items } : {}),
      ...(blockType.max_items ? { max_items: blockType.max_items } : {}),
      block: normaliseBlock(blockType.block),
    };
  }
  return {
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    ...(Object.keys(blockTypes).length > 0 ? { block_types: blockTypes } : {}),
  };
}

function nestedTypeAsType(nested: NestedType): Json {
  const fields: JsonObject = {};
  for (const [name, attribute] of Object.entries(nested.attributes ?? {})) {
    fields[name] = attribute.nested_type ? nestedTypeAsType(attribute.nested_type) : attribute.type;
  }
  const object: Json = ['object', fields];
  return nested.nesting_mode === 'single' || !nested.nesting_mode ? object : [nested.nesting_mode, object];
}

/** Provider versions from a dependency lock file (`provider "<address>" { version = "…" }`). */
async function lockFileVersions(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new InputError(`cannot read the lock file ${file}`);
  });
  const hcl2json = createRequire(import.meta.url)('@cdktf/hcl2json') as {
    parse(name: string, text: string): Promise<JsonObject>;
  };
  const parsed = await hcl2json.parse(file, text).catch(() => {
    throw new InputError(`${file} is not an HCL lock file`);
  });
  const versions: Record<string, string> = {};
  for (const [address, locks] of Object.entries(obj(parsed.provider))) {
    const version = Array.isArray(locks) ? obj(locks[0]).version : undefined;
    if (typeof version === 'string') versions[providerAddress(address)] = version;
  }
  return versions;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing: sorted keys, two-space indentation, arrays on one line when they fit (as Biome formats JSON), so that
// `biome check` leaves the file alone and a diff shows only what changed.
// ---------------------------------------------------------------------------------------------------------------

const LINE_WIDTH = 110;

export function canonicalJson(value: Json): string {
  return `${layout(sortKeys(value), 0, 0, false)}\n`;
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: JsonObject = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key] ?? null);
  return sorted;
}

/** `column`: characters before the value on its line; `comma`: whether a comma follows it. */
function layout(value: Json, depth: number, column: number, comma: boolean): string {
  const inner = '  '.repeat(depth + 1);
  const outer = '  '.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const flat = flatArray(value);
    if (flat !== undefined && column + flat.length + (comma ? 1 : 0) <= LINE_WIDTH) return flat;
    const items = value.map((item, i) => inner + layout(item, depth + 1, inner.length, i < value.length - 1));
    return `[\n${items.join(',\n')}\n${outer}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([key, item], i) => {
      const prefix = `${inner}${JSON.stringify(key)}: `;
      return prefix + layout(item, depth + 1, prefix.length, i < entries.length - 1);
    });
    return `{\n${lines.join(',\n')}\n${outer}}`;
  }
  return JSON.stringify(value);
}

/** An array on one line, or undefined when it holds an object with keys (which always takes several lines). */
function flatArray(value: Json[]): string | undefined {
  const items: string[] = [];
  for (const item of value) {
    if (Array.isArray(item)) {
      const nested = item.length === 0 ? '[]' : flatArray(item);
      if (nested === undefined) return undefined;
      items.push(nested);
    } else if (item !== null && typeof item === 'object') {
      if (Object.keys(item).length > 0) return undefined;
      items.push('{}');
    } else {
      items.push(JSON.stringify(item));
    }
  }
  return `[${items.join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

export async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const options = parseOptions(argv);
  const terraformDir = options.terraformDir;
  const config = await loadTerraform(terraformDir).catch((error: Error) => {
    throw new InputError(`cannot load the configuration in ${terraformDir}: ${error.message.split('\n')[0]}`);
  });
  if (config.files.length === 0) throw new InputError(`no .tf files in ${terraformDir}`);
  const selection = selectTypes(config, options.types);

  let schemas: Record<string, ProviderSchema>;
  let versions: Record<string, string>;
  let source: string;
  if (options.fromTerraform) {
    const file = options.fromTerraform;
    const text = await readFile(file, 'utf8').catch(() => {
      throw new InputError(`cannot read ${file}`);
    });
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new InputError(`${file} is not JSON (expected terraform providers schema -json output)`);
    }
    schemas = filterTerraformSchema(document, selection, relative(process.cwd(), file) || file);
    const defaultLockFile = join(terraformDir, '.terraform.lock.hcl');
    const lockFile =
      options.lockFile ??
      ((await stat(defaultLockFile).catch(() => undefined)) ? defaultLockFile : undefined);
    versions = {};
    const known = { ...(lockFile ? await lockFileVersions(lockFile) : {}), ...options.versions };
    for (const address of selection.providers.keys()) {
      const version = known[address];
      if (!version) {
        throw new InputError(
          `no version for ${address}: Terraform's schema JSON has none; pass --version ${address}=<x.y.z> or --lock-file`,
        );
      }
      versions[address] = version;
    }
    source = `terraform providers schema -json (${relative(REPOSITORY, file)})`;
  } else {
    const fromCdktf = await schemaFromCdktf(selection, options.cdktf);
    schemas = fromCdktf.schemas;
    versions = fromCdktf.versions;
    source = fromCdktf.sources.join(', ');
  }

  const document: ProviderSchemaFile = {
    format_version: FORMAT_VERSION,
    provider_schemas: Object.fromEntries(
      Object.entries(schemas).map(([address, schema]) => [address, dropEmptySections(schema)]),
    ),
    roomcast: { source, providers: versions, command: commandLine(argv), note: NOTE },
  };
  const out = options.out;
  const json = canonicalJson(document as unknown as Json);
  await writeFile(out, json);
  console.log(`wrote ${relative(process.cwd(), out)} (${(Buffer.byteLength(json) / 1024).toFixed(1)} KiB)`);
  for (const [address, schema] of Object.entries(document.provider_schemas)) {
    const resources = Object.keys(schema.resource_schemas ?? {}).sort();
    const dataSources = Object.keys(schema.data_source_schemas ?? {}).sort();
    console.log(`  ${shortAddress(address)} ${versions[address]}: provider block`);
    if (resources.length > 0) console.log(`    resources: ${resources.join(', ')}`);
    if (dataSources.length > 0) console.log(`    data sources: ${dataSources.join(', ')}`);
  }
  console.log(`  from ${source}`);
}

function dropEmptySections(schema: ProviderSchema): ProviderSchema {
  return {
    provider: schema.provider,
    ...(Object.keys(schema.resource_schemas ?? {}).length > 0
      ? { resource_schemas: schema.resource_schemas }
      : {}),
    ...(Object.keys(schema.data_source_schemas ?? {}).length > 0
      ? { data_source_schemas: schema.data_source_schemas }
      : {}),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof InputError) {
      console.error(`provider-schema: ${error.message}`);
      process.exit(2);
    }
    throw error;
  });
}
