declare module 'wasm-mcp:plugin/progress@0.2.0' {
  export function report(progress: number, total: number | undefined, message: string | undefined): void;
}
