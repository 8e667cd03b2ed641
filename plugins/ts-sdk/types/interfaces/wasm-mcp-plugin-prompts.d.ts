/// <reference path="./wasm-mcp-plugin-content.d.ts" />
declare module 'wasm-mcp:plugin/prompts@0.2.0' {
  /**
   * Called once, when the host loads the plugin.
   */
  export function listPrompts(): Array<Prompt>;
  /**
   * Fill in prompt `name` with `arguments` (name, value pairs). It may
   * ask the client (`sample`, `elicit`, `list-roots`) first.
   */
  export function getPrompt(name: string, arguments: Array<[string, string]>): Filled;
  export type ContentBlock = import('wasm-mcp:plugin/content@0.2.0').ContentBlock;
  export type Role = import('wasm-mcp:plugin/content@0.2.0').Role;
  export interface Argument {
    name: string,
    title?: string,
    description?: string,
    required: boolean,
  }
  export interface Prompt {
    /**
     * Unique across all plugins a host loads.
     */
    name: string,
    title?: string,
    description?: string,
    arguments: Array<Argument>,
  }
  export interface Message {
    role: Role,
    content: ContentBlock,
  }
  export interface Filled {
    description?: string,
    messages: Array<Message>,
  }
  export type Error = ErrorNotFound | ErrorInvalidArguments | ErrorFailed;
  /**
   * No prompt of that name.
   */
  export interface ErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  /**
   * A required argument is missing, or one does not fit.
   */
  export interface ErrorInvalidArguments {
    tag: 'invalid-arguments',
    val: string,
  }
  export interface ErrorFailed {
    tag: 'failed',
    val: string,
  }
}
