/** What a tool may ask of the host besides sampling: appends, logs, progress, the user, roots. */
import { elicit as witElicit } from 'wasm-mcp:plugin/elicitation@0.2.0';
import { append as witAppend } from 'wasm-mcp:plugin/files@0.2.0';
import { log as witLog } from 'wasm-mcp:plugin/logging@0.2.0';
import { report } from 'wasm-mcp:plugin/progress@0.2.0';
import { listRoots } from 'wasm-mcp:plugin/roots@0.2.0';
import { z } from 'zod';

import { AppendError, ElicitError, RootsError, witError } from './errors.ts';
import { describeIssues, jsonSchemaOf, type Shape } from './schema.ts';

const encoder = new TextEncoder();

/** Append to a file the plugin's config grants (text is written as UTF-8). One call's bytes are written at once. */
export function append(path: string, data: string | Uint8Array): void {
  try {
    witAppend(path, typeof data === 'string' ? encoder.encode(data) : data);
  } catch (thrown) {
    const error = witError(thrown);
    throw new AppendError(error.tag, error.val ?? '');
  }
}

/** Diagnostics to the host's log, and to the client when it asked for that level. */
export const log = {
  debug: (message: string) => witLog('debug', message),
  info: (message: string) => witLog('info', message),
  warning: (message: string) => witLog('warning', message),
  error: (message: string) => witLog('error', message),
};

/** Tell the client how far the call has come (dropped if it did not ask). */
export function progress(done: number, total?: number, message?: string): void {
  report(done, total, message);
}

/** What the user did: accepted (with the form's data), declined or cancelled. */
export type Elicited<T> = { action: 'accept'; content: T } | { action: 'decline' } | { action: 'cancel' };

/**
 * Ask the calling client's user to fill in a form: a zod object (or its
 * shape) of flat fields (strings, numbers, booleans, enums). The host
 * checks the answer against the form; the SDK parses it with zod too.
 */
export function elicit<S extends Shape | z.ZodObject>(
  message: string,
  form: S,
): Elicited<z.output<S extends z.ZodObject ? S : z.ZodObject<S & Shape>>> {
  const schema = (form instanceof z.ZodObject ? form : z.object(form as Shape)) as z.ZodObject;
  let answer;
  try {
    answer = witElicit(message, JSON.stringify(jsonSchemaOf(schema, 'input')));
  } catch (thrown) {
    const error = witError(thrown);
    throw new ElicitError(error.tag, error.val ?? '');
  }
  if (answer.tag !== 'accept') {
    return { action: answer.tag };
  }
  const parsed = schema.safeParse(JSON.parse(answer.val));
  if (!parsed.success) {
    throw new ElicitError('failed', `the answer does not fit the form: ${describeIssues(parsed.error)}`);
  }
  return { action: 'accept', content: parsed.data as never };
}

/** A folder (or other URI) the client says the server may work in. */
export interface Root {
  uri: string;
  name?: string;
}

/** The calling client's roots. Information only: grants still decide what the plugin reaches. */
export function roots(): Root[] {
  try {
    return listRoots();
  } catch (thrown) {
    const error = witError(thrown);
    throw new RootsError(error.tag, error.val ?? '');
  }
}
