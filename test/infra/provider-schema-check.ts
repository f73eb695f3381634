import { blocks, isObject, type Json, type JsonObject, list, obj, str, type TerraformConfig } from './hcl.ts';

/**
 * infra/terraform checked against the provider schemas in test/infra/provider-schema.json (written by
 * scripts/provider-schema.ts): every argument and nested block of every resource, data source and provider block, and
 * every reference to an attribute of one, must exist in the schema of the exact provider version the configuration
 * pins. This is what `terraform validate` checks once the providers are installed, which cannot happen here.
 */

// ---------------------------------------------------------------------------------------------------------------
// The schema file: Terraform's own `terraform providers schema -json` format (the fields kept), plus `roomcast`.
// ---------------------------------------------------------------------------------------------------------------

export interface SchemaAttribute {
  /** A cty type in JSON: "string", "number", "bool", "dynamic", ["list", T], ["set", T], ["map", T], ["object", {…}]. */
  type: Json;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
}

export type NestingMode = 'single' | 'group' | 'list' | 'set' | 'map';

export interface SchemaBlockType {
  nesting_mode: NestingMode;
  min_items?: number;
  max_items?: number;
  block: SchemaBlock;
}

export interface SchemaBlock {
  attributes?: Record<string, SchemaAttribute>;
  block_types?: Record<string, SchemaBlockType>;
}

export interface ProviderSchema {
  provider: { block: SchemaBlock };
  resource_schemas?: Record<string, { block: SchemaBlock }>;
  data_source_schemas?: Record<string, { block: SchemaBlock }>;
}

/** Where a schema file came from, so that a reader (and this check) knows which provider versions it describes. */
export interface SchemaProvenance {
  source: string;
  /** Provider address ("registry.terraform.io/hashicorp/aws") → the exact version described. */
  providers: Record<string, string>;
  command: string;
  note?: string;
}

export interface ProviderSchemaFile {
  format_version: string;
  provider_schemas: Record<string, ProviderSchema>;
  roomcast: SchemaProvenance;
}

/** The file the check reads and scripts/provider-schema.ts writes, relative to the repository. */
export const SCHEMA_FILE = 'test/infra/provider-schema.json';
export const SCHEMA_SCRIPT = 'npx tsx scripts/provider-schema.ts';

const NESTING_MODES: readonly string[] = ['single', 'group', 'list', 'set', 'map'];

/**
 * Checks that a parsed JSON document has the shape of Terraform's schema format, deeply enough that the check can walk
 * it without guarding every step. Returns the problems (empty when it has that shape).
 */
export function schemaShapeProblems(json: unknown, requireProvenance: boolean): string[] {
  const problems: string[] = [];
  if (!isObject(json as Json)) return ['not a JSON object'];
  const file = json as JsonObject;
  if (typeof file.format_version !== 'string') problems.push('no "format_version"');
  if (!isObject(file.provider_schemas)) return [...problems, 'no "provider_schemas" object'];
  for (const [address, provider] of Object.entries(file.provider_schemas)) {
    if (!isObject(provider)) {
      problems.push(`provider_schemas["${address}"] is not an object`);
      continue;
    }
    blockShapeProblems(obj(provider.provider).block, `${address} provider`, problems);
    for (const section of ['resource_schemas', 'data_source_schemas']) {
      const schemas = provider[section];
      if (schemas === undefined) continue;
      if (!isObject(schemas)) problems.push(`${address} ${section} is not an object`);
      for (const [type, schema] of Object.entries(obj(schemas))) {
        blockShapeProblems(obj(schema).block, `${address} ${type}`, problems);
      }
    }
  }
  if (requireProvenance) {
    const provenance = obj(file.roomcast);
    if (typeof provenance.source !== 'string' || !isObject(provenance.providers)) {
      problems.push(
        'no "roomcast" object with "source" and "providers" (written by scripts/provider-schema.ts)',
      );
    }
  }
  return problems;
}

function blockShapeProblems(block: Json | undefined, where: string, problems: string[]): void {
  if (!isObject(block)) {
    problems.push(`${where}: no "block" object`);
    return;
  }
  for (const [name, attribute] of Object.entries(obj(block.attributes))) {
    if (!isObject(attribute) || (attribute.type === undefined && !isObject(attribute.nested_type))) {
      problems.push(`${where}: attribute "${name}" has no "type"`);
    }
  }
  for (const [name, blockType] of Object.entries(obj(block.block_types))) {
    const nesting = obj(blockType).nesting_mode;
    if (typeof nesting !== 'string' || !NESTING_MODES.includes(nesting)) {
      problems.push(`${where}: block type "${name}" has no valid "nesting_mode"`);
    }
    blockShapeProblems(obj(blockType).block, `${where} ${name}`, problems);
  }
}

/** A parsed schema file, or an Error saying why it is not one. */
export function asSchemaFile(json: unknown): ProviderSchemaFile {
  const problems = schemaShapeProblems(json, true);
  if (problems.length > 0) throw new Error(`not a provider schema file: ${problems.slice(0, 3).join('; ')}`);
  return json as ProviderSchemaFile;
}

// ---------------------------------------------------------------------------------------------------------------
// Providers of the configuration
// ---------------------------------------------------------------------------------------------------------------

/** A provider source as Terraform normalises it: "hashicorp/aws" → "registry.terraform.io/hashicorp/aws". */
export function providerAddress(source: string): string {
  const parts = source.toLowerCase().split('/');
  if (parts.length === 1) return `registry.terraform.io/hashicorp/${parts[0]}`;
  if (parts.length === 2) return `registry.terraform.io/${parts.join('/')}`;
  return parts.join('/');
}

export interface RequiredProvider {
  source?: string;
  version?: string;
}

/**
 * The provider local name of a resource or data source: its `provider` meta-argument ("aws.east" → aws), else the
 * first word of its type (Terraform's default).
 */
export function providerLocalName(type: string, body?: JsonObject): string {
  const meta = /^\$\{\s*([\w-]+)/.exec(str(body?.provider) ?? '')?.[1];
  return meta ?? type.split('_')[0] ?? type;
}

/** `terraform { required_providers { … } }` by local name (the legacy `aws = "~> 6.0"` form is a version). */
export function requiredProviders(config: TerraformConfig): Record<string, RequiredProvider> {
  const required: Record<string, RequiredProvider> = {};
  for (const terraform of config.terraform ?? []) {
    for (const entries of blocks(terraform.required_providers)) {
      for (const [localName, entry] of Object.entries(entries)) {
        required[localName] = isObject(entry)
          ? { source: str(entry.source), version: str(entry.version) }
          : { version: str(entry) };
      }
    }
  }
  return required;
}

// ---------------------------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------------------------

/** Arguments and blocks Terraform itself interprets in a resource or data source block. */
export const RESOURCE_META: ReadonlySet<string> = new Set([
  'count',
  'for_each',
  'depends_on',
  'provider',
  'lifecycle',
  'provisioner',
  'connection',
]);
const DATA_META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle']);
const PROVIDER_META = new Set(['alias', 'version']);
const DYNAMIC_ARGUMENTS = new Set(['for_each', 'iterator', 'labels', 'content']);

/**
 * Every way the configuration disagrees with the provider schemas, one readable line each; empty when it agrees.
 * `schema` is test/infra/provider-schema.json as parsed (see asSchemaFile).
 */
export function checkProviderSchema(config: TerraformConfig, schema: ProviderSchemaFile): string[] {
  return new SchemaCheck(config, schema).run();
}

type Kind = 'resource' | 'data';

class SchemaCheck {
  private readonly problems: string[] = [];
  private readonly required: Record<string, RequiredProvider>;

  constructor(
    private readonly config: TerraformConfig,
    private readonly schema: ProviderSchemaFile,
  ) {
    this.required = requiredProviders(config);
  }

  run(): string[] {
    this.checkPins();
    for (const [localName, providerBlocks] of Object.entries(this.config.providers ?? {})) {
      const provider = this.providerSchema(localName);
      for (const body of providerBlocks) {
        const alias = str(body.alias);
        const where = `provider "${localName}"${alias ? ` (alias ${alias})` : ''}`;
        if (!provider) {
          this.problems.push(`${where}: ${this.notInSchema(`provider ${this.address(localName)}`)}`);
          continue;
        }
        this.checkBody(body, provider.provider.block, where, PROVIDER_META, this.label(localName));
      }
    }
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries(
        kind === 'resource' ? this.config.resources : this.config.data,
      )) {
        for (const [name, body] of Object.entries(byName)) this.checkDeclaration(kind, type, name, body);
      }
    }
    this.checkReferences();
    return this.problems;
  }

  // -- versions ------------------------------------------------------------------------------------------------

  /** Each provider the configuration uses must be pinned to exactly the version its schema was taken from. */
  private checkPins(): void {
    const localNames = new Set([
      ...Object.keys(this.config.providers ?? {}),
      ...[...Object.keys(this.config.resources), ...Object.keys(this.config.data)].map((type) =>
        providerLocalName(type),
      ),
    ]);
    for (const localName of [...localNames].sort()) {
      const address = this.address(localName);
      const described = this.schema.roomcast.providers[address];
      if (!described) continue; // reported where its types are checked
      const constraint = this.required[localName]?.version;
      if (constraint === undefined) {
        this.problems.push(
          `terraform.required_providers.${localName}: no version; pin exactly "${described}", the version ` +
            `${SCHEMA_FILE} describes`,
        );
      } else if (constraint.replace(/^\s*=?\s*/, '').trim() !== described) {
        this.problems.push(
          `terraform.required_providers.${localName}.version is "${constraint}": pin exactly "${described}", the version ` +
            `${SCHEMA_FILE} describes (or re-run ${SCHEMA_SCRIPT} for the version you pin)`,
        );
      }
    }
  }

  // -- blocks --------------------------------------------------------------------------------------------------

  private checkDeclaration(kind: Kind, type: string, name: string, body: JsonObject): void {
    const where = `${kind === 'data' ? 'data.' : ''}${type}.${name}`;
    const localName = providerLocalName(type, body);
    const block = this.typeSchema(kind, type, localName);
    if (!block) {
      const what = `${kind === 'data' ? 'data source type data.' : 'resource type '}${type}`;
      this.problems.push(`${where}: ${this.notInSchema(what)}`);
      return;
    }
    this.checkBody(body, block, where, kind === 'data' ? DATA_META : RESOURCE_META, this.label(localName));
    if (kind === 'resource') this.checkIgnoreChanges(body, block, where, this.label(localName));
  }

  /** One block's body (hcl2json: nested blocks are arrays of objects, `dynamic` an object of arrays). */
  private checkBody(
    body: JsonObject,
    block: SchemaBlock,
    where: string,
    meta: ReadonlySet<string>,
    label: string,
  ): void {
    const attributes = block.attributes ?? {};
    const blockTypes = block.block_types ?? {};
    const dynamicNames = new Set(Object.keys(obj(body.dynamic)));
    for (const [key, value] of Object.entries(body)) {
      if (meta.has(key)) continue;
      if (key === 'dynamic' && isObject(value)) {
        this.checkDynamic(value, block, where, label);
        continue;
      }
      const attribute = attributes[key];
      const blockType = blockTypes[key];
      if (attribute) {
        if (attribute.computed && !attribute.optional && !attribute.required) {
          this.problems.push(`${where}: "${key}" is computed by the provider and cannot be set (${label})`);
        } else if (isBlockSyntax(value) && !elementsCanBeObjects(attribute.type)) {
          this.problems.push(`${where}: "${key}" is an argument, not a block: write ${key} = … (${label})`);
        }
      } else if (blockType) {
        if (!isBlockSyntax(value)) {
          // cdktf's bindings cannot tell a plugin-framework single nested attribute (`x = { … }`) from a single
          // block, so with that nesting an object or an expression is accepted (an object is still checked).
          if (blockType.nesting_mode === 'single') {
            if (isObject(value)) this.checkBody(value, blockType.block, `${where} > ${key}`, NO_META, label);
          } else {
            this.problems.push(
              `${where}: "${key}" is a block, not an argument: write ${key} { … } (${label})`,
            );
          }
          continue;
        }
        const instances = blocks(value);
        const max =
          blockType.nesting_mode === 'single' || blockType.nesting_mode === 'group' ? 1 : blockType.max_items;
        if (max !== undefined && instances.length > max) {
          this.problems.push(
            `${where}: ${instances.length} "${key}" blocks, at most ${max} allowed (${label})`,
          );
        }
        for (const [index, instance] of instances.entries()) {
          const path = instances.length > 1 ? `${key}[${index}]` : key;
          this.checkBody(instance, blockType.block, `${where} > ${path}`, NO_META, label);
        }
      } else {
        const what = isBlockSyntax(value) ? 'block' : 'argument';
        this.problems.push(`${where}: unknown ${what} "${key}"${suggestion(key, block)} (${label})`);
      }
    }
    for (const [name, attribute] of Object.entries(attributes)) {
      if (attribute.required && !(name in body)) {
        this.problems.push(`${where}: missing required argument "${name}" (${label})`);
      }
    }
    for (const [name, blockType] of Object.entries(blockTypes)) {
      const min = blockType.min_items ?? 0;
      const present = blocks(body[name]).length;
      if (min > 0 && present < min && !dynamicNames.has(name)) {
        const need =
          min === 1 ? `missing required block "${name}"` : `needs at least ${min} "${name}" blocks`;
        this.problems.push(`${where}: ${need} (${label})`);
      }
    }
  }

  private checkDynamic(dynamic: JsonObject, block: SchemaBlock, where: string, label: string): void {
    for (const [name, generators] of Object.entries(dynamic)) {
      const blockType = block.block_types?.[name];
      const here = `${where} > dynamic "${name}"`;
      if (!blockType) {
        this.problems.push(
          block.attributes?.[name]
            ? `${here}: "${name}" is an argument, and dynamic only generates blocks (${label})`
            : `${here}: unknown block "${name}"${suggestion(name, block)} (${label})`,
        );
        continue;
      }
      for (const generator of blocks(generators)) {
        for (const key of Object.keys(generator)) {
          if (!DYNAMIC_ARGUMENTS.has(key))
            this.problems.push(`${here}: unknown dynamic block argument "${key}"`);
        }
        if (!('content' in generator)) this.problems.push(`${here}: no content block`);
        for (const content of blocks(generator.content)) {
          this.checkBody(content, blockType.block, `${here} content`, NO_META, label);
        }
      }
    }
  }

  /** lifecycle { ignore_changes = [...] } names attributes of the resource. */
  private checkIgnoreChanges(body: JsonObject, block: SchemaBlock, where: string, label: string): void {
    for (const lifecycle of blocks(body.lifecycle)) {
      const ignored = lifecycle.ignore_changes;
      for (const item of typeof ignored === 'string' ? [] : list(ignored)) {
        const name = /^\$\{\s*([\w-]+)/.exec(str(item) ?? '')?.[1] ?? str(item);
        if (!name || name === 'all') continue;
        if (!block.attributes?.[name] && !block.block_types?.[name]) {
          this.problems.push(
            `${where}: lifecycle.ignore_changes names "${name}", which it does not have (${label})`,
          );
        }
      }
    }
  }

  // -- references ----------------------------------------------------------------------------------------------

  private checkReferences(): void {
    const sources: [string, Json][] = [];
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries(
        kind === 'resource' ? this.config.resources : this.config.data,
      )) {
        for (const [name, body] of Object.entries(byName)) {
          sources.push([`${kind === 'data' ? 'data.' : ''}${type}.${name}`, body]);
        }
      }
    }
    for (const [name, value] of Object.entries(this.config.locals)) sources.push([`local.${name}`, value]);
    for (const [name, value] of Object.entries(this.config.outputs)) sources.push([`output.${name}`, value]);
    for (const [name, value] of Object.entries(this.config.variables)) sources.push([`var.${name}`, value]);
    for (const [localName, bodies] of Object.entries(this.config.providers ?? {})) {
      sources.push([`provider "${localName}"`, bodies]);
    }
    const seen = new Set<string>();
    for (const [where, value] of sources) {
      for (const text of stringsIn(value)) {
        for (const code of expressionCode(text)) {
          for (const traversal of traversals(code)) {
            const problem = this.referenceProblem(traversal);
            const line = problem && `${where}: ${problem}`;
            if (line && !seen.has(line)) {
              seen.add(line);
              this.problems.push(line);
            }
          }
        }
      }
    }
  }

  /** What is wrong with one traversal (`aws_x.name[…].attr…` or `data.aws_x.name…`), if it refers to a resource. */
  private referenceProblem(traversal: Traversal): string | undefined {
    const steps = [...traversal.steps];
    let kind: Kind = 'resource';
    let type = traversal.root;
    if (type === 'data') {
      const next = steps.shift();
      if (next?.kind !== 'attribute') return undefined;
      kind = 'data';
      type = next.name;
    } else if (!this.config.resources[type] && !this.looksLikeProviderType(type)) {
      return undefined;
    }
    const nameStep = steps.shift();
    if (nameStep?.kind !== 'attribute') return undefined;
    const declared = (kind === 'data' ? this.config.data : this.config.resources)[type]?.[nameStep.name];
    const address = `${kind === 'data' ? 'data.' : ''}${type}.${nameStep.name}`;
    const text = traversal.text;
    if (!declared) return `reference ${text}: no ${address} is declared`;
    const localName = providerLocalName(type, declared);
    const block = this.typeSchema(kind, type, localName);
    if (!block) return undefined; // reported at its declaration
    const label = this.label(localName);

    const repeated = 'count' in declared || 'for_each' in declared;
    const first = steps[0];
    if (first?.kind === 'attribute' && repeated) {
      const meta = 'count' in declared ? 'count' : 'for_each';
      return `reference ${text}: ${address} has ${meta}, so it needs an instance key before ".${first.name}"`;
    }
    if (first?.kind === 'index' && !repeated) {
      return `reference ${text}: ${address} has neither count nor for_each, so it takes no instance key`;
    }
    if (first?.kind === 'index' || first?.kind === 'splat') steps.shift();
    return walkBlock(block, steps, `${kind === 'data' ? 'data.' : ''}${type}`, text, label);
  }

  // -- lookups -------------------------------------------------------------------------------------------------

  private address(localName: string): string {
    return providerAddress(this.required[localName]?.source ?? `hashicorp/${localName}`);
  }

  private providerSchema(localName: string): ProviderSchema | undefined {
    return this.schema.provider_schemas[this.address(localName)];
  }

  private typeSchema(kind: Kind, type: string, localName: string): SchemaBlock | undefined {
    const provider = this.providerSchema(localName);
    return (kind === 'data' ? provider?.data_source_schemas : provider?.resource_schemas)?.[type]?.block;
  }

  private looksLikeProviderType(name: string): boolean {
    return name.includes('_') && this.address(providerLocalName(name)) in this.schema.provider_schemas;
  }

  /** "aws 6.25.0" */
  private label(localName: string): string {
    const address = this.address(localName);
    return `${address.split('/').pop()} ${this.schema.roomcast.providers[address] ?? '(version unknown)'}`;
  }

  private notInSchema(what: string): string {
    return `${what} is not in ${SCHEMA_FILE}; if the provider has it, re-run ${SCHEMA_SCRIPT}`;
  }
}

const NO_META: ReadonlySet<string> = new Set();

/** hcl2json writes a block as an array of objects; an argument is anything else (a string, an object, …). */
function isBlockSyntax(value: Json | undefined): boolean {
  return Array.isArray(value) && value.length > 0 && value.every(isObject);
}

/** Whether `name = [{…}]` can be a valid value: a list or set of objects or maps, or a dynamic value. */
function elementsCanBeObjects(type: Json): boolean {
  if (type === 'dynamic') return true;
  if (!Array.isArray(type)) return false;
  const [kind, element] = type;
  if (kind === 'list' || kind === 'set') {
    return (
      element === 'dynamic' || (Array.isArray(element) && (element[0] === 'object' || element[0] === 'map'))
    );
  }
  return kind === 'tuple';
}

/** ` (did you mean "x"?)` when a name of the block is one or two edits away. */
function suggestion(name: string, block: SchemaBlock): string {
  const names = [...Object.keys(block.attributes ?? {}), ...Object.keys(block.block_types ?? {})];
  const best = names
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .filter(({ distance }) => distance <= Math.min(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  return best ? `, did you mean "${best.candidate}"?` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Follows attribute and index steps through a block schema, nested blocks and attribute types. */
function walkBlock(
  block: SchemaBlock,
  steps: Step[],
  owner: string,
  text: string,
  label: string,
): string | undefined {
  const step = steps[0];
  if (!step) return undefined;
  if (step.kind !== 'attribute') return undefined; // an index on a block: not something a schema says more about
  const rest = steps.slice(1);
  const attribute = block.attributes?.[step.name];
  if (attribute) return walkType(attribute.type, rest, `${owner}.${step.name}`, text, label);
  const blockType = block.block_types?.[step.name];
  if (!blockType) {
    return `reference ${text}: ${owner} has no attribute or block "${step.name}"${suggestion(step.name, block)} (${label})`;
  }
  const next = rest[0];
  const nested = `${owner}.${step.name}`;
  if (blockType.nesting_mode === 'single' || blockType.nesting_mode === 'group') {
    return walkBlock(blockType.block, rest, nested, text, label);
  }
  if (next?.kind === 'index' || next?.kind === 'splat')
    return walkBlock(blockType.block, rest.slice(1), nested, text, label);
  if (next?.kind === 'attribute' && blockType.nesting_mode !== 'map') {
    return `reference ${text}: ${nested} is a ${blockType.nesting_mode} of blocks, so it needs an index before ".${next.name}" (${label})`;
  }
  return undefined;
}

function walkType(type: Json, steps: Step[], owner: string, text: string, label: string): string | undefined {
  const step = steps[0];
  if (!step || !Array.isArray(type)) return undefined; // primitives and dynamic: nothing further to check
  const [kind, inner] = type;
  if (kind === 'object' && isObject(inner)) {
    if (step.kind !== 'attribute') return undefined;
    if (!(step.name in inner))
      return `reference ${text}: ${owner} has no attribute "${step.name}" (${label})`;
    return walkType(inner[step.name] ?? 'dynamic', steps.slice(1), `${owner}.${step.name}`, text, label);
  }
  if ((kind === 'list' || kind === 'set' || kind === 'map') && inner !== undefined) {
    if (kind !== 'map' && step.kind === 'attribute') {
      return `reference ${text}: ${owner} is a ${kind}, so it needs an index before ".${step.name}" (${label})`;
    }
    return walkType(inner, steps.slice(1), owner, text, label);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Expressions in hcl2json strings
// ---------------------------------------------------------------------------------------------------------------

function stringsIn(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (isObject(value)) return [...Object.keys(value), ...Object.values(value).flatMap(stringsIn)];
  return [];
}

/**
 * The code of every expression in an hcl2json string: each `${…}` interpolation and `%{…}` directive, and those of
 * the string templates inside them, with string literals blanked (so text like "$context.requestId" is not code).
 */
export function expressionCode(template: string): string[] {
  const found: string[] = [];
  scanTemplate(template, 0, undefined, found);
  return found;
}

/** Scans template text from `start` to its end (or to the closing quote); returns the index it stopped at. */
function scanTemplate(text: string, start: number, quote: '"' | undefined, found: string[]): number {
  let i = start;
  while (i < text.length) {
    const char = text[i];
    if (quote && char === '\\') {
      i += 2;
    } else if (quote && char === quote) {
      return i;
    } else if (text.startsWith('$${', i) || text.startsWith('%%{', i)) {
      i += 3;
    } else if (text.startsWith('${', i) || text.startsWith('%{', i)) {
      i = scanExpression(text, i + 2, found) + 1;
    } else {
      i += 1;
    }
  }
  return i;
}

/** Scans an expression from `start` to its closing `}`; records its code; returns the index of that `}`. */
function scanExpression(text: string, start: number, found: string[]): number {
  let code = '';
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const char = text[i] ?? '';
    if (char === '"') {
      i = scanTemplate(text, i + 1, '"', found) + 1;
      code += '""';
      continue;
    }
    if (char === '#' || text.startsWith('//', i)) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
      continue;
    }
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    const heredoc = /^<<-?([A-Za-z_]\w*)\r?\n/.exec(text.slice(i, i + 80));
    if (heredoc?.[1]) {
      const close = new RegExp(`\\n[ \\t]*${heredoc[1]}(?!\\w)`).exec(text.slice(i + heredoc[0].length));
      const bodyEnd = close ? i + heredoc[0].length + close.index : text.length;
      scanTemplate(text.slice(0, bodyEnd), i + heredoc[0].length, undefined, found);
      i = close ? bodyEnd + close[0].length : text.length;
      code += '""';
      continue;
    }
    if (char === '{') depth += 1;
    if (char === '}') {
      if (depth === 0) break;
      depth -= 1;
    }
    code += char;
    i += 1;
  }
  found.push(code.replace(/^~|~$/g, ''));
  return i;
}

type Step = { kind: 'attribute'; name: string } | { kind: 'index' } | { kind: 'splat' };

interface Traversal {
  root: string;
  steps: Step[];
  /** The traversal as written, for messages. */
  text: string;
}

/** Every `name.attr[index][*].attr…` traversal in expression code (string literals already blanked). */
export function traversals(code: string): Traversal[] {
  const found: Traversal[] = [];
  const root = /(?<![\w.\-\]])([A-Za-z_][\w-]*)/g;
  for (let match = root.exec(code); match; match = root.exec(code)) {
    const start = match.index;
    let i = start + (match[1] ?? '').length;
    const steps: Step[] = [];
    for (;;) {
      const attribute = /^\.([A-Za-z_][\w-]*)/.exec(code.slice(i));
      if (attribute?.[1]) {
        steps.push({ kind: 'attribute', name: attribute[1] });
        i += attribute[0].length;
        continue;
      }
      const legacy = /^\.(\d+|\*)/.exec(code.slice(i));
      if (legacy?.[1]) {
        steps.push(legacy[1] === '*' ? { kind: 'splat' } : { kind: 'index' });
        i += legacy[0].length;
        continue;
      }
      if (code[i] === '[') {
        const close = closingBracket(code, i);
        if (close < 0) break;
        steps.push(/^\[\s*\*\s*\]$/.test(code.slice(i, close + 1)) ? { kind: 'splat' } : { kind: 'index' });
        i = close + 1;
        continue;
      }
      break;
    }
    // A function call (name followed by "(") is not a traversal.
    if (steps.length > 0 && !/^\s*\(/.test(code.slice(i))) {
      found.push({ root: match[1] ?? '', steps, text: code.slice(start, i) });
    }
  }
  return found;
}

function closingBracket(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i += 1) {
    if (code[i] === '[') depth += 1;
    if (code[i] === ']') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}
