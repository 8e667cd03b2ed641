/** zod schemas as the JSON Schema MCP clients read. */
import { z } from 'zod';

/** The arguments of a tool, as zod types by name: `{ topic: z.string() }`. */
export type Shape = Record<string, z.ZodType>;

/**
 * JSON Schema of `schema`: as the client sends it (`input`, where fields
 * with defaults are optional) or as the tool returns it (`output`).
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'throw' }) as Record<string, unknown>;
  return rest;
}

/** zod's issues as one line: "`mood`: Invalid option: expected one of ...; ...". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `\`${issue.path.join('.')}\`: ${issue.message}` : issue.message))
    .join('; ');
}
