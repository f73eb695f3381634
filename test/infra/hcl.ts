import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * infra/terraform as data: every `*.tf` file parsed by @cdktf/hcl2json (HashiCorp's HCL parser compiled to WASM,
 * offline) and merged into one configuration. Expressions stay strings, e.g. `"${aws_dynamodb_table.connections.arn}"`;
 * literal maps and lists stay JSON.
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export interface TerraformConfig {
  /** `*.tf` file names. */
  files: string[];
  /** type → name → the block (its attributes and nested blocks; nested blocks are arrays). */
  resources: Record<string, Record<string, JsonObject>>;
  data: Record<string, Record<string, JsonObject>>;
  /** All `locals` blocks merged. */
  locals: JsonObject;
  variables: Record<string, JsonObject>;
  outputs: Record<string, JsonObject>;
  /** `provider` blocks by local name; several when aliased. Always set by loadTerraform. */
  providers?: Record<string, JsonObject[]>;
  /** Every `terraform` block (required_version, required_providers, …), in file order. Always set by loadTerraform. */
  terraform?: JsonObject[];
  /** Anything declared twice (Terraform refuses it). */
  duplicates: string[];
}

interface Hcl2Json {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
}

// Loaded with require rather than `import`: the package's typings start with `/// <reference lib="dom" />`, which
// would add the DOM globals to the type-check of the whole project.
const hcl2json = createRequire(import.meta.url)('@cdktf/hcl2json') as Hcl2Json;

export async function loadTerraform(dir: string): Promise<TerraformConfig> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.tf')).sort();
  const config: Required<TerraformConfig> = {
    files,
    resources: {},
    data: {},
    locals: {},
    variables: {},
    outputs: {},
    providers: {},
    terraform: [],
    duplicates: [],
  };
  for (const file of files) {
    const parsed = (await hcl2json.parse(file, await readFile(join(dir, file), 'utf8'))) as JsonObject;
    mergeTyped(config.resources, parsed.resource, 'resource', config.duplicates);
    mergeTyped(config.data, parsed.data, 'data', config.duplicates);
    mergeNamed(config.variables, parsed.variable, 'variable', config.duplicates);
    mergeNamed(config.outputs, parsed.output, 'output', config.duplicates);
    for (const [localName, providers] of Object.entries(obj(parsed.provider))) {
      config.providers[localName] = [...(config.providers[localName] ?? []), ...blocks(providers)];
    }
    config.terraform.push(...blocks(parsed.terraform));
    for (const locals of list(parsed.locals)) {
      for (const [name, value] of Object.entries(obj(locals))) {
        if (name in config.locals) config.duplicates.push(`local.${name}`);
        config.locals[name] = value;
      }
    }
  }
  return config;
}

function mergeTyped(
  into: Record<string, Record<string, JsonObject>>,
  section: Json | undefined,
  kind: string,
  duplicates: string[],
): void {
  for (const [type, byName] of Object.entries(obj(section))) {
    into[type] ??= {};
    mergeNamed(into[type], byName, `${kind} ${type}`, duplicates);
  }
}

function mergeNamed(
  into: Record<string, JsonObject>,
  section: Json | undefined,
  kind: string,
  duplicates: string[],
): void {
  for (const [name, blocks] of Object.entries(obj(section))) {
    if (name in into || list(blocks).length !== 1) duplicates.push(`${kind}.${name}`);
    into[name] = block(blocks);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the JSON without trusting its shape: a wrong shape reads as empty, and the checks report what is missing.
// ---------------------------------------------------------------------------------------------------------------

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function obj(value: Json | undefined): JsonObject {
  return isObject(value) ? value : {};
}

export function list(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

/** A nested block (hcl2json makes each one an array of one object), or the object itself. */
export function block(value: Json | undefined): JsonObject {
  return Array.isArray(value) ? obj(value[0]) : obj(value);
}

/** Every block of a repeated nested block type (`attribute`, `statement`, ...). */
export function blocks(value: Json | undefined): JsonObject[] {
  return list(value).filter(isObject);
}

export function str(value: Json | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function strings(value: Json | undefined): string[] {
  return list(value).filter((item): item is string => typeof item === 'string');
}

/** `${expression}`: how hcl2json writes an expression, and how the checks name the ones they expect. */
export function ref(expression: string): string {
  return `\${${expression}}`;
}

/** Every string anywhere inside a value. */
export function allStrings(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(allStrings);
  if (isObject(value)) return Object.values(value).flatMap(allStrings);
  return [];
}
