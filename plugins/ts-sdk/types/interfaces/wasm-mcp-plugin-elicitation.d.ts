declare module 'wasm-mcp:plugin/elicitation@0.2.0' {
  /**
   * Ask the user. `requested-schema` is JSON Schema text of a flat object
   * (MCP's form mode): each property a string (with `format` email, uri,
   * date or date-time if wanted), number, integer or boolean; a
   * single-choice enum (`enum`, or `oneOf` of `const` + `title`); or a
   * multi-choice array of them; with `title`, `description` and
   * `default` where useful. At most 64 KiB, and the message 16 KiB.
   * Blocks until the user answers or an error is known.
   */
  export function elicit(message: string, requestedSchema: string): Answer;
  /**
   * What the user did.
   */
  export type Answer = AnswerAccept | AnswerDecline | AnswerCancel;
  /**
   * The user filled in the form: the data as a JSON object (text). The
   * host has checked it against `requested-schema`.
   */
  export interface AnswerAccept {
    tag: 'accept',
    val: string,
  }
  /**
   * The user said no; the call may go on without the data.
   */
  export interface AnswerDecline {
    tag: 'decline',
  }
  /**
   * The user dismissed the question without choosing.
   */
  export interface AnswerCancel {
    tag: 'cancel',
  }
  /**
   * Why no answer came back.
   */
  export type Error = ErrorUnsupported | ErrorRefused | ErrorTimedOut | ErrorFailed;
  /**
   * The calling client cannot ask its user (it did not declare the
   * `elicitation` capability).
   */
  export interface ErrorUnsupported {
    tag: 'unsupported',
    val: string,
  }
  /**
   * The host's policy refused the question (`elicitation.max_requests`),
   * or `requested-schema` is not a form MCP clients accept. The
   * message says which.
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
   * Anything else: a transport failure, an answer that does not fit
   * the schema.
   */
  export interface ErrorFailed {
    tag: 'failed',
    val: string,
  }
}
