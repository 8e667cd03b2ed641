/**
 * Failures as exceptions: thrown from a handler (or left to escape from an
 * SDK call), each becomes the WIT's typed error with its message.
 */

/** The tool ran and failed: the message says why (the WIT's `failed`). */
export class ToolError extends Error {
  override name = 'ToolError';
}

/** The arguments do not fit the tool: say what is wrong (the WIT's `invalid-arguments`). */
export class InvalidArguments extends Error {
  override name = 'InvalidArguments';
}

/** A WIT error variant as the bindings throw it: `{ tag, val }`, maybe wrapped in `payload`. */
export interface WitError {
  tag: string;
  val?: string;
}

export function witError(thrown: unknown): WitError {
  const payload = (thrown as { payload?: unknown })?.payload ?? thrown;
  if (payload && typeof payload === 'object' && 'tag' in payload) {
    return payload as WitError;
  }
  return { tag: 'failed', val: String(thrown) };
}

/** Sampling gave no answer. `kind` is the WIT case: unsupported, declined, refused, timed-out, failed. */
export class SampleError extends ToolError {
  override name = 'SampleError';
  constructor(
    readonly kind: string,
    readonly reason: string,
  ) {
    const what: Record<string, string> = {
      unsupported: 'the client cannot sample',
      declined: 'declined',
      refused: "refused by the host's policy",
      'timed-out': 'timed out',
    };
    super(what[kind] ? `sampling failed: ${what[kind]}: ${reason}` : `sampling failed: ${reason}`);
  }
}

/** An append failed. `kind` is denied, quota-exceeded or io. */
export class AppendError extends ToolError {
  override name = 'AppendError';
  constructor(
    readonly kind: string,
    readonly reason: string,
  ) {
    const what = kind === 'denied' ? 'append denied' : kind === 'quota-exceeded' ? 'append over quota' : 'append failed';
    super(`${what}: ${reason}`);
  }
}

/** No answer from the user. `kind` is unsupported, refused, timed-out or failed. */
export class ElicitError extends ToolError {
  override name = 'ElicitError';
  constructor(
    readonly kind: string,
    readonly reason: string,
  ) {
    super(`elicitation failed (${kind}): ${reason}`);
  }
}

/** No roots came back. `kind` is unsupported, refused, timed-out or failed. */
export class RootsError extends ToolError {
  override name = 'RootsError';
  constructor(
    readonly kind: string,
    readonly reason: string,
  ) {
    super(`listing roots failed (${kind}): ${reason}`);
  }
}
