/**
 * Where a JSON syntax error is, for a message a user can act on. V8 names the position for most
 * errors ("… in JSON at position 25") but not all: `Unexpected end of JSON input` and
 * `Unexpected token '}', "{"a": }" is not valid JSON` say nothing of where. jsonc-parser
 * (Microsoft's, VS Code's own) reports an offset for every error; it is asked, in strict JSON mode,
 * only after JSON.parse has failed, so a good file costs nothing extra.
 */
import { readFileSync } from 'node:fs';
import { parse, type ParseError } from 'jsonc-parser';
import { UserError } from '../../shared/errors';

export interface JsonErrorLocation {
  /** Index into the text (UTF-16 code units, as JavaScript strings count). */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based, in characters from the start of the line. */
  column: number;
  /** What is wrong, in V8's words without the position and the echo of the text. */
  problem: string;
}

/** JSON.parse's message without " in JSON at position N …" and the quoted text V8 echoes back. */
export function jsonProblem(message: string): string {
  return message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (\.\.\.)?"[\s\S]*$/, '');
}

/** Line and column (both 1-based) of `offset` in `text`. */
export function lineAndColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

/**
 * Where the syntax error JSON.parse threw for `text` is: V8's own position when its message has
 * one (the exact character), else the first error jsonc-parser finds. Undefined only when neither
 * finds one (the text is valid JSON: `error` was not a syntax error of it).
 */
export function locateJsonError(text: string, error: unknown): JsonErrorLocation | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message)?.[1];
  let offset = position === undefined ? undefined : Number(position);
  if (offset === undefined) {
    const errors: ParseError[] = [];
    parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    offset = errors[0]?.offset;
  }
  if (offset === undefined) return undefined;
  return { offset, ...lineAndColumnAt(text, offset), problem: jsonProblem(message) };
}

/**
 * What follows a file's name in a message about it: "not valid JSON at line 3, column 9
 * (Unexpected token '}')". An error that is no syntax error (the read failed) says so instead.
 */
export function notValidJson(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof SyntaxError)) return `cannot be read (${message})`;
  const at = locateJsonError(text, error);
  return `not valid JSON${at ? ` at line ${at.line}, column ${at.column}` : ''} (${at?.problem ?? jsonProblem(message)})`;
}

/**
 * A JSON file that came with a model (config.json, a shard index, adapter_config.json), parsed. A
 * read that fails, or text that is not JSON, is the user's to fix: said naming the file and where.
 */
export function parseJsonFile(file: string): unknown {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
    return JSON.parse(text);
  } catch (error) {
    throw new UserError('invalid_input', `${file}: ${notValidJson(text, error)}`);
  }
}
