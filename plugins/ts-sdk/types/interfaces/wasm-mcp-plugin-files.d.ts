declare module 'wasm-mcp:plugin/files@0.2.0' {
  /**
   * Append `data` to the file at `path`, creating the file if needed. The
   * bytes of one call are written at once: appends from concurrent calls
   * never interleave.
   */
  export function append(path: string, data: Uint8Array): void;
  export type Error = ErrorDenied | ErrorQuotaExceeded | ErrorIo;
  /**
   * The path is not granted to this plugin. The message names the path
   * and what the plugin may append to.
   */
  export interface ErrorDenied {
    tag: 'denied',
    val: string,
  }
  /**
   * The append would pass a configured size limit.
   */
  export interface ErrorQuotaExceeded {
    tag: 'quota-exceeded',
    val: string,
  }
  /**
   * The host could not write (disk full, missing folder...).
   */
  export interface ErrorIo {
    tag: 'io',
    val: string,
  }
}
