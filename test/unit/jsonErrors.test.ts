/**
 * Every JSON syntax error a user makes says its line and column (issue 26), including those whose
 * V8 message names no position ("Unexpected end of JSON input", "Unexpected token '}', … is not
 * valid JSON").
 */
import { describe, expect, it } from 'vitest';
import { parseUserJson, UsageError } from '../../src/main/commands/command';
import { locateJsonError, notValidJson } from '../../src/main/data/jsonErrors';

/** Where JSON.parse's error for `text` is located. */
function located(text: string) {
  try {
    JSON.parse(text);
  } catch (error) {
    return locateJsonError(text, error);
  }
  throw new Error(`${text} parsed`);
}

/** parseUserJson's message for `text`. */
function refused(text: string): string {
  try {
    parseUserJson('run.json', text);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${text} parsed`);
}

describe('locateJsonError', () => {
  it.each([
    ['a trailing comma', '{\n  "dataset": "shapes",\n  "steps": 2,\n}\n', 4, 1],
    ['a missing value', '{\n  "dataset": "shapes",\n  "steps": }\n', 3, 12],
    ['an unterminated string', '{\n  "dataset": "shapes\n}\n', 2, 21],
    ['a truncated file', '{\n  "dataset": "shapes",\n  "categories": ["a", "b"', 3, 26],
    ['a file cut inside a string', '{"dataset": "sha', 1, 17],
    ['a stray token on line 3', '{\n  "dataset": "shapes",\n  "steps": 2 x\n}\n', 3, 14],
    ['a missing comma', '{\n  "dataset": "shapes"\n  "steps": 2\n}\n', 3, 3],
    ['NaN', '{\n  "learningRate": NaN\n}', 2, 19],
    ['a second value after the first', '{"steps": 2}\n}\n', 2, 1],
    ['an empty file', '', 1, 1],
  ])('%s: line and column', (_name, text, line, column) => {
    expect(located(text)).toMatchObject({ line, column });
  });

  it('keeps V8’s words, without the echo of the text', () => {
    expect(located('{"a": }')?.problem).toBe("Unexpected token '}'");
    expect(located('{"a": [1')?.problem).toMatch(/Expected ',' or '\]' after array element|Unexpected end/);
  });
});

describe('parseUserJson names the file, line and column of every syntax error', () => {
  it.each([
    ['{"steps": }', /^run\.json: not valid JSON at line 1, column 11: Unexpected token '}'$/],
    ['{\n  "steps": 2,\n}', /^run\.json: not valid JSON at line 3, column 1: /],
    ['{\n  "steps": 2,\n  "dataset": "sh', /^run\.json: not valid JSON at line 3, column 1\d: /],
    [
      '{\n  "lr": NaN\n}',
      /^run\.json: not valid JSON at line 2, column 9: .*\(NaN and Infinity are not JSON/,
    ],
  ])('%j', (text, message) => {
    expect(refused(text)).toMatch(message);
  });
});

describe('notValidJson: what follows a model file’s name', () => {
  const fail = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      return notValidJson(text, error);
    }
    throw new Error('parsed');
  };
  it('names the line and column V8 leaves out', () => {
    expect(fail('{\n  "model_type": "qwen2_vl",\n}')).toMatch(/^not valid JSON at line 3, column 1 \(\w/);
    expect(fail('{"vocab": {"a": 1')).toMatch(/^not valid JSON at line 1, column 18 \(/);
  });
  it('a read that failed is no syntax error', () => {
    expect(
      notValidJson(
        '',
        Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' }),
      ),
    ).toBe('cannot be read (EISDIR: illegal operation on a directory, read)');
  });
});
