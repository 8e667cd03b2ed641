/**
 * `prompt()` and `resource()`: what a plugin offers besides tools, in the
 * shape of the official TypeScript SDK's `registerPrompt` and
 * `registerResource`. Prompt arguments and template variables reach a
 * plugin as strings (MCP says so): a prompt's zod shape checks them (use
 * `z.coerce.number()` for a number), and its `z.enum` arguments are offered
 * as completions; a template says its completions itself.
 */
import { z } from 'zod';

import { text, type Block } from './content.ts';
import { InvalidArguments } from './errors.ts';
import { describeIssues, jsonSchemaOf, type Shape } from './schema.ts';
import { noPromise } from './tools.ts';

/** One message of a filled-in prompt. */
export interface Message {
  role: 'user' | 'assistant';
  content: string | Block;
}

export type PromptMessages = string | Message | (string | Message)[];

export interface PromptConfig<A extends Shape> {
  title?: string;
  description?: string;
  /** The arguments, by name: zod types that take a string (`.describe()` gives each a description). */
  argsSchema?: A;
}

interface Argument {
  name: string;
  description?: string;
  required: boolean;
  /** The values offered as completions. */
  choices: string[];
}

export interface RegisteredPrompt {
  name: string;
  title?: string;
  description?: string;
  input: z.ZodObject;
  arguments: Argument[];
  handler: (args: unknown) => PromptMessages;
}

export const PROMPTS = new Map<string, RegisteredPrompt>();

function argumentsOf(input: z.ZodObject): Argument[] {
  const schema = jsonSchemaOf(input, 'input') as {
    properties?: Record<string, { description?: string; enum?: unknown[] }>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    description: property.description,
    required: schema.required?.includes(name) ?? false,
    choices: (property.enum ?? []).map(String),
  }));
}

/**
 * Register a prompt template:
 *
 * ```ts
 * prompt('review', {
 *   description: 'Asks for a code review.',
 *   argsSchema: { code: z.string(), focus: z.enum(['bugs', 'style']).default('bugs') },
 * }, ({ code, focus }) => `Review this code for ${focus}:\n${code}`);
 * ```
 *
 * The handler returns a string (one user message), a `{ role, content }`
 * message, or an array of them; it may `sample`, `elicit` or ask for
 * `roots` first.
 */
export function prompt<A extends Shape>(
  name: string,
  config: PromptConfig<A>,
  handler: (args: z.output<z.ZodObject<A>>) => PromptMessages,
): void {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) {
    throw new Error(`prompt name ${JSON.stringify(name)} is not valid: use 1 to 128 letters, digits, _, - or .`);
  }
  if (PROMPTS.has(name)) {
    throw new Error(`two prompts are named ${JSON.stringify(name)}`);
  }
  const input = z.object(config.argsSchema ?? {}).strict();
  PROMPTS.set(name, {
    name,
    title: config.title,
    description: config.description,
    input,
    arguments: argumentsOf(input),
    handler: handler as (args: unknown) => PromptMessages,
  });
}

/** Check the client's arguments, run the prompt; its messages, with string content as text blocks. */
export function fill(registered: RegisteredPrompt, given: [string, string][]): { role: 'user' | 'assistant'; content: Block }[] {
  const parsed = registered.input.safeParse(Object.fromEntries(given));
  if (!parsed.success) {
    throw new InvalidArguments(`prompt \`${registered.name}\`: ${describeIssues(parsed.error)}`);
  }
  const value = noPromise(registered.handler(parsed.data), `prompt ${registered.name}`);
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    const message: Message = typeof item === 'string' ? { role: 'user', content: item } : item;
    if (message.role !== 'user' && message.role !== 'assistant') {
      throw new Error(`prompt ${registered.name} returned a message with role ${JSON.stringify(message.role)}`);
    }
    return { role: message.role, content: typeof message.content === 'string' ? text(message.content) : message.content };
  });
}

/** Raise it from a resource's handler: the client gets MCP's "resource not found". */
export class ResourceNotFound extends Error {
  override name = 'ResourceNotFound';
}

export interface ResourceConfig {
  title?: string;
  description?: string;
  mimeType?: string;
  /** For a template: each variable's completions, as a list or from what the user typed. */
  complete?: Record<string, readonly string[] | ((typed: string) => string[])>;
}

/** A string is text, bytes are a blob, anything else is sent as JSON. */
export type ResourceBody = string | Uint8Array | Record<string, unknown> | unknown[];

export interface RegisteredResource {
  uri: string;
  name: string;
  config: ResourceConfig;
  /** For a template: the URI split at its variables. */
  pattern?: UriTemplate;
  handler: (uri: string, variables: Record<string, string>) => ResourceBody;
}

export const RESOURCES = new Map<string, RegisteredResource>();

const VARIABLE = /\{(\+?)([A-Za-z0-9_.]+)\}/g;

/** The longest URI a template matches, in UTF-8 bytes (the host's limit too). */
const MAX_URI_BYTES = 8192;

/** A URI template split at its variables: `literals[i]` comes before variable `i`, the last literal after them all. */
export interface UriTemplate {
  literals: string[];
  names: string[];
  reserved: boolean[];
}

/**
 * The template in `uri` (`{name}` is one segment, `{+name}` the rest), or
 * none for a plain URI. Like the host, it refuses other `{...}` forms and
 * two variables in a row (nothing could tell their values apart).
 */
export function parseTemplate(uri: string): UriTemplate | undefined {
  const variables = [...uri.matchAll(VARIABLE)];
  if (variables.length === 0) {
    return undefined;
  }
  const literals: string[] = [];
  let end = 0;
  for (const variable of variables) {
    literals.push(uri.slice(end, variable.index));
    end = variable.index + variable[0].length;
  }
  literals.push(uri.slice(end));
  if (literals.some((literal) => literal.includes('{') || literal.includes('}'))) {
    throw new Error(`resource template ${JSON.stringify(uri)}: only {name} and {+name} are supported`);
  }
  if (literals.slice(1, -1).some((literal) => literal === '')) {
    throw new Error(`resource template ${JSON.stringify(uri)}: two variables in a row cannot be told apart; put text between them`);
  }
  return {
    literals,
    names: variables.map((variable) => variable[2]),
    reserved: variables.map((variable) => variable[1] === '+'),
  };
}

/**
 * The variables' percent-decoded values if `uri` is an instance of
 * `template`, else none. Each value is at least one character; when `uri`
 * splits more than one way, earlier variables take as much as they can. A
 * malformed %-escape is no match. Time is linear in `uri`'s length (per
 * literal character), and URIs over 8 KiB match nothing, so no URI can
 * stall the plugin. The host and the other SDKs agree, case by case, on
 * `tests/cases/uri_templates.json`.
 */
export function matchTemplate(template: UriTemplate, uri: string): Record<string, string> | undefined {
  if (utf8Length(uri) > MAX_URI_BYTES) {
    return undefined;
  }
  const ends = variableEnds(template, uri);
  if (!ends) {
    return undefined;
  }
  const values: [string, string][] = [];
  let start = template.literals[0].length;
  for (let variable = 0; variable < ends.length; variable++) {
    const value = decode(uri.slice(start, ends[variable]));
    if (value === undefined) {
      return undefined;
    }
    values.push([template.names[variable], value]);
    start = ends[variable] + template.literals[variable + 1].length;
  }
  return Object.fromEntries(values);
}

/** `text`'s length in UTF-8 bytes, or a number over the limit once it is sure to be. */
function utf8Length(text: string): number {
  if (text.length > MAX_URI_BYTES) {
    return text.length;
  }
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    // A surrogate is half of a 4-byte character.
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit < 0xe000 ? 2 : 3;
  }
  return bytes;
}

/**
 * Where each variable's value ends, earlier ones taking as much as they
 * can, or none when `uri` is no instance. No backtracking: a pass from the
 * right notes, for each variable and position, the last end from which the
 * rest still matches (-1 for none); a pass from the left then picks each end.
 */
function variableEnds(template: UriTemplate, uri: string): number[] | undefined {
  const { literals, reserved } = template;
  const size = uri.length;
  if (!uri.startsWith(literals[0])) {
    return undefined;
  }
  // stops[i]: the first `/`, `?` or `#` at or after i (or the end).
  const stops = new Int32Array(size + 1).fill(size);
  for (let index = size - 1; index >= 0; index--) {
    const unit = uri[index];
    stops[index] = unit === '/' || unit === '?' || unit === '#' ? index : stops[index + 1];
  }
  const choose = (latest: Int32Array, variable: number, start: number): number | undefined => {
    const end = latest[reserved[variable] ? size : stops[start]];
    return end > start ? end : undefined;
  };
  const count = reserved.length;
  const latest: Int32Array[] = new Array(count);
  for (let variable = count - 1; variable >= 0; variable--) {
    const literal = literals[variable + 1];
    const row = new Int32Array(size + 1);
    let best = -1;
    for (let end = 0; end <= size; end++) {
      let fits = false;
      if (uri.startsWith(literal, end)) {
        fits =
          variable === count - 1
            ? end + literal.length === size
            : choose(latest[variable + 1], variable + 1, end + literal.length) !== undefined;
      }
      if (fits) {
        best = end;
      }
      row[end] = best;
    }
    latest[variable] = row;
  }
  const ends: number[] = [];
  let start = literals[0].length;
  for (let variable = 0; variable < count; variable++) {
    const end = choose(latest[variable], variable, start);
    if (end === undefined) {
      return undefined;
    }
    ends.push(end);
    start = end + literals[variable + 1].length;
  }
  return ends;
}

/** `value` with its %-escapes decoded as UTF-8, or none when one is malformed. */
function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Register a resource the client may read at `uri`. With `{variables}` in
 * it (`{name}` is one path segment, `{+name}` the rest), it is a template,
 * and the handler gets each variable's decoded value:
 *
 * ```ts
 * resource('notes', 'notes://{day}', { mimeType: 'text/plain' }, (uri, { day }) => notesOf(day));
 * ```
 *
 * The handler returns a string (text), a `Uint8Array` (a blob) or other
 * data (JSON); it throws `ResourceNotFound` when nothing is there.
 */
export function resource(
  name: string,
  uri: string,
  config: ResourceConfig,
  handler: (uri: string, variables: Record<string, string>) => ResourceBody,
): void {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri)) {
    throw new Error(`resource URI ${JSON.stringify(uri)} needs a scheme, such as notes:// or file:///`);
  }
  if (RESOURCES.has(uri)) {
    throw new Error(`two resources have the URI ${JSON.stringify(uri)}`);
  }
  const pattern = parseTemplate(uri);
  const variables = [...uri.matchAll(VARIABLE)].map((variable) => variable[2]);
  for (const completed of Object.keys(config.complete ?? {})) {
    if (!variables.includes(completed)) {
      throw new Error(`resource ${uri}: \`complete\` names ${completed}, which is not one of its variables`);
    }
  }
  RESOURCES.set(uri, { uri, name, config, pattern, handler });
}

/** The resource at `uri`, and its template variables' values. */
export function find(uri: string): { registered: RegisteredResource; variables: Record<string, string> } | undefined {
  const fixed = RESOURCES.get(uri);
  if (fixed && !fixed.pattern) {
    return { registered: fixed, variables: {} };
  }
  for (const registered of RESOURCES.values()) {
    const variables = registered.pattern ? matchTemplate(registered.pattern, uri) : undefined;
    if (variables) {
      return { registered, variables };
    }
  }
  return undefined;
}

/** Run the resource's handler: its MIME type and body. */
export function read(registered: RegisteredResource, variables: Record<string, string>, uri: string): { mimeType: string; body: string | Uint8Array } {
  const value = noPromise(registered.handler(uri, variables), `resource ${registered.uri}`);
  if (value instanceof Uint8Array) {
    return { mimeType: registered.config.mimeType ?? 'application/octet-stream', body: value };
  }
  if (typeof value === 'string') {
    return { mimeType: registered.config.mimeType ?? 'text/plain', body: value };
  }
  return { mimeType: registered.config.mimeType ?? 'application/json', body: JSON.stringify(value) };
}

/** Completions for a prompt's argument or a template's variable, given what the user typed. */
export function complete(reference: { tag: 'prompt' | 'resource-template'; val: string }, argument: string, typed: string): string[] {
  let offered: readonly string[] = [];
  if (reference.tag === 'prompt') {
    offered = PROMPTS.get(reference.val)?.arguments.find((a) => a.name === argument)?.choices ?? [];
  } else {
    const source = RESOURCES.get(reference.val)?.config.complete?.[argument];
    offered = typeof source === 'function' ? source(typed) : (source ?? []);
  }
  return offered.filter((value) => value.startsWith(typed));
}
