/**
 * The component's exports: the WIT's `tools`, `prompts`, `resources` and
 * `completions`, served from what `tool()`, `prompt()` and `resource()`
 * registered.
 * `wasm-mcp-build` makes these the component's exports; an app never
 * writes them itself.
 */
import { log } from './host.ts';
import { InvalidArguments, ToolError } from './errors.ts';
import { toToolResult } from './content.ts';
import { TOOLS, invoke } from './tools.ts';
import { PROMPTS, RESOURCES, ResourceNotFound, complete, fill, find, read } from './offers.ts';

/**
 * What a handler's exception tells the client: a `ToolError`'s message as
 * it is; for anything else (a bug), its name and message, with the stack in
 * the host's log.
 */
function failure(what: string, error: unknown): string {
  if (error instanceof ToolError) {
    return error.message;
  }
  const thrown = error instanceof Error ? error : new Error(String(error));
  log.error(`${what} threw: ${thrown.stack ?? thrown.message}`);
  return `${thrown.name}: ${thrown.message}`;
}

export const tools = {
  listTools() {
    return [...TOOLS.values()].map((registered) => ({
      name: registered.name,
      title: registered.title,
      description: registered.description,
      inputSchema: registered.inputSchema,
      outputSchema: registered.outputSchema,
      annotations: registered.annotations,
    }));
  },

  call(name: string, argumentsJson: string) {
    const registered = TOOLS.get(name);
    if (!registered) {
      throw { tag: 'invalid-arguments', val: `no tool named \`${name}\`: this plugin has ${[...TOOLS.keys()].join(', ')}` };
    }
    try {
      return toToolResult(invoke(registered, argumentsJson));
    } catch (error) {
      if (error instanceof InvalidArguments) {
        throw { tag: 'invalid-arguments', val: error.message };
      }
      throw { tag: 'failed', val: failure(`tool \`${name}\``, error) };
    }
  },
};

export const prompts = {
  listPrompts() {
    return [...PROMPTS.values()].map((registered) => ({
      name: registered.name,
      title: registered.title,
      description: registered.description,
      arguments: registered.arguments.map(({ name, description, required }) => ({ name, description, required })),
    }));
  },

  getPrompt(name: string, given: [string, string][]) {
    const registered = PROMPTS.get(name);
    if (!registered) {
      throw { tag: 'not-found', val: `no prompt named \`${name}\`: this plugin has ${[...PROMPTS.keys()].join(', ') || 'none'}` };
    }
    try {
      const messages = fill(registered, given).map(({ role, content }) => ({ role, content: content.wit }));
      return { description: registered.description, messages };
    } catch (error) {
      if (error instanceof InvalidArguments) {
        throw { tag: 'invalid-arguments', val: error.message };
      }
      throw { tag: 'failed', val: failure(`prompt \`${name}\``, error) };
    }
  },
};

export const resources = {
  listResources() {
    return [...RESOURCES.values()]
      .filter((registered) => !registered.pattern)
      .map(({ uri, name, config }) => ({ uri, name, title: config.title, description: config.description, mimeType: config.mimeType }));
  },

  listTemplates() {
    return [...RESOURCES.values()]
      .filter((registered) => registered.pattern)
      .map(({ uri, name, config }) => ({
        uriTemplate: uri,
        name,
        title: config.title,
        description: config.description,
        mimeType: config.mimeType,
      }));
  },

  read(uri: string) {
    const found = find(uri);
    if (!found) {
      throw { tag: 'not-found', val: `no resource at \`${uri}\`` };
    }
    try {
      const { mimeType, body } = read(found.registered, found.variables, uri);
      const wrapped = typeof body === 'string' ? { tag: 'text' as const, val: body } : { tag: 'blob' as const, val: body };
      return [{ uri, mimeType, body: wrapped }];
    } catch (error) {
      if (error instanceof ResourceNotFound) {
        throw { tag: 'not-found', val: error.message || `no resource at \`${uri}\`` };
      }
      throw { tag: 'failed', val: failure(`resource \`${uri}\``, error) };
    }
  },
};

export const completions = {
  complete(reference: { tag: 'prompt' | 'resource-template'; val: string }, argument: string, value: string) {
    const offered = complete(reference, argument, value);
    return { values: offered.slice(0, 100), total: offered.length, hasMore: offered.length > 100 };
  },
};
