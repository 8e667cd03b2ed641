/// <reference path="./interfaces/wasm-mcp-plugin-ask.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-completions.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-content.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-elicitation.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-files.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-logging.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-progress.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-prompts.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-resources.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-roots.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-sampling.d.ts" />
/// <reference path="./interfaces/wasm-mcp-plugin-tools.d.ts" />
declare module 'wasm-mcp:plugin/plugin@0.2.0' {
  export type * as WasmMcpPluginAsk020 from 'wasm-mcp:plugin/ask@0.2.0'; // import wasm-mcp:plugin/ask@0.2.0
  export type * as WasmMcpPluginContent020 from 'wasm-mcp:plugin/content@0.2.0'; // import wasm-mcp:plugin/content@0.2.0
  export type * as WasmMcpPluginElicitation020 from 'wasm-mcp:plugin/elicitation@0.2.0'; // import wasm-mcp:plugin/elicitation@0.2.0
  export type * as WasmMcpPluginFiles020 from 'wasm-mcp:plugin/files@0.2.0'; // import wasm-mcp:plugin/files@0.2.0
  export type * as WasmMcpPluginLogging020 from 'wasm-mcp:plugin/logging@0.2.0'; // import wasm-mcp:plugin/logging@0.2.0
  export type * as WasmMcpPluginProgress020 from 'wasm-mcp:plugin/progress@0.2.0'; // import wasm-mcp:plugin/progress@0.2.0
  export type * as WasmMcpPluginRoots020 from 'wasm-mcp:plugin/roots@0.2.0'; // import wasm-mcp:plugin/roots@0.2.0
  export type * as WasmMcpPluginSampling020 from 'wasm-mcp:plugin/sampling@0.2.0'; // import wasm-mcp:plugin/sampling@0.2.0
  export * as prompts from 'wasm-mcp:plugin/prompts@0.2.0'; // export wasm-mcp:plugin/prompts@0.2.0
  export * as resources from 'wasm-mcp:plugin/resources@0.2.0'; // export wasm-mcp:plugin/resources@0.2.0
  export * as completions from 'wasm-mcp:plugin/completions@0.2.0'; // export wasm-mcp:plugin/completions@0.2.0
  export * as tools from 'wasm-mcp:plugin/tools@0.2.0'; // export wasm-mcp:plugin/tools@0.2.0
}
