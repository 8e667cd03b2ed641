declare module 'wasm-mcp:plugin/roots@0.2.0' {
  /**
   * Ask the calling client for its roots. Routed like `sample()`.
   */
  export function listRoots(): Array<Root>;
  export interface Root {
    /**
     * A `file://` URI (clients may use other schemes).
     */
    uri: string,
    name?: string,
  }
  /**
   * Why no roots came back.
   */
  export type Error = ErrorUnsupported | ErrorRefused | ErrorTimedOut | ErrorFailed;
  /**
   * The calling client does not offer roots (it did not declare the
   * `roots` capability).
   */
  export interface ErrorUnsupported {
    tag: 'unsupported',
    val: string,
  }
  /**
   * The host's policy refused the request (`roots.max_requests`).
   */
  export interface ErrorRefused {
    tag: 'refused',
    val: string,
  }
  /**
   * No answer came back in time.
   */
  export interface ErrorTimedOut {
    tag: 'timed-out',
    val: string,
  }
  /**
   * Anything else, such as more than 1000 roots.
   */
  export interface ErrorFailed {
    tag: 'failed',
    val: string,
  }
}
