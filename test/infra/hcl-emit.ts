import { isObject, type Json } from './hcl.ts';

/**
 * Writing hcl2json's JSON back as HCL expressions. hcl2json keeps every string in Terraform's JSON template syntax
 * ("literal ${expression} literal"; a string that is one interpolation is that expression's value), so a string is
 * turned back into either the bare expression or a quoted HCL template.
 */

export type TemplatePart = { literal: string } | { expression: string };

/** Splits a template into literal parts and `${…}` interpolations (`$${` stays a literal escape). */
export function templateParts(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('$${', i) || template.startsWith('%%{', i)) {
      literal += template.slice(i, i + 3);
      i += 3;
    } else if (template.startsWith('%{', i)) {
      throw new Error(`template directives (%{…}) are not supported: ${template}`);
    } else if (template.startsWith('${', i)) {
      const end = closingBrace(template, i + 2);
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ expression: template.slice(i + 2, end).replace(/^~|~$/g, '') });
      i = end + 1;
    } else {
      literal += template[i];
      i += 1;
    }
  }
  if (literal) parts.push({ literal });
  return parts;
}

/** Index of the `}` that closes the interpolation whose expression starts at `start`, skipping nested strings. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') i = closingQuote(text, i + 1);
    else if (char === '{') depth += 1;
    else if (char === '}') {
      if (depth === 0) return i;
      depth -= 1;
    }
    i += 1;
  }
  throw new Error(`unterminated interpolation in ${text}`);
}

/** Index of the `"` closing a quoted string inside an expression (which may hold escapes and interpolations). */
function closingQuote(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const char = text[i];
    if (char === '\\') i += 2;
    else if (char === '"') return i;
    else if (text.startsWith('${', i)) i = closingBrace(text, i + 2) + 1;
    else i += 1;
  }
  throw new Error(`unterminated string in ${text}`);
}

/** The expression a string stands for, if it is exactly one interpolation. */
export function soleExpression(value: string): string | undefined {
  const parts = templateParts(value);
  const [only] = parts;
  return parts.length === 1 && only && 'expression' in only ? only.expression : undefined;
}

/** Applies `rewrite` to the expression text of every interpolation of a template. */
export function rewriteTemplate(template: string, rewrite: (expression: string) => string): string {
  return templateParts(template)
    .map((part) => ('literal' in part ? part.literal : `\${${rewrite(part.expression)}}`))
    .join('');
}

/** A JSON value (hcl2json's) as an HCL expression. */
export function hclExpression(value: Json | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const expression = soleExpression(value);
    if (expression !== undefined) return `(${expression})`;
    return `"${templateParts(value)
      .map((part) => ('literal' in part ? escapeLiteral(part.literal) : `\${${part.expression}}`))
      .join('')}"`;
  }
  if (Array.isArray(value)) return `[${value.map(hclExpression).join(', ')}]`;
  return hclObject(Object.entries(value));
}

/** An HCL object constructor; keys that are `${expression}` stay expressions. */
export function hclObject(entries: [string, Json | undefined][]): string {
  if (entries.length === 0) return '{}';
  const lines = entries.map(([key, value]) => {
    const keyExpression = soleExpression(key);
    const hclKey = keyExpression !== undefined ? `(${keyExpression})` : JSON.stringify(key);
    return `  ${hclKey} = ${indent(typeof value === 'string' ? hclExpression(value) : hclExpression(value))}`;
  });
  return `{\n${lines.join('\n')}\n}`;
}

/** Literal text inside a quoted template: HCL escapes, and the `$${`/`%%{` escapes it already has kept. */
function escapeLiteral(literal: string): string {
  return literal
    .replaceAll('\\', '\\\\')
    .replaceAll('"', '\\"')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t');
}

export function indent(text: string): string {
  return text.replaceAll('\n', '\n  ');
}

/** Every string of a JSON value rewritten by `rewrite` (keys included). */
export function mapStrings(value: Json, rewrite: (text: string) => string): Json {
  if (typeof value === 'string') return rewrite(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, rewrite));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [rewrite(key), mapStrings(item, rewrite)]),
    );
  }
  return value;
}
