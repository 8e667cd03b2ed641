/// <reference path="./wasm-mcp-plugin-elicitation.d.ts" />
/// <reference path="./wasm-mcp-plugin-roots.d.ts" />
/// <reference path="./wasm-mcp-plugin-sampling.d.ts" />
declare module 'wasm-mcp:plugin/ask@0.2.0' {
  /**
   * Ask every question and wait for all the answers; one reply per
   * question, in order. Keys are 1 to 64 ASCII letters, digits, `_`, `-`
   * or `.`, unique in the call (a bad key refuses the whole list); at most
   * 16 questions at once.
   */
  export function askAll(questions: Array<[string, Question]>): Array<Reply>;
  export type Request = import('wasm-mcp:plugin/sampling@0.2.0').Request;
  export type Response = import('wasm-mcp:plugin/sampling@0.2.0').Response;
  export type SamplingError = import('wasm-mcp:plugin/sampling@0.2.0').Error;
  export type Answer = import('wasm-mcp:plugin/elicitation@0.2.0').Answer;
  export type ElicitationError = import('wasm-mcp:plugin/elicitation@0.2.0').Error;
  export type Root = import('wasm-mcp:plugin/roots@0.2.0').Root;
  export type RootsError = import('wasm-mcp:plugin/roots@0.2.0').Error;
  /**
   * A form for the user, as `elicitation.elicit` takes it.
   */
  export interface Form {
    message: string,
    requestedSchema: string,
  }
  export type Question = QuestionSample | QuestionElicit | QuestionListRoots;
  export interface QuestionSample {
    tag: 'sample',
    val: Request,
  }
  export interface QuestionElicit {
    tag: 'elicit',
    val: Form,
  }
  export interface QuestionListRoots {
    tag: 'list-roots',
  }
  /**
   * The answer to one question, or why there is none.
   */
  export type Reply = ReplySampled | ReplyElicited | ReplyRoots;
  export interface ReplySampled {
    tag: 'sampled',
    val: Result<Response, SamplingError>,
  }
  export interface ReplyElicited {
    tag: 'elicited',
    val: Result<Answer, ElicitationError>,
  }
  export interface ReplyRoots {
    tag: 'roots',
    val: Result<Array<Root>, RootsError>,
  }
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
