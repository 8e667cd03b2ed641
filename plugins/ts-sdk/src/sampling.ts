/** `sample()`: a completion from the calling client's LLM, without a key. */
import { sample as witSample } from 'wasm-mcp:plugin/sampling@0.2.0';
import type { Content, Message, Request, Response } from 'wasm-mcp:plugin/sampling@0.2.0';

import { SampleError, witError } from './errors.ts';

/** The model's answer. */
export interface Answer {
  /** The answer's text parts, joined. */
  text: string;
  model: string;
  /** end-turn, stop-sequence, max-tokens, or what the client reported. */
  stopReason?: string;
  raw: Response;
}

export interface SampleOptions {
  /** The most tokens the model may produce (default 1000; the host may lower it). */
  maxTokens?: number;
  system?: string;
  temperature?: number;
  stop?: string[];
  /** Model names or families, in order of preference ("claude", "sonnet"). */
  modelHints?: string[];
}

/** A completion request, built up step by step. */
export class Sample {
  private readonly messages: Message[];
  private request: Omit<Request, 'messages'> = { maxTokens: 1000, stopSequences: [] };

  constructor(prompt: string) {
    this.messages = [{ role: 'user', content: [{ tag: 'text', val: prompt }] }];
  }

  system(prompt: string): this {
    this.request.systemPrompt = prompt;
    return this;
  }

  maxTokens(count: number): this {
    this.request.maxTokens = count;
    return this;
  }

  temperature(value: number): this {
    this.request.temperature = value;
    return this;
  }

  stopAt(sequence: string): this {
    this.request.stopSequences.push(sequence);
    return this;
  }

  /** Add a turn: an earlier answer ('assistant') or a follow-up ('user'). */
  message(role: 'user' | 'assistant', text: string): this {
    this.messages.push({ role, content: [{ tag: 'text', val: text }] });
    return this;
  }

  /** Attach an image to the last message. */
  image(data: Uint8Array, mimeType = 'image/png'): this {
    this.messages[this.messages.length - 1].content.push({ tag: 'image', val: { data, mimeType } });
    return this;
  }

  /** Prefer models matching `name` (a family like "sonnet", or a full id). */
  modelHint(name: string): this {
    this.request.modelPreferences ??= { hints: [] };
    this.request.modelPreferences.hints.push(name);
    return this;
  }

  send(): Answer {
    let response: Response;
    try {
      response = witSample({ ...this.request, messages: this.messages });
    } catch (thrown) {
      const error = witError(thrown);
      throw new SampleError(error.tag, error.val ?? '');
    }
    const text = response.content
      .filter((part: Content) => part.tag === 'text')
      .map((part) => part.val as string)
      .join('');
    const reason = response.stopReason;
    const stopReason = reason === undefined ? undefined : reason.tag === 'other' ? reason.val : reason.tag;
    return { text, model: response.model, stopReason, raw: response };
  }
}

/** Ask the calling client's LLM; returns the answer's text. */
export function sample(prompt: string, options: SampleOptions = {}): string {
  const request = new Sample(prompt).maxTokens(options.maxTokens ?? 1000);
  if (options.system !== undefined) request.system(options.system);
  if (options.temperature !== undefined) request.temperature(options.temperature);
  for (const sequence of options.stop ?? []) request.stopAt(sequence);
  for (const hint of options.modelHints ?? []) request.modelHint(hint);
  return request.send().text;
}
