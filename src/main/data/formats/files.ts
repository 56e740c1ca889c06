/**
 * File helpers every format shares when reading: finding images, naming label files, refusing bad
 * input. Writing is safeWrite.ts's.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import { imageExtensions } from '../imageFiles';
import { jsonProblem, locateJsonError } from '../jsonErrors';
import type { SourceImage } from './types';

/**
 * Refuses a malformed annotation file: which file, where in it (line, item or field) and what is
 * wrong. Nothing has been written when this is thrown.
 */
export function refuse(file: string, where: string, problem: string): never {
  // One line, whatever the problem quotes from the file: the CLI prints it as a single line.
  const text = problem.replace(/\s*\n\s*/g, ' ');
  throw new UserError(
    'invalid_input',
    `${file}${where ? `, ${where}` : ''}: ${text}. Nothing was imported: fix the file and import again.`,
  );
}

export function isImageFile(file: string): boolean {
  return imageExtensions.includes(path.extname(file).toLowerCase());
}

/**
 * Every file under `dir` (hidden files and folders left out) whose name passes `keep`, absolute,
 * sorted by relative path compared code unit by code unit: the same order on every platform and
 * every run, whatever order the file system lists them in.
 */
export function listFiles(dir: string, keep: (name: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (keep(entry.name)) found.push(rel);
    }
  };
  walk('');
  return found.sort(compareCodeUnits).map((rel) => path.join(dir, ...rel.split('/')));
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A file stem per image for formats that write one file per image (YOLO labels, VOC XML): the
 * image's own stem, with _2, _3… added when two images share one (compared ignoring case, as
 * Windows and macOS file systems do). Deterministic in the order given, so the YOLO reader can
 * pair an images.txt written by the exporter with its label files.
 */
export function uniqueStems(paths: readonly string[]): string[] {
  const taken = new Set<string>();
  return paths.map((p) => {
    const stem = path.basename(p, path.extname(p));
    let name = stem;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${stem}_${n}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first candidate that is a file, or undefined. */
export function firstFile(candidates: readonly string[]): string | undefined {
  return candidates.find(isFile);
}

/**
 * Why `file` cannot be read as a file, or undefined when it can: reading a named pipe, a socket or
 * a device blocks forever (or reads without end), so every user file is checked first.
 */
export function notARegularFile(file: string): string | undefined {
  let stats;
  try {
    stats = statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'is a symbolic link that loops back on itself';
    return code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (error as Error).message})`;
  }
  if (stats.isFile()) return undefined;
  const kind = stats.isDirectory()
    ? 'a folder'
    : stats.isFIFO()
      ? 'a named pipe'
      : stats.isSocket()
        ? 'a socket'
        : stats.isCharacterDevice() || stats.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
  return `is ${kind}, not a file`;
}

/**
 * Why reading `file` would block or fail though something is there (a pipe, a socket, a device, a
 * folder, a looping link); undefined for a regular file, and for a missing one (the read says so).
 */
export function oddFile(file: string): string | undefined {
  const problem = notARegularFile(file);
  return problem === 'no such file' ? undefined : problem;
}

export function readText(file: string): string {
  const problem = oddFile(file);
  if (problem) throw new UserError('invalid_input', `${file} ${problem}: name the annotation file itself.`);
  try {
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, ''); // a byte-order mark is not content
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? 'not_found' : 'invalid_input',
      `${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}. Check the path and import again.`,
    );
  }
}

/** Parses a JSON annotation file; a syntax error names its line and column. */
export function readJsonFile(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    return refuse(file, ...jsonSyntaxError(text, error));
  }
}

/**
 * Where and what a JSON syntax error is, as `refuse` takes them: "line 3, column 9" and
 * "not valid JSON (…)". NaN and Infinity are what Python's json.dump writes, not JSON: said so.
 */
export function jsonSyntaxError(text: string, error: unknown): [where: string, problem: string] {
  if (text.trim() === '') return ['', 'not valid JSON (the file is empty)'];
  const at = locateJsonError(text, error);
  const bare = /(?<![\w"])(-?Infinity|NaN)(?![\w"])/.exec(text);
  const hint = bare ? `; ${bare[1]} is not JSON: write a number, or null` : '';
  const problem = at?.problem ?? jsonProblem(error instanceof Error ? error.message : String(error));
  return [at ? `line ${at.line}, column ${at.column}` : '', `not valid JSON (${problem}${hint})`];
}

/**
 * Undoes the float noise of a boundary conversion (x + w, xmin − 1): 15 significant digits are
 * all a double holds reliably, and the noise sits in the 16th and 17th, so a box written and read
 * back comes back as the same numbers.
 */
export function tidy(value: number): number {
  return Number(value.toPrecision(15));
}

export function tidyBox(b: Box): Box {
  return { x1: tidy(b.x1), y1: tidy(b.y1), x2: tidy(b.x2), y2: tidy(b.y2) };
}

/**
 * Where an image an annotation file names may be: as written if absolute, else in the image root
 * the user named, beside the file, or in its images/.
 */
export function imageCandidates(dir: string, name: string, root?: string): string[] {
  if (path.isAbsolute(name)) return [name];
  const own = [path.join(dir, name), path.join(dir, 'images', name)];
  return root === undefined ? own : [path.join(root, name), ...own];
}

/**
 * The images of formats that name an image once per record (a Visual-RFT record per category, a
 * VLM-R1 line per question): one SourceImage per file, in order of first mention. A relative name
 * is looked for beside the data file (and in its images/) first, then in the working directory,
 * where these files are often written to be read from (a training script's `image_root`); the
 * latter is reported as a warning, since the same file read from elsewhere would find nothing.
 */
export class ImagesByPath {
  private readonly images = new Map<string, SourceImage>();
  private readonly notFound = new Map<string, { path: string; reason: string }>();
  /** Each name looked up on disk once, however many records repeat it. */
  private readonly resolved = new Map<string, string | undefined>();
  private readonly fromWorkingDir: { name: string; where: string }[] = [];

  constructor(
    private readonly dir: string,
    private readonly root?: string,
    private readonly workingDir = process.cwd(),
  ) {}

  /** The image a record names, or undefined (and listed as missing) when it is not on disk. */
  get(name: string, where: string): SourceImage | undefined {
    const candidates = imageCandidates(this.dir, name, this.root);
    if (!this.resolved.has(name)) this.resolved.set(name, this.find(name, candidates, where));
    const file = this.resolved.get(name);
    if (!file) {
      if (!this.notFound.has(candidates[0]!)) {
        this.notFound.set(candidates[0]!, { path: candidates[0]!, reason: `not found (${where})` });
      }
      return undefined;
    }
    let image = this.images.get(file);
    if (!image) {
      image = { path: file, where, boxes: [], statedEmpty: true };
      this.images.set(file, image);
    }
    return image;
  }

  private find(name: string, candidates: string[], where: string): string | undefined {
    const beside = firstFile(candidates);
    if (beside || path.isAbsolute(name)) return beside;
    const inWorkingDir = firstFile([path.resolve(this.workingDir, name)]);
    if (inWorkingDir) this.fromWorkingDir.push({ name, where });
    return inWorkingDir;
  }

  list(): SourceImage[] {
    return [...this.images.values()];
  }

  missing(): { path: string; reason: string }[] {
    return [...this.notFound.values()];
  }

  /** What the import report should say about where images were found. */
  warnings(): string[] {
    const found = this.fromWorkingDir;
    if (found.length === 0) return [];
    const first = `${found[0]!.name} (${found[0]!.where})`;
    const which = found.length === 1 ? 'an image path was' : `${found.length} image paths were`;
    return [
      `${which} not found beside the data file in ${this.dir}; read relative to the working directory ` +
        `${path.resolve(this.workingDir)} instead: ${first}${found.length === 1 ? '' : ` and ${found.length - 1} more`}`,
    ];
  }
}
