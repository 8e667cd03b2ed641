/**
 * What a tool hands back: MCP content blocks, and plain values turned into
 * them. A handler may return a string, a block, an array of them, an object
 * (structured output; checked against `outputSchema` when the tool has
 * one), or a `ToolResult` that spells everything out.
 */
import type { ContentBlock } from 'wasm-mcp:plugin/content@0.2.0';
import type { ToolResult as WitToolResult } from 'wasm-mcp:plugin/tools@0.2.0';

/** Hints every block may carry. */
export interface Hints {
  audience?: ('user' | 'assistant')[];
  /** 0.0 (least important) to 1.0. */
  priority?: number;
  /** ISO 8601. */
  lastModified?: string;
}

/** One piece of a result. */
export interface Block {
  readonly kind: 'block';
  readonly wit: ContentBlock;
}

function block(wit: ContentBlock['block'], hints?: Hints): Block {
  const annotations =
    hints && (hints.audience?.length || hints.priority !== undefined || hints.lastModified !== undefined)
      ? { audience: hints.audience ?? [], priority: hints.priority, lastModified: hints.lastModified }
      : undefined;
  return { kind: 'block', wit: { block: wit, annotations } };
}

export function text(value: string, hints?: Hints): Block {
  return block({ tag: 'text', val: value }, hints);
}

/** An image: its bytes (sent as base64) and MIME type. */
export function image(data: Uint8Array, mimeType = 'image/png', hints?: Hints): Block {
  return block({ tag: 'image', val: { data, mimeType } }, hints);
}

/** A sound: its bytes (sent as base64) and MIME type. */
export function audio(data: Uint8Array, mimeType = 'audio/wav', hints?: Hints): Block {
  return block({ tag: 'audio', val: { data, mimeType } }, hints);
}

/** A pointer to a resource the client may read itself. */
export function resourceLink(
  link: { uri: string; name: string; title?: string; description?: string; mimeType?: string; size?: number },
  hints?: Hints,
): Block {
  const size = link.size === undefined ? undefined : BigInt(link.size);
  return block({ tag: 'resource-link', val: { ...link, size } }, hints);
}

/** A resource's contents in the result: `text` or `blob`. */
export function embeddedResource(
  resource: { uri: string; mimeType?: string } & ({ text: string } | { blob: Uint8Array }),
  hints?: Hints,
): Block {
  const body = 'text' in resource ? { tag: 'text' as const, val: resource.text } : { tag: 'blob' as const, val: resource.blob };
  return block({ tag: 'resource', val: { uri: resource.uri, mimeType: resource.mimeType, body } }, hints);
}

/** A result spelled out. */
export interface ToolResult {
  content?: (Block | string)[];
  /** Structured output: a JSON object. */
  structured?: Record<string, unknown>;
  /** The tool failed and `content` says why; the model sees it and may try otherwise. */
  isError?: boolean;
}

function isBlock(value: unknown): value is Block {
  return typeof value === 'object' && value !== null && (value as Block).kind === 'block';
}

function asWit(item: Block | string): ContentBlock {
  return typeof item === 'string' ? text(item).wit : item.wit;
}

/** Marks a `ToolResult` object so it is not taken for structured output. */
export const RESULT = Symbol('wasm-mcp result');

/** Whatever a handler returned, as the WIT's tool-result. */
export function toToolResult(value: unknown): WitToolResult {
  if (value === undefined || value === null) {
    return { content: [], isError: false };
  }
  if (typeof value === 'string' || isBlock(value)) {
    return { content: [asWit(value)], isError: false };
  }
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' || isBlock(item))) {
    return { content: value.map(asWit), isError: false };
  }
  if (typeof value === 'object' && (value as Record<symbol, unknown>)[RESULT]) {
    const result = value as ToolResult;
    return {
      content: (result.content ?? []).map(asWit),
      structured: result.structured === undefined ? undefined : JSON.stringify(result.structured),
      isError: result.isError ?? false,
    };
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    // Structured output; the host adds its JSON as text for clients that read only text.
    return { content: [], structured: JSON.stringify(value), isError: false };
  }
  return { content: [text(JSON.stringify(value)).wit], isError: false };
}

/** A result spelled out: `result({ content: [...], isError: true })`. */
export function result(parts: ToolResult): ToolResult {
  return Object.assign({ [RESULT]: true }, parts);
}
