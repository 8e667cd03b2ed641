/// <reference path="./wasm-mcp-plugin-content.d.ts" />
declare module 'wasm-mcp:plugin/resources@0.2.0' {
  /**
   * Called once, when the host loads the plugin.
   */
  export function listResources(): Array<Resource>;
  /**
   * Called once, when the host loads the plugin.
   */
  export function listTemplates(): Array<Template>;
  /**
   * Read the resource at `uri`: one listed, or one that matches a template.
   */
  export function read(uri: string): Array<ResourceContents>;
  export type ResourceContents = import('wasm-mcp:plugin/content@0.2.0').ResourceContents;
  export type Annotations = import('wasm-mcp:plugin/content@0.2.0').Annotations;
  export interface Resource {
    /**
     * Unique across all plugins a host loads.
     */
    uri: string,
    name: string,
    title?: string,
    description?: string,
    mimeType?: string,
    size?: bigint,
    annotations?: Annotations,
  }
  export interface Template {
    /**
     * An RFC 6570 URI template: `{name}` matches one path segment,
     * `{+name}` the rest of the URI.
     */
    uriTemplate: string,
    name: string,
    title?: string,
    description?: string,
    mimeType?: string,
    annotations?: Annotations,
  }
  export type Error = ErrorNotFound | ErrorFailed;
  /**
   * No such resource: the client gets MCP's "resource not found".
   */
  export interface ErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  export interface ErrorFailed {
    tag: 'failed',
    val: string,
  }
}
