/**
 * The component's exports: the WIT's `tools` (and empty `prompts`,
 * `resources`, `completions`), served from what `tool()` registered.
 * `wasm-mcp-build` makes these the component's exports; an app never
 * writes them itself.
 */
import { log } from './host.ts';
import { InvalidArguments, ToolError } from './errors.ts';
import { toToolResult } from './content.ts';
import { TOOLS, invoke } from './tools.ts';

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
      if (error instanceof ToolError) {
        throw { tag: 'failed', val: error.message };
      }
      // A bug in the tool: say what, keep the stack in the log.
      const failure = error instanceof Error ? error : new Error(String(error));
      log.error(`tool \`${name}\` threw: ${failure.stack ?? failure.message}`);
      throw { tag: 'failed', val: `${failure.name}: ${failure.message}` };
    }
  },
};

export const prompts = {
  listPrompts() {
    return [];
  },
  getPrompt(name: string) {
    throw { tag: 'not-found', val: `no prompt named \`${name}\`` };
  },
};

export const resources = {
  listResources() {
    return [];
  },
  listTemplates() {
    return [];
  },
  read(uri: string) {
    throw { tag: 'not-found', val: `no resource at \`${uri}\`` };
  },
};

export const completions = {
  complete() {
    return { values: [], hasMore: false };
  },
};
