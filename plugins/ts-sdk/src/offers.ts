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
  pattern?: RegExp;
  handler: (uri: string, variables: Record<string, string>) => ResourceBody;
}

export const RESOURCES = new Map<string, RegisteredResource>();

const VARIABLE = /\{(\+?)([A-Za-z0-9_.]+)\}/g;

/** A regex for a URI template (`{name}` is one segment, `{+name}` the rest), or none for a plain URI. */
function templatePattern(uri: string): RegExp | undefined {
  if (!uri.match(VARIABLE)) {
    return undefined;
  }
  const escape = (literal: string) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let source = '';
  let end = 0;
  for (const variable of uri.matchAll(VARIABLE)) {
    source += escape(uri.slice(end, variable.index));
    source += variable[1] ? '(.+)' : '([^/?#]+)';
    end = variable.index + variable[0].length;
  }
  return new RegExp(`^${source}${escape(uri.slice(end))}$`);
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
  const pattern = templatePattern(uri);
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
    const match = registered.pattern?.exec(uri);
    if (match) {
      const names = [...registered.uri.matchAll(VARIABLE)].map((variable) => variable[2]);
      try {
        const variables = Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(match[index + 1])]));
        return { registered, variables };
      } catch {
        // A malformed %-escape names no resource here.
      }
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
