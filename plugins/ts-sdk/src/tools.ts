/**
 * `tool()`: a handler with zod schemas becomes an MCP tool. Tools are
 * registered while the component is built (componentize-js runs the module
 * then), so a schema zod cannot express in JSON Schema fails the build,
 * not a call.
 */
import { z } from 'zod';

import { InvalidArguments } from './errors.ts';
import { describeIssues, jsonSchemaOf, type Shape } from './schema.ts';

/** Hints about what a tool does; unset means MCP's default. */
export interface ToolAnnotations {
  readOnly?: boolean;
  destructive?: boolean;
  idempotent?: boolean;
  openWorld?: boolean;
}

export interface ToolConfig<I extends Shape, O extends Shape | undefined> {
  title?: string;
  /** What the tool does, for the model that decides to call it. */
  description: string;
  /** The arguments, by name; `.describe()` gives each a description. */
  inputSchema: I;
  /** The structured output's fields: the handler then returns such an object. */
  outputSchema?: O;
  annotations?: ToolAnnotations;
}

export type ToolHandler<I extends Shape, O extends Shape | undefined> = (
  args: z.output<z.ZodObject<I>>,
) => O extends Shape ? z.input<z.ZodObject<O>> : unknown;

export interface RegisteredTool {
  name: string;
  title?: string;
  description: string;
  input: z.ZodObject;
  inputSchema: string;
  outputSchema?: string;
  annotations?: ToolAnnotations;
  handler: (args: unknown) => unknown;
}

export const TOOLS = new Map<string, RegisteredTool>();

/**
 * Register a tool, in the shape of the official TypeScript SDK's
 * `registerTool`:
 *
 * ```ts
 * tool('shout', { description: 'Shouts the text back.', inputSchema: { text: z.string() } },
 *   ({ text }) => text.toUpperCase());
 * ```
 */
export function tool<I extends Shape, O extends Shape | undefined = undefined>(
  name: string,
  config: ToolConfig<I, O>,
  handler: ToolHandler<I, O>,
): void {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) {
    throw new Error(`tool name ${JSON.stringify(name)} is not valid: use 1 to 128 letters, digits, _, - or .`);
  }
  if (TOOLS.has(name)) {
    throw new Error(`two tools are named ${JSON.stringify(name)}`);
  }
  if (!config.description) {
    throw new Error(`tool ${name} needs a description`);
  }
  const input = z.object(config.inputSchema).strict();
  const output = config.outputSchema ? z.object(config.outputSchema) : undefined;
  TOOLS.set(name, {
    name,
    title: config.title,
    description: config.description,
    input,
    inputSchema: JSON.stringify(jsonSchemaOf(input, 'input')),
    outputSchema: output ? JSON.stringify(jsonSchemaOf(output, 'output')) : undefined,
    annotations: config.annotations,
    handler: handler as (args: unknown) => unknown,
  });
}

/** Parse and check the client's arguments, then run the tool. */
export function invoke(registered: RegisteredTool, argumentsJson: string): unknown {
  let value: unknown;
  try {
    value = argumentsJson.trim() ? JSON.parse(argumentsJson) : {};
  } catch (error) {
    throw new InvalidArguments(`the arguments are not JSON: ${(error as Error).message}`);
  }
  const parsed = registered.input.safeParse(value);
  if (!parsed.success) {
    throw new InvalidArguments(describeIssues(parsed.error));
  }
  return noPromise(registered.handler(parsed.data), `tool ${registered.name}`);
}

/** A handler's value, or an error saying an `async` handler cannot run here. */
export function noPromise<T>(value: T, what: string): T {
  if (value instanceof Promise) {
    throw new Error(`${what} returned a Promise: the SDK's calls block, so write the handler without async/await`);
  }
  return value;
}

