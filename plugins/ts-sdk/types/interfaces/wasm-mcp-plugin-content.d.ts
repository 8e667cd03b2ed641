declare module 'wasm-mcp:plugin/content@0.2.0' {
  /**
   * Who speaks a message, or who a piece of content is for.
   * # Variants
   * 
   * ## `"user"`
   * 
   * ## `"assistant"`
   */
  export type Role = 'user' | 'assistant';
  /**
   * Binary content: raw bytes and their MIME type (`image/png`, `audio/wav`...).
   * The host encodes the bytes as base64 on the wire.
   */
  export interface Media {
    data: Uint8Array,
    mimeType: string,
  }
  /**
   * What a resource holds: text, or bytes (sent as base64).
   */
  export type Body = BodyText | BodyBlob;
  export interface BodyText {
    tag: 'text',
    val: string,
  }
  export interface BodyBlob {
    tag: 'blob',
    val: Uint8Array,
  }
  /**
   * A resource's contents, as read.
   */
  export interface ResourceContents {
    /**
     * The resource's URI, such as `file:///report.txt` or `test://static-text`.
     */
    uri: string,
    mimeType?: string,
    body: Body,
  }
  /**
   * A pointer to a resource the client may read (or fetch) itself.
   */
  export interface ResourceLink {
    uri: string,
    /**
     * A short identifier, such as a file name.
     */
    name: string,
    /**
     * A human-friendly display name.
     */
    title?: string,
    description?: string,
    mimeType?: string,
    /**
     * The size in bytes, when known.
     */
    size?: bigint,
  }
  /**
   * How a client may treat a piece of content. All optional.
   */
  export interface Annotations {
    /**
     * Who it is for; empty means both.
     */
    audience: Array<Role>,
    /**
     * Between 0.0 (least important) and 1.0 (most important).
     */
    priority?: number,
    /**
     * When it last changed, as an ISO 8601 time (`2026-11-22T10:00:00Z`).
     */
    lastModified?: string,
  }
  /**
   * One piece of a tool result or prompt message.
   */
  export type Block = BlockText | BlockImage | BlockAudio | BlockResourceLink | BlockResource;
  export interface BlockText {
    tag: 'text',
    val: string,
  }
  export interface BlockImage {
    tag: 'image',
    val: Media,
  }
  export interface BlockAudio {
    tag: 'audio',
    val: Media,
  }
  export interface BlockResourceLink {
    tag: 'resource-link',
    val: ResourceLink,
  }
  /**
   * A resource's contents, embedded in the result.
   */
  export interface BlockResource {
    tag: 'resource',
    val: ResourceContents,
  }
  /**
   * A block and how the client may treat it.
   */
  export interface ContentBlock {
    block: Block,
    annotations?: Annotations,
  }
}
