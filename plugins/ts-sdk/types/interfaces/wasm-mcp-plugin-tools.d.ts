/// <reference path="./wasm-mcp-plugin-content.d.ts" />
declare module 'wasm-mcp:plugin/tools@0.2.0' {
  /**
   * The tools this plugin provides. Called once, when the host loads the plugin.
   */
  export function listTools(): Array<Tool>;
  /**
   * Run tool `name` with `arguments`, a JSON object as text.
   */
  export function call(name: string, arguments: string): ToolResult;
  export type ContentBlock = import('wasm-mcp:plugin/content@0.2.0').ContentBlock;
  /**
   * Hints about a tool's behaviour that clients use to decide what to
   * run without asking. Hints only: a client must not trust them from a
   * server it does not trust. Unset means MCP's default.
   */
  export interface Annotations {
    /**
     * The tool does not change anything (default false).
     */
    readOnly?: boolean,
    /**
     * It may destroy or overwrite, rather than only add (default true).
     */
    destructive?: boolean,
    /**
     * Calling it twice with the same arguments does no more than once
     * (default false).
     */
    idempotent?: boolean,
    /**
     * It reaches outside things, such as the web (default true).
     */
    openWorld?: boolean,
  }
  /**
   * A tool as MCP clients see it in `tools/list`.
   */
  export interface Tool {
    /**
     * Unique across all plugins a host loads, e.g. `process_log_entry`.
     */
    name: string,
    /**
     * A human-friendly display name.
     */
    title?: string,
    /**
     * What the tool does, for the model that decides to call it.
     */
    description: string,
    /**
     * JSON Schema (as JSON text) of the tool's arguments object.
     */
    inputSchema: string,
    /**
     * JSON Schema (as JSON text) of the tool's structured output, an
     * object. A tool that declares one must return `structured` that
     * fits it; the host checks.
     */
    outputSchema?: string,
    annotations?: Annotations,
  }
  /**
   * What a call hands back.
   */
  export interface ToolResult {
    /**
     * What the client (and its model) reads.
     */
    content: Array<ContentBlock>,
    /**
     * The same result as a JSON object (text), for programs. When the
     * tool has an `output-schema`, this is required and must fit it;
     * the host also adds its JSON as a text block if `content` is empty.
     */
    structured?: string,
    /**
     * The tool ran but failed, and `content` says why: the model sees
     * it and may try again differently.
     */
    isError: boolean,
  }
  /**
   * Why a call produced no result.
   */
  export type CallError = CallErrorInvalidArguments | CallErrorFailed;
  /**
   * The arguments do not fit the tool's schema. Say what is wrong.
   */
  export interface CallErrorInvalidArguments {
    tag: 'invalid-arguments',
    val: string,
  }
  /**
   * The tool ran and failed. Say why.
   */
  export interface CallErrorFailed {
    tag: 'failed',
    val: string,
  }
}
