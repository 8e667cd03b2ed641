declare module 'wasm-mcp:plugin/logging@0.2.0' {
  export function log(level: Level, message: string): void;
  /**
   * # Variants
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warning"`
   * 
   * ## `"error"`
   */
  export type Level = 'debug' | 'info' | 'warning' | 'error';
}
