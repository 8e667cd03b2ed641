declare module 'wasm-mcp:plugin/completions@0.2.0' {
  /**
   * Suggest values for `argument`, given what the user typed so far
   * (`value`) and the arguments already filled in (`context`).
   */
  export function complete(reference: Reference, argument: string, value: string, context: Array<[string, string]>): Completion;
  /**
   * What is being filled in.
   */
  export type Reference = ReferencePrompt | ReferenceResourceTemplate;
  /**
   * A prompt, by name.
   */
  export interface ReferencePrompt {
    tag: 'prompt',
    val: string,
  }
  /**
   * A resource template, by its URI template.
   */
  export interface ReferenceResourceTemplate {
    tag: 'resource-template',
    val: string,
  }
  export interface Completion {
    /**
     * At most 100 suggestions.
     */
    values: Array<string>,
    /**
     * How many there are in all, when known.
     */
    total?: number,
    hasMore: boolean,
  }
}
