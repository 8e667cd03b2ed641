/// <reference path="./wasm-mcp-plugin-content.d.ts" />
declare module 'wasm-mcp:plugin/sampling@0.2.0' {
  /**
   * Ask the calling client's LLM for a completion. Blocks until the answer
   * arrives or an error is known.
   */
  export function sample(request: Request): Response;
  export type Role = import('wasm-mcp:plugin/content@0.2.0').Role;
  export type Media = import('wasm-mcp:plugin/content@0.2.0').Media;
  /**
   * One piece of a message.
   */
  export type Content = ContentText | ContentImage | ContentAudio;
  export interface ContentText {
    tag: 'text',
    val: string,
  }
  export interface ContentImage {
    tag: 'image',
    val: Media,
  }
  export interface ContentAudio {
    tag: 'audio',
    val: Media,
  }
  /**
   * One turn of the conversation sent to the model.
   */
  export interface Message {
    role: Role,
    content: Array<Content>,
  }
  /**
   * Hints to the client about which model to pick. All optional; the
   * client decides.
   */
  export interface ModelPreferences {
    /**
     * Model names or families, in order of preference (`"claude"`, `"sonnet"`).
     */
    hints: Array<string>,
    /**
     * Each priority is between 0.0 (unimportant) and 1.0 (most important).
     */
    costPriority?: number,
    speedPriority?: number,
    intelligencePriority?: number,
  }
  /**
   * A completion request.
   */
  export interface Request {
    messages: Array<Message>,
    systemPrompt?: string,
    /**
     * The most tokens the model may produce. The host may lower it to its
     * configured cap.
     */
    maxTokens: number,
    temperature?: number,
    stopSequences: Array<string>,
    modelPreferences?: ModelPreferences,
  }
  /**
   * Why the model stopped.
   */
  export type StopReason = StopReasonEndTurn | StopReasonStopSequence | StopReasonMaxTokens | StopReasonOther;
  export interface StopReasonEndTurn {
    tag: 'end-turn',
  }
  export interface StopReasonStopSequence {
    tag: 'stop-sequence',
  }
  export interface StopReasonMaxTokens {
    tag: 'max-tokens',
  }
  /**
   * Any other reason the client reported, as it reported it.
   */
  export interface StopReasonOther {
    tag: 'other',
    val: string,
  }
  /**
   * The model's answer.
   */
  export interface Response {
    /**
     * The model that produced the answer, as the client names it.
     */
    model: string,
    content: Array<Content>,
    stopReason?: StopReason,
  }
  /**
   * Why no answer came back.
   */
  export type Error = ErrorUnsupported | ErrorDeclined | ErrorRefused | ErrorTimedOut | ErrorFailed;
  /**
   * The calling client cannot sample (it did not declare the capability).
   */
  export interface ErrorUnsupported {
    tag: 'unsupported',
    val: string,
  }
  /**
   * The client or its user declined the request.
   */
  export interface ErrorDeclined {
    tag: 'declined',
    val: string,
  }
  /**
   * The host's policy refused the request before it reached the client.
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
   * Anything else: a transport failure, a malformed answer.
   */
  export interface ErrorFailed {
    tag: 'failed',
    val: string,
  }
}
