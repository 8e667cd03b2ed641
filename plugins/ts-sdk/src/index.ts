/**
 * wasm-mcp's TypeScript SDK: MCP tools with zod schemas, built into
 * sandboxed WebAssembly components (componentize-js).
 *
 * ```ts
 * import { z } from 'zod';
 * import { append, sample, tool } from '@wasm-mcp/sdk';
 *
 * tool('explain', {
 *   description: 'Explains a log line with the client\'s LLM and keeps the answer.',
 *   inputSchema: { line: z.string().describe('The raw log line.') },
 * }, ({ line }) => {
 *   const answer = sample(`Explain in one sentence: ${line}`, { maxTokens: 100 });
 *   append('explained.txt', `${line}\n${answer}\n`);
 *   return answer;
 * });
 * ```
 *
 * Build with `wasm-mcp-build src/app.ts -o app.wasm`. Every call the SDK
 * makes to the host blocks until it is answered, so handlers are plain
 * synchronous functions.
 */
/// <reference path="../types/plugin.d.ts" />

export { tool } from './tools.ts';
export type { ToolConfig, ToolAnnotations, ToolHandler } from './tools.ts';
export { prompt, resource, ResourceNotFound } from './offers.ts';
export type { Message, PromptConfig, PromptMessages, ResourceBody, ResourceConfig } from './offers.ts';
export { text, image, audio, resourceLink, embeddedResource, result, type Block, type Hints, type ToolResult } from './content.ts';
export {
  ToolError,
  InvalidArguments,
  SampleError,
  AppendError,
  ElicitError,
  RootsError,
} from './errors.ts';
export { sample, Sample, type Answer, type SampleOptions } from './sampling.ts';
export { append, log, progress, elicit, roots, type Elicited, type Root } from './host.ts';
